"""What the collector needs from the outside, as small protocols, and trivial stand-ins.

``create_app`` takes a publisher, an identity resolver and a rate limiter; ``ugc serve`` passes
the real ones (``ugc.adapters.kafka.producer.KafkaPublisher``, ``ugc.collector.identity``).
The stand-ins below serve unit tests of the HTTP layer and dry runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from ugc.errors import BrokerUnavailable
from ugc.events import Identity


class Publisher(Protocol):
    def publish(self, key: bytes, value: bytes) -> Awaitable[None]:
        """Resolve when the broker acknowledged; raise ``BrokerUnavailable`` otherwise."""

    async def reachable(self) -> bool: ...

    async def aclose(self) -> Any: ...


class IdentityResolver(Protocol):
    async def resolve(self, token: str | None) -> Identity:
        """Never raises for any token."""

    async def aclose(self) -> None: ...


class Decision(Protocol):
    allowed: bool
    retry_after: int
    degraded: bool


class RateLimiter(Protocol):
    async def check(self, client_ip: str) -> Decision:
        """Never raises: trouble means allowed and degraded (fail open)."""

    async def aclose(self) -> None: ...


# ----------------------------------------------------------------------------- stand-ins
class InMemoryPublisher:
    """Keeps messages in a list; ``available = False`` makes it fail like a dead broker."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []
        self.available = True

    async def publish(self, key: bytes, value: bytes) -> None:
        if not self.available:
            error = BrokerUnavailable("the in-memory broker is switched off")
            error.possibly_persisted = False  # type: ignore[attr-defined]
            raise error
        self.messages.append((key, value))

    async def reachable(self) -> bool:
        return self.available

    async def aclose(self) -> None:
        await asyncio.sleep(0)


class AnonymousResolver:
    """Every token resolves to the anonymous identity."""

    async def resolve(self, token: str | None) -> Identity:
        return Identity()

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Allow:
    allowed: bool = True
    retry_after: int = 0
    degraded: bool = False


ALLOW = Allow()


class AllowAll:
    """A rate limiter that never limits."""

    async def check(self, client_ip: str) -> Decision:
        return ALLOW

    async def aclose(self) -> None:
        return None
