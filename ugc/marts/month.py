"""``--month YYYY-MM``, parsed strictly, and the month's bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ugc.errors import BadInput

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(str(text).strip())
        if not match:
            raise BadInput(f"--month: {text!r} is not a month; use YYYY-MM such as 2026-11")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise BadInput(f"--month: {text!r} has no month {month:02d}; use 01 to 12")
        if not 1970 <= year <= 2105:
            raise BadInput(f"--month: {text!r} is outside 1970-01 .. 2105-12")
        return cls(year, month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (exclusive bound)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    @property
    def partition(self) -> int:
        """The ``toYYYYMM(month)`` partition id of the mart tables."""
        return self.year * 100 + self.month

    @property
    def days(self) -> int:
        return (self.end.date() - self.first_day).days

    def params(self) -> dict[str, object]:
        return {
            "month": self.first_day.isoformat(),
            "start": int(self.start.timestamp()),
            "end": int(self.end.timestamp()),
            # a page view opened on the last evening may end the next day
            "end_plus_day": int(self.end.timestamp()) + 86400,
        }
