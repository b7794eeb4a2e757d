"""The run's native-memory settings: Arrow's pool for the run, restored after it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pyarrow as pa
import pytest

from ugc.etl import heap

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


def test_arrow_allocates_from_the_system_pool_during_a_run_and_its_own_after() -> None:
    before = pa.default_memory_pool().backend_name
    assert before != "system"  # else this test would prove nothing
    with heap.lean_heap():
        assert pa.default_memory_pool().backend_name == "system"
        column = pa.array(range(100_000), pa.int64())
        assert pa.system_memory_pool().bytes_allocated() >= column.nbytes
        heap.give_back()
        assert column.to_pylist()[-1] == 99_999  # still valid after the trim
    assert pa.default_memory_pool().backend_name == before


def test_the_pool_is_restored_after_an_error() -> None:
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError), heap.lean_heap():
        raise RuntimeError("the run failed")
    assert pa.default_memory_pool().backend_name == before


_PROBE = """
import ctypes
from ugc.etl import heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
fixed = heap.fix_mmap_threshold()
# freeing a mapped 8 MiB block raises glibc's own threshold to 8 MiB, unless it was fixed ...
libc.free(libc.malloc(8 * 2**20))
mapped = libc.mallinfo2().hblks
block = libc.malloc(4 * 2**20)
# ... and then a 4 MiB block would come from the heap, not a mapping of its own
print(fixed, libc.mallinfo2().hblks - mapped)
libc.free(block)
"""


@glibc_only
def test_after_the_fix_a_freed_big_block_no_longer_moves_the_threshold() -> None:
    # a fresh process: in this one, earlier big blocks may sit free in the heap, and glibc
    # serves a request from those before it looks at the threshold
    env = {k: v for k, v in os.environ.items() if k not in heap._OPERATOR_SETTINGS}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "1"]


@glibc_only
def test_an_operators_own_threshold_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1048576")
    assert heap.fix_mmap_threshold() is False
