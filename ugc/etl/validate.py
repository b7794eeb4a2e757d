"""Fast per-type checks of the canonical record, generated from the registry.

marshmallow costs tens of microseconds a record; the loader has about ten for everything.
So each event type gets one generated function of plain comparisons (the technique
``dataclasses`` uses for ``__init__``) that *accepts* a record only when the reference schema
(``ugc.etl.reference``) certainly would, and leaves the value as it is (canonical UUIDs and
timestamps need no normalising). Anything it does not accept goes to the reference schema for
the verdict and the field errors, so the two cannot disagree on a rejection, and
``tests/unit/test_etl_validate.py`` checks that every fast acceptance is a reference acceptance
with identical values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ugc.etl.reference import CONTEXT_LIMITS, ENVELOPES, ID_MAX
from ugc.events.fastpath import field_failure
from ugc.events.record import IDENTITY_SOURCES
from ugc.events.registry import EventType, Field
from ugc.events.schemas import EARLIEST, LATEST

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:[0-5]\d:[0-5]\d\.\d{3}Z").fullmatch
_HOURS: dict[str, bool] = {}


def _hour_ok(prefix: str) -> bool:
    try:
        moment = datetime.fromisoformat(prefix + ":00:00+00:00")
    except ValueError:
        ok = False
    else:
        ok = EARLIEST <= moment < LATEST
    if len(_HOURS) < 100_000:
        _HOURS[prefix] = ok
    return ok


def ts_ok(value: Any) -> bool:
    """A canonical timestamp (``2026-11-23T18:32:56.123Z``) in the accepted range."""
    if type(value) is not str or len(value) != 24 or not _TS(value):
        return False
    ok = _HOURS.get(value[:13])
    return _hour_ok(value[:13]) if ok is None else ok


def _text(expr: str, limit: int, *, nullable: bool, minimum: int = 0) -> list[str]:
    low = f"{minimum} <= " if minimum else ""
    test = f"type(v) is not str or not {low}len(v) <= {limit}"
    if nullable:
        test = f"v is not None and ({test})"
    return [f"v = {expr}", f"if {test}: return False"]


def _ts(expr: str, *, nullable: bool) -> list[str]:
    # ts_ok inlined: the hour cache answers for all but the first record of each hour
    test = "type(v) is not str or len(v) != 24 or not TS(v) or not (HOURS.get(v[:13]) or ts_ok(v))"
    if nullable:
        test = f"v is not None and ({test})"
    return [f"v = {expr}", f"if {test}: return False"]


def _common_lines() -> list[str]:
    lines = [
        'v = r.get("event_id")',
        "if type(v) is not str or not UUID(v): return False",
        'v = r.get("schema_version")',
        "if type(v) is not int or not 1 <= v <= 65535: return False",
        f'if r.get("envelope") not in {ENVELOPES!r}: return False',
        f'if r.get("identity_source") not in {tuple(IDENTITY_SOURCES)!r}: return False',
    ]
    lines += _text('r.get("user_id")', ID_MAX, nullable=False, minimum=1)
    lines += _text('r.get("claimed_user_id")', ID_MAX, nullable=True)
    lines += _text('r.get("session_id")', ID_MAX, nullable=True)
    lines += _ts('r.get("received_at")', nullable=False)
    lines += _ts('r.get("event_at")', nullable=False)
    lines += _ts('r.get("client_event_at")', nullable=True)
    lines += _ts('r.get("client_sent_at")', nullable=True)
    lines += [
        'c = r.get("context")',
        "if c is not None:",
        "    if type(c) is not dict: return False",
    ]
    for name, limit in CONTEXT_LIMITS.items():
        lines += ["    " + line for line in _text(f'c.get("{name}")', limit, nullable=True)]
    return lines


def _field_lines(spec: Field) -> list[str]:
    """The type's own fields: the same generated tests as the collector's fast path."""
    return [f'v = d.get("{spec.name}")', f"if {field_failure(spec)}: return False"]


def fast_check_source(event_type: EventType) -> str:
    body = [
        'd = r.get("data")',
        "if type(d) is not dict or not d.keys() <= KNOWN: return False",
    ]
    for spec in event_type.fields:
        body += _field_lines(spec)
    body += _common_lines()
    body.append("return True")
    return "def check(r):\n" + "\n".join("    " + line for line in body) + "\n"


def fast_check(event_type: EventType) -> Callable[[dict[str, Any]], bool]:
    """``check(record) -> bool``: True only for records the reference schema accepts as-is."""
    namespace: dict[str, Any] = {
        "UUID": _UUID,
        "ts_ok": ts_ok,
        "TS": _TS,
        "HOURS": _HOURS,
        "KNOWN": frozenset(f.name for f in event_type.fields),
    }
    exec(
        compile(fast_check_source(event_type), f"<fast_check {event_type.name}>", "exec"), namespace
    )  # noqa: S102 - source built from the registry only
    return namespace["check"]
