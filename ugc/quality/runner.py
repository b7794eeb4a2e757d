"""``ugc quality check``: run the checks' queries, validate their frames, report, record.

::

    report = run_check(settings, window=build_window(since, until), suites=("duplicates",))
    report.failed      # an error-level expectation failed -> the CLI exits 5
    report.as_dict()   # the JSON summary (also written to REPORT_DIR/summary.json)

Warehouse trouble leaves as ``WarehouseUnavailable`` (exit 4), a warehouse owned by another
process as ``Busy`` (exit 6), a broken suite as ``ConfigError`` (exit 3).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ugc.adapters.clickhouse import Warehouse, WarehouseQueryError, connect
from ugc.errors import ConfigError, WarehouseUnavailable
from ugc.events import REGISTRY, Registry
from ugc.log import get_logger
from ugc.quality import validate as gx_validate
from ugc.quality.checks import CHECKS, Finding, Scope
from ugc.quality.layout import LAYOUT, Layout
from ugc.quality.suites import Suite, load_suites, problems
from ugc.quality.window import Window
from ugc.settings import Settings

log = get_logger("ugc.quality")


@dataclass
class CheckReport:
    suite: Suite
    finding: Finding
    outcomes: list[gx_validate.Outcome]
    seconds: float

    @property
    def status(self) -> str:
        failed = {o.level for o in self.outcomes if not o.success}
        if "error" in failed:
            return "failed"
        return "warning" if "warning" in failed else "passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "suite_version": self.suite.version,
            "description": self.suite.description,
            "summary": self.finding.summary,
            "expectations": [o.as_dict() for o in self.outcomes],
            "where": self.finding.where,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    run_id: str
    checked_at: datetime
    window: Window
    warehouse: str
    checks: dict[str, CheckReport] = field(default_factory=dict)
    docs: str | None = None
    summary_path: str | None = None
    recorded: bool = False
    seconds: float = 0.0

    def _failed(self, level: str) -> list[str]:
        return [
            f"{name}: {o.expectation}"
            for name, check in self.checks.items()
            for o in check.outcomes
            if not o.success and o.level == level
        ]

    @property
    def errors(self) -> list[str]:
        return self._failed("error")

    @property
    def warnings(self) -> list[str]:
        return self._failed("warning")

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    @property
    def status(self) -> str:
        return "failed" if self.errors else ("warning" if self.warnings else "passed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "checked_at": _iso(self.checked_at),
            "window": self.window.as_dict(),
            "warehouse": self.warehouse,
            "status": self.status,
            "errors": self.errors,
            "warnings": self.warnings,
            "checks": {name: check.as_dict() for name, check in self.checks.items()},
            "data_docs": self.docs,
            "summary_file": self.summary_path,
            "recorded": self.recorded,
            "seconds": round(self.seconds, 3),
        }


def run_check(
    settings: Settings,
    *,
    window: Window,
    suites: tuple[str, ...] = (),
    report_dir: Path | None = None,
    registry: Registry = REGISTRY,
    layout: Layout = LAYOUT,
    expectations_dir: Path | None = None,
    docs: bool = True,
    record: bool = True,
    now: datetime | None = None,
) -> Report:
    """Run the selected suites (all by default) against the warehouse in ``settings``."""
    started = time.perf_counter()
    every = load_suites(expectations_dir)
    selected = load_suites(expectations_dir, suites) if suites else every
    for suite in selected.values():
        _check_suite(suite)
    gx_validate.preload()
    report_dir = Path(report_dir or Path(settings.data_dir) / "quality")
    now = now or datetime.now(UTC)
    report = Report(
        run_id=f"q-{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}",
        checked_at=now,
        window=window,
        warehouse="",
    )
    # the warehouse is held only while querying: an embedded (chdb) one belongs to one
    # process at a time, and the ETL should not wait for Great Expectations
    with connect(settings.warehouse_url) as warehouse:
        report.warehouse = warehouse.url
        scope = Scope(
            warehouse=warehouse,
            registry=registry,
            window=window,
            layout=layout,
            topic=settings.kafka_topic,
            tables=_tables(warehouse),
            now=now,
            not_empty=not_empty(every.get("completeness")),
        )
        if not scope.event_types():
            raise WarehouseUnavailable(
                f"the warehouse {warehouse.url} has no event tables",
                hint="run `ugc db migrate` first",
            )
        findings = {}
        for name, suite in selected.items():
            began = time.perf_counter()
            findings[name] = (_run_one(scope, suite), time.perf_counter() - began)
    docs_dir = report_dir / "docs" if docs else None
    outcomes = gx_validate.validate(
        {name: f.frame for name, (f, _) in findings.items()}, selected, docs_dir
    )
    for name, (finding, seconds) in findings.items():
        report.checks[name] = CheckReport(selected[name], finding, outcomes[name], seconds)
    if docs_dir is not None:
        report.docs = str(docs_dir / "index.html")
    if record:
        with connect(settings.warehouse_url) as warehouse:
            report.recorded = _record(warehouse, layout, report)
    report.seconds = time.perf_counter() - started
    report.summary_path = _write_summary(report_dir, report)
    log.info(
        "quality check done",
        extra={"run_id": report.run_id, "status": report.status, "errors": len(report.errors)},
    )
    return report


def not_empty(suite: Suite | None) -> dict[str, list[str]]:
    """Event type -> required columns, from the completeness suite."""
    if suite is None:
        return {}
    common = list(suite.param("common_not_empty", []))
    return {name: common + list(spec.get("not_empty", [])) for name, spec in suite.types.items()}


def _check_suite(suite: Suite) -> None:
    module = CHECKS.get(suite.check)
    if module is None:
        raise ConfigError(
            f"expectation suite {suite.path}: unknown check {suite.check!r}; "
            f"known: {', '.join(CHECKS)}"
        )
    found = problems(suite, module.COLUMNS)
    if found:
        raise ConfigError(f"expectation suite {suite.path}: {found[0]}")


def _tables(warehouse: Warehouse) -> set[str]:
    try:
        return warehouse.tables()
    except WarehouseQueryError as exc:
        raise WarehouseUnavailable(f"cannot list the warehouse's tables: {exc.message}") from exc


def _run_one(scope: Scope, suite: Suite) -> Finding:
    try:
        return CHECKS[suite.check].run(scope, suite)
    except WarehouseQueryError as exc:
        raise WarehouseUnavailable(
            f"quality check {suite.name}: the warehouse refused a query: {exc.message}",
            hint="is the warehouse migrated (`ugc db migrate`)?",
        ) from exc


RESULT_COLUMNS = (
    "run_id",
    "checked_at",
    "window_since",
    "window_until",
    "suite",
    "suite_version",
    "expectation",
    "level",
    "success",
    "element_count",
    "unexpected",
    "observed",
    "location",
)


def result_rows(report: Report) -> list[list[Any]]:
    """Column-wise rows for ``quality_results``: one per expectation of each suite."""
    rows = []
    for name, check in report.checks.items():
        for outcome in check.outcomes:
            rows.append(
                [
                    report.run_id,
                    _iso(report.checked_at),
                    _iso(report.window.since),
                    _iso(report.window.until),
                    name,
                    check.suite.version,
                    outcome.expectation,
                    outcome.level,
                    int(outcome.success),
                    outcome.element_count,
                    outcome.unexpected,
                    _json(outcome.observed),
                    _json(outcome.unexpected_rows),
                ]
            )
    return [list(column) for column in zip(*rows, strict=True)] if rows else []


def _record(warehouse: Warehouse, layout: Layout, report: Report) -> bool:
    if layout.results not in warehouse.tables():
        log.warning("no results table; run `ugc db migrate`", extra={"table": layout.results})
        return False
    data = result_rows(report)
    if not data:
        return False
    try:
        warehouse.insert(layout.results, list(RESULT_COLUMNS), data)
    except WarehouseQueryError as exc:
        raise WarehouseUnavailable(f"cannot record quality results: {exc.message}") from exc
    return True


def _write_summary(report_dir: Path, report: Report) -> str:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / "summary.json"
    report.summary_path = str(path)
    data = orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2, default=str)
    runs = report_dir / "runs"
    runs.mkdir(exist_ok=True)
    (runs / f"{report.run_id}.json").write_bytes(data)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return str(path)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
