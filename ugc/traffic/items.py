"""What the traffic model yields: ``TrafficItem`` (a body and what should happen to it) and the
``Tally`` of what was generated, by type, day, vendor, envelope and kind of breakage."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: what the collector should answer; a valid event is expected to get any 2xx
ACCEPTED = 200
MALFORMED = 400
INVALID = 422

JSON = "application/json"
BEACON = "text/plain;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class TrafficItem:
    """One request body, and what the collector is expected to do with it."""

    body: bytes
    content_type: str
    #: 200 for a valid event (any 2xx counts as a match), else 422 or 400
    expected_status: int
    #: the canonical type for a valid event; for a broken one, the type it was made from
    event_type: str
    event_id: str | None
    #: "valid", or the kind of breakage (see ``ugc.traffic.invalid.KINDS``)
    reason: str = "valid"
    envelope: str = "v1"
    #: the true event time (what the warehouse will hold when ``sent_at`` is left out)
    event_at: datetime | None = None
    session_id: str | None = None
    #: the verified user a token stands for; None for anonymous visitors and vendors
    user_id: str | None = None
    vendor_id: str | None = None
    #: the JSON payload, or None when the body is deliberately not JSON
    payload: Any = None

    @property
    def valid(self) -> bool:
        return self.reason == "valid"

    def expects(self, status: int) -> bool:
        """Whether ``status`` is what this item should get."""
        if self.valid:
            return 200 <= status < 300
        return status == self.expected_status


@dataclass
class Tally:
    """Counts of what was generated. Valid events only, except ``invalid``."""

    total: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_day: Counter[tuple[date, str]] = field(default_factory=Counter)
    by_envelope: Counter[str] = field(default_factory=Counter)
    #: film_added per (vendor_id, "YYYY-MM")
    films_by_vendor_month: Counter[tuple[str, str]] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    event_ids: set[str] = field(default_factory=set)

    @property
    def valid(self) -> int:
        return sum(self.by_type.values())

    def add(self, item: TrafficItem) -> None:
        self.total += 1
        if not item.valid:
            self.invalid[item.reason] += 1
            return
        self.by_type[item.event_type] += 1
        self.by_envelope[item.envelope] += 1
        if item.event_at is not None:
            self.by_day[(item.event_at.date(), item.event_type)] += 1
        if item.vendor_id is not None:
            month = item.event_at.strftime("%Y-%m") if item.event_at else "?"
            self.films_by_vendor_month[(item.vendor_id, month)] += 1
        if item.event_id is not None:
            self.event_ids.add(item.event_id)

    @classmethod
    def of(cls, items: Any) -> Tally:
        tally = cls()
        for item in items:
            tally.add(item)
        return tally

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "valid": self.valid,
            "by_type": dict(sorted(self.by_type.items())),
            "by_envelope": dict(sorted(self.by_envelope.items())),
            "invalid": dict(sorted(self.invalid.items())),
            "films_by_vendor_month": {
                f"{vendor} {month}": n
                for (vendor, month), n in sorted(self.films_by_vendor_month.items())
            },
        }
