"""The durable local spool: where accepted events wait while Kafka is unreachable.

Layout (one directory, shared by every worker of a host)::

    <tag>.lock                 held with flock(LOCK_EX) by the live worker that owns <tag>
    <tag>.<seq:08d>.seg        append-only segments, replayed in seq order
    <tag>.<seq:08d>.seg.ack    replay progress of a segment (written while it drains)

``tag`` is ``<pid>-<random>``: each worker process writes only its own files. A record is::

    u32 length | u32 crc32(key length, key, value) | u16 key length | key | value

``append`` returns only after the record was fsync'd. Writers share fsyncs (group commit):
every record written before an fsync starts is covered by it, so under load one fsync in a
thread serves many requests. A torn last record (the process died mid-write) fails its length
or checksum test and is ignored, with everything after it.

Replay (``drain``) publishes the records of each sealed segment in order, in windows that
start at one record (a probe) and double while the broker keeps up; it remembers which records
were acknowledged (in the ``.ack`` file) so a segment interrupted half-way is not republished
from its start, and deletes the segment only when every record is acknowledged.

A worker that finds a ``.lock`` it can lock belongs to a dead worker: it adopts that tag's
segments and replays them too. Two workers never replay the same file, because the lock is
held for as long as a tag is being written or replayed.

The size cap (``spool_max_bytes``) covers the whole directory: a worker counts its own bytes
exactly and re-reads the others' at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ugc.errors import SpoolFull
from ugc.log import get_logger

log = get_logger("ugc.collector.spool")

HEADER = struct.Struct(">IIH")
MAX_RECORD = 64 * 1024 * 1024
SEGMENT_BYTES = 8 * 1024 * 1024
MAX_WINDOW = 1024

Publish = Callable[[bytes, bytes], Awaitable[None]]


def encode(key: bytes, value: bytes) -> bytes:
    body = struct.pack(">H", len(key)) + key + value
    return HEADER.pack(len(key) + len(value), zlib.crc32(body), len(key)) + key + value


def decode(buffer: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """Yield ``(offset, key, value)`` for each intact record; stop at the first torn one."""
    position, end = 0, len(buffer)
    while position + HEADER.size <= end:
        length, crc, key_length = HEADER.unpack_from(buffer, position)
        start = position + HEADER.size
        stop = start + length
        if key_length > length or stop > end:
            return
        body = buffer[start - 2 : stop]
        if zlib.crc32(body) != crc:
            return
        yield position, buffer[start : start + key_length], buffer[start + key_length : stop]
        position = stop


@dataclass
class _Segment:
    path: Path
    records: int = 0
    size: int = 0
    #: byte offset of the first record not yet acknowledged, and acked records beyond it
    acked_to: int = 0
    acked: set[int] = field(default_factory=set)

    @property
    def progress_path(self) -> Path:
        return self.path.with_name(self.path.name + ".ack")

    def load_progress(self) -> None:
        with contextlib.suppress(OSError, ValueError, TypeError):
            saved = orjson.loads(self.progress_path.read_bytes())
            self.acked_to, self.acked = int(saved["offset"]), {int(x) for x in saved["acked"]}

    def save_progress(self) -> None:
        data = orjson.dumps({"offset": self.acked_to, "acked": sorted(self.acked)})
        tmp = self.progress_path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.progress_path)

    def pending(self, offset: int) -> bool:
        return offset >= self.acked_to and offset not in self.acked

    def remove(self) -> None:
        for path in (self.path, self.progress_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _lock(path: Path) -> int | None:
    """Open and flock ``path`` without waiting; the fd, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Spool:
    """Append-only, fsync'd, size-capped segment files for one worker process."""

    def __init__(
        self, directory: Path | str, max_bytes: int, *, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_fd: int | None = None
        self._sealed: list[_Segment] = []  # oldest first; own and adopted
        self._adopted: dict[str, int] = {}  # tag -> lock fd
        self._active: _Segment | None = None
        self._active_fd: int | None = None
        self._seq = 0
        self._dirty: list[int] = []  # fds written since the last fsync (rolled ones to close)
        self._new_files = False
        self._written = 0
        self._synced = 0
        self._sync_task: asyncio.Future[None] | None = None
        self._others_bytes = 0
        self._others_checked = 0.0
        self.records = 0
        self.bytes = 0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Create the directory and take this worker's lock. Raises SpoolFull if unwritable."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock(self.directory / f"{self.tag}.lock")
        except OSError as exc:
            raise SpoolFull(f"the spool directory {self.directory} is not writable") from exc

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def close(self) -> None:
        """Release files; unreplayed segments stay for the next worker to adopt."""
        if self._active_fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._active_fd)
            os.close(self._active_fd)
            self._active_fd = None
        for fd in self._dirty:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._dirty.clear()
        if self._active is not None and self._active.records == 0:
            self._active.remove()
        leftovers = self._sealed + ([self._active] if self._active and self._active.records else [])
        mine = [s for s in leftovers if s.path.name.startswith(self.tag + ".")]
        if not mine and self._lock_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"{self.tag}.lock").unlink()
        for fd in [self._lock_fd, *self._adopted.values()]:
            if fd is not None:
                os.close(fd)
        self._lock_fd = None
        self._adopted.clear()

    # ------------------------------------------------------------------ appending
    async def append(self, key: bytes, value: bytes) -> None:
        """Write one record and return once it is on disk. Raises ``SpoolFull``."""
        if not self.enabled:
            raise SpoolFull("the spool is disabled (UGC_SPOOL_MAX_BYTES=0)", retry_after=5)
        record = encode(key, value)
        if self.used_bytes() + len(record) > self.max_bytes:
            raise SpoolFull(
                f"the spool is full ({self.max_bytes} bytes) while kafka is unavailable",
                retry_after=10,
            )
        try:
            self._write(record)
        except OSError as exc:
            raise SpoolFull(f"cannot write to the spool: {exc.strerror}") from exc
        await self._sync_through(self._written)

    def _write(self, record: bytes) -> None:
        if self._lock_fd is None:
            self.open()
        if self._active is None or self._active.size >= self.segment_bytes:
            self._roll()
        assert self._active is not None and self._active_fd is not None
        written = os.write(self._active_fd, record)
        if written != len(record):  # a short write (disk full): undo it, report
            os.ftruncate(self._active_fd, self._active.size)
            raise OSError(28, "short write to the spool")
        self._active.size += written
        self._active.records += 1
        self.records += 1
        self.bytes += written
        self._written += 1

    def _roll(self) -> None:
        self._seal()
        self._seq += 1
        path = self.directory / f"{self.tag}.{self._seq:08d}.seg"
        self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._active = _Segment(path)
        self._new_files = True

    def _seal(self) -> None:
        """Close the active segment for writing (a new one opens on the next append)."""
        if self._active is None or self._active_fd is None:
            return
        if self._active.records:
            self._sealed.append(self._active)
            self._dirty.append(self._active_fd)  # closed after its last fsync
        else:
            self._active.remove()
            os.close(self._active_fd)
        self._active, self._active_fd = None, None

    async def _sync_through(self, target: int) -> None:
        while self._synced < target:
            if self._sync_task is None:
                self._sync_task = asyncio.ensure_future(self._fsync())
            await asyncio.shield(self._sync_task)

    async def _fsync(self) -> None:
        covered = self._written
        rolled, self._dirty = self._dirty, []
        fds = [*rolled, self._active_fd]
        new_files, self._new_files = self._new_files, False
        try:
            await asyncio.to_thread(self._fsync_files, fds, rolled, new_files)
        except OSError as exc:
            raise SpoolFull(f"cannot fsync the spool: {exc.strerror}") from exc
        finally:
            self._sync_task = None
        self._synced = covered

    def _fsync_files(self, fds: list[int | None], rolled: list[int], new_files: bool) -> None:
        for fd in fds:
            if fd is not None:
                os.fsync(fd)
        for fd in rolled:
            os.close(fd)
        if new_files:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    # ------------------------------------------------------------------ accounting
    def used_bytes(self) -> int:
        now = time.monotonic()
        if now - self._others_checked > 1.0:
            self._others_checked = now
            self._others_bytes = self._scan_others()
        return self.bytes + self._others_bytes

    def _scan_others(self) -> int:
        mine = {s.path.name for s in self._sealed}
        if self._active is not None:
            mine.add(self._active.path.name)
        total = 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if entry.name.endswith(".seg") and entry.name not in mine:
                    with contextlib.suppress(OSError):
                        total += entry.stat().st_size
        return total

    @property
    def empty(self) -> bool:
        return self.records == 0 and self._synced == self._written

    # ------------------------------------------------------------------ adoption
    def adopt_orphans(self) -> int:
        """Take over the segments of dead workers; returns how many segments were adopted."""
        if self._lock_fd is None:
            return 0
        tags = set()
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if entry.name.endswith((".seg", ".lock")):
                    tags.add(entry.name.split(".", 1)[0])
        tags.discard(self.tag)
        adopted = 0
        for tag in sorted(tags - set(self._adopted)):
            fd = _lock(self.directory / f"{tag}.lock")
            if fd is None:
                continue  # alive, or adopted by another worker
            self._adopted[tag] = fd
            segments = sorted(self.directory.glob(f"{tag}.*.seg"))
            for path in segments:
                segment = self._scan_segment(path)
                self._sealed.insert(adopted, segment)
                adopted += 1
            if not segments:
                self._release(tag)
        if adopted:
            log.info("adopted spool segments of a previous worker", extra={"segments": adopted})
        return adopted

    def _scan_segment(self, path: Path) -> _Segment:
        segment = _Segment(path)
        segment.load_progress()
        buffer = path.read_bytes()
        segment.size = len(buffer)
        segment.records = sum(1 for offset, _k, _v in decode(buffer) if segment.pending(offset))
        self.records += segment.records
        self.bytes += segment.size
        return segment

    def _release(self, tag: str) -> None:
        fd = self._adopted.pop(tag, None)
        if fd is None:
            return
        if not any(self.directory.glob(f"{tag}.*.seg")):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"{tag}.lock").unlink()
        os.close(fd)

    # ------------------------------------------------------------------ replay
    async def drain(self, publish: Publish, *, stop: Callable[[], bool] = lambda: False) -> bool:
        """Replay every record in order; ``True`` when the spool is empty afterwards.

        Stops at the first publish failure (the broker is still away) and returns ``False``.
        """
        if self._active is not None and self._active.records:
            await self._sync_through(self._written)
            self._seal()
        while self._sealed and not stop():
            segment = self._sealed[0]
            if not await self._drain_segment(segment, publish, stop):
                return False
            self._sealed.pop(0)
            self.bytes -= segment.size
            segment.remove()
            tag = segment.path.name.split(".", 1)[0]
            if tag in self._adopted and not any(
                s.path.name.startswith(tag + ".") for s in self._sealed
            ):
                self._release(tag)
        return not self._sealed and (self._active is None or self._active.records == 0)

    async def _drain_segment(
        self, segment: _Segment, publish: Publish, stop: Callable[[], bool]
    ) -> bool:
        buffer = await asyncio.to_thread(segment.path.read_bytes)
        pending = [record for record in decode(buffer) if segment.pending(record[0])]
        window = 1
        position = 0
        while position < len(pending):
            if stop():
                return False
            chunk = pending[position : position + window]
            results = await asyncio.gather(
                *(_attempt(publish, key, value) for _offset, key, value in chunk)
            )
            if not self._record_progress(segment, chunk, results):
                return False
            position += len(chunk)
            window = min(window * 2, MAX_WINDOW)
        return True

    def _record_progress(
        self,
        segment: _Segment,
        chunk: list[tuple[int, bytes, bytes]],
        results: list[bool],
    ) -> bool:
        delivered = sum(results)
        self.records -= delivered
        segment.records -= delivered
        all_ok = all(results)
        prefix_end = None
        for (offset, _key, _value), ok in zip(chunk, results, strict=True):
            if ok and prefix_end is None:
                continue
            if prefix_end is None:
                prefix_end = offset
            if ok:
                segment.acked.add(offset)
        if prefix_end is None:
            last_offset, last_key, last_value = chunk[-1]
            segment.acked_to = last_offset + HEADER.size + len(last_key) + len(last_value)
        else:
            segment.acked_to = max(segment.acked_to, prefix_end)
        segment.acked = {o for o in segment.acked if o >= segment.acked_to}
        with contextlib.suppress(OSError):
            segment.save_progress()
        return all_ok


async def _attempt(publish: Publish, key: bytes, value: bytes) -> bool:
    try:
        await publish(key, value)
    except Exception:  # noqa: BLE001 - any failure means "not delivered yet"
        return False
    return True
