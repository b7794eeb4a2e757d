"""Seed 003 storage study, reproduced here: ClickHouse server vs chdb vs PostgreSQL.

The seed compared ClickHouse and Vertica on one table and one query::

    CREATE TABLE events (event_time TIMESTAMP, user_id INT, event_type VARCHAR(20), value FLOAT)
    SELECT event_type, count(), avg(value) FROM events GROUP BY event_type   -- 8 threads

with 10,000,000 rows (ClickHouse 46.64 s insert, 0.27 s aggregation; Vertica 100.43 s and
0.73 s). Vertica cannot be installed here, so its figures are quoted, not measured. This script
measures, side by side and on the same generated rows:

* Debian's clickhouse-server, started here on free ports, loaded through clickhouse-driver
  (native protocol) with row-tuple batch inserts the way a seed-style script does, plus a
  columnar numpy insert as the driver's fast path;
* chdb (embedded ClickHouse) in a temp directory, loaded from an Arrow table in memory;
* PostgreSQL 15 (Debian), its own throwaway cluster (initdb + postgres on a free port, run as
  the ``postgres`` user when we are root), loaded with COPY.

Every service is started in its own process group and temp directory and stopped/removed on
exit (also on Ctrl-C / SIGTERM). A system that cannot start ends the run with one line on stderr.

    .venv/bin/python scripts/bench_storage.py --repeat 3 --json bench-results/storage.json

``--rows N`` (default 10,000,000; develop with 200,000), ``--runs`` timed aggregations per load
(default 5, after one warm-up), ``--repeat`` whole loads (medians reported), ``--pg-dsn`` to use an
existing PostgreSQL server instead of a throwaway cluster (a private schema, dropped on exit).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402

from tests.support.services import (  # noqa: E402
    ClickHouseServer,
    ManagedProcess,
    ServiceError,
    free_port,
    port_open,
)

SEED_DDL = (
    "CREATE TABLE events (event_time TIMESTAMP, user_id INT, event_type VARCHAR(20), value FLOAT)"
)
SEED_QUERY = "SELECT event_type, count(), avg(value) FROM events GROUP BY event_type"
# ClickHouse 18.16 rejects VARCHAR(20) ("String cannot have arguments"), and ClickHouse's FLOAT
# alias is Float32 while PostgreSQL's and Vertica's FLOAT is an 8-byte double: spell the types
# out so that all three systems store bit-identical values.
CH_DDL = (
    "CREATE TABLE {name} (event_time DateTime, user_id Int32, event_type String, value Float64)"
    " ENGINE = MergeTree() ORDER BY event_time"
)
PG_QUERY = "SELECT event_type, count(*), avg(value) FROM events GROUP BY event_type"
SEED_FIGURES = {
    "clickhouse (seed 003)": {"insert_s": 46.64, "aggregate_s": 0.27},
    "vertica (seed 003)": {"insert_s": 100.43, "aggregate_s": 0.73},
}
EVENT_TYPES = [
    "element_click",
    "page_view_start",
    "page_view_end",
    "quality_change",
    "video_complete",
    "search_filter",
    "like",
    "rating",
    "bookmark",
    "vendor_film_add",
]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MONTH_START = np.datetime64("2026-10-01T00:00:00", "s")
MONTH_SECONDS = 31 * 86400
THREADS = 8
SEED_ROWS = 10_000_000


class BenchError(RuntimeError):
    """A failure reported to the user as one line."""


# ---------------------------------------------------------------- data


class Data:
    """The generated rows, as numpy columns and as one Arrow table, plus the expected answer."""

    def __init__(self, rows: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.rows = rows
        self.generate_s = 0.0
        self.event_time = MONTH_START + rng.integers(0, MONTH_SECONDS, rows).astype(
            "timedelta64[s]"
        )
        self.user_id = rng.integers(1, 1_000_001, rows, dtype=np.int32)
        self.type_code = rng.integers(0, len(EVENT_TYPES), rows).astype(np.int8)
        self.value = rng.random(rows) * 100.0
        types = pa.array(EVENT_TYPES, pa.string())
        self.table = pa.table(
            {
                "event_time": pa.array(self.event_time, pa.timestamp("s")),
                "user_id": pa.array(self.user_id),
                "event_type": pa.DictionaryArray.from_arrays(pa.array(self.type_code), types).cast(
                    pa.string()
                ),
                "value": pa.array(self.value),
            }
        )
        counts = np.bincount(self.type_code, minlength=len(EVENT_TYPES))
        sums = np.bincount(self.type_code, weights=self.value, minlength=len(EVENT_TYPES))
        self.expected = {
            name: (int(counts[i]), float(sums[i] / counts[i]) if counts[i] else 0.0)
            for i, name in enumerate(EVENT_TYPES)
            if counts[i]
        }

    def row_batches(self, size: int):
        """Python row tuples, batch by batch, as a seed-style script would build them."""
        types = np.array(EVENT_TYPES, dtype=object)
        for start in range(0, self.rows, size):
            end = min(start + size, self.rows)
            yield list(
                zip(
                    self.event_time[start:end].astype(object),  # naive datetime (UTC)
                    self.user_id[start:end].tolist(),
                    types[self.type_code[start:end]].tolist(),
                    self.value[start:end].tolist(),
                    strict=True,
                )
            )

    def frames(self, size: int):
        for batch in self.table.to_batches(max_chunksize=size):
            yield pa.Table.from_batches([batch]).to_pandas()


def check_result(system: str, rows: list[tuple[Any, Any, Any]], data: Data) -> None:
    got = {str(t): (int(c), float(a)) for t, c, a in rows}
    if set(got) != set(data.expected):
        raise BenchError(f"{system}: wrong event types in the aggregation: {sorted(got)}")
    for name, (count, avg) in data.expected.items():
        g_count, g_avg = got[name]
        if g_count != count or abs(g_avg - avg) > 1e-9 * max(1.0, abs(avg)):
            raise BenchError(
                f"{system}: {name} gave count={g_count} avg={g_avg}, expected {count} / {avg}"
            )


# ---------------------------------------------------------------- systems


class System:
    name = "system"
    kind = "measured"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.result: dict[str, Any] = {"system": self.name}
        self.timings: dict[str, list[float]] = {}

    def record(self, key: str, seconds: float) -> None:
        """One timing; the report keeps every run and the median."""
        self.timings.setdefault(key, []).append(seconds)

    def timing_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, values in self.timings.items():
            out[key] = statistics.median(values)
            out[key.removesuffix("_s") + "_runs_s"] = [round(v, 4) for v in values]
        return out

    def drop(self) -> None:
        """Drop the events table, for the next repetition."""

    def extras(self, data: Data, runs: int) -> None:
        """Side measurements after the main rounds (not part of the headline figures)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def load(self, data: Data) -> None: ...

    def aggregate(self) -> list[tuple[Any, Any, Any]]:
        raise NotImplementedError

    def settle(self) -> None:
        """Let background work triggered by the load finish before anything else is timed."""

    def size_bytes(self) -> int | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {}


class ClickHouseServerSystem(System):
    name = "clickhouse-server"

    def __init__(self, workdir: Path, batch_size: int, fast_path: bool) -> None:
        super().__init__(workdir)
        self.batch_size = batch_size
        self.fast_path = fast_path
        self.server: ClickHouseServer | None = None
        self.client = None

    def start(self) -> None:
        from clickhouse_driver import Client

        self.server = ClickHouseServer(self.workdir)
        self.server.start()
        self.client = Client("127.0.0.1", port=self.server.tcp_port, connect_timeout=5)
        self.version = self.client.execute("SELECT version()")[0][0]

    def stop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.disconnect()
        if self.server is not None:
            self.server.stop()

    def load(self, data: Data) -> None:
        self.client.execute(CH_DDL.format(name="events"))
        spent = 0.0
        wall0 = time.perf_counter()
        for batch in data.row_batches(self.batch_size):
            t0 = time.perf_counter()
            self.client.execute("INSERT INTO events VALUES", batch)
            spent += time.perf_counter() - t0
        self.record("insert_s", spent)
        self.record("insert_wall_with_tuple_building_s", time.perf_counter() - wall0)
        self.result["insert_method"] = (
            f"clickhouse-driver native protocol, INSERT ... VALUES with Python row tuples, "
            f"{self.batch_size:,} rows per batch (time inside execute(), tuple building excluded)"
        )
        self.settle()
        if self.fast_path:
            self.record("insert_fast_s", self._load_numpy(data))
            self.result["insert_fast_method"] = (
                "clickhouse-driver use_numpy insert_dataframe, 1,000,000-row columnar batches "
                "(into a second table, dropped afterwards)"
            )
            self.settle()

    def _load_numpy(self, data: Data) -> float:
        from clickhouse_driver import Client

        client = Client(
            "127.0.0.1",
            port=self.server.tcp_port,
            settings={"use_numpy": True},
            connect_timeout=5,
        )
        try:
            client.execute(CH_DDL.format(name="events_np"))
            spent = 0.0
            for frame in data.frames(1_000_000):
                frame["event_type"] = frame["event_type"].astype(object)
                t0 = time.perf_counter()
                client.insert_dataframe("INSERT INTO events_np VALUES", frame)
                spent += time.perf_counter() - t0
            count = client.execute("SELECT count() FROM events_np")[0][0]
            if count != data.rows:
                raise BenchError(f"{self.name}: numpy path stored {count} rows, not {data.rows}")
            client.execute("DROP TABLE events_np")
            return spent
        finally:
            client.disconnect()

    def settle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.execute("SELECT count() FROM system.merges")[0][0] == 0:
                return
            time.sleep(0.5)

    def aggregate(self):
        return self.client.execute(SEED_QUERY, settings={"max_threads": THREADS})

    def drop(self) -> None:
        self.client.execute("DROP TABLE IF EXISTS events")

    def verify_count(self) -> int:
        return self.client.execute("SELECT count() FROM events")[0][0]

    def size_bytes(self) -> int | None:
        ((size, parts),) = self.client.execute(
            "SELECT sum(bytes_on_disk), count() FROM system.parts"
            " WHERE database = 'default' AND table = 'events' AND active"
        )
        self.result["active_parts"] = int(parts)
        return int(size)

    def describe(self):
        return {"version": self.version, "threads": f"max_threads={THREADS}"}


class ChdbSystem(System):
    name = "chdb"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.session = None

    def start(self) -> None:
        import chdb
        from chdb import session

        path = self.workdir / "chdb"
        path.mkdir(parents=True, exist_ok=True)
        self.session = session.Session(str(path))
        self.version = f"{chdb.__version__} (engine {self._scalar('SELECT version()')})"

    def _query(self, sql: str) -> list[list[str]]:
        text = str(self.session.query(sql, "TabSeparated"))
        return [line.split("\t") for line in text.splitlines() if line]

    def _scalar(self, sql: str) -> str:
        return self._query(sql)[0][0]

    def stop(self) -> None:
        if self.session is not None:
            with contextlib.suppress(Exception):
                self.session.close()
            self.session = None

    def load(self, data: Data) -> None:
        self.session.query(CH_DDL.format(name="events"))
        events_arrow = data.table  # noqa: F841 - read by name through chdb's Python() function
        t0 = time.perf_counter()
        self.session.query("INSERT INTO events SELECT * FROM Python(events_arrow)")
        self.record("insert_s", time.perf_counter() - t0)
        self.result["insert_method"] = (
            "one INSERT INTO events SELECT * FROM Python(arrow_table): the in-memory Arrow "
            "table read in place"
        )
        self.settle()

    def settle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._scalar("SELECT count() FROM system.merges") == "0":
                return
            time.sleep(0.5)

    def aggregate(self):
        return [
            (t, int(c), float(a))
            for t, c, a in self._query(f"{SEED_QUERY} SETTINGS max_threads = {THREADS}")
        ]

    def verify_count(self) -> int:
        return int(self._scalar("SELECT count() FROM events"))

    def drop(self) -> None:
        self.session.query("DROP TABLE IF EXISTS events SYNC")

    def size_bytes(self) -> int | None:
        size, parts = self._query(
            "SELECT sum(bytes_on_disk), count() FROM system.parts"
            " WHERE database = currentDatabase() AND table = 'events' AND active"
        )[0]
        self.result["active_parts"] = int(parts)
        return int(size)

    def describe(self):
        return {"version": self.version, "threads": f"max_threads={THREADS}"}


class PostgresCluster(ManagedProcess):
    """A throwaway PostgreSQL 15 cluster: initdb into a temp dir, postgres on a free port.

    PostgreSQL refuses to run as root, so when we are root the data directory belongs to the
    ``postgres`` user and both initdb and postgres run through ``runuser``. postgres runs in the
    foreground of its own process group, so stopping the group stops every backend.
    """

    name = "postgres"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.port = free_port()
        self.data_dir = self.workdir / "data"
        self.socket_dir = self.workdir / "socket"
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            for path in (self.workdir.parent, self.workdir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            os.chown(self.log_path.parent, self.user.pw_uid, self.user.pw_gid)

    def _as_user(self, cmd: list[str]) -> list[str]:
        if self.user is None:
            return cmd
        return ["runuser", "-u", self.user.pw_name, "--", *cmd]

    def initdb(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise ServiceError(f"{PG_BIN / 'initdb'} not found (apt-get install postgresql-15)")
        self.socket_dir.mkdir(exist_ok=True)
        if self.user is not None:
            os.chown(self.socket_dir, self.user.pw_uid, self.user.pw_gid)
        proc = subprocess.run(
            self._as_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
            cwd=self.workdir,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise ServiceError(f"initdb failed: {tail[0]}")

    def command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            # room for 8 parallel workers next to the background workers
            "max_worker_processes": "16",
            "max_parallel_workers": str(THREADS),
            "max_parallel_workers_per_gather": str(THREADS),
            "logging_collector": "off",
        }
        cmd = [str(PG_BIN / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return self._as_user(cmd)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def ready(self) -> bool:
        if not port_open(self.port):
            return False
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def start(self) -> PostgresCluster:
        if not self.data_dir.exists():
            self.initdb()
        super().start()
        return self

    def stop(self, timeout: float = 20.0) -> None:
        # SIGINT = "fast" shutdown: roll back open sessions, checkpoint, exit
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        super().stop()


class PostgresSystem(System):
    name = "postgresql"

    def __init__(self, workdir: Path, dsn: str | None, copy_chunk: int) -> None:
        super().__init__(workdir)
        self.external_dsn = dsn
        self.copy_chunk = copy_chunk
        self.cluster: PostgresCluster | None = None
        self.conn = None

    def start(self) -> None:
        import psycopg

        if self.external_dsn:
            dsn = self.external_dsn
        else:
            # its own directory tree, handed to the postgres user when we are root
            pg_root = Path(tempfile.mkdtemp(prefix="pg-", dir=self.workdir))
            self.cluster = PostgresCluster(pg_root)
            self.cluster.start()
            dsn = self.cluster.dsn
        self.conn = psycopg.connect(dsn, autocommit=False)
        if self.external_dsn:
            # a shared server: work in a private schema, dropped on exit
            self.schema = f"bench_storage_{os.getpid()}"
            self.conn.execute(f"CREATE SCHEMA {self.schema}")
            self.conn.execute(f"SET search_path = {self.schema}")
            self.conn.commit()
        self.version = self.conn.execute("SHOW server_version").fetchone()[0]

    def stop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.rollback()
                if self.external_dsn:
                    self.conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
                    self.conn.commit()
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
        if self.cluster is not None:
            self.cluster.stop()

    def load(self, data: Data) -> None:
        conn = self.conn
        conn.execute(SEED_DDL)
        conn.commit()
        options = pacsv.WriteOptions(include_header=False, batch_size=65536)
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY events FROM STDIN (FORMAT csv)") as copy:
            for batch in data.table.to_batches(max_chunksize=self.copy_chunk):
                buf = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), buf, options)
                copy.write(buf.getbuffer())
        conn.commit()
        self.record("insert_s", time.perf_counter() - t0)
        self.result["insert_method"] = (
            f"COPY events FROM STDIN (FORMAT csv) through psycopg 3, one transaction, CSV made "
            f"by pyarrow in {self.copy_chunk:,}-row chunks (CSV encoding included in the time)"
        )
        conn.autocommit = True
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) events")
        self.record("vacuum_analyze_s", time.perf_counter() - t0)
        conn.execute(f"ALTER TABLE events SET (parallel_workers = {THREADS})")
        for key in ("max_parallel_workers_per_gather", "max_parallel_workers"):
            conn.execute(f"SET {key} = {THREADS}")
        plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {PG_QUERY}").fetchone()[0]
        self.result["workers"] = _plan_workers(plan)

    def aggregate(self):
        return self.conn.execute(PG_QUERY).fetchall()

    def extras(self, data: Data, runs: int) -> None:
        # Debian's PostgreSQL has JIT on; show what it costs or saves on this query
        self.conn.execute("SET jit = off")
        try:
            for _ in range(runs):
                t0 = time.perf_counter()
                rows = self.aggregate()
                self.record("aggregate_jit_off_s", time.perf_counter() - t0)
                check_result(self.name, rows, data)
        finally:
            self.conn.execute("RESET jit")

    def drop(self) -> None:
        self.conn.autocommit = False
        self.conn.execute("DROP TABLE IF EXISTS events")
        self.conn.commit()

    def verify_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def size_bytes(self) -> int | None:
        return int(self.conn.execute("SELECT pg_total_relation_size('events')").fetchone()[0])

    def describe(self):
        jit = self.conn.execute("SHOW jit").fetchone()[0]
        where = (
            "existing server (--pg-dsn)"
            if self.external_dsn
            else "own cluster (initdb + postgres, free port, temp dir)"
        )
        return {
            "version": self.version,
            "server": where,
            "threads": f"max_parallel_workers_per_gather={THREADS}, table parallel_workers="
            f"{THREADS}; workers planned/launched {self.result.get('workers')}; jit={jit}",
        }


def _plan_workers(plan: Any) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Workers Planned" in node:
                found.append(f"{node['Workers Planned']}/{node.get('Workers Launched', '?')}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    return ", ".join(found) or "0/0"


# ---------------------------------------------------------------- run


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        kb = int(fh.readline().split()[1])
        mem = f"{kb / 1024**2:.0f} GiB"
    debian = "?"
    with contextlib.suppress(OSError):
        debian = Path("/etc/debian_version").read_text().strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "os": f"Debian {debian}, Linux {platform.release()}",
        "python": platform.python_version(),
    }


def time_aggregations(
    systems: list[System], data: Data, runs: int, log: Callable[[str], None]
) -> None:
    """One warm-up each, then ``runs`` rounds, round-robin so noise hits all systems alike."""
    times: dict[str, list[float]] = {s.name: [] for s in systems}
    for system in systems:
        check_result(system.name, system.aggregate(), data)
    for _ in range(runs):
        for system in systems:
            t0 = time.perf_counter()
            rows = system.aggregate()
            times[system.name].append(time.perf_counter() - t0)
            check_result(system.name, rows, data)
    for system in systems:
        runs_s = times[system.name]
        for seconds in runs_s:
            system.record("aggregate_s", seconds)
        log(
            f"  {system.name}: aggregation median {statistics.median(runs_s):.3f} s "
            f"(min {min(runs_s):.3f}, max {max(runs_s):.3f})"
        )


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return a / b


def build_report(systems: list[System], args: argparse.Namespace, data: Data) -> dict[str, Any]:
    by_name = {s.name: s.result for s in systems}
    pg = by_name.get("postgresql", {})
    seed_ch = SEED_FIGURES["clickhouse (seed 003)"]
    # the seed's figures are for 10,000,000 rows: compare with them only at that size
    seed_size = data.rows == SEED_ROWS
    if not seed_size:
        seed_ch = {"insert_s": None, "aggregate_s": None}
    results = []
    for system in systems:
        r = dict(system.result)
        r.update(system.describe())
        r["kind"] = "measured"
        r["rows_per_s"] = data.rows / r["insert_s"]
        if "insert_fast_s" in r:
            r["rows_per_s_fast"] = data.rows / r["insert_fast_s"]
        r["insert_speed_vs_postgresql"] = ratio(pg.get("insert_s"), r["insert_s"])
        r["aggregate_speed_vs_postgresql"] = ratio(pg.get("aggregate_s"), r["aggregate_s"])
        r["insert_speed_vs_seed_clickhouse"] = ratio(seed_ch["insert_s"], r["insert_s"])
        r["aggregate_speed_vs_seed_clickhouse"] = ratio(seed_ch["aggregate_s"], r["aggregate_s"])
        results.append(r)
    for name, fig in SEED_FIGURES.items():
        results.append(
            {
                "system": name,
                "kind": "quoted: seed 003, not measured here (Vertica cannot be installed here)",
                "insert_s": fig["insert_s"],
                "aggregate_s": fig["aggregate_s"],
                "rows_per_s": SEED_ROWS / fig["insert_s"],
                "insert_speed_vs_postgresql": ratio(pg.get("insert_s"), fig["insert_s"])
                if seed_size
                else None,
                "aggregate_speed_vs_postgresql": ratio(pg.get("aggregate_s"), fig["aggregate_s"])
                if seed_size
                else None,
            }
        )
    return {
        "benchmark": "seed 003 storage study",
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["scripts/bench_storage.py", *sys.argv[1:]]),
        "machine": machine(),
        "rows": data.rows,
        "seed": args.seed,
        "table": SEED_DDL,
        "query": SEED_QUERY,
        "threads": THREADS,
        "aggregation_runs": args.runs,
        "repeat": args.repeat,
        "data": (
            f"numpy default_rng({args.seed}): event_time uniform over 2026-10 (31 days, UTC), "
            f"user_id uniform 1..1,000,000, event_type uniform over {len(EVENT_TYPES)} values, "
            "value uniform [0, 100)"
        ),
        "generate_s": data.generate_s,
        # the cores are shared: the 1/5/15-minute load averages show how busy the machine was
        "loadavg_start": args.loadavg_start,
        "loadavg_end": loadavg(),
        "results": results,
    }


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def render(report: dict[str, Any]) -> str:
    head = (
        "| system | insert s (median) | rows/s | aggregation s (median) | on disk | "
        "insert vs PG | aggr. vs PG | insert vs seed CH | aggr. vs seed CH |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in report["results"]:
        measured = r["kind"] == "measured"
        name = r["system"] if measured else f"{r['system']} *"
        size = r.get("size_bytes")
        runs = r.get("aggregate_runs_s")
        agg = fmt(r["aggregate_s"], ".3f")
        if runs:
            agg += f" ({min(runs):.3f}-{max(runs):.3f})"
        insert = fmt(r["insert_s"], ".2f")
        loads = r.get("insert_runs_s") or []
        if len(loads) > 1:
            insert += f" ({min(loads):.2f}-{max(loads):.2f})"
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    insert,
                    fmt(r["rows_per_s"], ",.0f"),
                    agg,
                    "n/a" if size is None else f"{size / 1024**2:,.0f} MiB",
                    fmt(r.get("insert_speed_vs_postgresql"), ".3g", "x"),
                    fmt(r.get("aggregate_speed_vs_postgresql"), ".3g", "x"),
                    fmt(r.get("insert_speed_vs_seed_clickhouse"), ".3g", "x"),
                    fmt(r.get("aggregate_speed_vs_seed_clickhouse"), ".3g", "x"),
                ]
            )
            + " |"
        )
        if measured and "insert_fast_s" in r:
            fast = r["insert_fast_runs_s"]
            span = f" ({min(fast):.2f}-{max(fast):.2f})" if len(fast) > 1 else ""
            lines.append(
                f"| {r['system']} (numpy columnar insert) | {r['insert_fast_s']:.2f}{span} | "
                f"{r['rows_per_s_fast']:,.0f} | | | "
                f"{fmt(ratio(_pg_insert(report), r['insert_fast_s']), '.3g', 'x')} | | "
                f"{fmt(ratio(_seed_ch_insert(report), r['insert_fast_s']), '.3g', 'x')} | |"
            )
    lines.append("")
    lines.append(
        "* seed 003, not measured here: the seed's own run (official Docker images, other "
        "hardware); Vertica cannot be installed on this machine."
    )
    lines.append(
        f"Medians of {report['repeat']} load(s) and {report['repeat'] * report['aggregation_runs']}"
        " aggregation runs (after a warm-up per load), (min-max) in brackets. Ratios are "
        "speed-ups: baseline time / system time (>1 = faster than the baseline)."
    )
    for r in report["results"]:
        if "aggregate_jit_off_s" in r:
            lines.append(
                f"{r['system']} with jit=off (side measurement, not in the table): aggregation "
                f"median {r['aggregate_jit_off_s']:.3f} s."
            )
    if report["rows"] != SEED_ROWS:
        lines.append(
            f"The seed measured {SEED_ROWS:,} rows: no comparison with its figures at "
            f"{report['rows']:,} rows."
        )
    return "\n".join(lines)


def _seed_ch_insert(report: dict[str, Any]) -> float | None:
    if report["rows"] != SEED_ROWS:
        return None
    return SEED_FIGURES["clickhouse (seed 003)"]["insert_s"]


def _pg_insert(report: dict[str, Any]) -> float | None:
    for r in report["results"]:
        if r["system"] == "postgresql":
            return r["insert_s"]
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="rows to load (10,000,000)")
    p.add_argument("--runs", type=int, default=5, help="timed aggregation runs after a warm-up")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="load + aggregate this many times (tables dropped in between); medians reported",
    )
    p.add_argument("--seed", type=int, default=3, help="random seed of the generated rows")
    p.add_argument(
        "--batch-size",
        type=int,
        default=100_000,
        help="rows per INSERT for the seed-style clickhouse-server load (100,000)",
    )
    p.add_argument("--copy-chunk", type=int, default=500_000, help="rows per COPY write")
    p.add_argument(
        "--systems",
        default="clickhouse-server,chdb,postgresql",
        help="comma-separated subset of clickhouse-server,chdb,postgresql",
    )
    p.add_argument(
        "--no-fast-path",
        action="store_true",
        help="skip the extra numpy columnar insert into clickhouse-server",
    )
    p.add_argument(
        "--pg-dsn",
        help="use this existing PostgreSQL server (private schema) instead of a throwaway "
        "cluster, e.g. 'host=127.0.0.1 port=5432 user=postgres dbname=test'",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="bench-results/storage.json",
        metavar="OUT",
        help="write the results as JSON (default path bench-results/storage.json)",
    )
    return p.parse_args(argv)


def _terminate(signum: int, _frame: Any) -> None:
    # unwinds through the ExitStack, so every service and temp dir is still cleaned up
    raise BenchError(f"terminated by signal {signum}; services stopped, temp dirs removed")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(wanted) - {"clickhouse-server", "chdb", "postgresql"}
    if unknown or not wanted:
        print(f"bench_storage: unknown systems {sorted(unknown)}", file=sys.stderr)
        return 2
    if min(args.rows, args.runs, args.repeat, args.batch_size, args.copy_chunk) <= 0:
        print("bench_storage: sizes and counts must be positive", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, _terminate)
    args.loadavg_start = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    os.chmod(workdir, 0o755)  # the postgres user must be able to reach its own subdirectory
    systems: list[System] = []
    current = "setup"
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, workdir, True)
            log(f"generating {args.rows:,} rows (seed {args.seed}) ...")
            t0 = time.perf_counter()
            data = Data(args.rows, args.seed)
            data.generate_s = time.perf_counter() - t0
            log(f"  done in {data.generate_s:.1f} s")
            factories: dict[str, Callable[[], System]] = {
                "clickhouse-server": lambda: ClickHouseServerSystem(
                    workdir, args.batch_size, not args.no_fast_path
                ),
                "chdb": lambda: ChdbSystem(workdir),
                "postgresql": lambda: PostgresSystem(workdir, args.pg_dsn, args.copy_chunk),
            }
            for name in wanted:
                current = name
                system = factories[name]()
                stack.callback(system.stop)
                log(f"starting {name} ...")
                try:
                    system.start()
                except Exception as exc:  # noqa: BLE001 - one line for the user
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                    raise BenchError(f"{name} cannot start: {first}") from None
                systems.append(system)
            for rep in range(args.repeat):
                if args.repeat > 1:
                    log(f"repetition {rep + 1}/{args.repeat}")
                for system in systems:
                    current = system.name
                    if rep:
                        system.drop()
                    log(f"loading {system.name} ...")
                    system.load(data)
                    count = system.verify_count()
                    if count != data.rows:
                        raise BenchError(f"{system.name} stored {count} rows, not {data.rows}")
                    fast = system.timings.get("insert_fast_s")
                    extra = f", numpy path {fast[-1]:.2f} s" if fast else ""
                    log(f"  insert {system.timings['insert_s'][-1]:.2f} s{extra}")
                current = "aggregation"
                log(f"aggregating: 1 warm-up + {args.runs} runs each, round-robin ...")
                time_aggregations(systems, data, args.runs, log)
                for system in systems:
                    system.extras(data, args.runs)
            for system in systems:  # after the last aggregation: parts may have merged
                current = system.name
                system.result["size_bytes"] = system.size_bytes()
                system.result.update(system.timing_summary())
            report = build_report(systems, args, data)
    except BenchError as exc:
        print(f"bench_storage: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench_storage: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"bench_storage: {current}: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1

    print(f"seed 003 storage study, {data.rows:,} rows, {THREADS} threads, {report['date_utc']}")
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}")
    print(
        f"load average (1/5/15 min) at start {report['loadavg_start']}, "
        f"at end {report['loadavg_end']}"
    )
    for r in report["results"]:
        if r["kind"] == "measured":
            where = f" [{r['server']}]" if "server" in r else ""
            print(f"- {r['system']} {r['version']}{where}: {r['insert_method']}; {r['threads']}")
    print()
    print(render(report))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
