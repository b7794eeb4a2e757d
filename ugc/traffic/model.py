"""A realistic synthetic traffic model: who visits, what they do, in which request shape.

Pure Python, no I/O, fully determined by its seed. ``generate(count, seed=...)`` yields
``TrafficItem``s: ready-to-POST bodies that each know whether the collector should accept
them (and, when not, why and with which status). ``Traffic.tally`` counts what was yielded
by type, day, vendor, envelope and rejection reason, so a test can assert exact numbers
downstream (Kafka, ClickHouse, marts).

The model:

* **Visitors** open sessions (session starts follow an evening-heavy daily profile). Some are
  logged in and carry a token from the caller's ``token_factory`` (one per user, reused for
  the whole session), most are anonymous. Each visitor has a device, a country and a clock
  skew (most clocks are close, a few are minutes or hours off).
* A **session** is a chain of page views: ``page_view_start`` ... ``page_view_end`` with the
  same ``page_view_id`` and a lognormal time on page; inside a page, clicks on films,
  trailers, categories, persons and buttons; on film pages, playback (``quality_change``
  between standard heights, sometimes ``video_complete``) and likes/unlikes; on search pages,
  ``search_filter``. ``page_view_end`` is often sent as ``text/plain`` (``sendBeacon``).
* About ``v2_share`` of sessions come from an older client that speaks the seed-002 envelope
  (``click``, ``page_view``, ``search_filter_use``, ``quality_change``, ``video_complete``;
  a v2 page view has no end event, and likes are not part of that contract).
* **Vendors** add films server to server (``film_added``); vendor ids follow a Zipf law so a
  few vendors add most films, which gives the monthly "films per vendor" mart a shape.
* ``invalid_share`` of items are broken on purpose (see ``ugc.traffic.invalid``).

Times: with ``start``/``end`` every event time falls in ``[start, end)`` and ``sent_at`` is
left out by default, so the collector keeps the client's event time (a backfill; with
``sent_at`` the collector would re-base the time on its own clock). Without a range the
window is the six hours before ``now`` and ``sent_at`` is included, with clock skew.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ugc.events import format_ts
from ugc.traffic import invalid
from ugc.traffic.items import ACCEPTED, BEACON, JSON, Tally, TrafficItem

PAGE_TYPES = ("main", "movie", "category", "person", "search", "promotion", "profile")
_PAGE_WEIGHTS = (18, 35, 15, 8, 12, 7, 5)
ELEMENT_TYPES = ("movie", "trailer", "category", "person", "button")
_ELEMENT_WEIGHTS = (40, 15, 20, 10, 15)
BUTTONS = ("play", "subscribe", "share", "watch_later", "login", "next_episode")
QUALITIES = (240, 360, 480, 720, 1080, 1440, 2160)
_QUALITY_WEIGHTS = (3, 6, 12, 30, 35, 6, 8)
GENRES = ("drama", "comedy", "sci-fi", "thriller", "documentary", "animation", "horror", "crime")
COUNTRIES = ("RU", "KZ", "BY", "US", "DE", "RS", "AM", "GE")
_COUNTRY_WEIGHTS = (55, 10, 8, 8, 6, 5, 4, 4)
DEVICES = ("desktop", "mobile", "tablet", "tv")
_DEVICE_WEIGHTS = (45, 40, 7, 8)
SEARCH_WORDS = ("matrix", "star", "love", "war", "city", "night", "ocean", "king", "dog", "")
_WORDS = ("Last", "Silent", "Red", "Winter", "Dark", "Golden", "Lost", "Iron", "Blue", "Wild")
_NOUNS = ("River", "Station", "Garden", "Empire", "Road", "Harbour", "Machine", "Summer")
SITE = "https://cinema.example"
#: without a time range, events happen in this window before ``now``
LIVE_WINDOW = timedelta(hours=6)

#: a daily profile of when sessions start (UTC hour -> relative weight): evenings peak
_HOURLY = (3, 2, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 7, 7, 7, 8, 9, 11, 14, 16, 16, 14, 10, 6)


@dataclass(frozen=True)
class TrafficOptions:
    """Knobs of the model; the defaults give a plausible site."""

    invalid_share: float = 0.05
    #: share of sessions from the old client that speaks the seed-002 envelope
    v2_share: float = 0.1
    #: share of visitors who are logged in (they carry a token only with a token_factory)
    logged_in_share: float = 0.35
    #: share of items that are vendors' film additions
    vendor_share: float = 0.04
    vendors: int = 40
    films: int = 5000
    users: int = 20000
    #: include the client's sent_at; None means "only without a time range" (see module doc)
    include_sent_at: bool | None = None
    #: share of valid events that carry a client-made event_id (the rest get one server-side)
    event_id_share: float = 0.95
    start: datetime | None = None
    end: datetime | None = None
    now: datetime | None = None
    token_factory: Callable[[str], str | None] | None = None

    def __post_init__(self) -> None:
        for name in ("invalid_share", "v2_share", "logged_in_share", "vendor_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.vendors < 1 or self.films < 1 or self.users < 1:
            raise ValueError("vendors, films and users must be at least 1")
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start is not None and self.end is not None:
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("start and end must be timezone-aware")
            if self.end <= self.start:
                raise ValueError("end must be after start")


def generate(count: int | None = 1000, seed: int = 0, **options: Any) -> Traffic:
    """``count`` items (None: endless) from a model seeded with ``seed``.

    ``options`` are ``TrafficOptions`` fields. Iterate the result; ``result.tally`` counts
    what has been yielded so far.
    """
    return Traffic(TrafficOptions(**options), seed=seed, count=count)


@dataclass
class _Visitor:
    user_id: str | None
    token: str | None
    country: str
    device: str
    skew: timedelta
    v2: bool


class Traffic:
    """An iterable of ``TrafficItem``s (see the module docstring); keeps a ``Tally``."""

    def __init__(self, options: TrafficOptions, seed: int = 0, count: int | None = 1000) -> None:
        self.options = options
        self.seed = seed
        self.count = count
        self.tally = Tally()
        self._rng = random.Random(seed)
        now = options.now or datetime.now(UTC)
        if options.start is not None and options.end is not None:
            self.start, self.end = options.start, options.end
        else:
            self.start, self.end = now - LIVE_WINDOW, now
        self.include_sent_at = (
            options.include_sent_at
            if options.include_sent_at is not None
            else options.start is None
        )
        self._vendor_cum = _cumulative([1.0 / (k**1.1) for k in range(1, options.vendors + 1)])
        self._film_cum = _cumulative([1.0 / (k**0.9) for k in range(1, options.films + 1)])
        self._tokens: dict[str, str | None] = {}
        self._films_added = 0

    def __iter__(self) -> Iterator[TrafficItem]:
        produced = 0
        pending: list[TrafficItem] = []
        rng = self._rng
        while self.count is None or produced < self.count:
            if rng.random() < self.options.vendor_share:
                item = self._film_added()
            else:
                if not pending:
                    pending = self._session()[::-1]
                    if not pending:
                        continue
                item = pending.pop()
            if rng.random() < self.options.invalid_share:
                item = invalid.corrupt(item, rng)
            produced += 1
            self.tally.add(item)
            yield item

    # ------------------------------------------------------------------ people and clocks
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _visitor(self) -> _Visitor:
        rng, opts = self._rng, self.options
        user_id = token = None
        if rng.random() < opts.logged_in_share:
            user_id = str(uuid.UUID(int=rng.randrange(opts.users) + 1, version=4))
            if opts.token_factory is not None:
                if user_id not in self._tokens:
                    self._tokens[user_id] = opts.token_factory(user_id)
                token = self._tokens[user_id]
        roll = rng.random()
        if roll < 0.80:
            skew = timedelta(milliseconds=rng.gauss(0, 800))
        elif roll < 0.95:
            skew = timedelta(seconds=rng.uniform(-300, 300))
        else:
            skew = timedelta(hours=rng.choice((-3, -1, 1, 2, 5)), seconds=rng.uniform(-60, 60))
        return _Visitor(
            user_id=user_id,
            token=token,
            country=rng.choices(COUNTRIES, _COUNTRY_WEIGHTS)[0],
            device=rng.choices(DEVICES, _DEVICE_WEIGHTS)[0],
            skew=skew,
            v2=rng.random() < opts.v2_share,
        )

    def _moment(self) -> datetime:
        """A session start in the window, following the daily profile."""
        rng = self._rng
        span = (self.end - self.start).total_seconds()
        for _ in range(20):
            moment = self.start + timedelta(seconds=rng.random() * span)
            if span < 86400 or rng.random() * 16 < _HOURLY[moment.hour]:
                return moment
        return moment

    def _film(self) -> str:
        index = bisect.bisect_left(self._film_cum, self._rng.random() * self._film_cum[-1])
        return f"tt{1000000 + index:07d}"

    # ------------------------------------------------------------------ sessions
    def _session(self) -> list[TrafficItem]:
        rng = self._rng
        visitor = self._visitor()
        session_id = self._uuid() if rng.random() < 0.9 else None
        clock = self._moment()
        items: list[TrafficItem] = []
        pages = min(1 + int(rng.expovariate(1 / 3.0)), 25)
        for _ in range(pages):
            page_type = rng.choices(PAGE_TYPES, _PAGE_WEIGHTS)[0]
            film = self._film() if page_type == "movie" else None
            page_view_id = self._uuid()
            dwell = min(rng.lognormvariate(math.log(40), 1.0), 3 * 3600.0)
            if page_type == "movie" and rng.random() < 0.45:
                dwell += rng.uniform(600, 7200)  # stayed to watch
            page_end = clock + timedelta(seconds=dwell)
            events = [
                (clock, "page_view_start", {"page_view_id": page_view_id, "page_type": page_type})
            ]
            events += self._page_actions(page_type, film, clock, page_end)
            if not visitor.v2:
                end = {"page_view_id": page_view_id, "page_type": page_type}
                events.append((page_end, "page_view_end", end))
            for moment, name, data in events:
                if not self.start <= moment < self.end:
                    continue
                items.append(self._item(visitor, session_id, moment, name, data, page_type))
            clock = page_end + timedelta(seconds=rng.uniform(0.5, 20))
            if clock >= self.end:
                break
        return items

    def _page_actions(
        self, page_type: str, film: str | None, start: datetime, end: datetime
    ) -> list[tuple[datetime, str, dict[str, Any]]]:
        rng = self._rng
        span = (end - start).total_seconds()
        actions: list[tuple[datetime, str, dict[str, Any]]] = []

        def at() -> datetime:
            return start + timedelta(seconds=rng.uniform(0.2, max(span - 0.2, 0.3)))

        for _ in range(min(int(rng.expovariate(1 / 1.5)), 10)):
            element = rng.choices(ELEMENT_TYPES, _ELEMENT_WEIGHTS)[0]
            element_id = {
                "movie": self._film,
                "trailer": self._film,
                "category": lambda: rng.choice(GENRES),
                "person": lambda: f"nm{rng.randrange(10**6):07d}",
                "button": lambda: rng.choice(BUTTONS),
            }[element]()
            data = {"element_type": element, "page_type": page_type}
            if rng.random() < 0.8:
                data["element_id"] = element_id
            actions.append((at(), "element_click", data))
        if page_type == "search" or (page_type == "category" and rng.random() < 0.3):
            for _ in range(1 + int(rng.expovariate(1.0))):
                kind = rng.choice(("genre", "year", "rating", "country"))
                value = {
                    "genre": lambda: rng.choice(GENRES),
                    "year": lambda: str(rng.randrange(1960, 2027)),
                    "rating": lambda: f">={rng.randrange(5, 10)}",
                    "country": lambda: rng.choice(COUNTRIES),
                }[kind]()
                data = {
                    "search_query": rng.choice(SEARCH_WORDS),
                    "filters": f"{kind}={value}",
                    "filter_type": kind,
                    "filter_value": value,
                }
                actions.append((at(), "search_filter", data))
        if film is not None:
            actions += self._playback(film, start, span)
            if rng.random() < 0.12:
                actions.append((at(), "like", {"film_id": film, "action": "like"}))
                if rng.random() < 0.1:
                    actions.append(
                        (
                            end - timedelta(seconds=0.1),
                            "like",
                            {"film_id": film, "action": "unlike"},
                        )
                    )
        actions.sort(key=lambda action: action[0])
        return actions

    def _playback(
        self, film: str, start: datetime, span: float
    ) -> list[tuple[datetime, str, dict[str, Any]]]:
        rng = self._rng
        if span < 120:
            return []
        actions = []
        quality = rng.choices(QUALITIES, _QUALITY_WEIGHTS)[0]
        duration = rng.randrange(20 * 60, 3 * 3600)
        position = 0
        for _ in range(min(int(rng.expovariate(1 / 2.0)), 8)):
            new = rng.choices(QUALITIES, _QUALITY_WEIGHTS)[0]
            if new == quality:
                continue
            position = min(position + rng.randrange(5, 900), duration)
            moment = start + timedelta(seconds=min(position + 5, span - 1))
            data = {"video_id": film, "old_quality": quality, "new_quality": new}
            if rng.random() < 0.9:
                data["position_s"] = position
            actions.append((moment, "quality_change", data))
            quality = new
        if span > 600 and rng.random() < 0.35:
            data = {"video_id": film, "duration_total": rng.random() < 0.85}
            if rng.random() < 0.8:
                data["duration_s"] = duration
            actions.append((start + timedelta(seconds=span - 1), "video_complete", data))
        return actions

    # ------------------------------------------------------------------ vendors
    def _film_added(self) -> TrafficItem:
        rng = self._rng
        index = bisect.bisect_left(self._vendor_cum, rng.random() * self._vendor_cum[-1])
        vendor_id = f"vendor-{index + 1:03d}"
        self._films_added += 1
        span = (self.end - self.start).total_seconds()
        moment = self.start + timedelta(seconds=rng.random() * span)
        data: dict[str, Any] = {
            "vendor_id": vendor_id,
            "film_id": f"{vendor_id}-{self.seed}-{self._films_added:07d}",
            "title": f"{rng.choice(_WORDS)} {rng.choice(_NOUNS)}",
            "content_type": rng.choices(("film", "series", "episode", "short"), (60, 15, 20, 5))[0],
            "genres": rng.sample(GENRES, rng.randrange(1, 4)),
        }
        if rng.random() < 0.9:
            data["release_year"] = rng.randrange(1930, 2027)
        if rng.random() < 0.7:
            data["duration_s"] = rng.randrange(600, 4 * 3600)
        payload: dict[str, Any] = {
            "event": "film_added",
            "token": None,
            "event_id": self._uuid(),
            "event_at": format_ts(moment),
            "data": data,
        }
        if self.include_sent_at:
            payload["sent_at"] = format_ts(moment + timedelta(milliseconds=rng.randrange(5, 500)))
        return TrafficItem(
            body=orjson.dumps(payload),
            content_type=JSON,
            expected_status=ACCEPTED,
            event_type="film_added",
            event_id=payload["event_id"],
            event_at=moment,
            vendor_id=vendor_id,
            payload=payload,
        )

    # ------------------------------------------------------------------ request bodies
    def _item(
        self,
        visitor: _Visitor,
        session_id: str | None,
        moment: datetime,
        name: str,
        data: dict[str, Any],
        page_type: str,
    ) -> TrafficItem:
        rng = self._rng
        event_id = self._uuid() if rng.random() < self.options.event_id_share else None
        if visitor.v2 and name in _V2_NAMES:
            payload = self._v2(visitor, session_id, event_id, moment, name, data, page_type)
            envelope = "v2"
            if name == "page_view_start" and event_id is None:
                # a v2 page view's id is its event id; keep one so the pair test can see it
                event_id = payload["event_id"] = self._uuid()
        else:
            payload = self._v1(visitor, session_id, event_id, moment, name, data, page_type)
            envelope = "v1"
        beacon = name == "page_view_end" and rng.random() < 0.6
        return TrafficItem(
            body=orjson.dumps(payload),
            content_type=BEACON if beacon else JSON,
            expected_status=ACCEPTED,
            event_type=name,
            event_id=event_id,
            envelope=envelope,
            event_at=moment,
            session_id=session_id,
            user_id=visitor.user_id if visitor.token else None,
            payload=payload,
        )

    def _client_times(self, visitor: _Visitor, moment: datetime) -> tuple[Any, Any]:
        """The event time and sent time on the client's (skewed) clock, as it would send them."""
        rng = self._rng
        if not self.include_sent_at:
            return self._ts(moment), None
        client = moment + visitor.skew
        delay = timedelta(milliseconds=rng.randrange(5, 1500))
        if rng.random() < 0.03:
            delay += timedelta(seconds=rng.uniform(30, 3600))  # queued offline, sent later
        return self._ts(client), self._ts(client + delay)

    def _ts(self, moment: datetime) -> Any:
        """ISO 8601 mostly; epoch milliseconds sometimes (JavaScript's ``Date.now()``)."""
        if self._rng.random() < 0.2:
            return int(moment.timestamp() * 1000)
        return format_ts(moment)

    def _v1(
        self,
        visitor: _Visitor,
        session_id: str | None,
        event_id: str | None,
        moment: datetime,
        name: str,
        data: dict[str, Any],
        page_type: str,
    ) -> dict[str, Any]:
        rng = self._rng
        payload: dict[str, Any] = {"event": name, "token": visitor.token, "data": data}
        if event_id is not None:
            payload["event_id"] = event_id
        if session_id is not None:
            payload["session_id"] = session_id
        event_at, sent_at = self._client_times(visitor, moment)
        payload["event_at"] = event_at
        if sent_at is not None:
            payload["sent_at"] = sent_at
        if rng.random() < 0.7:
            payload["context"] = {
                "country": visitor.country,
                "device": visitor.device,
                "page_url": f"{SITE}/{page_type}",
            }
            if rng.random() < 0.3:
                payload["context"]["referrer"] = "https://search.example/?q=cinema"
        return payload

    def _v2(
        self,
        visitor: _Visitor,
        session_id: str | None,
        event_id: str | None,
        moment: datetime,
        name: str,
        data: dict[str, Any],
        page_type: str,
    ) -> dict[str, Any]:
        event_at, sent_at = self._client_times(visitor, moment)
        inner: dict[str, Any] = {
            "event_type": _V2_NAMES[name],
            "timestamp": event_at,
            "user_id": visitor.user_id,
            "country": visitor.country,
            "device": visitor.device,
        }
        page_url = f"{SITE}/{page_type}"
        if name == "element_click":
            inner |= {"element": data["element_type"], "page_url": page_url}
        elif name == "page_view_start":
            inner |= {"page_url": page_url, "referrer_url": f"{SITE}/main"}
        elif name == "search_filter":
            inner |= {"filter_type": data["filter_type"], "filter_value": data["filter_value"]}
        elif name == "quality_change":
            inner |= {
                "video_id": data["video_id"],
                "from_quality": f"{data['old_quality']}p",
                "to_quality": f"{data['new_quality']}p",
                "current_time": data.get("position_s", 0),
            }
        elif name == "video_complete":
            inner |= {"video_id": data["video_id"], "duration": data.get("duration_s", 0)}
        payload: dict[str, Any] = {"event": inner}
        if visitor.token is not None:
            payload["token"] = visitor.token
        if event_id is not None:
            payload["event_id"] = event_id
        if session_id is not None:
            payload["session_id"] = session_id
        if sent_at is not None:
            payload["sent_at"] = sent_at
        return payload


#: canonical type -> seed-002 event_type (types the old client can send)
_V2_NAMES = {
    "element_click": "click",
    "page_view_start": "page_view",
    "search_filter": "search_filter_use",
    "quality_change": "quality_change",
    "video_complete": "video_complete",
}


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out
