"""The collector's HTTP layer, in-process (falcon.testing, ASGI) with an in-memory publisher."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falcon.testing
import orjson
import pytest

from ugc.collector.app import CollectorApp, create_app
from ugc.collector.ports import AllowAll, AnonymousResolver, InMemoryPublisher
from ugc.events import REGISTRY, Identity
from ugc.settings import Settings

SEEDS = Path(__file__).parent.parent / "data" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.json"))
JSON_HEADERS = {"Content-Type": "application/json"}
CLICK = {
    "event": "element_click",
    "token": None,
    "data": {"element_type": "movie", "page_type": "main"},
}


class Harness:
    """One app, one event loop, one ASGI conductor (lifespan included) for many requests."""

    def __init__(self, app: CollectorApp, publisher: Any) -> None:
        self.app = app
        self.publisher = publisher
        self.loop = asyncio.new_event_loop()
        self.conductor = falcon.testing.ASGIConductor(app)
        self.loop.run_until_complete(self.conductor.__aenter__())

    def request(self, method: str, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.loop.run_until_complete(self.conductor.simulate_request(method, path, **kwargs))

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
        if not isinstance(body, bytes | str):
            body = orjson.dumps(body)
        return self.request("POST", path, body=body, headers=headers or JSON_HEADERS)

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("GET", path, **kwargs)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.loop.run_until_complete(self.conductor.__aexit__(None, None, None))
        self.loop.close()

    @property
    def published(self) -> list[tuple[bytes, dict[str, Any]]]:
        return [(key, orjson.loads(value)) for key, value in self.publisher.messages]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.load({"data_dir": str(tmp_path), **overrides}, environ={})


def make_harness(
    tmp_path: Path, *, identity: Any = None, limiter: Any = None, **overrides: Any
) -> Harness:
    publisher = InMemoryPublisher()
    app = create_app(
        make_settings(tmp_path, **overrides),
        publisher=publisher,
        identity=identity or AnonymousResolver(),
        limiter=limiter or AllowAll(),
    )
    return Harness(app, publisher)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Harness]:
    harness = make_harness(tmp_path, cors_origins="https://cinema.example", max_event_bytes="4KiB")
    yield harness
    harness.close()


# ------------------------------------------------------------------------------ single events
@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_every_seed_example_is_accepted_and_published_with_its_type_as_key(
    api: Harness, path: Path
) -> None:
    result = api.post("/api/v1/events", path.read_bytes())
    assert result.status_code == 200, result.text
    event_id = result.json["event_id"]
    [(key, record)] = api.published
    assert record["event_id"] == event_id
    assert key == record["event_type"].encode()
    assert "token" not in record


def test_the_token_is_resolved_but_never_published(tmp_path: Path) -> None:
    seen: list[str | None] = []

    class Resolver:
        async def resolve(self, token: str | None) -> Identity:
            seen.append(token)
            return Identity(user_id="user-7", source="auth_service", session_id="s-1")

        async def aclose(self) -> None:
            return None

    api = make_harness(tmp_path, identity=Resolver())
    try:
        body = {**CLICK, "token": "header.payload.signature-secret"}
        assert api.post("/api/v1/events", body).status_code == 200
        bearer = {**JSON_HEADERS, "Authorization": "Bearer other.token.value"}
        assert api.post("/api/v1/events", CLICK, headers=bearer).status_code == 200
    finally:
        api.close()
    assert seen == ["header.payload.signature-secret", "other.token.value"]
    for _key, record in api.published:
        assert record["user_id"] == "user-7"
        assert record["identity_source"] == "auth_service"
        assert "secret" not in orjson.dumps(record).decode()
        assert "other.token" not in orjson.dumps(record).decode()


def test_request_id_is_taken_or_generated_and_echoed(api: Harness) -> None:
    given = api.post("/api/v1/events", CLICK, headers={**JSON_HEADERS, "X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = api.post("/api/v1/events", CLICK)
    assert len(made.headers["x-request-id"]) == 32


def test_invalid_event_is_422_with_field_errors(api: Harness) -> None:
    body = {"event": "page_view_start", "token": None, "data": {"page_view_id": "nope"}}
    result = api.post("/api/v1/events", body)
    assert result.status_code == 422
    assert result.json["error"] == "validation_failed"
    assert set(result.json["errors"]) == {"data.page_view_id", "data.page_type"}
    assert api.published == []


@pytest.mark.parametrize(
    "body",
    [b"{bad json", b"", b"\xff\xfe", b'{"a": NaN}', b"[" * 40 + b"]" * 40],
    ids=["broken", "empty", "not-utf8", "nan", "too-deep"],
)
def test_malformed_bodies_are_400(api: Harness, body: bytes) -> None:
    result = api.post("/api/v1/events", body)
    assert result.status_code == 400
    assert result.json["error"] == "malformed_body"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-Type": "application/xml"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, 415),
        ({"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}, 415),
    ],
)
def test_unsupported_media_is_415(api: Harness, headers: dict[str, str], code: int) -> None:
    result = api.post("/api/v1/events", orjson.dumps(CLICK), headers=headers)
    assert result.status_code == code
    assert result.json["error"] == "unsupported_media_type"


def test_send_beacon_text_plain_is_accepted(api: Harness) -> None:
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://cinema.example"}
    result = api.post("/api/v1/events", orjson.dumps(CLICK), headers=headers)
    assert result.status_code == 200
    assert result.headers["access-control-allow-origin"] == "https://cinema.example"


def test_gzip_body_is_accepted(api: Harness) -> None:
    headers = {**JSON_HEADERS, "Content-Encoding": "gzip"}
    result = api.post("/api/v1/events", gzip.compress(orjson.dumps(CLICK)), headers=headers)
    assert result.status_code == 200
    assert len(api.published) == 1


def test_gzip_bomb_stops_at_the_limit(api: Harness) -> None:
    bomb = gzip.compress(b" " * 50_000_000)  # 50 MB of spaces in ~50 KB
    headers = {**JSON_HEADERS, "Content-Encoding": "gzip"}
    result = api.post("/api/v1/events", bomb, headers=headers)
    assert result.status_code == 413
    assert result.json["limit"] == 4096


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"{}")[:-6]])
def test_bad_gzip_is_400(api: Harness, body: bytes) -> None:
    headers = {**JSON_HEADERS, "Content-Encoding": "gzip"}
    assert api.post("/api/v1/events", body, headers=headers).status_code == 400


def test_oversized_event_is_413(api: Harness) -> None:
    body = {**CLICK, "data": {**CLICK["data"], "element_id": "x" * 5000}}
    result = api.post("/api/v1/events", body)
    assert result.status_code == 413
    assert result.json == {
        "error": "payload_too_large",
        "message": "the request body is larger than 4096 bytes",
        "errors": {},
        "limit": 4096,
    }


def test_declared_length_over_the_request_limit_is_413_before_reading(api: Harness) -> None:
    body = b"[" + b",".join([orjson.dumps(CLICK)] * 20_000) + b"]"
    assert len(body) > 1024 * 1024
    assert api.post("/api/v1/events/batch", body).status_code == 413


# ------------------------------------------------------------------------------ batches
def test_batch_all_valid_is_200_in_order(api: Harness) -> None:
    events = [json.loads(p.read_text()) for p in SEED_FILES]
    result = api.post("/api/v1/events/batch", {"events": events})
    assert result.status_code == 200
    assert result.json["accepted"] == len(events)
    assert result.json["errors"] == {}
    assert [r["event_id"] for _k, r in api.published] == result.json["event_ids"]


def test_batch_partial_is_207_with_errors_by_index(api: Harness) -> None:
    bad = {"event": "like", "data": {"film_id": "tt1", "action": "love"}}
    too_big = {**CLICK, "data": {**CLICK["data"], "element_id": "x" * 5000}}
    result = api.post("/api/v1/events/batch", [CLICK, bad, CLICK, too_big])
    assert result.status_code == 207
    body = result.json
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert body["event_ids"][1] is None and body["event_ids"][3] is None
    assert body["errors"]["1"] == {"data.action": ["Must be one of: like, unlike."]}
    assert "_schema" in body["errors"]["3"]
    assert len(api.published) == 2


def test_batch_with_no_valid_event_is_422(api: Harness) -> None:
    result = api.post("/api/v1/events/batch", {"events": [{"event": "nope"}, 5]})
    assert result.status_code == 422
    assert set(result.json["errors"]) == {"0", "1"}
    assert result.json["error"] == "validation_failed"


@pytest.mark.parametrize("body", [{"events": []}, {"events": "x"}, {"no": 1}, b'"text"'])
def test_batch_that_is_not_a_batch_is_422(api: Harness, body: Any) -> None:
    assert api.post("/api/v1/events/batch", body).status_code == 422


def test_batch_over_the_event_count_is_413(tmp_path: Path) -> None:
    api = make_harness(tmp_path, max_batch_events=3)
    try:
        result = api.post("/api/v1/events/batch", [CLICK] * 4)
    finally:
        api.close()
    assert result.status_code == 413
    assert result.json["limit"] == 3


# ------------------------------------------------------------------------------ validate
def test_validate_is_a_dry_run(api: Harness) -> None:
    ok = api.post("/api/v1/events/validate", CLICK)
    assert ok.status_code == 200
    assert ok.json["valid"] is True
    assert ok.json["record"]["event_type"] == "element_click"
    bad = api.post("/api/v1/events/validate", {"event": "like", "data": {}})
    assert bad.status_code == 422
    assert "data.film_id" in bad.json["errors"]
    batch = api.post("/api/v1/events/validate", {"events": [CLICK, {"event": "x", "data": {}}]})
    assert batch.status_code == 422
    assert list(batch.json["errors"]) == ["1"]
    assert api.published == []


# ------------------------------------------------------------------------------ CORS
def test_cors_preflight_for_an_allowed_origin(api: Harness) -> None:
    result = api.request(
        "OPTIONS",
        "/api/v1/events",
        headers={
            "Origin": "https://cinema.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, content-encoding",
        },
    )
    assert result.status_code == 204
    assert result.headers["access-control-allow-origin"] == "https://cinema.example"
    assert "POST" in result.headers["access-control-allow-methods"]
    assert result.headers["access-control-allow-headers"] == "content-type, content-encoding"
    assert result.headers["access-control-max-age"] == "86400"
    assert "Origin" in result.headers["vary"]


def test_cors_refuses_an_unknown_origin(api: Harness) -> None:
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    result = api.request("OPTIONS", "/api/v1/events", headers=headers)
    assert "access-control-allow-origin" not in result.headers
    posted = api.post("/api/v1/events", CLICK, headers={**JSON_HEADERS, **headers})
    assert "access-control-allow-origin" not in posted.headers


def test_cors_wildcard(tmp_path: Path) -> None:
    api = make_harness(tmp_path, cors_origins="*")
    try:
        headers = {"Origin": "https://any.example", "Access-Control-Request-Method": "POST"}
        result = api.request("OPTIONS", "/api/v1/events/batch", headers=headers)
    finally:
        api.close()
    assert result.headers["access-control-allow-origin"] == "*"


# ------------------------------------------------------------------------------ rate limit
@dataclass
class Decision:
    allowed: bool
    retry_after: int = 0
    degraded: bool = False


class FixedLimiter:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision

    async def check(self, client_ip: str) -> Decision:
        return self.decision

    async def aclose(self) -> None:
        return None


def test_rate_limited_is_429_with_retry_after(tmp_path: Path) -> None:
    api = make_harness(tmp_path, limiter=FixedLimiter(Decision(False, retry_after=3)))
    try:
        result = api.post("/api/v1/events", CLICK)
        health = api.get("/healthz")
        metrics = api.get("/metrics").text
    finally:
        api.close()
    assert result.status_code == 429
    assert result.headers["retry-after"] == "3"
    assert health.status_code == 200  # only POSTs are limited
    assert "ugc_rate_limited_total 1.0" in metrics


def test_rate_limiter_failing_open_is_counted(tmp_path: Path) -> None:
    api = make_harness(tmp_path, limiter=FixedLimiter(Decision(True, degraded=True)))
    try:
        assert api.post("/api/v1/events", CLICK).status_code == 200
        metrics = api.get("/metrics").text
    finally:
        api.close()
    assert "ugc_rate_limit_fail_open_total 1.0" in metrics


class RecordingLimiter(FixedLimiter):
    def __init__(self) -> None:
        super().__init__(Decision(True))
        self.seen: list[str] = []

    async def check(self, client_ip: str) -> Decision:
        self.seen.append(client_ip)
        return self.decision


@pytest.mark.parametrize(
    ("trust", "forwarded", "expected"),
    [
        ("false", "203.0.113.9", "127.0.0.1"),  # not behind a proxy: the header is ignored
        ("true", "203.0.113.9", "203.0.113.9"),
        ("true", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the forged left entry is ignored
    ],
)
def test_rate_limit_key_cannot_be_forged(
    tmp_path: Path, trust: str, forwarded: str, expected: str
) -> None:
    limiter = RecordingLimiter()
    api = make_harness(tmp_path, limiter=limiter, trust_forwarded_for=trust)
    try:
        headers = {**JSON_HEADERS, "X-Forwarded-For": forwarded}
        api.request(
            "POST",
            "/api/v1/events",
            body=orjson.dumps(CLICK),
            headers=headers,
            remote_addr="127.0.0.1",
        )
    finally:
        api.close()
    assert limiter.seen == [expected]


# ------------------------------------------------------------------------------ Kafka down
def test_broker_down_spools_and_replays_in_order(api: Harness) -> None:
    api.publisher.available = False
    ids = [api.post("/api/v1/events", CLICK).json["event_id"] for _ in range(5)]
    assert api.app.delivery.spooling and api.app.delivery.spool.records == 5
    assert api.publisher.messages == []
    api.publisher.available = True
    api.app.delivery._wake.set()
    for _ in range(100):
        if not api.app.delivery.spooling:
            break
        api.run(asyncio.sleep(0.05))
    assert [r["event_id"] for _k, r in api.published] == ids
    assert api.app.delivery.spool.records == 0


def test_broker_down_and_no_spool_is_503(tmp_path: Path) -> None:
    api = make_harness(tmp_path, spool_max_bytes="0")
    try:
        api.publisher.available = False
        result = api.post("/api/v1/events", CLICK)
        batch = api.post("/api/v1/events/batch", [CLICK, CLICK])
        ready = api.get("/readyz")
    finally:
        api.close()
    assert result.status_code == 503
    assert result.headers["retry-after"]
    assert result.json["error"] == "spool_full"
    assert batch.status_code == 503
    assert ready.status_code == 503


# ------------------------------------------------------------------------------ service routes
def test_health_ready_and_unknown_routes(api: Harness) -> None:
    assert api.get("/healthz").json == {"status": "ok"}
    assert api.get("/readyz").json == {"status": "ready", "kafka": True, "spool": True}
    missing = api.get("/nope")
    assert missing.status_code == 404
    assert missing.json["error"] == "not_found"
    assert api.get("/api/v1/events").status_code == 405


def test_metrics_expose_the_documented_names(api: Harness) -> None:
    api.post("/api/v1/events", CLICK)
    api.post("/api/v1/events", {"event": "like", "data": {}})
    text = api.get("/metrics").text
    assert 'ugc_events_accepted_total{event_type="element_click",via="kafka"} 1.0' in text
    assert 'ugc_events_rejected_total{event_type="like",reason="validation_failed"} 1.0' in text
    assert 'ugc_identity_total{source="anonymous"} 1.0' in text
    assert 'ugc_http_request_duration_seconds_count{route="/api/v1/events"} 2.0' in text
    assert 'ugc_http_requests_total{route="/api/v1/events",status="422"} 1.0' in text
    for name in (
        "ugc_http_request_duration_seconds_bucket",
        "ugc_http_requests_total",
        "ugc_spool_records",
        "ugc_spool_bytes",
        "ugc_identity_cache_hits_total",
    ):
        assert name in text


def test_openapi_is_generated_from_the_registry(api: Harness) -> None:
    document = api.get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    post = document["paths"]["/api/v1/events"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert set(REGISTRY.names()) <= set(examples)
    assert {"200", "400", "413", "415", "422", "429", "503"} <= set(post["responses"])
    batch = document["paths"]["/api/v1/events/batch"]["post"]["responses"]
    assert {"200", "207", "422"} <= set(batch)
    assert {"Error", "BatchResult", *REGISTRY.names()} <= set(document["components"]["schemas"])
    # every example is accepted by the real endpoint
    for name in REGISTRY.names():
        assert api.post("/api/v1/events/validate", examples[name]["value"]).status_code == 200


def test_apidocs_serve_swagger_ui_locally(api: Harness) -> None:
    page = api.get("/apidocs/")
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.text
    asset = api.get("/apidocs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000
