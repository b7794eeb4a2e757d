"""One ETL run per warehouse at a time.

The lock is a table: ``CREATE TABLE etl_lock`` (without ``IF NOT EXISTS``) succeeds for exactly
one caller, on the 18.16 server and on chdb alike; ``DROP TABLE`` releases it. The table holds
who owns it (host, pid, run id) and a heartbeat row per batch. A lock whose owner is a dead
process on this host, or whose heartbeat is older than the lease, is stale and is taken over,
so a run killed with ``kill -9`` never blocks the next one for long. chdb adds its own guard: a
second process cannot even open the warehouse directory.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from ugc.adapters.clickhouse import (
    TABLE_ALREADY_EXISTS,
    UNKNOWN_TABLE,
    Warehouse,
    WarehouseQueryError,
)
from ugc.errors import Busy

LOCK_TABLE = "etl_lock"
_CREATE = (
    f"CREATE TABLE {LOCK_TABLE} (run_id String, host String, pid UInt32, at_ns UInt64) ENGINE = Log"
)
_COLUMNS = ("run_id", "host", "pid", "at_ns")
#: run ids holding a lock in this process (a failed run that could not release its lock is
#: no longer here, so its lock is stale even though its pid, ours, is alive)
_ACTIVE: set[str] = set()


@dataclass(frozen=True)
class Holder:
    run_id: str
    host: str
    pid: int
    heartbeat_ns: int

    @property
    def empty(self) -> bool:
        """The table exists without an owner row (its creator died before writing one)."""
        return not self.run_id


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WarehouseLock:
    def __init__(self, warehouse: Warehouse, run_id: str, *, lease_s: float = 900.0) -> None:
        self.warehouse = warehouse
        self.run_id = run_id
        self.lease_s = lease_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held = False
        self._beat = float("-inf")

    def acquire(self) -> None:
        for _ in range(3):
            if self._try_create():
                self.held = True
                _ACTIVE.add(self.run_id)
                self.heartbeat()
                return
            holder = self.holder()
            if holder is not None and holder.empty:
                time.sleep(0.5)  # its owner may be between CREATE and the first heartbeat
                holder = self.holder()
            if holder is not None and not self._stale(holder):
                raise Busy(
                    f"another ETL run ({holder.run_id}, pid {holder.pid} on {holder.host}) "
                    f"holds the lock on {self.warehouse.url}",
                    hint="wait for it to finish; a dead run's lock expires by itself",
                )
            self._drop()
        raise Busy(f"could not take the ETL lock on {self.warehouse.url}; another run is starting")

    def heartbeat(self, *, every_s: float = 0.0) -> None:
        """Prove the holder is alive (at most once per ``every_s``: each is an insert)."""
        now = time.monotonic()
        if self.held and now - self._beat >= every_s:
            self._beat = now
            self.warehouse.insert(
                LOCK_TABLE,
                _COLUMNS,
                [[self.run_id], [self.host], [self.pid], [time.time_ns()]],
            )

    def release(self) -> None:
        if self.held:
            self.held = False
            _ACTIVE.discard(self.run_id)
            holder = self.holder()
            if holder is None or holder.run_id == self.run_id:
                self._drop()

    def holder(self) -> Holder | None:
        try:
            rows = self.warehouse.query(
                f"SELECT argMin(run_id, at_ns), argMin(host, at_ns), argMin(pid, at_ns), "
                f"max(at_ns), count() FROM {LOCK_TABLE}"
            )
        except WarehouseQueryError as exc:
            if exc.server_code == UNKNOWN_TABLE:
                return None
            raise
        if not rows or not int(rows[0][4]):
            return Holder("", "", 0, 0)
        run_id, host, pid, at_ns, _ = rows[0]
        return Holder(str(run_id), str(host), int(pid), int(at_ns))

    def _stale(self, holder: Holder) -> bool:
        if holder.empty:
            return True
        if holder.host == self.host:
            if holder.pid == os.getpid():
                return holder.run_id not in _ACTIVE
            if not _pid_alive(holder.pid):
                return True
        return time.time_ns() - holder.heartbeat_ns > self.lease_s * 1e9

    def _try_create(self) -> bool:
        try:
            self.warehouse.execute(_CREATE)
        except WarehouseQueryError as exc:
            if exc.server_code == TABLE_ALREADY_EXISTS:
                return False
            raise
        return True

    def _drop(self) -> None:
        self.warehouse.execute(f"DROP TABLE IF EXISTS {LOCK_TABLE}")
