"""Write docs/benchmarks.md from the outputs `scripts/bench.sh` left in bench-results/.

Each benchmark prints its own figures, baselines and ratios; this script adds the machine
description, the date and the exact commands, and keeps each output as printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"

SECTIONS = [
    (
        "collector",
        "1. Collector",
        "Single-event and batch POSTs through `ugc serve` (gunicorn, ASGI workers, acks=all) "
        "driven by wrk on the same cores; baselines in the same run: a hello-world endpoint on "
        "the same server stack, and the seed-style server (Flask on gunicorn sync workers, "
        "marshmallow, fire-and-forget produce; issue 6), and the ack floor (hello-world that "
        "publishes each body through the collector's Kafka publisher and answers after the "
        "broker's ack: the least that keeps the 2xx-after-ack promise, so its ratio to "
        "hello-world bounds the collector's). CPU ms per event is that of the "
        "server's worker processes. Targets (issue 2): at least 8,000 events/s with p99 at most "
        "25 ms at 64 connections (anonymous), at least 5,000 events/s with cached tokens, and "
        "at least 0.5 of hello-world.",
    ),
    (
        "etl",
        "2. ETL",
        "End-to-end events/s from a pre-filled topic into each backend, against the raw "
        "consume rate, the parse floor (read + `orjson.loads` of every message, nothing else) "
        "and the raw insert rate of the same rows in the same run; medians of the repeats. "
        "Targets "
        "(issue 3): at least 100,000 events/s per process and at least 0.5 of the raw insert "
        "rate; peak RSS well under 1 GiB for a 2-million backlog.",
    ),
    (
        "quality_marts",
        "3. Quality check and marts on 10 million events",
        "`ugc quality check` and one month's `ugc marts build` on the embedded backend. "
        "Target (issue 4): each under 10 s.",
    ),
    (
        "storage",
        "4. Seed 003 storage study",
        "The seed's table and query (10,000,000 rows; `SELECT event_type, count(), avg(value) "
        "FROM events GROUP BY event_type` with 8 threads) on Debian's clickhouse-server, chdb "
        "and PostgreSQL side by side. Vertica cannot be installed here; the seed's own figures "
        "are quoted (ClickHouse 46.64 s insert, 0.27 s aggregation; Vertica 100.43 s, 0.73 s).",
    ),
]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _command_version(argv: list[str]) -> str:
    if not shutil.which(argv[0]):
        return "not installed"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rows = [
        ("CPU", f"{os.cpu_count()} cores, {cpu}"),
        ("memory", f"{memory:.0f} GiB"),
        ("OS", platform.platform()),
        ("Python", sys.version.split()[0]),
        (
            "clickhouse-server",
            _command_version(["dpkg-query", "-W", "-f=${Version}", "clickhouse-server"]),
        ),
        ("PostgreSQL", _command_version(["/usr/lib/postgresql/15/bin/postgres", "--version"])),
        ("wrk", _command_version(["wrk", "--version"])),
    ]
    rows += [
        (p, _version(p))
        for p in ("falcon", "gunicorn", "uvicorn", "confluent-kafka", "chdb", "clickhouse-driver")
    ]
    return "\n".join(f"| {k} | {v} |" for k, v in rows)


def _ended() -> str:
    """When the last section's output was written (regenerating the page keeps the run's date)."""
    outputs = [RESULTS / f"{name}.txt" for name, _, _ in SECTIONS]
    times = [path.stat().st_mtime for path in outputs if path.exists()]
    moment = datetime.fromtimestamp(max(times), UTC) if times else datetime.now(UTC)
    return f"{moment:%Y-%m-%d %H:%M}"


def _portable(text: str) -> str:
    """The output as printed, without this machine's paths: the checkout's and the temp dir's."""
    text = text.replace(f"{ROOT}/", "")
    return text.replace(f"{tempfile.gettempdir()}/", "$TMPDIR/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    parts = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`scripts/bench.sh`) from a run that ended {_ended()} UTC. "
        "Every figure below was measured in that run, on this machine; headline figures are "
        "ratios against a baseline measured in the same run, with the absolute numbers beside "
        "them. The load generators share the same two cores as the systems under test, so "
        "absolute rates are lower than on a machine with a separate load host.",
        "",
        "| machine | |",
        "|---|---|",
        machine(),
        "",
    ]
    for name, title, intro in SECTIONS:
        path = RESULTS / f"{name}.txt"
        parts += [f"## {title}", "", intro, ""]
        if path.exists():
            parts += ["```text", _portable(path.read_text().rstrip()), "```", ""]
        else:
            parts += [f"_Not run: `{path.relative_to(ROOT)}` is missing._", ""]
    Path(args.out).write_text("\n".join(parts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
