"""Chaos fixtures: a private broker per test (the faults would hurt other tests' topics)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import KafkaBroker


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    with KafkaBroker(tmp_path) as broker:
        yield broker
