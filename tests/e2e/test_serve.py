"""`ugc serve` as a real process: gunicorn, two ASGI workers, real broker and Redis."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.kafka import read_topic
from tests.support.services import KafkaBroker, RedisServer, free_port, wait_for

UGC = str(Path(sys.executable).parent / "ugc")
SEEDS = sorted((Path(__file__).parent.parent / "data" / "seeds").glob("*.json"))


@pytest.fixture
def serve(
    tmp_path: Path, kafka_broker: KafkaBroker, redis_server: RedisServer, topic_name: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UGC_", "PROMETHEUS_"))}
    env |= {
        "UGC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "UGC_KAFKA_TOPIC": topic_name,
        "UGC_REDIS_URL": redis_server.url,
        "UGC_DATA_DIR": str(tmp_path / "data"),
        "UGC_CORS_ORIGINS": "https://cinema.example",
    }
    created = subprocess.run(
        [UGC, "topic", "create", "--partitions", "2"], env=env, capture_output=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [UGC, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/readyz", timeout=1).status_code == 200, 30, "ugc serve")
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def test_serve_accepts_publishes_and_shuts_down_cleanly(
    serve: tuple[str, subprocess.Popen[bytes]],
    kafka_broker: KafkaBroker,
    topic_name: str,
    tmp_path: Path,
) -> None:
    url, process = serve
    bodies = [p.read_bytes() for p in SEEDS]
    with httpx.Client(base_url=url, timeout=10) as client:
        ids = []
        for body in bodies:
            result = client.post(
                "/api/v1/events", content=body, headers={"Content-Type": "application/json"}
            )
            assert result.status_code == 200, result.text
            ids.append(result.json()["event_id"])
        beacon = client.post(
            "/api/v1/events",
            content=bodies[0],
            headers={
                "Content-Type": "text/plain;charset=UTF-8",
                "Origin": "https://cinema.example",
            },
        )
        assert beacon.status_code == 200
        assert beacon.headers["access-control-allow-origin"] == "https://cinema.example"
        ids.append(beacon.json()["event_id"])
        events = [json.loads(b) for b in bodies]
        batch = client.post(
            "/api/v1/events/batch",
            content=gzip.compress(orjson.dumps({"events": events})),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert batch.status_code == 200, batch.text
        ids += batch.json()["event_ids"]
        assert client.post("/api/v1/events", content=b"{").status_code == 400
        preflight = client.options(
            "/api/v1/events",
            headers={"Origin": "https://cinema.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert client.get("/openapi.json").json()["openapi"] == "3.1.0"
        assert client.get("/apidocs/").status_code == 200
        metrics = client.get("/metrics").text  # summed over both workers
    accepted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ugc_events_accepted_total{")
    )
    assert accepted == len(ids)
    assert 'ugc_events_rejected_total{event_type="unknown",reason="malformed_body"} 1.0' in metrics

    messages = read_topic(kafka_broker.bootstrap, topic_name, expect=len(ids))
    assert sorted(m.json()["event_id"] for m in messages) == sorted(ids)
    assert all(m.key == m.json()["event_type"].encode() for m in messages)

    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    log = (tmp_path / "serve.log").read_text()
    assert log.count('"msg":"collector worker stopped"') == 2
    assert "Traceback" not in log
    # nothing was left in the spool
    assert not list((tmp_path / "data" / "spool").glob("*.seg"))
