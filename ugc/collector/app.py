"""The composition root of the collector: ``create_app`` wires everything, nothing else does.

Collaborators are injected: the Kafka publisher, the identity resolver and the rate limiter
(``ugc serve`` builds the real ones in each worker; tests pass stand-ins). Nothing connects here:
the replay task, the spool lock and the producer start in the ASGI lifespan, in the worker.
"""

from __future__ import annotations

import asyncio
import os
import time

import falcon
import falcon.asgi
import orjson

from ugc.collector.delivery import Delivery
from ugc.collector.errors import ErrorHandlers
from ugc.collector.metrics import Metrics
from ugc.collector.middleware import Cors, Lifespan, RateLimit, RequestContext
from ugc.collector.openapi import build_openapi
from ugc.collector.ports import IdentityResolver, Publisher, RateLimiter
from ugc.collector.resources import (
    ApiDocsResource,
    BatchResource,
    EventsResource,
    HealthResource,
    Limits,
    MetricsResource,
    OpenApiResource,
    ReadyResource,
    ValidateResource,
    swagger_assets,
)
from ugc.collector.service import Collector
from ugc.collector.spool import Spool
from ugc.events import REGISTRY, Registry
from ugc.log import get_logger
from ugc.settings import Settings

log = get_logger("ugc.collector")

READY_CACHE_S = 1.0


class Readiness:
    """``/readyz`` probes, cached for a second so a probe storm never hammers Kafka."""

    def __init__(self, publisher: Publisher, spool: Spool) -> None:
        self.publisher = publisher
        self.spool = spool
        self._checked = 0.0
        self._result: dict[str, bool] = {}

    async def __call__(self) -> dict[str, bool]:
        if time.monotonic() - self._checked < READY_CACHE_S:
            return self._result
        try:
            kafka = await asyncio.wait_for(self.publisher.reachable(), 2.0)
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            kafka = False
        self._result = {"kafka": bool(kafka), "spool": self._spool_writable()}
        self._checked = time.monotonic()
        return self._result

    def _spool_writable(self) -> bool:
        spool = self.spool
        if not spool.enabled:
            return False
        directory = spool.directory if spool.directory.exists() else spool.directory.parent
        return os.access(directory, os.W_OK) and spool.used_bytes() < spool.max_bytes


class CollectorApp(falcon.asgi.App):
    """The Falcon app, with handles on its parts for tests and diagnostics."""

    collector: Collector
    delivery: Delivery
    metrics: Metrics


def create_app(
    settings: Settings,
    *,
    publisher: Publisher,
    identity: IdentityResolver,
    limiter: RateLimiter,
    registry: Registry = REGISTRY,
    spool: Spool | None = None,
) -> CollectorApp:
    """The collector as a Falcon ASGI app."""
    metrics = Metrics(settings.metrics_dir)
    metrics.watch_resolver(identity)
    spool = spool or Spool(settings.spool_path, settings.spool_max_bytes)
    delivery = Delivery(publisher, spool, metrics)
    collector = Collector(
        registry=registry,
        identity=identity,
        delivery=delivery,
        metrics=metrics,
        max_event_bytes=settings.max_event_bytes,
        max_batch_events=settings.max_batch_events,
    )
    limits = Limits(settings.max_event_bytes, settings.max_request_bytes, settings.max_json_depth)

    async def startup() -> None:
        start = getattr(publisher, "start", None)
        if start is not None:
            try:
                await start()
            except Exception as exc:  # noqa: BLE001 - Kafka may come later; the spool covers it
                log.warning("kafka producer did not start", extra={"reason": str(exc)})
        delivery.start()
        log.info(
            "collector worker started", extra={"pid": os.getpid(), "spool": str(spool.directory)}
        )

    async def shutdown() -> None:
        await delivery.stop(timeout=settings.kafka_acks_timeout_ms / 1000 + 1)
        remaining = await publisher.aclose()
        for closeable in (identity, limiter):
            try:
                await closeable.aclose()
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.exception("close failed")
        log.info(
            "collector worker stopped", extra={"pid": os.getpid(), "undelivered": remaining or 0}
        )

    middleware: list[object] = [RequestContext(metrics), Cors(settings.cors_origins)]
    if getattr(limiter, "enabled", True):  # a disabled limiter: no await per request for it
        middleware.append(
            RateLimit(limiter, metrics, trust_forwarded_for=settings.trust_forwarded_for)
        )
    middleware.append(Lifespan(startup, shutdown))
    app = CollectorApp(middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    ErrorHandlers(metrics).install(app)

    app.add_route("/api/v1/events", EventsResource(collector, limits))
    app.add_route("/api/v1/events/batch", BatchResource(collector, limits))
    app.add_route("/api/v1/events/validate", ValidateResource(collector, limits))
    app.add_route("/healthz", HealthResource())
    app.add_route("/readyz", ReadyResource(Readiness(publisher, spool)))
    app.add_route("/metrics", MetricsResource(metrics))
    app.add_route("/openapi.json", OpenApiResource(orjson.dumps(build_openapi(registry))))
    app.add_route("/apidocs", ApiDocsResource())
    assets = swagger_assets()
    if assets is not None:
        app.add_static_route("/apidocs/static", str(assets))
    app.collector, app.delivery, app.metrics = collector, delivery, metrics
    return app
