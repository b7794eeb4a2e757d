"""The time window a check looks at: ``--since`` / ``--until``, parsed strictly.

Accepted: ``2026-11-23``, ``2026-11-23T18``, ``2026-11-23T18:00``, ``2026-11-23 18:00:00``, with
an optional ``Z`` or ``+HH:MM`` offset (no offset means UTC). Anything else is a ``BadInput``
with one line saying what was expected (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ugc.errors import BadInput

_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)
_HOUR_ONLY = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2})((?:Z|[+-]\d{2}:?\d{2})?)$")

#: how far back a check looks when ``--since`` is not given
DEFAULT_LOOKBACK = timedelta(days=7)


def parse_moment(text: str, flag: str = "--since") -> datetime:
    """``text`` as an aware UTC ``datetime``; ``BadInput`` naming ``flag`` otherwise."""
    value = str(text).strip()
    if not _MOMENT.match(value):
        raise BadInput(
            f"{flag}: {text!r} is not a time; use ISO 8601 such as 2026-11-23 or "
            "2026-11-23T18:00:00Z"
        )
    hour_only = _HOUR_ONLY.match(value)
    if hour_only:
        value = f"{hour_only.group(1)}:00{hour_only.group(2)}"
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"{flag}: {text!r} is not a valid time ({exc})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """``[since, until)`` in UTC; ``explicit_until`` tells freshness what "now" is."""

    since: datetime
    until: datetime
    explicit_until: bool = False

    @property
    def since_s(self) -> int:
        return int(self.since.timestamp())

    @property
    def until_s(self) -> int:
        return int(self.until.timestamp())

    def as_dict(self) -> dict[str, str]:
        return {"since": _iso(self.since), "until": _iso(self.until)}


def build_window(since: str | None, until: str | None, *, now: datetime | None = None) -> Window:
    """The window from the two flags (either may be missing); ``BadInput`` when empty."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = parse_moment(until, "--until") if until else now
    start = parse_moment(since, "--since") if since else end - DEFAULT_LOOKBACK
    if start >= end:
        raise BadInput(f"--since ({_iso(start)}) must be before --until ({_iso(end)})")
    return Window(since=start, until=end, explicit_until=until is not None)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
