"""One frozen settings object, built from ``UGC_*`` environment variables and CLI flags.

This is the only module that reads the environment. Each setting is declared once below with
its type, default, whether it is a secret, and a line of documentation; ``ugc config show``
and the README's configuration table are generated from the same declarations.

A secret can also be given as a file: ``UGC_JWT_KEY_FILE=/run/secrets/jwt.pem`` reads the
file's content into ``jwt_key`` (the usual Docker/Kubernetes secrets pattern).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ugc.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``"64KiB"``, ``"1m"``, ``"1048576"`` -> bytes."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (use e.g. 65536, 64KiB, 1MiB)")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _SIZE_FACTORS[unit]


def parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {text!r} (use true or false)")


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in str(text).split(",") if item.strip())


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise ValueError(f"must be greater than zero, got {text!r}")
        return value

    return parse


def _non_negative(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value < 0:
            raise ValueError(f"must not be negative, got {text!r}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = str(text).strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return value

    return parse


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = str(text).strip()
        if value and urlsplit(value).scheme not in schemes:
            raise ValueError(f"must be a {' or '.join(schemes)} URL, got {text!r}")
        return value

    return parse


def _bind(text: str) -> str:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, got {text!r}")
    return str(text)


def _setting(default: Any, parse: Callable[[str], Any], doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Every knob ugc has. Field ``foo_bar`` is set by ``UGC_FOO_BAR``."""

    # --- where things live
    data_dir: str = _setting(".ugc", str, "Local state: spool, embedded warehouse, reports.")
    # --- Kafka
    kafka_bootstrap: str = _setting("127.0.0.1:9092", str, "Kafka bootstrap servers.")
    kafka_topic: str = _setting("ugc.events", str, "The one topic every event goes to.")
    kafka_partitions: int = _setting(4, _positive(int), "Partitions for `ugc topic create`.")
    kafka_acks_timeout_ms: int = _setting(
        5000, _positive(int), "How long the collector waits for the broker's ack before spooling."
    )
    kafka_linger_ms: int = _setting(2, _non_negative(int), "Producer linger (batching window).")
    kafka_compression: str = _setting(
        "lz4", _choice("none", "gzip", "snappy", "lz4", "zstd"), "Producer compression codec."
    )
    # --- the collector's HTTP side
    bind: str = _setting("127.0.0.1:8000", _bind, "Where `ugc serve` listens.")
    workers: int = _setting(2, _positive(int), "Gunicorn worker processes.")
    max_event_bytes: int = _setting(65536, parse_size, "Largest accepted single event (413).")
    max_request_bytes: int = _setting(
        1048576, parse_size, "Largest accepted request body, after decompression (413)."
    )
    max_batch_events: int = _setting(500, _positive(int), "Most events in one batch request.")
    max_json_depth: int = _setting(32, _positive(int), "Deepest JSON nesting accepted.")
    cors_origins: tuple[str, ...] = _setting(
        (), parse_list, "Comma-separated CORS origin allowlist; `*` allows any."
    )
    trust_forwarded_for: bool = _setting(
        False,
        parse_bool,
        "Behind one trusted proxy: limit by the X-Forwarded-For entry it appended (the last).",
    )
    rate_limit_per_second: int = _setting(
        200, _non_negative(int), "Requests per second per client IP; 0 disables the limit."
    )
    rate_limit_burst: int = _setting(400, _positive(int), "Short burst allowed above the rate.")
    # --- the spool (durable local buffer when Kafka is down)
    spool_dir: str = _setting("", str, "Spool directory; default DATA_DIR/spool.")
    spool_max_bytes: int = _setting(268435456, parse_size, "Spool size cap (then 503).")
    metrics_dir: str = _setting(
        "", str, "Prometheus multiprocess directory; `ugc serve` sets it for its workers."
    )
    # --- identity
    redis_url: str = _setting(
        "redis://127.0.0.1:6379/0", _url("redis", "rediss", "unix"), "Redis: cache, rate limit."
    )
    redis_timeout_ms: int = _setting(
        100, _positive(int), "Redis connect/read timeout, so a dead Redis never stalls a request."
    )
    redis_backoff_s: float = _setting(
        1.0, _non_negative(float), "After a Redis failure, skip Redis for this long (no hammering)."
    )
    auth_url: str = _setting(
        "", _url("http", "https"), "Auth service base URL; empty means local JWT check only."
    )
    auth_timeout_ms: int = _setting(300, _positive(int), "Auth service request timeout.")
    auth_breaker_failures: int = _setting(
        5, _positive(int), "Consecutive auth-service failures that open the circuit breaker."
    )
    auth_breaker_reset_s: float = _setting(
        10.0, _positive(float), "Seconds the breaker stays open before one trial call."
    )
    identity_cache_ttl_s: int = _setting(
        300, _positive(int), "Upper bound for cached identities (never past the token's exp)."
    )
    jwt_key: str = _setting(
        "", str, "Key for local JWT checks: HS secret or PEM public key.", secret=True
    )
    jwt_algorithms: tuple[str, ...] = _setting(
        ("RS256",), parse_list, "Pinned JWT algorithms for the local check."
    )
    jwt_user_claim: str = _setting("sub", str, "The token claim that holds the user id.")
    jwt_session_claim: str = _setting("sid", str, "The token claim that holds the session id.")
    jwt_audience: str = _setting("", str, "Expected `aud` for local JWT checks; empty: unchecked.")
    jwt_issuer: str = _setting("", str, "Expected `iss` for local JWT checks; empty: unchecked.")
    # --- warehouse and ETL
    clickhouse_url: str = _setting(
        "",
        _url("clickhouse", "chdb"),
        "clickhouse://user:pass@host:9000/db or chdb:///path; default chdb in DATA_DIR.",
        secret=False,
    )
    etl_group: str = _setting("ugc-etl", str, "Consumer group the ETL commits offsets to.")
    etl_batch_size: int = _setting(50000, _positive(int), "Messages per ETL batch.")
    etl_hole_after_s: float = _setting(
        120.0,
        _non_negative(float),
        "A gap in the offsets is skipped as a hole once the message after it is this old.",
    )
    # --- logs
    log_level: str = _setting("info", _choice("debug", "info", "warning", "error"), "Log level.")
    log_format: str = _setting("json", _choice("json", "text"), "Log format.")

    # ---------------------------------------------------------------- derived values
    @property
    def spool_path(self) -> Path:
        return Path(self.spool_dir) if self.spool_dir else Path(self.data_dir) / "spool"

    @property
    def warehouse_url(self) -> str:
        if self.clickhouse_url:
            return self.clickhouse_url
        return "chdb://" + str((Path(self.data_dir) / "warehouse").resolve())

    # ---------------------------------------------------------------- construction
    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read ``UGC_*`` variables, apply CLI ``overrides`` (already typed or text), validate.

        Raises ``ConfigError`` with one line naming the variable and the problem.
        """
        environ = os.environ if environ is None else environ
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(
            name
            for name in environ
            if name.startswith("UGC_")
            and name[4:].lower() not in known
            and not (name.endswith("_FILE") and name[4:-5].lower() in known)
        )
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]}", hint="see `ugc config show`")
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            env = "UGC_" + spec.name.upper()
            parse = spec.metadata["parse"]
            try:
                if spec.name in overrides:
                    raw = overrides[spec.name]
                    values[spec.name] = raw if not isinstance(raw, str) else parse(raw)
                elif env in environ:
                    values[spec.name] = parse(environ[env])
                elif env + "_FILE" in environ:
                    values[spec.name] = parse(_read_secret_file(environ[env + "_FILE"]))
            except (ValueError, OSError) as exc:
                raise ConfigError(f"bad setting {env}: {exc}") from exc
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.max_event_bytes > self.max_request_bytes:
            raise ConfigError("bad setting UGC_MAX_EVENT_BYTES: larger than UGC_MAX_REQUEST_BYTES")
        for alg in self.jwt_algorithms:
            if alg.lower() == "none":
                raise ConfigError("bad setting UGC_JWT_ALGORITHMS: 'none' is never allowed")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def describe(self) -> list[dict[str, Any]]:
        """Effective settings with secrets redacted, for ``ugc config show``."""
        rows = []
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["secret"] and value:
                value = "***"
            elif isinstance(value, str) and "://" in value:
                value = redact_url(value)
            elif isinstance(value, tuple):
                value = ",".join(value)
            rows.append(
                {
                    "name": spec.name,
                    "env": "UGC_" + spec.name.upper(),
                    "value": value,
                    "doc": spec.metadata["doc"],
                }
            )
        return rows


def redact_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def _read_secret_file(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").strip()
