"""Prometheus metrics of the collector.

Under gunicorn every worker is a process: ``ugc serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (and
``UGC_METRICS_DIR``, the same directory) before the workers start, so counters are summed over
workers at scrape time (prometheus_client's multiprocess mode). Without it (tests, a single
process) each app has its own registry.

=============================================  =====================================================
``ugc_events_accepted_total{event_type,via}``  events answered 2xx; ``via`` = kafka | spool
``ugc_events_rejected_total{event_type,reason}`` events or requests refused; reason = the error code
``ugc_http_requests_total{route,status}``      requests by route template and status code
``ugc_http_request_duration_seconds{route}``   latency histogram (middleware in to middleware out)
``ugc_publish_failures_total{possibly_persisted}``  broker acks that did not come (then spooled)
``ugc_spool_records`` / ``ugc_spool_bytes``    what waits in the spool (summed over live workers)
``ugc_spool_replayed_total``                   records replayed from the spool into Kafka
``ugc_identity_total{source}``                 identities by source: auth_service, cache, local, ...
``ugc_identity_cache_hits_total`` (``_misses``, ``_errors``), ``ugc_auth_calls_total``,
``ugc_auth_unavailable_total``                 from the identity resolver; cache hit ratio =
                                               hits / (hits + misses)
``ugc_rate_limit_fail_open_total``             requests let through because Redis was down
``ugc_rate_limited_total``                     requests answered 429
=============================================  =====================================================
"""

from __future__ import annotations

import bisect
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: counters of the identity resolver's ``stats`` mirrored into Prometheus
_RESOLVER_STATS = {
    "cache_hits": "ugc_identity_cache_hits_total",
    "cache_misses": "ugc_identity_cache_misses_total",
    "cache_errors": "ugc_identity_cache_errors_total",
    "auth_calls": "ugc_auth_calls_total",
    "auth_unavailable": "ugc_auth_unavailable_total",
}


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, multiprocess_dir: str = "") -> None:
        self.multiprocess_dir = multiprocess_dir
        # in multiprocess mode values live in files; metrics register nowhere
        self._own = CollectorRegistry(auto_describe=True)
        reg = None if multiprocess_dir else self._own
        self.accepted = Counter(
            "ugc_events_accepted", "Events answered 2xx.", ["event_type", "via"], registry=reg
        )
        self.rejected = Counter(
            "ugc_events_rejected",
            "Events or requests refused, by reason.",
            ["event_type", "reason"],
            registry=reg,
        )
        self.requests = Counter(
            "ugc_http_requests", "HTTP requests.", ["route", "status"], registry=reg
        )
        self.latency = Histogram(
            "ugc_http_request_duration_seconds",
            "Request latency.",
            ["route"],
            buckets=BUCKETS,
            registry=reg,
        )
        self.publish_failures = Counter(
            "ugc_publish_failures",
            "Broker acks that did not come.",
            ["possibly_persisted"],
            registry=reg,
        )
        self.spool_records = Gauge(
            "ugc_spool_records", "Records in the spool.", registry=reg, multiprocess_mode="livesum"
        )
        self.spool_bytes = Gauge(
            "ugc_spool_bytes", "Bytes in the spool.", registry=reg, multiprocess_mode="livesum"
        )
        self.replayed = Counter(
            "ugc_spool_replayed", "Records replayed from the spool.", registry=reg
        )
        self.identity = Counter(
            "ugc_identity", "Identities resolved, by source.", ["source"], registry=reg
        )
        self.fail_open = Counter(
            "ugc_rate_limit_fail_open", "Requests let through with Redis down.", registry=reg
        )
        self.rate_limited = Counter("ugc_rate_limited", "Requests answered 429.", registry=reg)
        self._resolver_counters = {
            field: Counter(
                name.removesuffix("_total"), f"Identity resolver: {field}.", registry=reg
            )
            for field, name in _RESOLVER_STATS.items()
        }
        self._resolver_seen: dict[str, int] = dict.fromkeys(_RESOLVER_STATS, 0)
        self._resolver: Any = None
        self._children: dict[tuple[Any, ...], Any] = {}
        self._counts: dict[Any, int] = {}
        self._observed: dict[str, list[Any]] = {}

    # ------------------------------------------------------------------ hot-path helpers
    # A request only bumps plain dict entries; ``flush`` (every second, at scrape time and at
    # shutdown) moves them into the Prometheus values. In multiprocess mode each value update
    # is an mmap write under a lock, ~15 us per request for the histogram alone: too much on
    # a path that must serve thousands of events per second per core.
    def accept(self, event_type: str, via: str) -> None:
        self._add(self._child(self.accepted, event_type, via))

    def reject(self, event_type: str, reason: str) -> None:
        self._add(self._child(self.rejected, event_type, reason))

    def source(self, source: str) -> None:
        self._add(self._child(self.identity, source))

    def request(self, route: str, status: int, seconds: float) -> None:
        self._add(self._child(self.requests, route, str(status)))
        pending = self._observed.get(route)
        if pending is None:
            pending = self._observed[route] = [0.0, [0] * (len(BUCKETS) + 1)]
        pending[0] += seconds
        pending[1][bisect.bisect_left(BUCKETS, seconds)] += 1

    def count(self, metric: Any) -> None:
        """``metric.inc()`` for an unlabelled counter, buffered like the others."""
        self._add(metric)

    def _add(self, child: Any) -> None:
        self._counts[child] = self._counts.get(child, 0) + 1

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(...)``, memoised: the label lookup is the costly part."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def flush(self) -> None:
        counts, self._counts = self._counts, {}
        for child, amount in counts.items():
            child.inc(amount)
        observed, self._observed = self._observed, {}
        for route, (total, buckets) in observed.items():
            child = self._child(self.latency, route)
            # Histogram has no bulk observe: update its values as observe() would
            child._sum.inc(total)
            for index, count in enumerate(buckets):
                if count:
                    child._buckets[index].inc(count)

    def set_spool(self, records: int, size: int) -> None:
        self.spool_records.set(records)
        self.spool_bytes.set(size)

    # ------------------------------------------------------------------ resolver stats
    def watch_resolver(self, resolver: Any) -> None:
        self._resolver = resolver

    def sync_stats(self) -> None:
        """Flush, and copy the resolver's own counters (cache hits, ...) into Prometheus."""
        self.flush()
        stats = getattr(self._resolver, "stats", None)
        if stats is None:
            return
        for field, counter in self._resolver_counters.items():
            value = getattr(stats, field, None)
            if isinstance(value, int) and value > self._resolver_seen[field]:
                counter.inc(value - self._resolver_seen[field])
                self._resolver_seen[field] = value

    # ------------------------------------------------------------------ exposition
    def render(self) -> bytes:
        self.sync_stats()
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            _multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
            return generate_latest(registry)
        return generate_latest(self._own)
