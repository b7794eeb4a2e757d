"""Hostile input and secrets, through the real processes.

* tokens never reach Kafka, ClickHouse, Redis (only their sha256), the logs or /metrics;
* JWT algorithms are pinned: ``none``, HS256 signed with the RS256 public key (algorithm
  confusion) and a foreign RSA key all give identity_source "invalid" and no user;
* size, depth and batch limits; a flood from one client is limited without starving another,
  and a client cannot dodge the limit by writing its own X-Forwarded-For entries;
* the CORS allowlist; CLI window options are validated before anything runs; secrets are
  redacted in ``ugc config show``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.chaos.harness import (
    UGC,
    Collector,
    collector_settings,
    create_topic,
    etl,
    summary,
)
from tests.support.kafka import read_topic
from tests.support.services import AuthStandin, KafkaBroker, RedisServer
from tests.support.warehouse import WarehouseHandle, etl_env

LIKE = {"event": "like", "data": {"film_id": "tt0133093", "action": "like"}}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(alg: str, claims: dict, sign) -> str:
    head = _b64(orjson.dumps({"alg": alg, "typ": "JWT"})) + "." + _b64(orjson.dumps(claims))
    return head + "." + _b64(sign(head.encode()))


def _event(token: str | None = None, **extra) -> dict:
    return {**LIKE, "event_id": str(uuid.uuid4()), "token": token, **extra}


# ----------------------------------------------------------------------- a hardened collector
@pytest.fixture(scope="module")
def hardened(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    auth_standin: AuthStandin,
) -> Iterator[tuple[Collector, str]]:
    """No auth service (the local check decides), small limits, a rate limit, a proxy."""
    topic = f"test.sec.{uuid.uuid4().hex[:8]}"
    create_topic(kafka_broker.bootstrap, topic)
    settings = collector_settings(
        kafka_broker.bootstrap,
        topic,
        redis_server.url,
        jwt_key_file=str(auth_standin.key_path),
        max_event_bytes="4096",
        max_request_bytes="65536",
        max_batch_events="10",
        max_json_depth="8",
        rate_limit_per_second="5",
        rate_limit_burst="10",
        trust_forwarded_for="true",
        cors_origins="https://cinema.example",
    )
    with Collector(tmp_path_factory.mktemp("hardened"), settings) as collector:
        yield collector, topic


def _client_ip() -> str:
    """A fresh address per use, so rate-limit buckets in the shared Redis never collide."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def test_jwt_algorithms_are_pinned(
    hardened: tuple[Collector, str], kafka_broker: KafkaBroker, auth_standin: AuthStandin
) -> None:
    collector, topic = hardened
    public_pem = auth_standin.verification_key.encode()
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"sub": "attacker", "exp": int(time.time()) + 300}
    tokens = {
        "good": auth_standin.token("alg-user"),
        "none": _forged("none", claims, lambda _m: b""),
        "none-upper": _forged("NONE", claims, lambda _m: b""),
        "hs256-with-public-key": _forged(
            "HS256", claims, lambda m: hmac.new(public_pem, m, hashlib.sha256).digest()
        ),
        "foreign-rsa-key": jwt.encode(claims, foreign, algorithm="RS256"),
        "rs512-foreign": jwt.encode(claims, foreign, algorithm="RS512"),
    }
    sent = {}
    with httpx.Client(base_url=collector.url, timeout=10) as client:
        for name, token in tokens.items():
            event = _event(token)
            answer = client.post(
                "/api/v1/events", json=event, headers={"X-Forwarded-For": _client_ip()}
            )
            assert answer.status_code == 200, (name, answer.text)
            sent[event["event_id"]] = name
    records = {
        m.json()["event_id"]: m.json()
        for m in read_topic(kafka_broker.bootstrap, topic, timeout=20)
    }
    identity = {
        sent[i]: (r["identity_source"], r["user_id"]) for i, r in records.items() if i in sent
    }
    assert identity == {
        "good": ("local", "alg-user"),
        **{name: ("invalid", "anonymous") for name in tokens if name != "good"},
    }


def test_size_depth_and_batch_limits(hardened: tuple[Collector, str]) -> None:
    collector, _topic = hardened
    headers = {"X-Forwarded-For": _client_ip(), "Content-Type": "application/json"}
    big = _event(data={"film_id": "x" * 5000, "action": "like"})
    deep: object = "leaf"
    for _ in range(9):
        deep = [deep]
    bomb = gzip.compress(b'{"events": [' + b" " * 10_000_000 + b"]}")
    with httpx.Client(base_url=collector.url, timeout=10, headers=headers) as client:
        too_big = client.post("/api/v1/events", content=orjson.dumps(big))
        assert too_big.status_code == 413 and too_big.json()["limit"] == 4096
        deep_answer = client.post("/api/v1/events", content=orjson.dumps({**LIKE, "x": deep}))
        assert deep_answer.status_code == 400
        assert deep_answer.json()["error"] == "malformed_body"
        batch = client.post("/api/v1/events/batch", json={"events": [_event()] * 11})
        assert batch.status_code == 413 and batch.json()["limit"] == 10
        inflated = client.post(
            "/api/v1/events/batch", content=bomb, headers={"Content-Encoding": "gzip"}
        )
        assert inflated.status_code == 413
        assert client.post("/api/v1/events/batch", json={"events": [_event()] * 10}).is_success


def test_a_flood_from_one_client_is_limited_without_starving_another(
    hardened: tuple[Collector, str],
) -> None:
    """Rate 5/s, burst 10. The flooder sends 100 requests as fast as it can; a neighbour sends
    one request for every ten of the flood (10 in all: within its own burst) and is never
    refused. Behind the proxy only the last X-Forwarded-For entry counts, so the flooder
    cannot get a fresh bucket by writing someone else's address first."""
    collector, _topic = hardened
    flooder, neighbour = _client_ip(), _client_ip()
    statuses: list[int] = []
    neighbour_statuses: list[int] = []
    retry_after: set[str] = set()
    with httpx.Client(base_url=collector.url, timeout=10) as client:
        began = time.monotonic()
        for index in range(100):
            answer = client.post(
                "/api/v1/events", json=_event(), headers={"X-Forwarded-For": flooder}
            )
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                retry_after.add(answer.headers.get("Retry-After", ""))
                assert answer.json()["error"] == "rate_limited"
            if index % 10 == 0:
                spoof = f"{_client_ip()}, {neighbour}"  # the client wrote the first entry
                neighbour_statuses.append(
                    client.post(
                        "/api/v1/events", json=_event(), headers={"X-Forwarded-For": spoof}
                    ).status_code
                )
        elapsed = time.monotonic() - began
        dodge = client.post(
            "/api/v1/events",
            json=_event(),
            headers={"X-Forwarded-For": f"{_client_ip()}, {flooder}"},
        )
    allowed = statuses.count(200)
    assert set(statuses) <= {200, 429}
    assert allowed <= 10 + 5 * elapsed + 1, (allowed, elapsed)
    assert statuses.count(429) >= 100 - (10 + 5 * elapsed + 1)
    assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after)
    assert neighbour_statuses == [200] * 10
    assert dodge.status_code == 429


def test_cors_allowlist(hardened: tuple[Collector, str]) -> None:
    collector, _topic = hardened
    preflight = {"Access-Control-Request-Method": "POST"}
    with httpx.Client(base_url=collector.url, timeout=10) as client:
        ok = client.options(
            "/api/v1/events", headers={"Origin": "https://cinema.example", **preflight}
        )
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == "https://cinema.example"
        assert "POST" in ok.headers["access-control-allow-methods"]
        evil = client.options(
            "/api/v1/events", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in evil.headers
        assert "access-control-allow-methods" not in evil.headers
        posted = client.post(
            "/api/v1/events",
            json=_event(),
            headers={"Origin": "https://evil.example", "X-Forwarded-For": _client_ip()},
        )
        assert posted.status_code == 200  # CORS is the browser's guard, not authentication
        assert "access-control-allow-origin" not in posted.headers
        suffix = client.options(
            "/api/v1/events", headers={"Origin": "https://cinema.example.evil.org", **preflight}
        )
        assert "access-control-allow-origin" not in suffix.headers


# -------------------------------------------------------------- tokens leak nowhere
def test_tokens_never_reach_kafka_clickhouse_redis_logs_or_metrics(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    auth_standin: AuthStandin,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """Distinctive tokens in every place a client can put one (body, Authorization header,
    batch, dry run, broken and malformed bodies, even the query string), through the auth
    service, the Redis cache, the local fallback and the ETL, with debug (access) logs on;
    then every byte the system kept is searched."""
    create_topic(kafka_broker.bootstrap, topic_name)
    settings = collector_settings(
        kafka_broker.bootstrap,
        topic_name,
        redis_server.url,
        auth_url=auth_standin.url,
        jwt_key_file=str(auth_standin.key_path),
        log_level="debug",
    )
    valid = [auth_standin.token(f"leak-user-{i}") for i in range(6)]
    forged = [
        _forged("RS256", {"sub": "x"}, lambda _m, i=i: f"FORGED{i}".encode() * 8) for i in range(4)
    ]
    tokens = valid + forged
    with Collector(tmp_path, settings) as collector:
        with httpx.Client(base_url=collector.url, timeout=10) as client:
            for token in tokens:
                assert client.post("/api/v1/events", json=_event(token)).status_code == 200
                bearer = {"Authorization": f"Bearer {token}"}
                assert client.post("/api/v1/events", json=_event(), headers=bearer).is_success
                assert client.post(
                    "/api/v1/events/batch", json={"events": [_event(token), _event(token)]}
                ).is_success
                dry = client.post("/api/v1/events/validate", json=_event(token))
                assert dry.status_code == 200 and token not in dry.text
                broken = client.post(
                    "/api/v1/events", json={"event": "like", "token": token, "data": {}}
                )
                assert broken.status_code == 422 and token not in broken.text
                truncated = client.post(
                    "/api/v1/events", content=json.dumps(_event(token))[:-3].encode()
                )
                assert truncated.status_code == 400 and token not in truncated.text
                client.post(f"/api/v1/events?token={token}", json=_event())
            metrics = client.get("/metrics").text
        collector.wait_spool_drained()
    assert auth_standin.calls() > 0  # the auth service path was taken
    log = collector.log_path.read_text(errors="replace")
    assert '"access"' in log or "/api/v1/events" in log, "debug access logs were not on"
    kafka = b"".join(
        (m.key or b"") + m.value for m in read_topic(kafka_broker.bootstrap, topic_name)
    )
    loaded = etl(kafka_broker.bootstrap, topic_name, server_warehouse)
    assert summary(loaded)["loaded"] > 0
    with server_warehouse.open() as warehouse:
        tables = [
            name
            for (name,) in warehouse.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase()"
            )
        ]
        clickhouse = "".join(repr(warehouse.query(f"SELECT * FROM {t}")) for t in tables)
    store = redis.Redis.from_url(redis_server.url)
    cached = b"".join(k + _redis_value(store, k) for k in store.scan_iter("ugc:*"))
    places = {
        "kafka": kafka.decode(errors="replace"),
        "clickhouse": clickhouse,
        "redis": cached.decode(errors="replace"),
        "collector log": log,
        "etl log": loaded.stdout + loaded.stderr,
        "metrics": metrics,
    }
    for token in tokens:
        signature = token.rsplit(".", 1)[1]
        leaks = [where for where, text in places.items() if signature in text]
        assert not leaks, f"token found in {leaks}"
    for token in valid:  # the cache holds the token's sha256, never the token
        assert hashlib.sha256(token.encode()).hexdigest() in places["redis"]


# ---------------------------------------------------------------------------- the CLI
INJECTIONS = [
    ["etl", "run", "--since", "2024-01-01' OR 1=1 --"],
    ["etl", "run", "--until", "2024-01-01'); DROP TABLE load_ledger; --"],
    ["etl", "run", "--replay", "--since", "now() - 1"],
    ["marts", "build", "--month", "2024-01'; DROP TABLE etl_runs; --"],
    ["marts", "build", "--month", "2024-13"],
    ["quality", "check", "--no-docs", "--since", "1' OR '1'='1"],
    ["quality", "check", "--no-docs", "--until", "2024-01-01 UNION SELECT 1"],
]


@pytest.mark.parametrize("args", INJECTIONS, ids=lambda a: " ".join(a[:2]) + " " + a[-2])
def test_cli_window_options_are_validated_before_anything_runs(
    args: list[str], kafka_broker: KafkaBroker, server_warehouse: WarehouseHandle
) -> None:
    env = etl_env(kafka_broker.bootstrap, "test.never-created", server_warehouse.url)
    before = server_warehouse.rows(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
    )
    result = subprocess.run([UGC, *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    after = server_warehouse.rows(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
    )
    assert after == before
    assert server_warehouse.scalar("SELECT count() FROM etl_runs") == 0


def test_secrets_come_from_the_environment_or_files_and_are_redacted(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    key_file = tmp_path / "jwt.key"
    key_file.write_text(f"file-secret-{marker}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
    env |= {
        "UGC_JWT_KEY": f"env-secret-{marker}",
        "UGC_JWT_ALGORITHMS": "HS256",
        "UGC_CLICKHOUSE_URL": f"clickhouse://etl:ch-{marker}@db.example:9000/ugc",
        "UGC_REDIS_URL": f"redis://:redis-{marker}@cache.example:6379/0",
        "UGC_AUTH_URL": f"https://svc:auth-{marker}@auth.example",
    }
    for extra in ({}, {"UGC_JWT_KEY": "", "UGC_JWT_KEY_FILE": str(key_file)}):
        for flags in ([], ["--json"]):
            shown = subprocess.run(
                [UGC, "config", "show", *flags],
                env=env | extra,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert shown.returncode == 0, shown.stderr
            assert marker not in shown.stdout + shown.stderr
            assert "***" in shown.stdout
    # no command takes a secret as a flag (it would show in `ps` and shell history)
    helps = "".join(
        subprocess.run([UGC, *c, "--help"], capture_output=True, text=True, env=env).stdout
        for c in (["serve"], ["etl", "run"], ["quality", "check"], ["marts", "build"])
    )
    assert "--jwt" not in helps and "password" not in helps.lower()


def _redis_value(store: redis.Redis, key: bytes) -> bytes:
    """Everything a key holds, whatever its type (the rate limiter's buckets are hashes, and
    the session's Redis may still hold other tests' keys)."""
    kind = store.type(key)
    if kind == b"string":
        return store.get(key) or b""
    if kind == b"hash":
        return b"".join(k + v for k, v in store.hgetall(key).items())
    if kind == b"list":
        return b"".join(store.lrange(key, 0, -1))
    if kind == b"set":
        return b"".join(store.smembers(key))
    if kind == b"zset":
        return b"".join(store.zrange(key, 0, -1))
    return b""  # expired between the scan and now
