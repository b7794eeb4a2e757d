"""Property: no request body, header or encoding makes the collector answer 5xx or crash."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_http_api import SEED_FILES, Harness, make_harness

PATHS = ["/api/v1/events", "/api/v1/events/batch", "/api/v1/events/validate"]
SEEDS = [json.loads(path.read_text()) for path in SEED_FILES]
ASCII = st.characters(min_codepoint=32, max_codepoint=126)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=10,
)


@st.composite
def mutated_seed(draw: st.DrawFn) -> Any:
    """A real example with one field dropped, replaced or added, anywhere in it."""
    event = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    target = event
    inner = [k for k, v in event.items() if isinstance(v, dict)]
    if inner and draw(st.booleans()):
        target = event[draw(st.sampled_from(inner))]
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    keys = sorted(target)
    if action == "drop" and keys:
        del target[draw(st.sampled_from(keys))]
    elif action == "replace" and keys:
        target[draw(st.sampled_from(keys))] = draw(json_values)
    else:
        target[draw(st.text(max_size=10))] = draw(json_values)
    return event


documents = st.one_of(
    mutated_seed(),
    st.sampled_from(SEEDS),
    json_values,
    st.lists(mutated_seed(), max_size=4),
    st.builds(lambda events: {"events": events}, st.lists(mutated_seed(), max_size=4)),
    st.integers(min_value=1, max_value=200).map(lambda n: "[" * n + "]" * n),
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, bool]:
    """Raw bytes to send, and whether they are gzip-encoded."""
    kind = draw(st.sampled_from(["json", "bytes", "text", "truncated"]))
    if kind == "json":
        document = draw(documents)
        raw = document.encode() if isinstance(document, str) else orjson.dumps(document)
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
    elif kind == "text":
        raw = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    else:
        raw = orjson.dumps(draw(mutated_seed()))
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    compress = draw(st.sampled_from(["no", "gzip", "gzip-truncated", "gzip-wrong-header"]))
    if compress == "gzip":
        return gzip.compress(raw), True
    if compress == "gzip-truncated":
        packed = gzip.compress(raw)
        return packed[: draw(st.integers(min_value=0, max_value=len(packed)))], True
    if compress == "gzip-wrong-header":
        return raw, True
    return raw, False


content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain;charset=UTF-8",
            "TEXT/PLAIN",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "",
        ]
    ),
    st.text(ASCII, max_size=40),
)
encodings = st.one_of(
    st.sampled_from(["gzip", "x-gzip", "GZIP", "identity", "br", "deflate", "gzip, br", ""]),
    st.text(ASCII, max_size=20),
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    harness = make_harness(tmp, max_event_bytes="2KiB", max_request_bytes="16KiB", max_json_depth=8)
    yield harness
    harness.close()


@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(PATHS),
    body=bodies(),
    content_type=content_types,
    encoding=encodings,
    extra=st.dictionaries(
        st.sampled_from(["X-Request-ID", "Authorization", "Origin", "User-Agent"]),
        st.text(ASCII, max_size=60),
        max_size=3,
    ),
)
def test_no_input_gets_a_5xx(
    api: Harness,
    path: str,
    body: tuple[bytes, bool],
    content_type: str,
    encoding: str,
    extra: dict[str, str],
) -> None:
    raw, gzipped = body
    headers = {**extra}
    if content_type:
        headers["Content-Type"] = content_type
    if gzipped:
        headers["Content-Encoding"] = encoding if encoding.strip() else "gzip"
    result = api.post(path, raw, headers=headers)
    assert result.status_code < 500, (result.status_code, result.text)
    assert result.status_code in {200, 207, 400, 413, 415, 422}, result.text
    assert "error" in result.json or result.status_code in {200, 207}
