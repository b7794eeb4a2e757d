"""A circuit breaker for the auth service.

Why: when the auth service is down or slow, every request would otherwise wait for the full
timeout before falling back to the local check. After ``failures`` consecutive failures the
breaker opens and calls fail at once; after ``reset_s`` exactly one trial call is let
through (half-open): success closes the breaker, failure opens it for another ``reset_s``.

Single event loop, no awaits inside: no lock is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        #: how many times the breaker has opened (for metrics)
        self.opened_total = 0

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at < self.reset_s:
            return OPEN
        return HALF_OPEN

    def allow(self) -> bool:
        """May a call be made now? In half-open state only one trial at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._consecutive += 1
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        if was_trial or (self._opened_at is None and self._consecutive >= self.failures):
            self._opened_at = self._clock()
            self.opened_total += 1

    def abandon(self) -> None:
        """A call ended without a verdict (cancelled): free the trial slot, change nothing."""
        self._trial_in_flight = False
