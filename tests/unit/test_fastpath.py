"""The generated fast path never accepts what marshmallow rejects, and agrees on values."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ugc.errors import ValidationFailed
from ugc.events import REGISTRY, Registry
from ugc.events.envelopes import load_v1
from ugc.events.fastpath import fast_v1
from ugc.events.registry import Field

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(min_size=60, max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(
        [
            "6f1f7c3e-2a8a-4d8e-9c51-3f3f0e0f6b11",
            "6F1F7C3E-2A8A-4D8E-9C51-3F3F0E0F6B11",
            "6f1f7c3e2a8a4d8e9c513f3f0e0f6b11",
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00.123+03:00",
            "2026-11-23 10:00:00",
            "1999-12-31T23:59:59Z",
            1795438805000,
            "like",
            "unlike",
            "film",
            "",
        ]
    ),
)


def good_value(spec: Field) -> st.SearchStrategy[Any]:
    if spec.kind == "string":  # short, or right at the length limit
        return st.one_of(
            st.text(max_size=10),
            st.text(min_size=spec.max_length, max_size=spec.max_length + 1),
        )
    if spec.kind == "uuid":
        return st.uuids().map(str)
    if spec.kind == "int":
        low = spec.minimum if spec.minimum is not None else -(2**31)
        high = spec.maximum if spec.maximum is not None else 2**31
        return st.integers(min_value=low - 1, max_value=high + 1)
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "enum":
        return st.sampled_from(spec.choices)
    item = st.one_of(
        st.text(max_size=5), st.text(min_size=spec.max_length, max_size=spec.max_length + 1)
    )
    return st.lists(item, max_size=4) | st.lists(st.just("x"), min_size=100, max_size=101)


GOOD_ENVELOPE = {
    "token": st.one_of(st.none(), st.text(max_size=40)),
    "event_id": st.one_of(st.none(), st.uuids().map(str)),
    "session_id": st.one_of(st.none(), st.text(max_size=20)),
    "user_id": st.one_of(st.none(), st.text(max_size=20)),
    "event_at": st.one_of(st.none(), st.sampled_from(["2026-11-23T10:00:00Z", 1795438805000])),
    "sent_at": st.one_of(st.none(), st.sampled_from(["2026-11-23T10:00:01.5Z", 1795438806000])),
    "context": st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {},
            optional={
                k: st.one_of(st.none(), st.text(max_size=8))
                for k in ("country", "device", "page_url", "referrer")
            },
        ),
    ),
}


@st.composite
def payloads(draw: st.DrawFn, registry: Registry = REGISTRY) -> dict[str, Any]:
    """A valid event, then zero to two mutations (most near a boundary)."""
    event_type = draw(st.sampled_from(list(registry)))
    data = {spec.name: draw(good_value(spec)) for spec in event_type.fields}
    payload: dict[str, Any] = {"event": event_type.name, "data": data}
    for key, strategy in GOOD_ENVELOPE.items():
        if draw(st.booleans()):
            payload[key] = draw(strategy)
    for _ in range(draw(st.integers(0, 2))):
        mutation = draw(st.sampled_from(["data", "drop", "extra", "envelope", "context", "event"]))
        if mutation == "data":
            data[draw(st.sampled_from([f.name for f in event_type.fields]))] = draw(ODD_VALUES)
        elif mutation == "drop":
            data.pop(draw(st.sampled_from([f.name for f in event_type.fields])), None)
        elif mutation == "extra":
            target = draw(st.sampled_from([data, payload]))
            target[draw(st.text(min_size=1, max_size=8))] = 1
        elif mutation == "envelope":
            payload[draw(st.sampled_from(list(GOOD_ENVELOPE)))] = draw(ODD_VALUES)
        elif mutation == "context":
            payload["context"] = draw(
                st.dictionaries(
                    st.sampled_from(["country", "device", "page_url", "referrer", "other"]),
                    ODD_VALUES,
                    max_size=3,
                )
            )
        else:
            payload["event"] = draw(st.sampled_from(["nope", 3, None]))
    return payload


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_fast_path_agrees_with_marshmallow(payload: dict[str, Any]) -> None:
    fast = fast_v1(payload, REGISTRY)
    try:
        reference = load_v1(payload, REGISTRY)
    except ValidationFailed:
        assert fast is None, f"fast path accepted what marshmallow rejects: {payload!r}"
        return
    if fast is not None:
        assert fast == reference


def test_the_fast_path_takes_ordinary_events() -> None:
    for event_type in REGISTRY:
        payload = {"event": event_type.name, "token": None, "data": event_type.example()}
        assert fast_v1(payload, REGISTRY) == load_v1(payload, REGISTRY)
