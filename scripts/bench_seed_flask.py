"""The seed-style baseline for scripts/bench_collector.py (issue 6): Flask, sync, marshmallow.

What the seeds (/work/shared/seeds/004) describe: a Flask app takes the JSON event, validates it
with marshmallow schemas, adds ``user_id`` ("anonymous" without a token) and a ``timestamp``,
drops the token and publishes to one Kafka topic keyed by the event name. Served by gunicorn
with its default sync worker (one request at a time per worker), as a Flask app usually is.

Validation is ugc's marshmallow reference path (``load_v1``; the nested v2 envelope through
``normalise``), so both servers accept exactly the same events. Publishing is fire-and-forget,
as the seeds built it: ``produce()`` then ``poll(0)``, no wait for the broker's ack (the
collector answers only after the ack, a stronger promise that costs it latency).

    SEED_KAFKA_BOOTSTRAP=127.0.0.1:9092 SEED_KAFKA_TOPIC=bench.events \\
        gunicorn --workers 2 --pythonpath scripts,. bench_seed_flask:app
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from confluent_kafka import Producer
from flask import Flask, jsonify, request
from marshmallow import ValidationError

from ugc.errors import ValidationFailed
from ugc.events import REGISTRY, normalise
from ugc.events.envelopes import load_v1

app = Flask(__name__)
TOPIC = os.environ.get("SEED_KAFKA_TOPIC", "ugc.events")
_producer: Producer | None = None


def producer() -> Producer:
    """One producer per worker, made on first use (after gunicorn's fork)."""
    global _producer  # noqa: PLW0603 - the seeds' module-level client
    if _producer is None:
        _producer = Producer(
            {
                "bootstrap.servers": os.environ.get("SEED_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                "linger.ms": 5,
            }
        )
    return _producer


@app.post("/api/v1/events")
def events():  # noqa: ANN201
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        return jsonify(error="malformed"), 400
    try:
        if isinstance(payload.get("event"), dict):
            incoming = normalise(payload, REGISTRY)
        else:
            incoming = load_v1(payload, REGISTRY)
    except (ValidationFailed, ValidationError) as exc:
        return jsonify(error="validation_failed", errors=getattr(exc, "errors", None)), 422
    message = dict(incoming.data)
    message["event"] = incoming.event_type.name
    message["user_id"] = "anonymous"
    message["timestamp"] = datetime.now(UTC).isoformat()
    kafka = producer()
    kafka.produce(
        TOPIC, json.dumps(message, default=str).encode(), key=incoming.event_type.name.encode()
    )
    kafka.poll(0)
    return jsonify(status="accepted"), 200


@app.get("/healthz")
def healthz():  # noqa: ANN201
    return "ok"
