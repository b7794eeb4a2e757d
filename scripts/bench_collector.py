#!/usr/bin/env python3
"""Collector benchmark: events/s and latency of `ugc serve` against a hello-world baseline.

Starts its own tansu broker, Redis and (for token runs) the auth stand-in, then the collector
via `ugc serve` (gunicorn, N workers, rate limit off) and, as the baseline, a hello-world
Falcon ASGI app (scripts/bench_hello.py) under the same gunicorn worker class and worker
count. Each is driven by wrk (scripts/bench_collector.lua) POSTing a rotating, pre-generated
set of valid events from ugc.traffic; each measurement is repeated and the medians reported.

    .venv/bin/python scripts/bench_collector.py                      # 64 connections, 3 x 10 s
    .venv/bin/python scripts/bench_collector.py --connections 64,1000,10000
    .venv/bin/python scripts/bench_collector.py --profile            # + py-spy of a worker
    .venv/bin/python scripts/bench_collector.py --only collector --modes single \
        --identity anonymous --set KAFKA_LINGER_MS=5 --set KAFKA_COMPRESSION=none

``--set KEY=VALUE`` passes a setting to `ugc serve` (``UGC_`` is prepended when missing): the
caller's own ``UGC_*`` variables are ignored so a run depends on its command line only.

A second baseline (issue 6) is the seed-style server (scripts/bench_seed_flask.py): Flask on
gunicorn sync workers, marshmallow validation, fire-and-forget produce to the same broker;
it is measured for anonymous single events and the collector's ratio to it is printed.

Prints a table (events/s, p50/p95/p99/max, errors, CPU ms per event of the server's worker
processes, load average, ratios to hello-world and to the seed style) and writes
bench-results/collector.json. The load generator shares the machine's cores with the server:
that is the setting the targets in issue 2 are stated for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.services import (  # noqa: E402
    KafkaBroker,
    ManagedProcess,
    RedisServer,
    free_port,
)

LUA = ROOT / "scripts" / "bench_collector.lua"
VENV_BIN = Path(sys.executable).parent
#: the worker class `ugc serve` uses, when ugc.collector.server cannot say (see _worker_class)
DEFAULT_WORKER_CLASS = "uvicorn_worker.UvicornWorker"
TARGETS = {"anonymous": (8000, 25.0), "token": (5000, None)}
MIN_RATIO = 0.5
LABELS = {"collector": "collector", "floor": "ack floor"}
#: a request not answered within this counts as a wrk timeout error
WRK_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- servers
class _Server(ManagedProcess):
    """A benchmarked HTTP server on a free port, ready when ``/healthz`` answers 200."""

    def __init__(self, workdir: Path, workers: int) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.workers = workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
            return response.status == 200

    def gunicorn(self, app: str, *options: str) -> list[str]:
        """gunicorn serving ``app`` from scripts/, with ``ugc serve``'s backlog."""
        return [
            str(VENV_BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            *options,
            "--backlog", "2048",
            "--log-level", "warning",
            "--pythonpath", f"{ROOT / 'scripts'},{ROOT}",
            app,
        ]  # fmt: skip


class Gunicorn(_Server):
    """The hello-world baseline under gunicorn, configured like `ugc serve`."""

    name = "hello"
    ready_timeout = 30.0

    def __init__(self, workdir: Path, workers: int, worker_class: str) -> None:
        super().__init__(workdir, workers)
        self.worker_class = worker_class

    def command(self) -> list[str]:
        # as ugc.collector.server.CollectorServer sets them
        return self.gunicorn(
            "bench_hello:app", "--worker-class", self.worker_class, "--keep-alive", "5"
        )


class AckFloor(Gunicorn):
    """The ack-floor baseline (scripts/bench_ack_floor.py): hello-world that publishes each body
    through the collector's KafkaPublisher and answers once the broker acknowledged it."""

    name = "floor"

    def __init__(self, workdir: Path, workers: int, worker_class: str, env: dict[str, str]):
        super().__init__(workdir, workers, worker_class)
        self.settings = env

    def command(self) -> list[str]:
        return self.gunicorn(
            "bench_ack_floor:app", "--worker-class", self.worker_class, "--keep-alive", "5"
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
        return env | self.settings


class Collector(_Server):
    """`ugc serve` with the settings of a benchmark run."""

    name = "collector"
    ready_timeout = 60.0

    def __init__(self, workdir: Path, workers: int, settings: dict[str, str]) -> None:
        super().__init__(workdir, workers)
        self.settings = settings

    def command(self) -> list[str]:
        return [
            str(VENV_BIN / "ugc"), "serve",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
        env.update(self.settings)
        env["UGC_DATA_DIR"] = str(self.workdir / "data")
        env["PYTHONPATH"] = str(ROOT)
        return env


class SeedFlask(_Server):
    """The seed-style baseline: Flask under gunicorn's sync worker (scripts/bench_seed_flask.py)."""

    name = "seed"
    ready_timeout = 30.0

    def __init__(self, workdir: Path, workers: int, bootstrap: str, topic: str) -> None:
        super().__init__(workdir, workers)
        self.bootstrap = bootstrap
        self.topic = topic

    def command(self) -> list[str]:
        return self.gunicorn("bench_seed_flask:app")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
        env |= {"SEED_KAFKA_BOOTSTRAP": self.bootstrap, "SEED_KAFKA_TOPIC": self.topic}
        return env


def _worker_class() -> str:
    """The gunicorn worker class `ugc serve` runs, so the baseline is served the same way."""
    with contextlib.suppress(ImportError):
        from ugc.collector.server import WORKER_CLASS

        return WORKER_CLASS
    return DEFAULT_WORKER_CLASS


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _worker_cpu_seconds(server: ManagedProcess | None) -> dict[int, float]:
    """User + system CPU seconds of each of the server's worker processes (the master's
    children), by pid."""
    import psutil

    if server is None or server.process is None:
        return {}
    found = {}
    for pid in _children(server.process.pid):
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            found[pid] = times.user + times.system
    return found


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float | None:
    """CPU seconds the workers spent in between; ``None`` when a worker was replaced meanwhile
    (gunicorn restarts one that missed its timeout), whose CPU can no longer be read, or none
    could be read at all."""
    if not after or before.keys() != after.keys():
        return None
    return sum(after[pid] - before[pid] for pid in after)


def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
    for future in futures.values():
        future.result(15)


# --------------------------------------------------------------------------- load
def make_bodies(
    path: Path, *, count: int, batch_size: int, tokens: list[str] | None, seed: int
) -> Path:
    """A rotating set of valid events (no client event ids: every send is a new event)."""
    import itertools

    import orjson

    from ugc.traffic import generate

    options: dict[str, Any] = {"invalid_share": 0.0, "event_id_share": 0.0}
    if tokens:
        turn = itertools.cycle(tokens)
        options |= {
            "logged_in_share": 1.0,
            "vendor_share": 0.0,
            "token_factory": lambda user_id: next(turn),
        }
    payloads = []
    for item in generate(count * batch_size, seed=seed, **options):
        payload = item.payload
        payload.pop("event_id", None)
        payloads.append(orjson.dumps(payload))
    with path.open("wb") as out:
        if batch_size == 1:
            out.write(b"\n".join(payloads) + b"\n")
        else:
            for start in range(0, len(payloads), batch_size):
                chunk = payloads[start : start + batch_size]
                out.write(b'{"events":[' + b",".join(chunk) + b"]}\n")
    return path


def wrk(
    url: str, path: str, bodies: Path, *, connections: int, threads: int, seconds: float
) -> dict[str, Any]:
    env = dict(os.environ, BENCH_BODIES=str(bodies), BENCH_PATH=path)
    command = [
        shutil.which("wrk") or "/usr/bin/wrk",
        "-t", str(min(threads, connections)),
        "-c", str(connections),
        "-d", f"{seconds:g}s",
        "--timeout", f"{WRK_TIMEOUT_S:g}s",
        "-s", str(LUA),
        url,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")


def settle(url: str, timeout: float = 90.0) -> float:
    """Wait until the server is idle again (a client that gave up leaves work queued behind).

    Idle means ``GET /healthz`` answered within 50 ms three times in a row. Returns the seconds
    waited, so a server that needs long to drain shows in the results.
    """
    began = time.monotonic()
    quick = 0
    while quick < 3 and time.monotonic() - began < timeout:
        asked = time.monotonic()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                response.read()
            quick = quick + 1 if time.monotonic() - asked < 0.05 else 0
        except OSError:
            quick = 0
        time.sleep(0.2)
    return round(time.monotonic() - began, 1)


def measure(
    label: dict[str, Any],
    url: str,
    path: str,
    bodies: Path,
    *,
    batch_size: int,
    args: argparse.Namespace,
    connections: int,
    server: ManagedProcess | None = None,
) -> dict[str, Any]:
    threads = args.threads or (1 if connections <= 256 else 2)
    # wrk only counts answered requests (and a timeout only once it is overdue): with many
    # connections a short run would hide the ones never served, so run at least 3 x timeout
    seconds = args.seconds if connections < 1000 else max(args.seconds, 3 * WRK_TIMEOUT_S)
    settle(url)
    if args.warmup > 0:
        wrk(url, path, bodies, connections=connections, threads=threads, seconds=args.warmup)
    runs = []
    for _ in range(args.repeats):
        waited = settle(url)
        load = os.getloadavg()[0]
        cpu_before = _worker_cpu_seconds(server)
        raw = wrk(url, path, bodies, connections=connections, threads=threads, seconds=seconds)
        cpu = _cpu_spent(cpu_before, _worker_cpu_seconds(server))
        elapsed = raw["duration_us"] / 1e6
        events = raw["requests"] * batch_size
        errors = raw["errors"]
        runs.append(
            {
                "seconds": elapsed,
                "requests_per_s": raw["requests"] / elapsed,
                "events_per_s": raw["requests"] * batch_size / elapsed,
                "latency_ms": {
                    k: raw["latency_us"][k] / 1000 for k in ("p50", "p95", "p99", "max")
                },
                # CPU of the server's workers per event (less noisy than events/s on a shared host)
                "cpu_ms_per_event": (
                    round(1000 * cpu / events, 4) if events and cpu is not None else None
                ),
                "errors": sum(errors.values()),
                "error_kinds": {k: v for k, v in errors.items() if v},
                "requests": raw["requests"],
                # the 1-minute load average just before: other work on the host skews figures
                "load_before": round(load, 2),
                # seconds the server needed to drain the previous run's abandoned requests
                "settled_after_s": waited,
            }
        )
    result = dict(label)
    result |= {
        "connections": connections,
        "batch_size": batch_size,
        "wrk_threads": threads,
        "events_per_s": statistics.median(r["events_per_s"] for r in runs),
        "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
        "latency_ms": {
            k: statistics.median(r["latency_ms"][k] for r in runs)
            for k in ("p50", "p95", "p99", "max")
        },
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "cpu_ms_per_event": _median_or_none(r["cpu_ms_per_event"] for r in runs),
        "load_before": statistics.median(r["load_before"] for r in runs),
        "runs": runs,
    }
    _print_row(result)
    return result


def _median_or_none(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 4) if present else None


# --------------------------------------------------------------------------- profile
def profile_worker(
    server: ManagedProcess, url: str, bodies: Path, seconds: float, out_dir: Path
) -> dict[str, Any]:
    """py-spy one worker under load; the functions where its time goes (self and total)."""
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    assert server.process is not None
    workers = _children(server.process.pid)
    if not workers:
        return {"error": "no worker processes found"}
    raw = out_dir / "collector-worker.pyspy.txt"
    load = subprocess.Popen(
        [
            shutil.which("wrk") or "wrk",
            "-t1",
            "-c64",
            "-d",
            f"{seconds + 4:g}s",
            "-s",
            str(LUA),
            url,
        ],  # fmt: skip
        env=dict(os.environ, BENCH_BODIES=str(bodies), BENCH_PATH="/api/v1/events"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    record = subprocess.run(
        [
            py_spy,
            "record",
            "--pid",
            str(workers[0]),
            "--duration",
            f"{seconds:g}",
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--output",
            str(raw),
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    load.wait()
    if record.returncode != 0 or not raw.exists():
        return {"error": record.stderr.strip()[-500:]}
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [_short(frame) for frame in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    share = lambda n: round(100 * n / samples, 1)  # noqa: E731
    return {
        "pid": workers[0],
        "samples": samples,
        "raw": str(raw),
        "self_top": [(frame, share(n)) for frame, n in own.most_common(25)],
        "total_top": [
            (frame, share(n))
            for frame, n in total.most_common(80)
            if "ugc/" in frame
            or "falcon" in frame
            or "confluent" in frame
            or "marshmallow" in frame
        ][:30],
    }


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func (module path)``, without line numbers."""
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    func, path = match.groups()
    for marker in ("site-packages/", "/work/main/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


# --------------------------------------------------------------------------- report
def _print_row(row: dict[str, Any]) -> None:
    lat = row["latency_ms"]
    if row["requests"] == 0:
        print(
            f"  {row['target']:<10} {row['mode']:<7} {row['identity']:<9} c={row['connections']:<6}"
            f" no request completed within {row['runs'][0]['seconds']:g} s",
            flush=True,
        )
        return
    print(
        f"  {row['target']:<10} {row['mode']:<7} {row['identity']:<9} c={row['connections']:<6}"
        f" {row['events_per_s']:>9.0f} ev/s {row['requests_per_s']:>8.0f} req/s"
        f"  p50 {lat['p50']:>7.2f}  p95 {lat['p95']:>7.2f}  p99 {lat['p99']:>7.2f}"
        f"  max {lat['max']:>8.2f} ms  errors {row['errors']}"
        f"  cpu {_ms(row['cpu_ms_per_event'])} ms/ev  load {row['load_before']:.2f}",
        flush=True,
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | mode | identity | conns | events/s | p50 ms | p95 ms | p99 ms | max ms "
        "| errors | CPU ms/event | load | ÷ hello | ÷ floor | ÷ seed |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        lat = row["latency_ms"]
        ratio = row.get("ratio_to_hello")
        seed = row.get("ratio_to_seed")
        floor = row.get("ratio_to_floor")
        cpu = row.get("cpu_ms_per_event")
        lines.append(
            f"| {row['target']} | {row['mode']} | {row['identity']} | {row['connections']} "
            f"| {row['events_per_s']:.0f} | {lat['p50']:.2f} | {lat['p95']:.2f} "
            f"| {lat['p99']:.2f} | {lat['max']:.1f} | {row['errors']} "
            f"| {'' if cpu is None else f'{cpu:.3f}'} | {row.get('load_before', '')} "
            f"| {'' if ratio is None else f'{ratio:.2f}'} "
            f"| {'' if floor is None else f'{floor:.2f}'} "
            f"| {'' if seed is None else f'{seed:.2f}'} |"
        )
    return lines


def verdicts(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 2's targets, at 64 connections, single events."""
    checks = []
    for row in results:
        if row["target"] != "collector" or row["mode"] != "single" or row["connections"] != 64:
            continue
        floor, p99 = TARGETS[row["identity"]]
        ok = row["events_per_s"] >= floor and (p99 is None or row["latency_ms"]["p99"] <= p99)
        text = f">= {floor} events/s" + (f", p99 <= {p99} ms" if p99 else "")
        checks.append({"what": f"{row['identity']} single @64: {text}", "ok": ok})
        if row["identity"] == "anonymous" and row.get("ratio_to_hello") is not None:
            checks.append(
                {
                    "what": f"anonymous single @64: >= {MIN_RATIO} of hello-world",
                    "ok": row["ratio_to_hello"] >= MIN_RATIO,
                }
            )
    for row in results:
        if row["target"] == "collector" and row["connections"] == 10000:
            lat = row["latency_ms"]
            ok = (
                row["requests"] > 0
                and lat["p95"] < 1000
                and lat["max"] < 2000
                and row["errors"] == 0
            )
            checks.append(
                {
                    "what": f"{row['identity']} {row['mode']} @10000: p95 < 1 s, max < 2 s, "
                    "no errors (seed 000)",
                    "ok": ok,
                }
            )
    return checks


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],
        # other work on the host skews the figures: look at this before trusting them
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--connections", default="64", help="comma-separated, e.g. 64,1000,10000")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per configuration")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (0: 1, or 2 > 256 c)")
    parser.add_argument("--batch-size", type=int, default=50, help="events per batch request")
    parser.add_argument("--modes", default="single,batch", help="single and/or batch")
    parser.add_argument("--identity", default="anonymous,token", help="anonymous and/or token")
    parser.add_argument(
        "--only", choices=("hello", "floor", "collector", "seed"), help="run one target only"
    )
    parser.add_argument(
        "--targets",
        default="hello,floor,seed,collector",
        help="hello, floor (the ack floor), seed and/or collector",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for `ugc serve`, e.g. KAFKA_LINGER_MS=5 (repeatable; UGC_ optional)",
    )
    parser.add_argument("--users", type=int, default=500, help="distinct tokens (cached)")
    parser.add_argument("--profile", action="store_true", help="py-spy a collector worker")
    parser.add_argument(
        "--profile-identity",
        choices=("anonymous", "token"),
        default="anonymous",
        help="which single-event load the profile runs",
    )
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "collector.json"))
    args = parser.parse_args(argv)
    args.connection_list = [int(c) for c in args.connections.split(",") if c.strip()]
    args.mode_list = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.identity_list = [i.strip() for i in args.identity.split(",") if i.strip()]
    args.target_list = (
        [args.only] if args.only else [t.strip() for t in args.targets.split(",") if t.strip()]
    )
    args.overrides = {}
    for item in args.settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--set wants KEY=VALUE, got {item!r}")
        key = key.strip().upper()
        args.overrides[key if key.startswith("UGC_") else f"UGC_{key}"] = value
    return args


def _raise_file_limit(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * connections + 1024))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < connections + 256:
        print(
            f"warning: open-file limit {want} is too low for {connections} connections "
            "(raise `ulimit -n` as root)",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _raise_file_limit(max(args.connection_list))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ugc-bench-"))
    worker_class = _worker_class()
    have_collector = (ROOT / "ugc" / "cli" / "serve.py").exists() and (
        ROOT / "ugc" / "collector" / "app.py"
    ).exists()
    have_standin = (ROOT / "tests" / "support" / "auth_standin.py").exists()
    notes: list[str] = []
    if not have_collector:
        notes.append("the collector (ugc/collector/app.py, ugc/cli/serve.py) is not there yet")
    identities = list(args.identity_list)
    if "token" in identities and not have_standin:
        identities.remove("token")
        notes.append("no auth stand-in (tests/support/auth_standin.py): anonymous runs only")
    started = datetime.now(UTC)
    machine_before = machine()
    print(f"ugc collector benchmark, {started:%Y-%m-%d %H:%M} UTC, workdir {workdir}")
    print(f"  gunicorn: {args.workers} workers, worker class {worker_class}; wrk on the same host")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"  warning: load average {load:.2f} before the run: other work shares the cores")
    for key, value in sorted(args.overrides.items()):
        print(f"  setting: {key}={value}")
    for note in notes:
        print(f"  note: {note}")

    bodies: dict[tuple[str, str], Path] = {}
    sizes = {"single": 1, "batch": args.batch_size}
    paths = {"single": "/api/v1/events", "batch": "/api/v1/events/batch"}
    results: list[dict[str, Any]] = []
    profile: dict[str, Any] | None = None
    stack = contextlib.ExitStack()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        tokens: list[str] | None = None
        env: dict[str, str] = {}
        need_broker = bool({"collector", "seed", "floor"} & set(args.target_list))
        if have_collector and need_broker:
            broker = stack.enter_context(KafkaBroker(workdir))
            redis = stack.enter_context(RedisServer(workdir))
            topic = "bench.events"
            _create_topic(broker.bootstrap, topic, 4)
            env = {
                "UGC_KAFKA_BOOTSTRAP": broker.bootstrap,
                "UGC_KAFKA_TOPIC": topic,
                "UGC_REDIS_URL": redis.url,
                "UGC_RATE_LIMIT_PER_SECOND": "0",
                "UGC_LOG_LEVEL": "warning",
            }
            seed_kafka = (broker.bootstrap, topic)
            if "token" in identities:
                from tests.support.services import AuthStandin

                auth = stack.enter_context(AuthStandin(workdir))
                env |= {
                    "UGC_AUTH_URL": auth.url,
                    "UGC_JWT_KEY": auth.verification_key,
                    "UGC_JWT_ALGORITHMS": auth.algorithm,
                }
                tokens = [
                    auth.token(f"user-{n}", expires_in=6 * 3600, sid=f"s-{n}")
                    for n in range(args.users)
                ]
        for mode in args.mode_list:
            for identity in identities:
                name = workdir / f"bodies-{mode}-{identity}.jsonl"
                bodies[(mode, identity)] = make_bodies(
                    name,
                    count=2000 if mode == "single" else 200,
                    batch_size=sizes[mode],
                    tokens=tokens if identity == "token" else None,
                    seed=7,
                )
        env |= args.overrides
        targets = [
            t for t in ("hello", "floor", "seed", "collector")
            if t in args.target_list and (t == "hello" or have_collector)
        ]  # fmt: skip
        for target in targets:
            if target == "hello":
                server: ManagedProcess = Gunicorn(workdir, args.workers, worker_class)
            elif target == "seed":
                server = SeedFlask(workdir, args.workers, *seed_kafka)
            elif target == "floor":
                server = AckFloor(workdir, args.workers, worker_class, env)
            else:
                server = Collector(workdir, args.workers, env)
            with server:
                print(f"{target}: up on {server.url} (pid {server.process.pid})", flush=True)
                for connections in args.connection_list:
                    for mode in args.mode_list:
                        if target in ("seed", "floor") and mode != "single":
                            continue  # the seeds have no batch endpoint; the floor is per event
                        for identity in identities if target == "collector" else ["anonymous"]:
                            label = {"target": target, "mode": mode, "identity": identity}
                            results.append(
                                measure(
                                    label,
                                    server.url,
                                    paths[mode],
                                    bodies[(mode, identity)],
                                    batch_size=sizes[mode],
                                    args=args,
                                    connections=connections,
                                    server=server,
                                )
                            )
                if target == "collector" and args.profile:
                    settle(server.url)
                    profile = profile_worker(
                        server,
                        server.url,
                        bodies[("single", args.profile_identity)],
                        8.0,
                        out.parent,
                    )
    finally:
        stack.close()
        kept = workdir / "collector" / "collector.log"
        if kept.exists():  # the collector's own log: worker restarts, Redis/auth failures
            shutil.copy(kept, out.parent / "collector-serve.log")
            notes.append(
                f"collector log: {out.parent / 'collector-serve.log'}; gunicorn WORKER TIMEOUTs: "
                f"{kept.read_text(errors='replace').count('WORKER TIMEOUT')}"
            )
        shutil.rmtree(workdir, ignore_errors=True)

    baselines = {
        (r["target"], r["mode"], r["connections"]): r["events_per_s"]
        for r in results
        if r["target"] in ("hello", "seed", "floor")
    }
    for row in results:
        if row["target"] not in ("collector", "floor"):
            continue
        for name in ("hello", "seed", "floor"):
            base = baselines.get((name, row["mode"], row["connections"]))
            if (
                base
                and name != row["target"]
                and (name != "seed" or row["identity"] == "anonymous")
            ):
                row[f"ratio_to_{name}"] = round(row["events_per_s"] / base, 3)
    checks = verdicts(results)
    print()
    for note in notes:
        print(f"note: {note}")
    print("\n".join(table(results)))
    for check in checks:
        print(f"  [{'PASS' if check['ok'] else 'MISS'}] {check['what']}")
    for row in results:
        if row["target"] == "floor" and row.get("ratio_to_hello") is not None:
            print(
                f"  ack floor ÷ hello-world, {row['mode']} @{row['connections']}: "
                f"{row['ratio_to_hello']:.2f} (the ceiling of the collector's ratio)"
            )
        if row["target"] == "collector" and row.get("ratio_to_floor") is not None:
            print(
                f"  collector ÷ ack floor, {row['identity']} {row['mode']} "
                f"@{row['connections']}: {row['ratio_to_floor']:.2f}"
            )
    for row in results:
        if row.get("ratio_to_seed") is not None:
            print(
                f"  {LABELS[row['target']]} ÷ seed-style (Flask, sync), {row['identity']} "
                f"{row['mode']} @{row['connections']}: {row['ratio_to_seed']:.2f}"
            )
    if profile and "self_top" in profile:
        print("\nwhere a collector worker's time goes (py-spy, % of samples, self):")
        for frame, share in profile["self_top"][:15]:
            print(f"  {share:5.1f}%  {frame}")
        print("inclusive (ugc, falcon, marshmallow, confluent frames):")
        for frame, share in profile["total_top"][:20]:
            print(f"  {share:5.1f}%  {frame}")
    elif profile:
        print(f"\nprofile failed: {profile.get('error')}")
    document = {
        "benchmark": "collector",
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_before | {"load_average_after": machine()["load_average"]},
        "config": {
            "workers": args.workers,
            "worker_class": worker_class,
            "seconds": args.seconds,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "users_with_tokens": args.users if "token" in identities else 0,
            "statistic": "median of repeats",
            "settings": args.overrides,
        },
        "notes": notes,
        "results": results,
        "checks": checks,
        "profile": profile,
    }
    out.write_text(json.dumps(document, indent=2))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
