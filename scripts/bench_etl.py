"""ETL throughput: Kafka -> ClickHouse end to end, against the raw rates of each side.

Pre-fills a topic on a tansu broker with canonical records (all event types, about 400 B each,
lz4 like the collector), then measures, in this order:

* raw consume: the same ``PartitionReader`` reading every partition to its end, no parsing;
* parse floor: the same read plus ``orjson.loads`` of every message, nothing else: the least a
  loader that parses each record in Python does per event (ours parses whole chunks with
  Arrow's C++ reader, off the GIL, and can pass it);
* dry run: ``ugc etl run --dry-run``, everything the loader does but the insert: the most it
  could do if inserting cost nothing, so its ratio to a raw insert bounds the loader's;
* per backend (chdb in a temp directory, and Debian's clickhouse-server on free ports):
  - end to end: ``ugc etl run --json`` as a subprocess into a fresh, migrated warehouse;
    its events/s, CPU time and peak RSS (``VmHWM``, polled while it runs);
  - raw insert: the very rows of that run (routed into the same column blocks, untimed),
    inserted batch by batch through the same adapter into another fresh warehouse, timed.

The topic is filled once; everything after it is repeated ``--repeats`` times (fresh
warehouses each time) and the medians are reported, with every run's figures in the JSON.

    .venv/bin/python scripts/bench_etl.py                      # 1,000,000 events, both backends
    .venv/bin/python scripts/bench_etl.py --events 2000000 --backends chdb --json out.json

Targets (issue 3): >= 100,000 events/s per process, >= 0.5 of the raw insert rate, and RSS well
under 1 GiB for a 2-million backlog.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from tests.support.services import ClickHouseServer, KafkaBroker  # noqa: E402
from tests.support.warehouse import (  # noqa: E402
    canonical_record,
    make_chdb_warehouse,
    make_server_warehouse,
)
from ugc.adapters.clickhouse import connect  # noqa: E402
from ugc.adapters.kafka.admin import create_topic  # noqa: E402
from ugc.adapters.kafka.consumer import PartitionReader  # noqa: E402
from ugc.etl.route import Router  # noqa: E402
from ugc.events import REGISTRY  # noqa: E402


def fill(bootstrap: str, topic: str, events: int, partitions: int) -> float:
    """Produce ``events`` canonical records; returns seconds taken."""
    from confluent_kafka import Producer

    create_topic(bootstrap, topic, partitions)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
            "enable.idempotence": True,
        }
    )
    templates = [canonical_record(t.name) for t in REGISTRY]
    base = datetime(2026, 11, 1, tzinfo=UTC)
    started = time.monotonic()
    for index in range(events):
        template = templates[index % len(templates)]
        moment = (base + timedelta(milliseconds=index * 7)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        stamp = moment[:-3] + "Z"
        record = dict(
            template,
            event_id=str(uuid.uuid4()),
            user_id=f"user-{index % 50_000}",
            session_id=f"s-{index % 200_000}",
            received_at=stamp,
            event_at=stamp,
        )
        value = orjson.dumps(record)
        while True:
            try:
                producer.produce(
                    topic,
                    value=value,
                    key=template["event_type"].encode(),
                    partition=index % partitions,
                )
                break
            except BufferError:
                producer.poll(0.05)
        if index % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise SystemExit("the broker did not take every message")
    return time.monotonic() - started


def raw_consume(bootstrap: str, topic: str, batch: int, *, parse: bool = False) -> dict[str, Any]:
    """Read every partition to its end; with ``parse``, also ``orjson.loads`` every message
    (the parse floor: the ETL without validation, columns or insert)."""
    loads = orjson.loads
    with PartitionReader(bootstrap, topic, "bench-raw") as reader:
        started, cpu_started = time.monotonic(), time.process_time()
        count = size = 0
        for partition, (low, high) in reader.all_watermarks(reader.partitions() or []).items():
            for messages in reader.read(partition, low, high, batch):
                count += len(messages)
                for message in messages:
                    value = message.value()
                    size += len(value)
                    if parse:
                        loads(value)
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu_started
    return {
        "events": count,
        "seconds": seconds,
        "events_per_s": count / seconds,
        "events_per_cpu_s": count / cpu,
        "bytes": size,
    }


def etl_subprocess(bootstrap: str, topic: str, url: str, batch: int, *extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
    env.update(
        UGC_KAFKA_BOOTSTRAP=bootstrap,
        UGC_KAFKA_TOPIC=topic,
        UGC_CLICKHOUSE_URL=url,
        UGC_LOG_LEVEL="warning",
    )
    command = [sys.executable, "-c", "from ugc.cli import main; main()"]
    command += ["etl", "run", "--json", "--batch-size", str(batch), *extra]
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        peak_kib = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kib = max(peak_kib, _peak_rss_kib(process.pid))
            time.sleep(0.1)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"etl run failed ({process.returncode}): {stderr.decode()[-2000:]}")
    summary = orjson.loads(stdout.splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    events = summary["loaded"] + summary["dead_lettered"]
    return {
        "events": summary["loaded"] + summary["dead_lettered"],
        "seconds": summary["seconds"],
        "events_per_s": summary["events_per_second"],
        "process_wall_s": wall,
        "process_cpu_s": cpu,
        "events_per_cpu_s": events / cpu,
        # the figure to compare on a shared machine: wall-clock rates follow the neighbours' load
        "cpu_s_per_100k": cpu / events * 100_000,
        "peak_rss_mib": peak_kib / 1024,
        "load_average": _load_average(),
    }


def _cpu_seconds(*services: Any) -> float:
    """User + system CPU seconds so far of these services' processes (and their children)."""
    import psutil

    total = 0.0
    for service in services:
        if service is None or service.process is None:
            continue
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(service.process.pid)
            for each in [process, *process.children(recursive=True)]:
                times = each.cpu_times()
                total += times.user + times.system
    return total


def _load_average() -> float:
    return os.getloadavg()[0]


def _peak_rss_kib(pid: int) -> int:
    """``VmHWM`` of a running process. (The rusage of a child is no use here: its maximum
    includes the parent's memory it was forked from, until it exec'd.)"""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def raw_insert(bootstrap: str, topic: str, url: str, batch: int) -> dict[str, Any]:
    """The same rows, routed untimed, inserted batch by batch through the adapter, timed."""
    router = Router(REGISTRY, topic)
    timed = cpu = 0.0
    rows = 0
    with connect(url) as warehouse, PartitionReader(bootstrap, topic, "bench-raw") as reader:
        for partition, (low, high) in reader.all_watermarks(reader.partitions() or []).items():
            for messages in reader.read(partition, low, high, batch):
                routed = router.route(messages, partition, "bench", "2026-11-23T00:00:00.000Z")
                started, cpu_started = time.monotonic(), time.process_time()
                for block in routed.blocks:
                    warehouse.insert(block.table, block.columns, block.data)
                timed += time.monotonic() - started
                cpu += time.process_time() - cpu_started
                rows += routed.loaded
    return {
        "events": rows,
        "seconds": timed,
        "events_per_s": rows / timed,
        "cpu_s_here": cpu,
        "cpu_s_per_100k": cpu / rows * 100_000,
        "load_average": _load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--backends", default="chdb,server")
    parser.add_argument("--repeats", type=int, default=3, help="runs after the fill; medians")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if not backends or set(backends) - {"chdb", "server"}:
        parser.error(
            f"--backends: a comma-separated list of chdb and server, got {args.backends!r}"
        )

    results: dict[str, Any] = {
        "events": args.events,
        "partitions": args.partitions,
        "batch_size": args.batch_size,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-etl-") as tmp:
        work = Path(tmp)
        broker = KafkaBroker(work).start()
        server = ClickHouseServer(work).start() if "server" in backends else None
        try:
            topic = "bench.events"
            seconds = fill(broker.bootstrap, topic, args.events, args.partitions)
            results["produce"] = {"seconds": seconds, "events_per_s": args.events / seconds}
            print(f"pre-filled {args.events:,} events in {seconds:.1f} s", flush=True)
            runs = []
            for repeat in range(1, args.repeats + 1):
                print(f"-- run {repeat} of {args.repeats}", flush=True)
                run: dict[str, Any] = {
                    "raw_consume": raw_consume(broker.bootstrap, topic, args.batch_size)
                }
                print(f"raw consume: {run['raw_consume']['events_per_s']:,.0f} events/s")
                run["parse_floor"] = raw_consume(
                    broker.bootstrap, topic, args.batch_size, parse=True
                )
                print(f"parse floor: {run['parse_floor']['events_per_s']:,.0f} events/s")
                dry_url = (
                    make_chdb_warehouse(work / f"run{repeat}" / "dry-chdb").url
                    if "chdb" in backends
                    else server_url(server)
                )
                # everything but the insert: what the loader would do if inserting cost nothing
                run["dry_run"] = etl_subprocess(
                    broker.bootstrap, topic, dry_url, args.batch_size, "--dry-run"
                )
                print(f"etl --dry-run: {run['dry_run']['events_per_s']:,.0f} events/s", flush=True)
                for backend in backends:
                    run[backend] = run_backend(
                        backend, broker, server, work / f"run{repeat}", topic, args.batch_size
                    )
                runs.append(run)
            results["runs"] = runs
            results |= medians(runs, backends)
        finally:
            if server is not None:
                server.stop()
            broker.stop()
    results["bench_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(results, backends)
    if args.json_path:
        Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_path).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


def medians(runs: list[dict[str, Any]], backends: list[str]) -> dict[str, Any]:
    """Per figure, the median over the runs (ratios are medians of each run's own ratio)."""

    def median(path: tuple[str, ...]) -> float:
        values = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value[key]
            values.append(value)
        return statistics.median(values)

    out: dict[str, Any] = {
        side: {key: median((side, key)) for key in runs[0][side]}
        for side in ("raw_consume", "parse_floor", "dry_run")
    }
    for backend in backends:
        out[backend] = {
            "etl": {key: median((backend, "etl", key)) for key in runs[0][backend]["etl"]},
            "raw_insert": {
                key: median((backend, "raw_insert", key)) for key in runs[0][backend]["raw_insert"]
            },
            "ratio": median((backend, "ratio")),
        }
    return out


def server_url(server: Any) -> str:
    return make_server_warehouse(server.url).url


def run_backend(
    backend: str, broker: Any, server: Any, work: Path, topic: str, batch: int
) -> dict[str, Any]:
    def fresh(name: str) -> str:
        if backend == "chdb":
            return make_chdb_warehouse(work / f"{name}-chdb").url
        return server_url(server)

    url = fresh("etl")
    services = (broker, server if backend == "server" else None)
    before = [_cpu_seconds(s) for s in services]
    etl = etl_subprocess(broker.bootstrap, topic, url, batch)
    broker_cpu, server_cpu = (_cpu_seconds(s) - b for s, b in zip(services, before, strict=True))
    # every process this run kept busy, per event: the ETL, the broker serving it, the server
    etl["broker_cpu_us"] = broker_cpu / etl["events"] * 1e6
    etl["server_cpu_us"] = server_cpu / etl["events"] * 1e6
    etl["all_cpu_us"] = etl["cpu_s_per_100k"] * 10 + etl["broker_cpu_us"] + etl["server_cpu_us"]
    print(
        f"{backend}: etl {etl['events_per_s']:,.0f} events/s, "
        f"{etl['cpu_s_per_100k']:.2f} cpu-s per 100k, rss {etl['peak_rss_mib']:.0f} MiB, "
        f"load {etl['load_average']:.1f}",
        flush=True,
    )
    raw = raw_insert(broker.bootstrap, topic, fresh("raw"), batch)
    print(
        f"{backend}: raw insert {raw['events_per_s']:,.0f} events/s, "
        f"{raw['cpu_s_per_100k']:.2f} cpu-s per 100k, load {raw['load_average']:.1f}",
        flush=True,
    )
    return {"etl": etl, "raw_insert": raw, "ratio": etl["events_per_s"] / raw["events_per_s"]}


def report(results: dict[str, Any], backends: list[str]) -> None:
    consume = results["raw_consume"]
    print()
    print(f"events {results['events']:,}, partitions {results['partitions']}, ", end="")
    print(f"batch {results['batch_size']:,}; medians of {len(results['runs'])} runs")
    print(
        f"{'':<8} {'etl ev/s':>10} {'cpu-s/100k':>10} {'raw insert':>11} {'etl/insert':>11} "
        f"{'etl/consume':>12} {'peak RSS':>10} {'load':>5}"
    )
    for backend in backends:
        item = results[backend]
        etl = item["etl"]
        print(
            f"{backend:<8} {etl['events_per_s']:>10,.0f} {etl['cpu_s_per_100k']:>10.2f} "
            f"{item['raw_insert']['events_per_s']:>11,.0f} {item['ratio']:>11.2f} "
            f"{etl['events_per_s'] / consume['events_per_s']:>12.2f} "
            f"{etl['peak_rss_mib']:>6.0f} MiB {etl['load_average']:>5.1f}"
        )
    floor = results["parse_floor"]
    print(
        f"raw consume {consume['events_per_s']:,.0f} events/s "
        f"({consume['events_per_cpu_s']:,.0f} per cpu-s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus"
    )
    print(f"parse floor (read + orjson.loads, nothing else) {floor['events_per_s']:,.0f} events/s")
    dry = results["dry_run"]
    print(
        f"etl --dry-run (read, parse, checks, blocks; no insert) {dry['events_per_s']:,.0f} "
        "events/s, the most the loader could do with an insert that cost nothing: "
        + ", ".join(
            f"{dry['events_per_s'] / results[b]['raw_insert']['events_per_s']:.2f} of {b}'s "
            "raw insert"
            for b in backends
        )
    )
    per_event = {
        "read": 1e6 / consume["events_per_cpu_s"],
        "parse": 1e6 / floor["events_per_cpu_s"] - 1e6 / consume["events_per_cpu_s"],
    }
    print(
        "CPU per event in the loader's process: read {read:.1f} µs, parse {parse:.1f} µs".format(
            **per_event
        ),
        end="",
    )
    for backend in backends:
        etl = results[backend]["etl"]
        print(f"; {backend} etl in all {etl['cpu_s_per_100k'] * 10:.1f} µs", end="")
    print(" (100,000 events/s on one core leaves 10 µs)")
    cpus = os.cpu_count() or 1
    for backend in backends:
        etl = results[backend]["etl"]
        server = f" + clickhouse-server {etl['server_cpu_us']:.1f}" if backend == "server" else ""
        print(
            f"{backend}: CPU per event over every process: etl {etl['cpu_s_per_100k'] * 10:.1f} "
            f"+ broker {etl['broker_cpu_us']:.1f}{server} = {etl['all_cpu_us']:.1f} µs, so "
            f"{cpus} cores fully used cap this pipeline at "
            f"{cpus * 1e6 / etl['all_cpu_us']:,.0f} events/s"
        )


if __name__ == "__main__":
    main()
