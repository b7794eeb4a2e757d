"""The registry, both envelopes and the canonical record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ugc.errors import ValidationFailed
from ugc.events import (
    REGISTRY,
    RESERVED_NAMES,
    EventType,
    Identity,
    build_record,
    default_registry,
    normalise,
)
from ugc.events.columns import table_columns
from ugc.events.record import corrected_event_time
from ugc.events.registry import Int, String

SEEDS = Path(__file__).parent.parent / "data" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.json"))
NOW = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_every_seed_example_is_accepted_as_printed(path: Path) -> None:
    incoming = normalise(json.loads(path.read_text()), REGISTRY)
    record = build_record(incoming, Identity(), NOW)
    assert record["event_type"] in REGISTRY
    assert "token" not in record and "token" not in record["data"]


def test_seed002_quality_change_maps_onto_canonical_fields() -> None:
    payload = json.loads((SEEDS / "seed002_quality_change.json").read_text())
    incoming = normalise(payload, REGISTRY)
    assert incoming.event_type.name == "quality_change"
    assert incoming.data == {
        "video_id": "8bcb67fe-bde6-4645-af85-6664a9298b8c",
        "old_quality": 240,
        "new_quality": 720,
        "position_s": 3600,
    }
    assert incoming.claimed_user_id == "956939f6-7a98-4bf1-9949-500e5dd20fa0"
    assert incoming.context["country"] == "US"
    assert incoming.client_event_at == datetime(2024, 10, 3, 14, 30, tzinfo=UTC)


def test_seed002_page_view_pairs_on_its_own_event_id() -> None:
    payload = json.loads((SEEDS / "seed002_page_view.json").read_text())
    record = build_record(normalise(payload, REGISTRY), Identity(), NOW)
    assert record["event_type"] == "page_view_start"
    assert record["data"]["page_view_id"] == record["event_id"]
    assert record["context"]["referrer"] == "https://example.com/redirect"


def test_claimed_user_id_is_never_the_identity() -> None:
    payload = {"event": "like", "user_id": "u-1", "data": {"film_id": "f", "action": "like"}}
    record = build_record(normalise(payload, REGISTRY), Identity(), NOW)
    assert record["user_id"] == "anonymous"
    assert record["claimed_user_id"] == "u-1"


def test_valid_client_event_id_is_kept_and_normalised() -> None:
    payload = {
        "event": "like",
        "event_id": "6F1F7C3E-2A8A-4D8E-9C51-3F3F0E0F6B11",
        "data": {"film_id": "f", "action": "unlike"},
    }
    record = build_record(normalise(payload, REGISTRY), Identity(), NOW)
    assert record["event_id"] == "6f1f7c3e-2a8a-4d8e-9c51-3f3f0e0f6b11"


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"event": "nope", "data": {}}, "event"),
        (
            {"event": "element_click", "data": {"element_type": 5, "page_type": "x"}},
            "data.element_type",
        ),
        ({"event": "element_click", "data": {"element_type": "x"}}, "data.page_type"),
        (
            {
                "event": "quality_change",
                "data": {"video_id": "v", "old_quality": "720", "new_quality": 1},
            },
            "data.old_quality",
        ),
        (
            {
                "event": "quality_change",
                "data": {"video_id": "v", "old_quality": True, "new_quality": 1},
            },
            "data.old_quality",
        ),
        (
            {"event": "video_complete", "data": {"video_id": "v", "duration_total": "yes"}},
            "data.duration_total",
        ),
        (
            {"event": "page_view_start", "data": {"page_view_id": "not-a-uuid", "page_type": "m"}},
            "data.page_view_id",
        ),
        ({"event": "like", "data": {"film_id": "f", "action": "love"}}, "data.action"),
        ({"event": "like", "data": {"film_id": "f", "action": "like", "extra": 1}}, "data.extra"),
        (
            {"event": "like", "data": {"film_id": "f", "action": "like"}, "sent_at": "yesterday"},
            "sent_at",
        ),
        (
            {"event": "like", "data": {"film_id": "f", "action": "like"}, "event_id": "123"},
            "event_id",
        ),
        ({"event": "like", "data": "x"}, "data"),
        ({"data": {}}, "event"),
        ({"event": {"event_type": "click"}}, "event.timestamp"),
        ({"event": {"event_type": "teleport"}}, "event.event_type"),
    ],
)
def test_invalid_events_name_the_field(payload: dict, path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalise(payload, REGISTRY)
    assert path in caught.value.errors, caught.value.errors


def test_bad_v2_quality_is_reported_under_the_v2_name() -> None:
    payload = json.loads((SEEDS / "seed002_quality_change.json").read_text())
    payload["event"]["from_quality"] = "ultra"
    with pytest.raises(ValidationFailed) as caught:
        normalise(payload, REGISTRY)
    assert "event.from_quality" in caught.value.errors


@pytest.mark.parametrize("payload", [[], "x", 1, None, [{"event": "like"}]])
def test_non_objects_are_rejected(payload: object) -> None:
    with pytest.raises(ValidationFailed):
        normalise(payload, REGISTRY)


class TestEventTime:
    def test_skew_is_corrected(self) -> None:
        # the client's clock runs one hour fast; the event happened 2 s before sending
        event = NOW + timedelta(hours=1) - timedelta(seconds=2)
        sent = NOW + timedelta(hours=1)
        assert corrected_event_time(NOW, event, sent) == NOW - timedelta(seconds=2)

    def test_future_is_clamped(self) -> None:
        assert corrected_event_time(NOW, NOW + timedelta(days=1), None) == NOW

    def test_no_client_time_means_receive_time(self) -> None:
        assert corrected_event_time(NOW, None, None) == NOW

    def test_record_carries_all_three(self) -> None:
        payload = {
            "event": "like",
            "data": {"film_id": "f", "action": "like"},
            "event_at": "2026-11-23T13:00:00Z",
            "sent_at": 1795438805000,  # epoch ms: 2026-11-23T13:00:05Z
        }
        record = build_record(normalise(payload, REGISTRY), Identity(), NOW)
        assert record["client_event_at"] == "2026-11-23T13:00:00.000Z"
        assert record["client_sent_at"] == "2026-11-23T13:00:05.000Z"
        assert record["event_at"] == "2026-11-23T11:59:55.123Z"
        assert record["received_at"] == "2026-11-23T12:00:00.123Z"


def test_adding_an_event_type_is_one_registry_entry() -> None:
    registry = default_registry()
    registry.register(
        EventType(
            name="trailer_share",
            doc="A trailer was shared.",
            fields=(
                String("video_id", example="v1"),
                Int("channel_id", minimum=0, maximum=99, example=3),
            ),
        )
    )
    incoming = normalise(
        {"event": "trailer_share", "data": {"video_id": "v1", "channel_id": 3}}, registry
    )
    record = build_record(incoming, Identity(user_id="u1", source="cache"), NOW)
    assert record["event_type"] == "trailer_share"
    names = [c.name for c in table_columns(registry.get("trailer_share"))]
    assert "video_id" in names and "channel_id" in names
    with pytest.raises(ValidationFailed):
        normalise(
            {"event": "trailer_share", "data": {"video_id": "v1", "channel_id": 100}}, registry
        )
    assert "trailer_share" not in REGISTRY


def test_reserved_names_cannot_be_fields() -> None:
    registry = default_registry()
    with pytest.raises(ValueError, match="reserved"):
        registry.register(EventType(name="bad", doc="", fields=(String("user_id"),)))
    assert "user_id" in RESERVED_NAMES


def test_every_catalogued_example_is_valid() -> None:
    for event_type in REGISTRY:
        normalise({"event": event_type.name, "data": event_type.example()}, REGISTRY)
