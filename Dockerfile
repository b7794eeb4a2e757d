# syntax=docker/dockerfile:1
# The ugc image: the collector (`ugc serve`), the CLI (etl, quality, marts) and Airflow with the
# ugc DAGs, one image for every ugc and Airflow service in docker-compose.yml.
#
#   docker build -t ugc:0.1.0 .
#   docker run --rm ugc:0.1.0 --help
#
# ugc is installed in place (editable) from /opt/ugc: `ugc db migrate` reads
# clickhouse/migrations and the quality suites read expectations/ from the source tree.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ugc
COPY pyproject.toml setup.cfg README.md ./
COPY ugc ./ugc
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install -e ".[quality,airflow]" "apache-airflow-providers-postgres==7.1.1"

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    UGC_DATA_DIR=/var/lib/ugc
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 50000 --gid 0 ugc \
 && mkdir -p /var/lib/ugc /opt/airflow \
 && chown ugc:0 /var/lib/ugc /opt/airflow
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/ugc /opt/ugc
WORKDIR /opt/ugc
COPY clickhouse ./clickhouse
COPY expectations ./expectations
COPY dags ./dags
USER ugc
EXPOSE 8000
ENTRYPOINT ["ugc"]
CMD ["serve"]
