"""The checks, by the name a suite's ``meta.ugc.check`` uses. Each module has ``COLUMNS`` (the
frame it produces) and ``run(scope, suite) -> Finding``."""

from ugc.quality.checks import (
    completeness,
    dead_letters,
    duplicates,
    freshness,
    offsets,
    volume,
)
from ugc.quality.checks.base import Finding, Scope

CHECKS = {
    "duplicates": duplicates,
    "offset_gaps": offsets,
    "time_gaps": volume,
    "freshness": freshness,
    "completeness": completeness,
    "dead_letters": dead_letters,
}

__all__ = ["CHECKS", "Finding", "Scope"]
