#!/usr/bin/env python3
"""Benchmark: ``ugc quality check`` and one month's ``ugc marts build`` on 10 million events.

Generates the events straight into the embedded warehouse (chdb) with ``INSERT ... SELECT``
from ``numbers()``: one month (October 2026) spread evenly over every event table, with
consistent Kafka positions (4 partitions), a ledger, a few dead letters, paired page views and
verified/anonymous users. Then it times the two commands as a user runs them (a fresh
``ugc`` process each, Great Expectations' import included) and prints the figures.

    .venv/bin/python scripts/bench_quality_marts.py [--events 10000000] [--dir DIR] [--keep]

Target (issue 4): each under 10 s on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ugc.adapters.clickhouse import connect  # noqa: E402
from ugc.adapters.clickhouse.migrate import migrate  # noqa: E402
from ugc.events import REGISTRY  # noqa: E402
from ugc.events.columns import table_columns  # noqa: E402

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
SPAN = 31 * 86400
PARTITIONS = 4
DEAD_LETTERS = 1000
#: share of the events per type (the rest of the registry, if any, shares what is left)
SHARES = {
    "element_click": 0.30,
    "page_view_start": 0.15,
    "page_view_end": 0.15,
    "quality_change": 0.10,
    "video_complete": 0.05,
    "search_filter": 0.10,
    "like": 0.10,
    "film_added": 0.05,
}

TS = "toDateTime64({start} + intDiv(number * {span}, {n}){plus}, 3, 'UTC')"
PAGE_VIEW_ID = "toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(number), 12, '0')))"


def pick(values: list[str], modulo: str = "number") -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"arrayElement([{quoted}], ({modulo}) % {len(values)} + 1)"


FIELDS = {
    "element_type": pick(["movie", "trailer", "category", "person", "button"]),
    "page_type": pick(
        ["main", "movie", "category", "person", "search", "promotion"], "intDiv(number, 7)"
    ),
    "page_view_id": PAGE_VIEW_ID,
    "video_id": "concat('v', toString(number % 5000))",
    "old_quality": "arrayElement([360, 480, 720, 1080], number % 4 + 1)",
    "new_quality": "arrayElement([480, 720, 1080, 360], number % 4 + 1)",
    "position_s": "toUInt32(number % 7200)",
    "duration_total": "toUInt8(number % 2)",
    "duration_s": "toUInt32(5400)",
    "search_query": "''",
    "filters": pick(["genre=drama", "genre=comedy;year=2020", "rating>=8;genre=drama"]),
    "film_id": "concat('f', toString(number))",
    "action": pick(["like", "unlike"]),
    "vendor_id": "concat('vendor-', toString(number % 50))",
    "title": "'a film'",
    "content_type": "'film'",
    "release_year": "toUInt32(2000 + number % 26)",
    "genres": "['drama']",
}


def column_sql(column, event_type: str, n: int, base: int) -> str:  # noqa: ANN001
    plus = " + 30 + number % 600" if event_type == "page_view_end" else ""
    ts = TS.format(start=int(MONTH_START.timestamp()), span=SPAN, n=n, plus=plus)
    g = f"({base} + number)"
    common = {
        "event_id": "generateUUIDv4()",
        "event_type": f"'{event_type}'",
        "schema_version": "1",
        "envelope": "'v1'",
        "user_id": "if(number % 10 < 3, 'anonymous', concat('user-', toString(number % 200000)))",
        "identity_source": "if(number % 10 < 3, 'anonymous', 'auth_service')",
        "session_id": "concat('s-', toString(intDiv(number, 20)))",
        "received_at": ts,
        "event_at": ts,
        "client_event_at": ts,
        "country": "'RU'",
        "device": "'desktop'",
        "kafka_partition": f"toUInt32({g} % {PARTITIONS})",
        "kafka_offset": f"intDiv({g}, {PARTITIONS})",
        "loaded_at": "now64(3)",
        "load_run_id": "'bench'",
    }
    if column.name in common:
        return common[column.name]
    if column.name in FIELDS:
        return FIELDS[column.name]
    if column.nullable:
        return "NULL"
    return {"strings": "[]", "string": "''", "lowcard": "''", "uuid": "generateUUIDv4()"}.get(
        column.logical, "0"
    )


def generate(url: str, total: int) -> dict[str, float]:
    counts = {t.name: int(total * SHARES.get(t.name, 0)) for t in REGISTRY}
    counts["element_click"] += total - sum(counts.values())
    figures = {}
    with connect(url) as wh:
        migrate(wh)
        base = 0
        started = time.perf_counter()
        for event_type in REGISTRY:
            n = counts[event_type.name]
            columns = table_columns(event_type)
            select = ", ".join(column_sql(c, event_type.name, n, base) for c in columns)
            names = ", ".join(c.name for c in columns)
            wh.execute(
                f"INSERT INTO {event_type.table} ({names}) SELECT {select} FROM numbers({n})"
            )
            base += n
        dead_base = base
        wh.execute(
            "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, "
            "kafka_timestamp, reason, error, event_type, event_id, payload, payload_encoding, "
            "dead_lettered_at, load_run_id) SELECT 'ugc.events', "
            f"toUInt32(({dead_base} + number) % {PARTITIONS}), intDiv({dead_base} + number, "
            f"{PARTITIONS}), NULL, toDateTime64({int(MONTH_START.timestamp())} + number * 2000, "
            "3, 'UTC'), 'bad_json', 'bench', '', '', '{nope', 'utf8', now64(3), 'bench' "
            f"FROM numbers({DEAD_LETTERS})"
        )
        last = (dead_base + DEAD_LETTERS - 1) // PARTITIONS
        wh.execute(
            "INSERT INTO load_ledger (topic, kafka_partition, first_offset, last_offset, "
            "next_offset, rows_loaded, rows_dead_lettered, rows_skipped, first_timestamp, "
            "last_timestamp, mode, load_run_id, written_ns, written_at) "
            "SELECT 'ugc.events', toUInt32(number), 0, "
            f"intDiv({dead_base + DEAD_LETTERS} - 1 - number, {PARTITIONS}), "
            f"intDiv({dead_base + DEAD_LETTERS} - 1 - number, {PARTITIONS}) + 1, 0, 0, 0, "
            "now64(3), now64(3), 'ledger', 'bench', toUInt64(number), now() "
            f"FROM numbers({PARTITIONS})"
        )
        figures["generate_s"] = time.perf_counter() - started
        figures["events"] = float(
            wh.scalar(
                " + ".join(f"(SELECT count() FROM {t.table})" for t in REGISTRY).join(
                    ["SELECT ", ""]
                )
            )
        )
        figures["last_offset"] = float(last)
    return figures


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system of the child: less sensitive to a busy
    machine than wall time), exit code, output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, proc.stdout + proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="Warehouse dir (default: temp).")
    parser.add_argument("--keep", action="store_true", help="Keep the warehouse afterwards.")
    parser.add_argument("--runs", type=int, default=2, help="Timed runs of each command.")
    parser.add_argument(
        "--reuse", action="store_true", help="Time an existing --dir warehouse, do not generate."
    )
    opts = parser.parse_args()
    workdir = opts.dir or Path(tempfile.mkdtemp(prefix="ugc-bench-qm-"))
    url = f"chdb://{(workdir / 'warehouse').resolve()}"
    if not (opts.reuse and opts.dir):
        shutil.rmtree(workdir / "warehouse", ignore_errors=True)
        print(f"generating {opts.events:,} events into {url} ...", flush=True)
        figures = generate(url, opts.events)
        print(f"  {figures['events']:,.0f} events in {figures['generate_s']:.1f} s "
              f"({figures['events'] / figures['generate_s']:,.0f} rows/s)")  # fmt: skip
    else:
        with connect(url) as wh:
            migrate(wh)
            total = wh.scalar(
                " + ".join(f"(SELECT count() FROM {t.table})" for t in REGISTRY).join(
                    ["SELECT ", ""]
                )
            )
        print(f"reusing {url}: {total:,} events", flush=True)
    print(f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
    env.update(UGC_CLICKHOUSE_URL=url, UGC_LOG_LEVEL="warning", UGC_DATA_DIR=str(workdir))
    ugc = str(Path(sys.executable).parent / "ugc")
    quality = [ugc, "quality", "check", "--since", "2026-10-01", "--until", "2026-11-01",
               "--json"]  # fmt: skip
    marts = [ugc, "marts", "build", "--month", "2026-10", "--json"]
    results = {}
    for name, args in (("quality check", quality), ("marts build 2026-10", marts)):
        for run in range(1, opts.runs + 1):
            load = os.getloadavg()[0]
            seconds, cpu, code, output = timed(args, env)
            results.setdefault(name, []).append(seconds)
            detail = ""
            try:
                report = json.loads(output[output.index("{") : output.rindex("}") + 1])
                if "checks" in report:
                    detail = ", ".join(
                        f"{k} {v['seconds']:.2f}s" for k, v in report["checks"].items()
                    )
                    detail += f"; status {report['status']}"
                elif "seconds_per_mart" in report:
                    detail = ", ".join(
                        f"{k} {v:.2f}s" for k, v in report["seconds_per_mart"].items()
                    )
            except ValueError:
                detail = output.strip().splitlines()[-1] if output.strip() else ""
            print(f"  {name:<20} run {run}: {seconds:6.2f} s wall, {cpu:6.2f} s CPU, "
                  f"load {load:.1f}, exit {code}  [{detail}]", flush=True)  # fmt: skip
    print(f"\nfigures (target: each under 10 s; load average now {os.getloadavg()[0]:.1f}):")
    for name, values in results.items():
        print(
            f"  {name:<20} best {min(values):6.2f} s   all {', '.join(f'{v:.2f}' for v in values)}"
        )
    if not opts.keep and opts.dir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
