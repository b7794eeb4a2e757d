"""The traffic model: every item is what it claims to be, per the production validation."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ugc.errors import ValidationFailed
from ugc.events import REGISTRY, normalise
from ugc.traffic import ACCEPTED, INVALID, MALFORMED, Tally, TrafficItem, generate, sample_items
from ugc.traffic.invalid import _REQUIRED_V1, KINDS
from ugc.traffic.samples import items_from_lines
from ugc.traffic.sender import TokenBucket, batch_outcomes
from ugc.traffic.transport import Connection, NoAnswer

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
OCTOBER = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def verdict(item: TrafficItem) -> str:
    """What the production validation says about an item's body."""
    try:
        payload = orjson.loads(item.body)
    except orjson.JSONDecodeError:
        return "malformed_json"
    try:
        normalise(payload, REGISTRY)
    except ValidationFailed:
        return "invalid"
    return "valid"


@pytest.mark.parametrize("seed", [0, 1, 2, 17])
def test_every_item_is_what_it_claims(seed: int) -> None:
    traffic = generate(3000, seed=seed, invalid_share=0.15, now=NOW, logged_in_share=0.5)
    wrong = []
    for item in traffic:
        got = verdict(item)
        if item.valid:
            assert item.expected_status == ACCEPTED
            expected = "valid"
        elif item.reason == "malformed_json":
            assert item.expected_status == MALFORMED and item.payload is None
            expected = "malformed_json"
        else:
            assert item.expected_status == INVALID
            expected = "invalid"
        if got != expected:
            wrong.append((item.reason, item.event_type, item.envelope, item.body[:200]))
    assert not wrong, wrong[:5]
    assert traffic.tally.total == 3000
    assert set(traffic.tally.invalid) == set(KINDS)


def test_the_mix_covers_every_type_both_envelopes_and_beacons() -> None:
    items = list(generate(5000, seed=5, invalid_share=0.0, now=NOW))
    types = Counter(item.event_type for item in items)
    assert set(types) == set(REGISTRY.names())
    assert Counter(item.envelope for item in items).keys() == {"v1", "v2"}
    assert any(item.content_type.startswith("text/plain") for item in items)
    v1 = [item for item in items if item.envelope == "v1"]
    assert sum(item.envelope == "v2" for item in items) < len(v1)
    assert all(item.valid for item in items)


def test_same_seed_same_traffic_other_seed_other_traffic() -> None:
    first = [item.body for item in generate(300, seed=9, now=NOW)]
    again = [item.body for item in generate(300, seed=9, now=NOW)]
    other = [item.body for item in generate(300, seed=10, now=NOW)]
    assert first == again
    assert first != other


def test_the_tally_matches_the_items() -> None:
    traffic = generate(4000, seed=3, invalid_share=0.1, start=OCTOBER[0], end=OCTOBER[1])
    items = list(traffic)
    assert traffic.tally.as_dict() == Tally.of(items).as_dict()
    valid = [item for item in items if item.valid]
    assert traffic.tally.valid == len(valid)
    assert traffic.tally.by_type == Counter(item.event_type for item in valid)
    assert sum(traffic.tally.invalid.values()) == len(items) - len(valid)
    by_day = Counter((item.event_at.date(), item.event_type) for item in valid)
    assert traffic.tally.by_day == by_day
    films = Counter(
        (item.payload["data"]["vendor_id"], "2026-10")
        for item in valid
        if item.event_type == "film_added"
    )
    assert traffic.tally.films_by_vendor_month == films
    ids = [item.event_id for item in valid if item.event_id]
    assert len(ids) == len(set(ids)) == len(traffic.tally.event_ids)


def test_a_month_of_events_stays_in_the_month_and_keeps_client_times() -> None:
    start, end = OCTOBER
    traffic = generate(6000, seed=4, invalid_share=0.0, start=start, end=end)
    items = list(traffic)
    days = {item.event_at.date() for item in items}
    assert all(start <= item.event_at < end for item in items)
    assert len(days) >= 28  # spread over the month, not bunched
    for item in items:
        incoming = normalise(item.payload, REGISTRY)
        # no sent_at in a backfill: the collector keeps the client's event time
        assert incoming.client_sent_at is None
        assert abs(incoming.client_event_at - item.event_at) < timedelta(milliseconds=1)


def test_live_traffic_carries_sent_at_with_clock_skew() -> None:
    items = list(generate(2000, seed=6, invalid_share=0.0, now=NOW))
    offsets = []
    for item in items:
        incoming = normalise(item.payload, REGISTRY)
        assert incoming.client_sent_at is not None
        assert incoming.client_sent_at >= incoming.client_event_at
        offsets.append(abs((incoming.client_event_at - item.event_at).total_seconds()))
    assert max(offsets) > 1800  # some clocks are hours off
    assert sorted(offsets)[len(offsets) // 2] < 5  # most are close


def test_vendors_are_skewed() -> None:
    traffic = generate(
        4000, seed=8, invalid_share=0.0, vendor_share=1.0, start=OCTOBER[0], end=OCTOBER[1]
    )
    list(traffic)
    per_vendor = Counter(
        {vendor: n for (vendor, _), n in traffic.tally.films_by_vendor_month.items()}
    )
    ranked = per_vendor.most_common()
    assert traffic.tally.by_type == Counter({"film_added": 4000})
    assert ranked[0][1] > 5 * ranked[len(ranked) // 2][1]  # a few vendors add most films
    assert len(ranked) > 20


def test_page_views_pair_up_with_a_plausible_time_on_page() -> None:
    items = list(generate(5000, seed=11, invalid_share=0.0, now=NOW))
    starts = {
        item.payload["data"]["page_view_id"]: item
        for item in items
        if item.event_type == "page_view_start" and item.envelope == "v1"
    }
    ends = [item for item in items if item.event_type == "page_view_end"]
    assert ends and all(item.envelope == "v1" for item in ends)
    paired = [
        (starts[e.payload["data"]["page_view_id"]], e)
        for e in ends
        if e.payload["data"]["page_view_id"] in starts
    ]
    assert len(paired) == len(ends)
    dwell = sorted((end.event_at - start.event_at).total_seconds() for start, end in paired)
    assert all(seconds > 0 for seconds in dwell)
    assert 10 < dwell[len(dwell) // 2] < 300
    for start, end in paired:
        assert start.payload["data"]["page_type"] == end.payload["data"]["page_type"]
        assert start.session_id == end.session_id


def test_video_events_use_standard_heights() -> None:
    items = list(generate(8000, seed=12, invalid_share=0.0, now=NOW))
    changes = [
        normalise(i.payload, REGISTRY).data for i in items if i.event_type == "quality_change"
    ]
    assert changes
    for data in changes:
        assert data["old_quality"] in (240, 360, 480, 720, 1080, 1440, 2160)
        assert data["old_quality"] != data["new_quality"]


def test_logged_in_visitors_get_one_token_each() -> None:
    made: list[str] = []

    def factory(user_id: str) -> str:
        made.append(user_id)
        return f"token-for-{user_id}"

    items = list(generate(3000, seed=13, invalid_share=0.0, now=NOW, token_factory=factory))
    with_token = [item for item in items if item.user_id is not None]
    assert with_token and len(with_token) < len(items)
    assert len(made) == len(set(made))  # one token per user, reused across sessions
    for item in with_token:
        assert item.payload.get("token") == f"token-for-{item.user_id}"
    film_added = [item for item in items if item.event_type == "film_added"]
    assert all(item.payload["token"] is None for item in film_added)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="invalid_share"):
        generate(10, invalid_share=1.5)
    with pytest.raises(ValueError, match="both"):
        generate(10, start=OCTOBER[0])
    with pytest.raises(ValueError, match="after"):
        generate(10, start=OCTOBER[1], end=OCTOBER[0])


def test_the_required_fields_table_agrees_with_the_registry() -> None:
    for event_type in REGISTRY:
        required = tuple(f.name for f in event_type.fields if f.required)
        assert _REQUIRED_V1[event_type.name] == required


def test_samples_are_valid_and_lines_are_sent_as_written() -> None:
    samples = sample_items()
    assert [item.event_type for item in samples] == REGISTRY.names()
    assert all(verdict(item) == "valid" for item in samples)
    lines = [samples[0].body, b"", b"{not json", b'{"event": {"event_type": "click"}}']
    items = list(items_from_lines(lines))
    assert [item.expected_status for item in items] == [ACCEPTED, MALFORMED, ACCEPTED]
    assert items[0].body == samples[0].body and items[2].event_type == "click"


def test_batch_outcomes_read_per_event_results() -> None:
    answer = {
        "accepted": 1,
        "rejected": 2,
        "event_ids": ["a", None, None],
        "errors": {"1": {"data.x": ["bad"]}, "2": {"_unavailable": ["kafka down"]}},
    }
    assert [o[:2] for o in batch_outcomes(207, answer, 3)] == [(207, "a"), (422, None), (503, None)]
    none = {"accepted": 0, "rejected": 1, "event_ids": [None], "errors": {"0": {"event": ["x"]}}}
    assert [o[:2] for o in batch_outcomes(422, none, 1)] == [(422, None)]
    assert [o[0] for o in batch_outcomes(413, {"error": "payload_too_large"}, 3)] == [413] * 3


def test_token_bucket_paces() -> None:
    async def take(n: int) -> float:
        bucket = TokenBucket(rate=200, burst=1)
        began = time.monotonic()
        for _ in range(n):
            await bucket.take()
        return time.monotonic() - began

    assert asyncio.run(take(41)) >= 0.18


def _dying_server(handled: list[bytes]):
    """Reads one request per connection, keeps it, and closes without answering: a worker
    killed with -9 after storing the event."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        handled.append(await reader.readexactly(length))
        writer.close()

    return handle


@pytest.mark.parametrize(("idempotent", "sends"), [(True, 2), (False, 1)])
def test_a_cut_exchange_is_sent_again_only_when_that_stores_nothing_twice(
    idempotent: bool, sends: int
) -> None:
    """A reused keep-alive connection closed without a byte of answer is ambiguous: the
    server may have stored the event. Only a body whose events carry their own ids is sent
    again; a second copy without an id would be a second event."""
    handled: list[bytes] = []

    async def scenario() -> None:
        server = await asyncio.start_server(_dying_server(handled), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Connection("127.0.0.1", port, timeout=5)
        await connection._connect()  # a kept-alive connection, as after an earlier exchange
        with pytest.raises(NoAnswer):
            await connection.post("/api/v1/events", b"{}", "text/plain", idempotent=idempotent)
        await connection.aclose()
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
    assert handled == [b"{}"] * sends
