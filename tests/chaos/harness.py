"""The chaos harness: a real `ugc serve`, traffic in the background, the real ETL, reconciliation.

    collector = Collector(tmp_path, settings(broker, redis, topic)).start()
    with Load(collector.url, generate(2000, seed=1), rate=400) as load:
        ...inject a fault while traffic flows...
    report = load.report                      # a ugc.traffic.SendReport
    assert etl(broker, topic, warehouse).returncode == 0
    reconcile(warehouse, accepted=report.accepted_ids)

Reconciliation is exact: every event id the collector answered 2xx appears exactly once in
the dedup views (``v_events_<type>``), nothing else appears there unless the caller names it
as an allowed extra (an event answered 503 that the broker still took), and the ETL wrote no
dead letters (the collector publishes only valid records).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from tests.support.services import UgcServe, wait_for
from tests.support.warehouse import WarehouseHandle, etl_env
from ugc.events import REGISTRY
from ugc.traffic import SendReport, TrafficItem, send

UGC = str(Path(sys.executable).parent / "ugc")


def outage_seconds(default: float) -> float:
    """Outage length: ``UGC_CHAOS_OUTAGE_S`` (the issue's 30 s) or a CI-sized default."""
    return float(os.environ.get("UGC_CHAOS_OUTAGE_S", default))


class Collector(UgcServe):
    """`ugc serve` under gunicorn, two workers by default, with its spool and metrics at hand."""

    def __init__(self, workdir: Path, settings: dict[str, str], workers: int = 2) -> None:
        super().__init__(workdir, settings, workers)

    @property
    def spool_dir(self) -> Path:
        return self.workdir / "data" / "spool"

    def ready(self) -> bool:
        return len(self.worker_pids()) >= self.workers and super().ready()

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        try:
            return sorted(c.pid for c in psutil.Process(self.process.pid).children())
        except psutil.NoSuchProcess:
            return []

    def segments(self, pid: int | None = None) -> list[Path]:
        """Spool segments that hold at least one byte (of one worker pid, or all)."""
        prefix = f"{pid}-" if pid is not None else ""
        return [
            p for p in self.spool_dir.glob(f"{prefix}*.seg") if p.exists() and p.stat().st_size > 0
        ]

    def wait_spool_drained(self, timeout: float = 60) -> None:
        wait_for(lambda: not list(self.spool_dir.glob("*.seg")), timeout, "spool replay")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            return response.read().decode()


def collector_settings(bootstrap: str, topic: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Settings for a chaos collector: short ack timeout so outages are noticed quickly."""
    return {
        "UGC_KAFKA_BOOTSTRAP": bootstrap,
        "UGC_KAFKA_TOPIC": topic,
        "UGC_REDIS_URL": redis_url,
        "UGC_KAFKA_ACKS_TIMEOUT_MS": "1000",
        "UGC_RATE_LIMIT_PER_SECOND": "0",
        "UGC_LOG_LEVEL": "info",
        **{f"UGC_{k.upper()}": v for k, v in extra.items()},
    }


def create_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
    env |= {"UGC_KAFKA_BOOTSTRAP": bootstrap, "UGC_KAFKA_TOPIC": topic}
    created = subprocess.run(
        [UGC, "topic", "create", "--partitions", str(partitions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr


class Load:
    """Traffic sent from a background thread; ``report`` once the block (or ``join``) ends."""

    def __init__(
        self, url: str, items: Iterable[TrafficItem], *, rate: float, concurrency: int = 8,
        **options: Any,
    ) -> None:  # fmt: skip
        self.report: SendReport | None = None
        self.error: BaseException | None = None
        self.pulled = 0
        self._args = (url, self._counted(items))
        self._options = {"rate": rate, "concurrency": concurrency, **options}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _counted(self, items: Iterable[TrafficItem]) -> Iterable[TrafficItem]:
        for item in items:
            self.pulled += 1
            yield item

    def wait_pulled(self, count: int, timeout: float = 60) -> None:
        """Block until the sender has taken ``count`` items (traffic is flowing)."""

        def enough() -> bool:
            if self.error is not None:
                raise self.error
            return self.pulled >= count

        wait_for(enough, timeout, f"{count} events sent")

    def _run(self) -> None:
        try:
            self.report = asyncio.run(send(*self._args, **self._options))
        except BaseException as exc:  # noqa: BLE001 - re-raised in join()
            self.error = exc

    def start(self) -> Load:
        self._thread.start()
        return self

    def join(self, timeout: float = 300) -> SendReport:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "traffic did not finish"
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.join()


def etl(
    bootstrap: str, topic: str, warehouse: WarehouseHandle, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """The real `ugc etl run --json` CLI, to completion."""
    return subprocess.run(
        [UGC, "etl", "run", "--json", *args],
        env=etl_env(bootstrap, topic, warehouse.url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def etl_process(bootstrap: str, topic: str, warehouse: WarehouseHandle, *args: str):
    """The real `ugc etl run` CLI, running (stderr carries one JSON log line per batch)."""
    return subprocess.Popen(
        [UGC, "etl", "run", *args],
        env=etl_env(bootstrap, topic, warehouse.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def view_counts(warehouse: WarehouseHandle) -> Counter[str]:
    """How often each event id appears in the dedup views, over every event type."""
    union = " UNION ALL ".join(f"SELECT event_id FROM v_{t.table}" for t in REGISTRY)
    rows = warehouse.rows(f"SELECT event_id, count() FROM ({union}) GROUP BY event_id")
    return Counter({str(event_id): int(n) for event_id, n in rows})


def dead_letter_count(warehouse: WarehouseHandle) -> int:
    return int(warehouse.scalar("SELECT count() FROM v_dead_letters"))


def reconcile(
    warehouse: WarehouseHandle,
    accepted: Iterable[str],
    *,
    may_also_hold: Iterable[str] = (),
    unknown_extras: int = 0,
) -> Counter[str]:
    """Every accepted id exactly once in the views; nothing else but what the caller allows.

    ``may_also_hold``: ids answered non-2xx that the broker may still have taken (a 503 after
    an ack timeout). ``unknown_extras``: how many such events carried no client id.
    """
    accepted = list(accepted)
    assert len(accepted) == len(set(accepted)), "the collector answered 2xx twice for one id"
    counts = view_counts(warehouse)
    missing = set(accepted) - set(counts)
    assert not missing, (
        f"{len(missing)} events answered 2xx are not in ClickHouse: {sorted(missing)[:5]}"
    )
    twice = {i: n for i, n in counts.items() if n != 1}
    assert not twice, f"events seen more than once after dedup: {list(twice.items())[:5]}"
    extras = set(counts) - set(accepted)
    unexplained = extras - set(may_also_hold)
    assert len(unexplained) <= unknown_extras, (
        f"{len(unexplained)} events in ClickHouse nobody was told were accepted"
    )
    assert dead_letter_count(warehouse) == 0
    return counts


def unsettled(report: SendReport) -> tuple[set[str], int]:
    """Events with no 2xx and no 4xx (no answer, 5xx): they may or may not be stored.

    Returns their ids and how many had no id the test could know (a server-made one).
    Needs ``keep_answers=True``.
    """
    assert report.answers is not None, "send with keep_answers=True"
    ids: set[str] = set()
    unknown = 0
    for status, event_id, _detail in report.answers:
        if status == 0 or status >= 500:
            if event_id is None:
                unknown += 1
            else:
                ids.add(event_id)
    return ids, unknown


def identities(warehouse: WarehouseHandle) -> dict[str, tuple[str, str]]:
    """event_id -> (user_id, identity_source), as readers see them."""
    union = " UNION ALL ".join(
        f"SELECT event_id, user_id, identity_source FROM v_{t.table}" for t in REGISTRY
    )
    return {str(i): (str(u), str(s)) for i, u, s in warehouse.rows(union)}


def metric_total(metrics: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter over the series that carry ``labels``."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
