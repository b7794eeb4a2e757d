"""Soak: steady traffic through collector, broker and ETL for a long time; memory flat, no loss.

Starts tansu, Redis, clickhouse-server and `ugc serve` (gunicorn, 2 workers) as local
processes, sends ``--rate`` events/s for ``--minutes`` (the traffic model: both envelopes,
logged-out visitors, 2 % broken events), runs the real `ugc etl run` every ``--etl-every``
seconds meanwhile, and at the end:

* prints the RSS of each collector worker after warm-up and at the end, and the peak RSS of
  the first and the last ETL runs (memory flat means end ~ start);
* loads what is left and reconciles: every event id answered 2xx is in ClickHouse exactly
  once (dedup views), nothing else is there, no dead letters. Exit 0 only when that holds.

    make soak                                   # 10 minutes at 1,000 events/s
    .venv/bin/python scripts/soak.py --minutes 3 --rate 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.harness import (  # noqa: E402 - the repo root goes on sys.path first
    UGC,
    Collector,
    Load,
    collector_settings,
    create_topic,
    reconcile,
)
from tests.support.services import ClickHouseServer, KafkaBroker, RedisServer  # noqa: E402
from tests.support.warehouse import etl_env, make_server_warehouse  # noqa: E402
from ugc.traffic import generate  # noqa: E402

MIB = 1024 * 1024
WARM_UP_S = 15


def rss_mib(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / MIB
    except psutil.NoSuchProcess:
        return 0.0


def etl_run(env: dict[str, str]) -> dict:
    """One `ugc etl run --json`, its peak RSS sampled every 100 ms."""
    began = time.monotonic()
    process = subprocess.Popen(
        [UGC, "etl", "run", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, rss_mib(process.pid))
        time.sleep(0.1)
    out, err = process.communicate()
    if process.returncode == 4:  # unavailable: retry later, the next run completes the load
        reason = [line for line in err.splitlines() if line.startswith("error")]
        return {"failed": 4, "error": reason[-1] if reason else err[-300:], "loaded": 0,
                "dead_lettered": 0, "seconds": round(time.monotonic() - began, 1),
                "peak_rss_mib": round(peak, 1)}  # fmt: skip
    if process.returncode != 0:
        raise SystemExit(f"ugc etl run failed ({process.returncode}): {err[-2000:]}")
    summary = json.loads(out)
    return {
        "loaded": summary["loaded"],
        "dead_lettered": summary["dead_lettered"],
        "seconds": round(time.monotonic() - began, 1),
        "peak_rss_mib": round(peak, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--etl-every", type=float, default=30.0, help="seconds between ETL runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ugc-soak-"))
    topic = "soak.events"
    started: list = []
    passed = False
    try:
        broker = KafkaBroker(workdir).start()
        started.append(broker)
        redis = RedisServer(workdir).start()
        started.append(redis)
        clickhouse = ClickHouseServer(workdir).start()
        started.append(clickhouse)
        warehouse = make_server_warehouse(clickhouse.url)
        create_topic(broker.bootstrap, topic, partitions=4)
        settings = collector_settings(broker.bootstrap, topic, redis.url)
        settings["UGC_LOG_LEVEL"] = "warning"
        settings["UGC_KAFKA_ACKS_TIMEOUT_MS"] = "5000"  # the production default
        collector = Collector(workdir, settings, workers=args.workers).start()
        started.append(collector)
        env = etl_env(broker.bootstrap, topic, warehouse.url)
        duration = args.minutes * 60
        print(
            f"soak: {args.minutes:g} min at {args.rate:g} events/s, ETL every "
            f"{args.etl_every:g} s, {args.workers} collector workers, work dir {workdir}",
            flush=True,
        )
        traffic = generate(None, seed=20261123, invalid_share=0.02, logged_in_share=0.0)
        load = Load(
            collector.url,
            traffic,
            rate=args.rate,
            concurrency=args.concurrency,
            duration=duration,
        ).start()
        began = time.monotonic()
        time.sleep(WARM_UP_S)
        workers = collector.worker_pids()
        rss_start = {pid: round(rss_mib(pid), 1) for pid in workers}
        print(f"collector workers RSS after {WARM_UP_S} s warm-up (MiB): {rss_start}", flush=True)
        runs = []
        next_run = began + args.etl_every
        while time.monotonic() - began < duration:
            time.sleep(max(0.0, min(next_run, began + duration) - time.monotonic()))
            if time.monotonic() - began >= duration:
                break
            run = etl_run(env)
            runs.append(run)
            print(
                f"  t={time.monotonic() - began:5.0f} s  sent={load.pulled}  ETL: {run}",
                flush=True,
            )
            next_run += args.etl_every
        report = load.join(timeout=120)
        rss_end = {pid: round(rss_mib(pid), 1) for pid in workers}
        collector.wait_spool_drained(timeout=120)
        for _attempt in range(3):  # as Airflow would retry an exit 4
            runs.append(etl_run(env))
            print(f"  final ETL: {runs[-1]}", flush=True)
            if "failed" not in runs[-1]:
                break
        print(f"collector workers RSS at the end (MiB):          {rss_end}")
        replaced = set(workers) ^ set(collector.worker_pids())
        if replaced:
            print(f"  workers changed during the soak: {sorted(replaced)}")
        failed = [r for r in runs if "failed" in r]
        print(f"ETL runs: {len(runs)}, of which {len(failed)} ended with exit 4 (retried)")
        print(
            f"ETL peak RSS (MiB): first run {runs[0]['peak_rss_mib']}, "
            f"last loop run {runs[-2]['peak_rss_mib'] if len(runs) > 1 else '-'}, "
            f"final {runs[-1]['peak_rss_mib']}; {len(runs)} runs"
        )
        print(
            f"traffic: sent {report.sent}, answered 2xx {report.accepted}, "
            f"by status {dict(report.by_status)}, {report.rate:.0f} events/s, "
            f"latency ms {report.latency()}, mismatches {report.mismatches}"
        )
        counts = reconcile(warehouse, report.accepted_ids)
        loaded = sum(r["loaded"] for r in runs)
        print(
            f"reconciled: {len(report.accepted_ids)} events answered 2xx, {len(counts)} in "
            f"ClickHouse, each exactly once; ETL loaded {loaded} messages, "
            f"{sum(r['dead_lettered'] for r in runs)} dead letters. Zero loss."
        )
        passed = report.mismatches == 0
        return 0 if passed else 1
    finally:
        for service in reversed(started):
            service.stop()
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
