"""Expectation suites: the versioned JSON files in ``expectations/``, one per check.

Each file is a Great Expectations 1.x suite (``name``, ``expectations`` with ``type``,
``kwargs``, ``severity``, ``meta``) that ``gx.ExpectationSuite(**document)`` loads as is,
plus ugc's own block under ``meta.ugc``::

    {"version": 2,                     bumped whenever a threshold or expectation changes
     "check": "duplicates",            which check produces the frame the suite validates
     "description": "...",
     "index_columns": ["table"],       shown next to unexpected values in Data Docs
     "params": {...},                  thresholds the check's SQL and Python use
     "types": {...}}                   per event type settings (completeness)

``severity`` is GX's own: ``critical`` makes an *error* (exit 5 when it fails), ``warning`` a
*warning* (reported, exit 0), ``info`` a figure worth keeping that never warns. This module reads and checks suites
without importing Great Expectations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ugc.errors import BadInput, ConfigError

#: repository layout: ``expectations/`` sits next to the ``ugc`` package
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "expectations"

LEVELS = {"critical": "error", "warning": "warning", "info": "info"}
#: kwargs that name frame columns
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)


@dataclass(frozen=True)
class Expectation:
    type: str
    kwargs: dict[str, Any]
    severity: str = "critical"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> str:
        return LEVELS[self.severity]

    def columns(self) -> list[str]:
        names = [self.kwargs[k] for k in _COLUMN_KWARGS if k in self.kwargs]
        for key in _COLUMN_LIST_KWARGS:
            names.extend(self.kwargs.get(key, []))
        return names

    def label(self) -> str:
        """``expect_column_values_to_be_between(duplicate_ids)``: short, stable, for reports."""
        cols = ",".join(self.columns())
        return f"{self.type}({cols})" if cols else self.type


@dataclass(frozen=True)
class Suite:
    name: str
    check: str
    version: int
    description: str
    expectations: tuple[Expectation, ...]
    params: dict[str, Any]
    types: dict[str, dict[str, Any]]
    index_columns: tuple[str, ...]
    document: dict[str, Any]
    path: Path

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


def load_suite(path: Path) -> Suite:
    """Read one suite file; ``ConfigError`` with the file name when it is malformed."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"expectation suite {path}: cannot read it: {exc}") from exc
    try:
        ugc = document["meta"]["ugc"]
        expectations = tuple(
            Expectation(
                type=item["type"],
                kwargs=dict(item.get("kwargs", {})),
                severity=item.get("severity", "critical"),
                meta=dict(item.get("meta", {})),
            )
            for item in document["expectations"]
        )
        suite = Suite(
            name=document["name"],
            check=ugc["check"],
            version=int(ugc["version"]),
            description=ugc.get("description", ""),
            expectations=expectations,
            params=dict(ugc.get("params", {})),
            types=dict(ugc.get("types", {})),
            index_columns=tuple(ugc.get("index_columns", ())),
            document=document,
            path=Path(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"expectation suite {path}: missing or bad field {exc}") from exc
    for item in expectations:
        if item.severity not in LEVELS:
            raise ConfigError(
                f"expectation suite {path}: severity {item.severity!r} is not one of "
                f"{', '.join(LEVELS)}"
            )
    return suite


def load_suites(directory: Path | None = None, only: Iterable[str] = ()) -> dict[str, Suite]:
    """Every suite in ``directory`` by name (or just those in ``only``), in file-name order."""
    directory = Path(directory or DEFAULT_DIR)
    if not directory.is_dir():
        raise ConfigError(f"no expectations directory at {directory}")
    suites = {}
    for path in sorted(directory.glob("*.json")):
        suite = load_suite(path)
        if suite.name in suites:
            raise ConfigError(f"expectation suite {suite.name!r} is defined twice")
        suites[suite.name] = suite
    wanted = list(only)
    unknown = [name for name in wanted if name not in suites]
    if unknown:
        raise BadInput(f"--suite: unknown suite {unknown[0]!r}; known: {', '.join(suites)}")
    if wanted:
        suites = {name: suites[name] for name in suites if name in wanted}
    return suites


def problems(suite: Suite, frame_columns: Iterable[str]) -> list[str]:
    """What is wrong between a suite and the frame its check produces (empty when fine)."""
    known = set(frame_columns)
    found = []
    for item in suite.expectations:
        for column in item.columns():
            if column not in known:
                found.append(f"{suite.name}: {item.type} names column {column!r}, not in the frame")
    for column in suite.index_columns:
        if column not in known:
            found.append(f"{suite.name}: index column {column!r} is not in the frame")
    return found
