"""docker-compose.yml and the Dockerfile agree with the project: there is no Docker engine here,
so this is what stands between a typo and a stack that does not start.

Checked: pinned images, healthchecks, one-shot services, every UGC_* variable is a real
setting with a valid value, every URL points at a service and a port it listens on, the host
ports match the settings' defaults, and every ugc / airflow command line exists.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

import ugc
from ugc.cli import cli
from ugc.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
_VAR = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")


def interpolate(value: Any) -> Any:
    """Compose's ``${VAR:-default}`` with an empty environment (what a fresh checkout gets)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: "$" if m.group(0) == "$$" else (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    return {
        name
        for service in services.values()
        for name, dep in (service.get("depends_on") or {}).items()
        if dep.get("condition") == "service_completed_successfully"
    }


def ports_of(service: dict[str, Any]) -> dict[int, int]:
    """Published ports: container port -> host port."""
    published = {}
    for spec in service.get("ports", []):
        host, _, container = str(spec).rpartition(":")
        published[int(container)] = int(host.rpartition(":")[2])
    return published


def dockerfile_instruction(name: str) -> list[str]:
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith(name + " ")]
    assert len(lines) == 1, f"one {name} expected in the Dockerfile"
    return json.loads(lines[0][len(name) + 1 :])


# ------------------------------------------------------------------ images and health


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        repo, _, tag = image.rpartition(":")
        assert repo and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: {image} floats"
        if repo == "ugc":
            assert tag == ugc.__version__, f"{name}: the ugc image tag must be the version"
            assert service["build"]["dockerfile"] == "Dockerfile"
        else:
            # PostgreSQL's releases are MAJOR.MINOR; everything else here is MAJOR.MINOR.PATCH
            parts = 2 if repo == "postgres" else 3
            full = r"^\d+" + r"\.\d+" * (parts - 1) + r"(\.\d+)*(-[\w.]+)?$"
            assert re.match(full, tag), f"{name}: {image} is not a full version"


def test_the_dockerfile_pins_its_base_image() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE).group(1)
    assert re.match(r"^python:3\.11\.\d+-slim", base), base
    assert all(
        line.split()[1] in {"${PYTHON_IMAGE}"} for line in re.findall(r"^FROM .*", text, re.M)
    )


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    once = one_shot(services)
    assert once == {"ugc-init", "airflow-init"}
    for name, service in services.items():
        if name in once:
            assert service["restart"] == "no" and "ports" not in service, name
            continue
        check = service.get("healthcheck", {}).get("test")
        assert check and check[0] in {"CMD", "CMD-SHELL"}, f"{name}: no healthcheck"
        assert service.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    once = one_shot(services)
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if dep in once else "service_healthy"
            assert spec["condition"] == wanted, f"{name} -> {dep}"


def test_volumes_and_secrets_are_declared(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            source = spec.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{name}: volume {source} not declared"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: secret {secret} not declared"


# ------------------------------------------------------------------ settings and ports


def test_every_ugc_variable_is_a_valid_setting(services: dict[str, dict[str, Any]]) -> None:
    known = {"UGC_" + name.upper() for name in Settings.__dataclass_fields__}
    secrets = {
        "UGC_" + name.upper()
        for name, spec in Settings.__dataclass_fields__.items()
        if spec.metadata["secret"]
    }
    checked = 0
    for name, service in services.items():
        env = {k: v for k, v in env_of(service).items() if k.startswith("UGC_")}
        for key in [k for k in env if k.endswith("_FILE")]:
            assert key[:-5] in secrets, f"{name}: {key} is not a secret setting"
            path = env.pop(key)
            assert path.startswith("/run/secrets/"), f"{name}: {key}={path}"
            assert path.rpartition("/")[2] in service.get("secrets", []), f"{name}: {key}"
        assert set(env) <= known, f"{name}: unknown {sorted(set(env) - known)}"
        Settings.load(environ=env)  # raises ConfigError on a bad value
        checked += bool(env)
    assert checked >= 6  # collector, ugc-init and the Airflow services


def ugc_env(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    return env_of(services["collector"])


def test_urls_point_at_services_and_their_ports(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings.load(
        environ={
            k: v for k, v in ugc_env(services).items() if k.startswith("UGC_") and "FILE" not in k
        }
    )
    host, port = settings.kafka_bootstrap.rsplit(":", 1)
    kafka = env_of(services[host])
    assert f"://kafka:{port}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert f":{port}" in kafka["KAFKA_LISTENERS"]

    redis = urlsplit(settings.redis_url)
    assert redis.hostname in services and redis.port == 6379

    warehouse = urlsplit(settings.clickhouse_url)
    clickhouse = env_of(services[warehouse.hostname])
    assert warehouse.port == 9000 and 9000 in ports_of(services[warehouse.hostname])
    assert warehouse.username == clickhouse["CLICKHOUSE_USER"]
    assert warehouse.password == clickhouse["CLICKHOUSE_PASSWORD"]
    assert warehouse.path.strip("/") == clickhouse["CLICKHOUSE_DB"]

    assert settings.auth_url == ""  # UGC_AUTH_URL is passed through from the operator's env
    bind_port = int(settings.bind.rsplit(":", 1)[1])
    assert bind_port in ports_of(services["collector"])
    assert f":{bind_port}/readyz" in " ".join(services["collector"]["healthcheck"]["test"])


def test_published_ports_match_the_settings_defaults(services: dict[str, dict[str, Any]]) -> None:
    """A host-side ``ugc`` with default settings reaches the stack."""
    defaults = Settings.load(environ={})
    kafka_port = int(defaults.kafka_bootstrap.rsplit(":", 1)[1])
    assert ports_of(services["kafka"]).get(kafka_port) == kafka_port
    assert (
        f"EXTERNAL://localhost:{kafka_port}"
        in env_of(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    )
    redis_port = urlsplit(defaults.redis_url).port
    assert ports_of(services["redis"]).get(redis_port) == redis_port
    bind_port = int(defaults.bind.rsplit(":", 1)[1])
    assert ports_of(services["collector"]).get(bind_port) == bind_port


def test_airflow_services_share_one_configuration(services: dict[str, dict[str, Any]]) -> None:
    names = [n for n in services if n.startswith("airflow-")]
    assert sorted(names) == [
        "airflow-api-server",
        "airflow-dag-processor",
        "airflow-init",
        "airflow-scheduler",
        "airflow-triggerer",
    ]
    first = env_of(services[names[0]])
    assert first["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "@postgres:5432/" in first["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert first["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/ugc/dags"
    assert first["AIRFLOW_VAR_UGC_BIN"] == "/opt/venv/bin/ugc"
    for name in names:
        assert env_of(services[name]) == first, f"{name} differs"
        assert services[name]["entrypoint"] == ["airflow"]
    # the scheduler (LocalExecutor) runs the DAG tasks: it needs the same UGC_* as the collector
    ugc_only = {k: v for k, v in ugc_env(services).items() if k in first}
    assert ugc_only == {k: v for k, v in first.items() if k.startswith("UGC_")}


# ------------------------------------------------------------------ commands


def ugc_command_lines(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Every ``ugc ...`` the image and the stack run."""
    lines = [dockerfile_instruction("ENTRYPOINT") + dockerfile_instruction("CMD")]
    for service in services.values():
        if not service.get("image", "").startswith("ugc:"):
            continue
        entrypoint = service.get("entrypoint", dockerfile_instruction("ENTRYPOINT"))
        command = service.get("command", dockerfile_instruction("CMD"))
        if entrypoint == ["ugc"]:
            lines.append(["ugc", *command])
        elif entrypoint == ["/bin/sh", "-c"]:
            for part in re.split(r"&&|;|\|\|", command[0]):
                lines.append(shlex.split(part))
    return lines


def resolve(words: list[str]) -> click.Command:
    """The click command a ``ugc`` command line runs (the leading words that name commands)."""
    assert words[0] == "ugc", words
    command: click.Command = cli
    ctx = click.Context(cli)
    for word in words[1:]:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        sub = command.get_command(ctx, word)
        assert sub is not None, f"`{' '.join(words)}`: no command {word!r}"
        command = sub
    assert not isinstance(command, click.Group), f"`{' '.join(words)}` names a group"
    return command


def test_image_and_stack_run_real_ugc_commands(services: dict[str, dict[str, Any]]) -> None:
    lines = ugc_command_lines(services)
    assert ["ugc", "serve"] in lines
    assert ["ugc", "topic", "create"] in lines
    assert ["ugc", "db", "migrate"] in lines
    for words in lines:
        resolve(words)


def test_airflow_command_lines_parse(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """Every ``airflow ...`` in the stack, through Airflow's own parser (in a child process, so
    this test never imports Airflow with the default AIRFLOW_HOME)."""
    lines = []
    for service in services.values():
        if service.get("entrypoint") == ["airflow"]:
            lines.append(service["command"])
        check = service.get("healthcheck", {}).get("test", [])
        if check[:1] == ["CMD-SHELL"] and check[1].startswith("airflow "):
            lines.append(shlex.split(check[1].replace("$${HOSTNAME}", "h"))[1:])
    assert len(lines) == 7
    code = (
        "import json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "for line in json.loads(sys.argv[1]):\n"
        "    args = parser.parse_args(line)\n"
        "    assert callable(args.func), line\n"
        "print('ok')\n"
    )
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(lines)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_the_image_contains_what_the_stack_runs(services: dict[str, dict[str, Any]]) -> None:
    text = DOCKERFILE.read_text()
    assert '".[quality,airflow]"' in text  # Great Expectations and Airflow in the image
    assert "apache-airflow-providers-postgres" in text  # the PostgreSQL metadata DB
    uses_curl = any(
        "curl" in service.get("healthcheck", {}).get("test", [])
        for service in services.values()
        if service.get("image", "").startswith("ugc:")
    )
    assert not uses_curl or re.search(r"apt-get install[^\n]*\bcurl\b", text)
    for folder in ("clickhouse", "expectations", "dags"):
        assert f"COPY {folder} ./{folder}" in text
    dockerignore = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in dockerignore and ".git" in dockerignore
