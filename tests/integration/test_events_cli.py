"""The sender and ``ugc events`` against a real HTTP server started here on a free port.

The server is a small Falcon ASGI app under uvicorn that validates with the production
``ugc.events.normalise`` and records the ids it accepted; it stands in for the collector's
HTTP contract (200 + event_id, 400, 422; batches: ids and errors by index) so the sender's counting,
pacing and error paths are tested without Kafka. The whole path is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import falcon
import falcon.asgi
import httpx
import orjson
import pytest
import uvicorn

from tests.support.services import free_port, wait_for
from ugc.cli import main
from ugc.errors import BadInput, Unavailable, ValidationFailed
from ugc.events import REGISTRY, normalise
from ugc.traffic import generate, run, sample_items
from ugc.traffic.samples import items_from_lines
from ugc.traffic.sender import EVENTS_PATH
from ugc.traffic.transport import Connection, HttpxPoster, plain_http


class _Events:
    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.tokens: Counter[str] = Counter()
        self.requests = 0

    def _one(self, payload: Any) -> tuple[int, dict[str, Any]]:
        try:
            incoming = normalise(payload, REGISTRY)
        except ValidationFailed as exc:
            return 422, {"errors": exc.errors}
        event_id = incoming.event_id or str(uuid.uuid4())
        self.accepted.append(event_id)
        if incoming.token:
            self.tokens[incoming.token] += 1
        return 200, {"event_id": event_id}

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        self.requests += 1
        try:
            payload = orjson.loads(await req.stream.read())
        except orjson.JSONDecodeError:
            resp.status, resp.media = 400, {"error": "malformed_body"}
            return
        status, resp.media = self._one(payload)
        resp.status = status

    async def on_post_batch(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """The collector's batch answer: ids by index, errors keyed by index."""
        self.requests += 1
        body = orjson.loads(await req.stream.read())
        event_ids: list[str | None] = []
        errors = {}
        for index, payload in enumerate(body["events"]):
            status, answer = self._one(payload)
            event_ids.append(answer.get("event_id"))
            if status != 200:
                errors[str(index)] = answer["errors"]
        accepted = sum(event_id is not None for event_id in event_ids)
        resp.status = 200 if not errors else 207 if accepted else 422
        resp.media = {
            "accepted": accepted,
            "rejected": len(errors),
            "event_ids": event_ids,
            "errors": errors,
        }


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _Events]]:
    resource = _Events()
    app = falcon.asgi.App()
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.default_media_type = "application/json"
    app.add_route("/api/v1/events", resource)
    app.add_route("/api/v1/events/batch", resource, suffix="batch")
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_keep_alive=1,  # short, so a test can see an idle connection closed
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_for(lambda: uv.started, 10, "the stand-in HTTP server")
    yield f"http://127.0.0.1:{port}", resource
    uv.should_exit = True
    thread.join(5)


def test_generated_traffic_is_counted_exactly(server: tuple[str, _Events]) -> None:
    url, resource = server
    before = len(resource.accepted)
    traffic = generate(600, seed=21, invalid_share=0.2)
    report = run(url, traffic, concurrency=8)
    tally = traffic.tally
    assert report.sent == 600 and report.requests == 600
    assert report.mismatches == 0, report.mismatch_samples
    assert report.accepted == tally.valid
    assert report.by_status[400] == tally.invalid["malformed_json"]
    assert report.by_status[422] == sum(tally.invalid.values()) - tally.invalid["malformed_json"]
    assert sorted(report.accepted_ids) == sorted(resource.accepted[before:])
    assert tally.event_ids <= set(report.accepted_ids)
    lat = report.latency()
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]


def test_batches_are_counted_per_event(server: tuple[str, _Events]) -> None:
    url, resource = server
    before = len(resource.accepted)
    traffic = generate(500, seed=22, invalid_share=0.2)
    report = run(url, traffic, concurrency=4, batch_size=25)
    malformed = traffic.tally.invalid["malformed_json"]
    assert report.sent == 500
    assert report.mismatches == 0, report.mismatch_samples
    assert report.accepted == traffic.tally.valid
    assert sorted(report.accepted_ids) == sorted(resource.accepted[before:])
    # the not-JSON items cannot ride in a batch: they go one by one
    assert report.requests <= 500 // 25 + 4 + malformed


def test_the_rate_is_roughly_honoured(server: tuple[str, _Events]) -> None:
    url, _ = server
    report = run(url, generate(150, seed=23), rate=150, concurrency=8)
    assert report.sent == 150
    assert report.elapsed_s >= 0.7  # 150 events at 150/s: about a second, never a burst
    assert report.rate < 220


def test_a_duration_stops_an_endless_stream(server: tuple[str, _Events]) -> None:
    url, _ = server
    began = time.monotonic()
    report = run(url, generate(None, seed=24), rate=100, concurrency=2, duration=0.6)
    assert 0.5 <= time.monotonic() - began < 5  # loose: the host may be busy
    assert 1 <= report.sent <= 100  # at most 0.6 s x 100/s plus the bucket's burst


def test_both_transports_give_the_same_answers(server: tuple[str, _Events]) -> None:
    url, _ = server
    valid, broken = sample_items(["like"])[0], next(items_from_lines([b"{oops"]))

    async def exchange() -> list[tuple[int, bytes]]:
        host, port = plain_http(url)  # type: ignore[misc]
        connection = Connection(host, port, timeout=5)
        async with httpx.AsyncClient() as client:
            poster = HttpxPoster(client, url)
            answers = []
            for item in (valid, broken):
                for transport in (connection, poster):
                    answers.append(await transport.post(EVENTS_PATH, item.body, item.content_type))
        await connection.aclose()
        return answers

    answers = asyncio.run(exchange())
    assert [status for status, _ in answers] == [200, 200, 400, 400]
    assert (
        orjson.loads(answers[0][1]) == orjson.loads(answers[1][1]) == {"event_id": valid.event_id}
    )


def test_a_connection_the_server_closed_while_idle_is_reopened(
    server: tuple[str, _Events],
) -> None:
    url, _ = server

    async def twice() -> list[int]:
        host, port = plain_http(url)  # type: ignore[misc]
        connection = Connection(host, port, timeout=5)
        first = await connection.post(EVENTS_PATH, sample_items(["like"])[0].body, "text/plain")
        await asyncio.sleep(1.6)  # the server's keep-alive timeout is 1 s
        second = await connection.post(EVENTS_PATH, sample_items(["like"])[0].body, "text/plain")
        await connection.aclose()
        return [first[0], second[0]]

    assert asyncio.run(twice()) == [200, 200]


def test_nothing_listening_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot connect"):
        run(f"http://127.0.0.1:{free_port()}", generate(5))
    with pytest.raises(BadInput):
        run("ftp://example", generate(5))


# ------------------------------------------------------------------------------ the CLI
def ugc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_cli_generate_prints_a_json_summary(
    server: tuple[str, _Events], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = server
    code, out, err = ugc(
        capsys, "events", "generate", "--url", url, "--count", "200", "--invalid-share", "0.1",
        "--seed", "5", "--month", "2026-10", "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = orjson.loads(out)
    assert summary["sent"] == 200
    assert summary["seed"] == 5
    assert summary["mismatches"] == 0
    assert summary["accepted"] == summary["generated"]["valid"]
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "max"}


def test_cli_generate_prints_a_table(
    server: tuple[str, _Events], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = server
    code, out, _ = ugc(
        capsys, "events", "generate", "--url", url, "--count", "100", "--rate", "500",
        "--batch-size", "10", "--concurrency", "2",
    )  # fmt: skip
    assert code == 0
    assert "sent       100 events" in out
    assert ", seed " in out  # a random seed, printed so the run can be repeated
    assert "mismatches 0" in out
    assert "latency    p50" in out


def test_cli_generate_hands_out_tokens_from_a_file(
    server: tuple[str, _Events], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    url, resource = server
    path = tmp_path / "tokens.txt"
    path.write_text("token-a\ntoken-b\n\n")
    resource.tokens.clear()
    code, out, _ = ugc(
        capsys, "events", "generate", "--url", url, "--count", "300", "--invalid-share", "0",
        "--tokens-file", str(path), "--json",
    )  # fmt: skip
    assert code == 0
    assert set(resource.tokens) == {"token-a", "token-b"}
    assert orjson.loads(out)["accepted"] == 300


def test_cli_send_samples_and_lines(
    server: tuple[str, _Events], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    url, _ = server
    code, out, _ = ugc(capsys, "events", "send", "--url", url)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["200", name] for name in REGISTRY.names()]
    code, out, _ = ugc(capsys, "events", "send", "--url", url, "--type", "like", "--json")
    assert code == 0 and orjson.loads(out)["status"] == 200
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "like", "data": {"film_id": "f", "action": "like"}}\n\n{broken\n')
    code, out, err = ugc(capsys, "events", "send", "--url", url, "--file", str(path))
    assert code == 2
    assert out.splitlines()[0].startswith("200 like")
    assert out.splitlines()[1].startswith("400 ?")
    assert err.strip() == "error: 1 of 2 events were rejected"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--rate", "-1"], "--rate must not be negative"),
        (["generate", "--count", "0"], "--count must be at least 1"),
        (["generate", "--since", "2026-10-01"], "give both --since and --until"),
        (["generate", "--since", "2026-10-02", "--until", "2026-10-01"], "--until must be after"),
        (["generate", "--since", "yesterday", "--until", "2026-10-01"], "--since: not an ISO"),
        (["generate", "--month", "2026-13"], "--month: not YYYY-MM"),
        (["generate", "--invalid-share", "2"], "invalid_share must be between 0 and 1"),
        (["generate", "--url", "localhost:8000"], "--url must start with http"),
        (["send", "--type", "nope"], "unknown event type 'nope'"),
        (["send", "--file", "/nonexistent/events.jsonl"], "cannot read"),
    ],
)
def test_cli_bad_flags_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = ugc(capsys, "events", *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_cli_connection_refused_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = ugc(capsys, "events", "generate", "--url", url, "--count", "3")
    assert code == 4
    assert len(err.strip().splitlines()) == 1
    assert "cannot connect to the collector" in err
    code, _, err = ugc(capsys, "events", "send", "--url", url)
    assert code == 4
