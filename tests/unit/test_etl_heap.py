"""The run's native-memory settings: Arrow's pool for the run, restored after it."""

from __future__ import annotations

import pyarrow as pa

from ugc.etl import heap


def test_arrow_allocates_from_the_system_pool_during_a_run_and_its_own_after() -> None:
    before = pa.default_memory_pool().backend_name
    with heap.lean_heap():
        assert pa.default_memory_pool().backend_name == "system"
        column = pa.array(range(100_000), pa.int64())
        assert pa.system_memory_pool().bytes_allocated() >= column.nbytes
        heap.give_back()
        assert column.to_pylist()[-1] == 99_999  # still valid after the trim
    assert pa.default_memory_pool().backend_name == before


def test_glibc_is_found_here() -> None:
    # Debian: the fixed threshold and the trim must not silently become no-ops
    assert heap._LIBC is not None
