"""A fast path for valid events, generated from the registry; marshmallow stays the reference.

marshmallow costs tens of microseconds per schema load, most of the collector's CPU per request.
So each event type gets one generated function of plain comparisons. The technique is the
one ``dataclasses`` uses for ``__init__``. The function *accepts* a payload only when the
marshmallow schemas certainly would, and then returns exactly what they would return. Anything
else returns ``None``, and ``ugc.events.envelopes`` asks marshmallow for the verdict and the
field errors. So the two cannot disagree on a rejection, and every error message comes from
marshmallow. ``tests/unit/test_fastpath.py`` checks with generated payloads that every fast
acceptance is a marshmallow acceptance with identical values.

Conservative on purpose: a UUID that is not already in canonical lower-case form, or any
value that would need converting, takes the marshmallow path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ugc.events.record import Incoming
from ugc.events.registry import EventType, Field, Registry
from ugc.events.schemas import (
    CONTEXT_LIMITS,
    ENVELOPE_V1_KEYS,
    ID_MAX,
    TOKEN_MAX,
    to_instant,
)

UUID_CANONICAL = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
).fullmatch


def field_failure(spec: Field, var: str = "v") -> str:
    """A Python expression, true when ``var`` is NOT certainly valid for ``spec``.

    Shared by the collector's fast path and the ETL's record check.
    """
    if spec.kind == "string":
        test = f"type({var}) is not str or len({var}) > {spec.max_length}"
    elif spec.kind == "uuid":
        test = f"type({var}) is not str or not UUID({var})"
    elif spec.kind == "int":
        bounds = [f"{var} < {spec.minimum}"] if spec.minimum is not None else []
        bounds += [f"{var} > {spec.maximum}"] if spec.maximum is not None else []
        test = " or ".join([f"type({var}) is not int", *bounds])
    elif spec.kind == "bool":
        test = f"type({var}) is not bool"
    elif spec.kind == "enum":
        test = f"type({var}) is not str or {var} not in {spec.choices!r}"
    elif spec.kind == "strings":
        test = (
            f"type({var}) is not list or len({var}) > 100 or not all("
            f"type(s) is str and len(s) <= {spec.max_length} for s in {var})"
        )
    else:  # pragma: no cover - the registry refuses unknown kinds
        raise AssertionError(spec.kind)
    return f"{var} is not None and ({test})" if not spec.required else test


def _default(spec: Field) -> str:
    return "[]" if spec.kind == "strings" else "None"


def data_check_source(event_type: EventType) -> str:
    """Source of ``check(d) -> dict | None`` for one type's ``data`` object."""
    lines = ["def check(d):", "    if type(d) is not dict or not d.keys() <= KNOWN: return None"]
    for spec in event_type.fields:
        lines.append(f'    v = d.get("{spec.name}")')
        if not spec.required:
            lines.append(f'    if v is None and "{spec.name}" not in d: v = {_default(spec)}')
        lines.append(f"    elif {field_failure(spec)}: return None" if not spec.required else
                     f"    if {field_failure(spec)}: return None")  # fmt: skip
        lines.append(f"    f_{spec.name} = v")
    items = ", ".join(f'"{spec.name}": f_{spec.name}' for spec in event_type.fields)
    lines.append(f"    return {{{items}}}")
    return "\n".join(lines) + "\n"


@cache
def data_check(event_type: EventType) -> Callable[[Any], dict[str, Any] | None]:
    """``check(data) -> dict | None``: the loaded data, or None when marshmallow must decide."""
    namespace: dict[str, Any] = {
        "UUID": UUID_CANONICAL,
        "KNOWN": frozenset(f.name for f in event_type.fields),
    }
    source = data_check_source(event_type)
    exec(compile(source, f"<fastpath {event_type.name}>", "exec"), namespace)  # noqa: S102 - registry only
    return namespace["check"]


def _text_ok(value: Any, limit: int) -> bool:
    return value is None or (type(value) is str and len(value) <= limit)


def _instant(value: Any) -> Any:
    """A parsed client time, None for absent, or ``False`` when marshmallow must decide."""
    if value is None:
        return None
    try:
        return to_instant(value)
    except ValueError:
        return False


def fast_v1(payload: dict[str, Any], registry: Registry) -> Incoming | None:
    """The v1 envelope's ``Incoming`` when certainly valid; otherwise None."""
    if not payload.keys() <= ENVELOPE_V1_KEYS:
        return None
    name = payload.get("event")
    if type(name) is not str or name not in registry:
        return None
    token = payload.get("token")
    event_id = payload.get("event_id")
    session_id = payload.get("session_id")
    user_id = payload.get("user_id")
    if not (
        _text_ok(token, TOKEN_MAX)
        and _text_ok(session_id, ID_MAX)
        and _text_ok(user_id, ID_MAX)
        and (event_id is None or (type(event_id) is str and UUID_CANONICAL(event_id)))
    ):
        return None
    context = payload.get("context")
    if context is not None:
        if type(context) is not dict or not context.keys() <= CONTEXT_LIMITS.keys():
            return None
        if not all(_text_ok(value, CONTEXT_LIMITS[key]) for key, value in context.items()):
            return None
    event_at = _instant(payload.get("event_at"))
    sent_at = _instant(payload.get("sent_at"))
    if event_at is False or sent_at is False:
        return None
    event_type = registry.get(name)
    data = data_check(event_type)(payload.get("data"))
    if data is None:
        return None
    return Incoming(
        event_type=event_type,
        data=data,
        envelope="v1",
        token=token,
        event_id=event_id,
        session_id=session_id,
        claimed_user_id=user_id,
        client_event_at=event_at,
        client_sent_at=sent_at,
        context=dict(context) if context else {},
    )
