"""HTTP resources: each responder translates a request into one domain call and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falcon
import orjson

from ugc.collector.body import read_json
from ugc.collector.metrics import Metrics
from ugc.collector.service import Collector
from ugc.errors import ValidationFailed

HTTP_207 = 207


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int
    max_request_bytes: int
    max_json_depth: int


def bearer_token(req: Any) -> str | None:
    """A token from ``Authorization: Bearer ...`` (the body's ``token`` wins)."""
    header = req.get_header("Authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


class EventsResource:
    """``POST /api/v1/events``: one event -> 200 ``{"event_id": ...}``."""

    def __init__(self, collector: Collector, limits: Limits) -> None:
        self.collector = collector
        self.limits = limits

    async def on_post(self, req: Any, resp: Any) -> None:
        payload = await read_json(req, self.limits.max_event_bytes, self.limits.max_json_depth)
        req.context.event_type = self.collector.type_label(payload)
        event_id = await self.collector.collect(
            payload, token=bearer_token(req), user_agent=req.user_agent
        )
        resp.data = orjson.dumps({"event_id": event_id})


class BatchResource:
    """``POST /api/v1/events/batch``: 200 all accepted, 207 some, 422 none valid."""

    def __init__(self, collector: Collector, limits: Limits) -> None:
        self.collector = collector
        self.limits = limits

    async def on_post(self, req: Any, resp: Any) -> None:
        document = await read_json(req, self.limits.max_request_bytes, self.limits.max_json_depth)
        result = await self.collector.collect_batch(
            document, token=bearer_token(req), user_agent=req.user_agent
        )
        if result.accepted == 0 and result.unavailable is not None:
            raise result.unavailable
        if result.unavailable is not None:
            resp.set_header("Retry-After", str(result.unavailable.retry_after))
        body = result.body()
        if result.accepted == 0:
            resp.status = 422
            body = {
                "error": "validation_failed",
                "message": "no event in the batch is valid",
                **body,
            }
        elif result.rejected:
            resp.status = HTTP_207
        resp.data = orjson.dumps(body)


class ValidateResource:
    """``POST /api/v1/events/validate``: the production schemas, nothing published.

    One event -> 200 ``{"valid": true, "event_type", "record"}`` or 422 with field errors;
    a batch (``{"events": [...]}`` or an array) -> 200 if all are valid, else 422 by index.
    """

    def __init__(self, collector: Collector, limits: Limits) -> None:
        self.collector = collector
        self.limits = limits

    async def on_post(self, req: Any, resp: Any) -> None:
        document = await read_json(req, self.limits.max_request_bytes, self.limits.max_json_depth)
        if isinstance(document, list) or (isinstance(document, dict) and "events" in document):
            result = self.collector.check_batch(document)
            body: dict[str, Any] = {"valid": result.rejected == 0, **result.body()}
            if result.rejected:
                resp.status = 422
                body = {"error": "validation_failed", "message": "some events are invalid", **body}
            resp.data = orjson.dumps(body)
            return
        if len(orjson.dumps(document)) > self.limits.max_event_bytes:
            raise ValidationFailed(
                "the event is too large",
                {"_schema": [f"Event larger than {self.limits.max_event_bytes} bytes."]},
            )
        resp.data = orjson.dumps(self.collector.check(document))


class HealthResource:
    """``GET /healthz``: the process answers (liveness)."""

    async def on_get(self, req: Any, resp: Any) -> None:
        resp.data = b'{"status":"ok"}'


class ReadyResource:
    """``GET /readyz``: 200 when Kafka is reachable or the spool is writable, else 503."""

    def __init__(self, probes: Callable[[], Awaitable[dict[str, bool]]]) -> None:
        self.probes = probes

    async def on_get(self, req: Any, resp: Any) -> None:
        checks = await self.probes()
        ready = checks.get("kafka", False) or checks.get("spool", False)
        resp.status = 200 if ready else 503
        if not ready:
            resp.set_header("Retry-After", "5")
        resp.data = orjson.dumps({"status": "ready" if ready else "unavailable", **checks})


class MetricsResource:
    """``GET /metrics``: Prometheus text exposition."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def on_get(self, req: Any, resp: Any) -> None:
        resp.content_type = self.metrics.content_type
        resp.data = self.metrics.render()


class OpenApiResource:
    """``GET /openapi.json``: built once from the registry."""

    def __init__(self, document: bytes) -> None:
        self.document = document

    async def on_get(self, req: Any, resp: Any) -> None:
        resp.data = self.document


SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ugc collector API</title>
<link rel="stylesheet" href="/apidocs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/apidocs/static/swagger-ui-bundle.js"></script>
<script src="/apidocs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"});
};
</script></body></html>
"""


class ApiDocsResource:
    """``GET /apidocs``: Swagger UI, its assets served locally (no internet needed)."""

    async def on_get(self, req: Any, resp: Any) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = SWAGGER_PAGE


def swagger_assets() -> Path | None:
    """The directory of Swagger UI's static files (from the ``swagger-ui-py`` wheel)."""
    import importlib.util

    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "static"
    return path if (path / "swagger-ui-bundle.js").exists() else None
