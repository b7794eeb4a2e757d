"""Running the collector under gunicorn with an ASGI (uvicorn) worker, programmatically.

* Worker class: ``CollectorWorker``, a ``uvicorn_worker.UvicornWorker`` (the maintained home of
  the worker since ``uvicorn.workers`` was deprecated) with ``lifespan="on"``: a failing start-up
  stops the worker instead of being ignored, and uvicorn's access log off (the collector logs
  and measures requests itself).
* The app is built in each worker (``load()`` runs after fork; no preload), so every worker has
  its own Kafka producer, Redis clients and spool files.
* Metrics: the master makes a fresh ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts and
  tells prometheus_client when a worker dies (its live gauges then stop counting).
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from ugc.log import get_logger
from ugc.settings import Settings

log = get_logger("ugc.collector.server")

WORKER_CLASS = "ugc.collector.server.CollectorWorker"


class CollectorWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - uvicorn-worker's convention
        "loop": "auto",
        "http": "auto",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
    }


def build_app(settings: Settings) -> Any:
    """The real collector: Kafka publisher, identity resolver and rate limiter from settings."""
    from ugc.adapters.kafka.producer import KafkaPublisher
    from ugc.collector.app import create_app
    from ugc.collector.identity import build_identity, build_rate_limiter

    return create_app(
        settings,
        publisher=KafkaPublisher(settings),
        identity=build_identity(settings),
        limiter=build_rate_limiter(settings),
    )


def prepare_metrics_dir(settings: Settings) -> str:
    """A fresh multiprocess metrics directory (old workers' files would be summed in)."""
    path = Path(settings.metrics_dir or Path(settings.data_dir) / "metrics").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class CollectorServer(BaseApplication):
    """gunicorn's arbiter, configured from settings instead of a config file."""

    def __init__(self, settings: Settings, *, reload: bool = False) -> None:
        self.settings = settings
        self.options = {
            "bind": settings.bind,
            "workers": settings.workers,
            "worker_class": WORKER_CLASS,
            "reload": reload,
            # time for in-flight acks and the producer flush on shutdown
            "graceful_timeout": max(10, settings.kafka_acks_timeout_ms // 1000 + 5),
            "timeout": 30,
            "keepalive": 5,
            "backlog": 2048,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": settings.log_level,
            "proc_name": "ugc-collector",
            "child_exit": _child_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ugc import log as ugc_log

        ugc_log.configure(self.settings.log_level, self.settings.log_format)
        app = build_app(self.settings)
        _settle_gc()
        return app


def _settle_gc() -> None:
    """Move everything the start-up allocated out of the cyclic collector's reach.

    A worker holds a few hundred thousand long-lived objects (Falcon, marshmallow, prometheus,
    confluent-kafka); every full collection would rescan them all, a pause of tens of
    milliseconds that lands in the p99. ``gc.freeze`` (the technique of Instagram's Django
    fleet) leaves only the objects requests create to the collector.
    """
    gc.collect()
    gc.freeze()
