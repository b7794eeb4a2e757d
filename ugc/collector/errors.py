"""The one table that turns errors into HTTP responses.

Every error body has the same shape::

    {"error": "validation_failed", "message": "the event is invalid",
     "errors": {"data.page_view_id": ["Not a valid UUID."]}}

``errors`` is empty except for field-level problems; a 413 adds ``limit``. 429 and 503 carry
``Retry-After``. A bug is a 500 with no detail (it is logged with the request id); client
input never reaches it.
"""

from __future__ import annotations

from typing import Any

import falcon
import orjson

from ugc.collector.metrics import Metrics
from ugc.errors import PayloadTooLarge, RateLimited, UgcError, Unavailable, ValidationFailed
from ugc.log import get_logger

log = get_logger("ugc.collector.http")


def error_body(
    code: str, message: str, errors: dict[str, Any] | None = None, **extra: Any
) -> bytes:
    return orjson.dumps({"error": code, "message": message, "errors": errors or {}, **extra})


def _status_code(status: Any) -> str:
    return falcon.code_to_http_status(status).split(" ", 1)[1].lower().replace(" ", "_")


class ErrorHandlers:
    """``add_error_handler`` targets; counts every rejection by reason."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def install(self, app: falcon.asgi.App) -> None:
        app.add_error_handler(Exception, self.unexpected)
        app.add_error_handler(falcon.HTTPError, self.http_error)
        app.add_error_handler(UgcError, self.ugc_error)

    async def ugc_error(self, req: Any, resp: Any, ex: UgcError, params: Any) -> None:
        extra: dict[str, Any] = {}
        if isinstance(ex, PayloadTooLarge):
            extra["limit"] = ex.limit
        if isinstance(ex, Unavailable | RateLimited):
            resp.set_header("Retry-After", str(ex.retry_after))
        if ex.http_status >= 500 and not isinstance(ex, Unavailable):
            log.error("internal error", extra={"error": ex.code, "reason": ex.one_line()})
        elif isinstance(ex, Unavailable):
            log.warning("unavailable", extra={"error": ex.code, "reason": ex.one_line()})
        errors = ex.errors if isinstance(ex, ValidationFailed) else None
        if not getattr(ex, "counted", False):
            self.metrics.reject(req.context.get("event_type") or "unknown", ex.code)
        resp.status = ex.http_status
        resp.content_type = falcon.MEDIA_JSON
        resp.data = error_body(ex.code, ex.message, errors, **extra)

    async def http_error(self, req: Any, resp: Any, ex: falcon.HTTPError, params: Any) -> None:
        code = _status_code(ex.status)
        message = ex.description or ex.title or code
        resp.status = ex.status
        if ex.headers:
            resp.set_headers(ex.headers)
        resp.content_type = falcon.MEDIA_JSON
        resp.data = error_body(code, str(message))

    async def unexpected(self, req: Any, resp: Any, ex: Exception, params: Any) -> None:
        log.exception("unhandled error", extra={"path": req.path})
        resp.status = 500
        resp.content_type = falcon.MEDIA_JSON
        resp.data = error_body("internal_error", "an internal error occurred")
