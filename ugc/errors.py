"""The exception tree. Every error ugc raises on purpose derives from ``UgcError``.

Errors are classed by what the caller should do about them::

    UgcError                       fatal: a bug or an unexpected state (exit 1, HTTP 500)
    ├── BadInput                   the caller sent something wrong; do not retry (exit 2)
    │   ├── MalformedBody          not parseable: bad JSON, bad gzip (HTTP 400)
    │   ├── ValidationFailed       parseable but invalid; carries field errors (HTTP 422)
    │   ├── PayloadTooLarge        over a size limit (HTTP 413)
    │   └── UnsupportedMediaType   a content type or encoding we do not read (HTTP 415)
    ├── ConfigError                a setting is missing or wrong (exit 3)
    ├── Unavailable                a dependency is down or full; retry later (exit 4, HTTP 503)
    │   ├── BrokerUnavailable      Kafka
    │   ├── WarehouseUnavailable   ClickHouse
    │   └── SpoolFull              the collector's local spool is full or unwritable
    ├── RateLimited                too many requests from one client (HTTP 429)
    ├── Busy                       someone else holds the lock or the warehouse (exit 6)
    ├── IntegrityError             stored state contradicts the source; needs a human (exit 7)
    └── QualityFailed              an error-level data-quality check failed (exit 5)

Third-party exceptions are translated at the adapter boundary
(``raise WarehouseUnavailable(...) from exc``), so features and the CLI only ever see these.
The HTTP mapping lives in ``ugc.collector.errors``; the exit codes live here, on the classes,
and are read once in ``ugc.cli``. Exit code 99 is never used: Airflow's BashOperator reads it
as "skipped".
"""

from __future__ import annotations

from typing import Any


class UgcError(Exception):
    """Root of every error ugc raises on purpose."""

    exit_code = 1
    http_status = 500
    #: a short machine-readable code, stable across releases (used in API bodies and logs)
    code = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        return " ".join(text.split())


class BadInput(UgcError):
    exit_code = 2
    http_status = 400
    code = "bad_input"


class MalformedBody(BadInput):
    http_status = 400
    code = "malformed_body"


class ValidationFailed(BadInput):
    """Input that parsed but broke the contract.

    ``errors`` maps a field path (``data.page_view_id``, ``event``) to a list of messages,
    the shape marshmallow produces, flattened to dotted paths.
    """

    http_status = 422
    code = "validation_failed"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class PayloadTooLarge(BadInput):
    http_status = 413
    code = "payload_too_large"

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class UnsupportedMediaType(BadInput):
    http_status = 415
    code = "unsupported_media_type"


class ConfigError(UgcError):
    exit_code = 3
    code = "config_error"


class Unavailable(UgcError):
    """A dependency is down, slow or full. Retrying later is the right move."""

    exit_code = 4
    http_status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class BrokerUnavailable(Unavailable):
    code = "broker_unavailable"


class WarehouseUnavailable(Unavailable):
    code = "warehouse_unavailable"


class SpoolFull(Unavailable):
    code = "spool_full"


class RateLimited(UgcError):
    exit_code = 4
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(UgcError):
    exit_code = 6
    http_status = 409
    code = "busy"


class IntegrityError(UgcError):
    exit_code = 7
    code = "integrity_error"


class QualityFailed(UgcError):
    exit_code = 5
    code = "quality_failed"


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into ``{"data.field": ["message", ...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, path))
    elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        flat[prefix or "_schema"] = list(errors)
    elif isinstance(errors, list):
        for index, item in enumerate(errors):
            flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "_schema"] = [str(errors)]
    return flat
