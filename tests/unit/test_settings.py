"""Settings: environment, overrides, validation, redaction; and `ugc config show`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ugc.errors import ConfigError
from ugc.settings import Settings, parse_size, redact_url


def test_defaults_load_from_an_empty_environment() -> None:
    settings = Settings.load(environ={})
    assert settings.kafka_topic == "ugc.events"
    assert settings.max_event_bytes == 64 * 1024
    assert settings.warehouse_url.startswith("chdb://")


def test_environment_and_overrides() -> None:
    env = {"UGC_WORKERS": "4", "UGC_CORS_ORIGINS": "https://a.example, https://b.example"}
    settings = Settings.load({"bind": "0.0.0.0:9000", "workers": None}, environ=env)
    assert settings.workers == 4
    assert settings.bind == "0.0.0.0:9000"
    assert settings.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("text", "expected"), [("65536", 65536), ("64KiB", 65536), ("1m", 1048576), ("2 MiB", 2097152)]
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"UGC_WORKERS": "0"}, "UGC_WORKERS"),
        ({"UGC_WORKERS": "many"}, "UGC_WORKERS"),
        ({"UGC_MAX_EVENT_BYTES": "lots"}, "UGC_MAX_EVENT_BYTES"),
        ({"UGC_BIND": "8000"}, "UGC_BIND"),
        ({"UGC_REDIS_URL": "http://x"}, "UGC_REDIS_URL"),
        ({"UGC_CLICKHOUSE_URL": "mysql://x"}, "UGC_CLICKHOUSE_URL"),
        ({"UGC_JWT_ALGORITHMS": "none"}, "none"),
        ({"UGC_MAX_EVENT_BYTES": "2MiB", "UGC_MAX_REQUEST_BYTES": "1MiB"}, "UGC_MAX_EVENT_BYTES"),
        ({"UGC_TYPO": "1"}, "UGC_TYPO"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ=env)
    assert needle in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_secret_from_file_is_read_and_redacted(tmp_path: Path) -> None:
    key = tmp_path / "jwt.key"
    key.write_text("s3cret\n")
    settings = Settings.load(environ={"UGC_JWT_KEY_FILE": str(key)})
    assert settings.jwt_key == "s3cret"
    shown = {row["name"]: row["value"] for row in settings.describe()}
    assert shown["jwt_key"] == "***"


def test_passwords_in_urls_are_redacted() -> None:
    assert redact_url("clickhouse://u:pw@h:9000/db") == "clickhouse://u:***@h:9000/db"
    settings = Settings.load(environ={"UGC_CLICKHOUSE_URL": "clickhouse://u:pw@h:9000/db"})
    assert "pw" not in str(settings.describe())


def _ugc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ugc.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=60,
    )


def test_config_show_prints_redacted_settings() -> None:
    result = _ugc("config", "show", env={"UGC_JWT_KEY": "topsecret"})
    assert result.returncode == 0, result.stderr
    assert "UGC_KAFKA_TOPIC" in result.stdout
    assert "topsecret" not in result.stdout


def test_bad_setting_is_one_line_and_exit_3() -> None:
    result = _ugc("config", "show", env={"UGC_WORKERS": "x"})
    assert result.returncode == 3
    assert result.stderr.startswith("error: bad setting UGC_WORKERS")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["etl", "run", "--batch-size", "0"], "(see `ugc etl run --help`)"),
        (["etl", "runn"], "No such command 'runn'"),
        (["marts", "build"], "Missing option '--month'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], says: str) -> None:
    result = _ugc(*argv)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_version_and_help() -> None:
    assert _ugc("--version").stdout.startswith("ugc, version")
    assert _ugc("--help").returncode == 0
    assert _ugc("nope").returncode == 2
