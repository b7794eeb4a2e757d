"""``ugc serve``: run the collector under gunicorn with ASGI (uvicorn) workers."""

from __future__ import annotations

import click

from ugc.cli import State


@click.command()
@click.option("--bind", default=None, help="HOST:PORT to listen on (UGC_BIND).")
@click.option("--workers", type=int, default=None, help="Worker processes (UGC_WORKERS).")
@click.option("--reload", is_flag=True, help="Restart workers when the code changes (development).")
@click.pass_obj
def serve(state: State, bind: str | None, workers: int | None, reload: bool) -> None:
    """Run the event collector (HTTP API) under gunicorn.

    Each worker builds its own Kafka producer after fork; events are answered 2xx only after
    Kafka acknowledged them or they were fsync'd to the local spool (UGC_SPOOL_DIR).
    Create the topic first with `ugc topic create`.
    """
    from ugc.collector.server import CollectorServer, prepare_metrics_dir

    settings = state.settings(bind=bind, workers=workers)
    settings = state.settings(bind=bind, workers=workers, metrics_dir=prepare_metrics_dir(settings))
    _warn_about_topic(settings)
    click.echo(
        f"ugc collector on http://{settings.bind} ({settings.workers} workers, "
        f"topic {settings.kafka_topic} at {settings.kafka_bootstrap})",
        err=True,
    )
    CollectorServer(settings, reload=reload).run()


def _warn_about_topic(settings: object) -> None:
    from ugc.adapters.kafka import admin
    from ugc.errors import BrokerUnavailable
    from ugc.log import get_logger

    log = get_logger("ugc.cli.serve")
    try:
        partitions = admin.topic_partitions(
            settings.kafka_bootstrap,  # type: ignore[attr-defined]
            settings.kafka_topic,  # type: ignore[attr-defined]
            timeout=3,
        )
    except BrokerUnavailable:
        log.warning("kafka is not reachable now; events will be spooled until it is")
        return
    if partitions is None:
        log.warning("the topic does not exist yet: run `ugc topic create`")
