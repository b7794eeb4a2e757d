"""Native memory during a run: give what a batch freed back to the system.

A run allocates and frees a batch's worth of native memory at a time, on several threads: the
joined messages and Arrow's parsed columns here, librdkafka's fetches on its threads, the insert
on the store thread. Left to themselves, the allocators keep what was freed for reuse, and
the process's RSS keeps growing long after the memory in use stopped growing:

* glibc's ``malloc`` raises its mmap threshold every time a large mapped block is freed (up to
  32 MiB), after which a batch's big buffers come from its arenas, where freed pages stay
  resident; ``lean_heap`` fixes the threshold at 256 KiB, so they are unmapped when freed
  (unless the operator set it: ``MALLOC_MMAP_THRESHOLD_`` or ``GLIBC_TUNABLES`` win);
* Arrow's default pool (its bundled mimalloc) keeps freed pages for reuse; ``lean_heap`` makes
  the system allocator Arrow's pool for the run, so those pages are glibc's to release too;
* ``give_back`` (once per stored batch) returns the free pages inside glibc's arenas.

Measured on chdb, 2M events in batches of 50,000 (``docs/etl.md``): peak RSS 915-1038 ->
700-713 MiB together with routing a batch as one chunk. Elsewhere than glibc nothing is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator

import pyarrow as pa

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_MMAP_THRESHOLD = 256 * 1024
_OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def _glibc() -> ctypes.CDLL | None:
    """The C library already loaded into this process, if it is glibc."""
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(None)
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            return libc
    return None


_LIBC = _glibc()


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at 256 KiB for the rest of the process (glibc cannot say what
    it was before); ``False`` when it was left alone."""
    if _LIBC is None or any(name in os.environ for name in _OPERATOR_SETTINGS):
        return False
    return bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))


@contextlib.contextmanager
def lean_heap() -> Iterator[None]:
    """For a run: a fixed mmap threshold and the system allocator as Arrow's pool (restored
    afterwards, also after an error)."""
    fix_mmap_threshold()
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(pool)


def give_back() -> None:
    """Return the free pages of every glibc arena to the system (a few ms at most)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
