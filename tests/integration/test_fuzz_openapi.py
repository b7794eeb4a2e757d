"""Schemathesis against the collector's served OpenAPI document (``GET /openapi.json``).

10,000 generated requests over the three POST operations, schema-valid (positive) and
schema-breaking (negative) ones, through the real ASGI app in-process with an in-memory
publisher. Every answer must:

* never be a 5xx (``not_a_server_error``);
* use a documented status code, content type and headers, and match the documented body
  schema of that status (``status_code_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``, ``response_schema_conformance``);
* accept every schema-valid request (``positive_data_acceptance``): the document promises
  nothing the collector then refuses. One exception JSON Schema cannot express: ``1987.0``
  is an "integer" to JSON Schema, the collector's integer fields are strict and refuse it;
  such cases are still checked for everything else.

Negative data is not required to be refused (``negative_data_rejection`` is off): the
collector accepts a few things the document leaves out on purpose (epoch milliseconds as a
float, an ISO time with an offset that lands inside the range), and negative generation
proves mostly that broken input gets a clean 4xx.

Cost: about 9.5 minutes on 2 cores (hypothesis generation dominates, ~55 ms a case);
``UGC_FUZZ_CASES`` scales the total.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from tests.unit.test_http_api import make_settings
from ugc.collector.app import create_app
from ugc.collector.openapi import build_openapi
from ugc.collector.ports import AllowAll, AnonymousResolver, InMemoryPublisher
from ugc.events import REGISTRY

TOTAL = int(os.environ.get("UGC_FUZZ_CASES", "10000"))
#: share of the total per (operation, mode): the negative batch cases cost ~5x a positive one
PLAN = {
    ("/api/v1/events", GenerationMode.POSITIVE): 0.30,
    ("/api/v1/events", GenerationMode.NEGATIVE): 0.15,
    ("/api/v1/events/batch", GenerationMode.POSITIVE): 0.20,
    ("/api/v1/events/batch", GenerationMode.NEGATIVE): 0.075,
    ("/api/v1/events/validate", GenerationMode.POSITIVE): 0.20,
    ("/api/v1/events/validate", GenerationMode.NEGATIVE): 0.075,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The collector app with in-memory stand-ins; schemathesis drives it over ASGI."""
    settings = make_settings(tmp_path_factory.mktemp("fuzz"), cors_origins="https://cinema.example")
    return create_app(
        settings, publisher=InMemoryPublisher(), identity=AnonymousResolver(), limiter=AllowAll()
    )


@pytest.fixture(scope="module")
def schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _integral_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


@pytest.mark.parametrize(("path", "mode"), list(PLAN), ids=lambda v: str(v).strip("/"))
def test_generated_requests_get_documented_answers_and_never_a_5xx(
    schema: Any, path: str, mode: GenerationMode
) -> None:
    operation = schema[path]["POST"]
    budget = max(1, round(TOTAL * PLAN[(path, mode)]))
    seen: Counter[int] = Counter()

    @settings(
        max_examples=budget,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        response = case.call()
        seen[response.status_code] += 1
        checks = list(CHECKS)
        if mode is GenerationMode.POSITIVE and not _integral_float(case.body):
            checks.append(positive_data_acceptance)
        case.validate_response(response, checks=checks)

    run()
    cases = sum(seen.values())
    assert cases >= budget, seen
    assert not any(status >= 500 for status in seen), seen
    if mode is GenerationMode.POSITIVE:
        assert sum(n for status, n in seen.items() if status < 300) > cases * 0.9, seen
    else:
        assert any(400 <= status < 500 for status in seen), seen


def test_the_plan_covers_the_whole_total() -> None:
    assert sum(PLAN.values()) == pytest.approx(1.0)
    assert sum(max(1, round(TOTAL * share)) for share in PLAN.values()) >= TOTAL


def test_the_served_document_is_the_generated_one(schema: Any) -> None:
    assert schema.raw_schema == build_openapi(REGISTRY)
