"""The external auth service client (httpx, async), behind a circuit breaker.

The contract is in ``docs/auth-contract.md``: ``GET {auth_url}/api/v1/token/verify`` with
``Authorization: Bearer <jwt>``; 200 with ``{"user_id", "session_id", "exp"}`` means valid,
401 or 403 means invalid, anything else (or no answer within the timeout) means unavailable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ugc.adapters.auth.breaker import CircuitBreaker
from ugc.adapters.auth.claims import VerifiedToken, as_epoch, as_id, check_shape, peek_expiry
from ugc.adapters.auth.errors import AuthUnavailable, BreakerOpen, TokenRejected
from ugc.log import get_logger

VERIFY_PATH = "/api/v1/token/verify"
REJECTED_STATUSES = frozenset({401, 403})

log = get_logger(__name__)


class AuthClient:
    """Ask the auth service whether a token is valid. One instance per event loop/process."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        breaker: CircuitBreaker,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.breaker = breaker
        # trust_env=False: a proxy from the environment must not sit between us and auth
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            trust_env=False,
            # TLS settings only matter for https; building the CA bundle costs ~0.2 s per
            # client, so a plain-http URL (a sidecar, the tests' stand-in) skips it
            verify=base_url.lower().startswith("https://"),
            transport=transport,
        )

    async def verify(self, token: str) -> VerifiedToken:
        """The token's identity; ``TokenRejected`` or ``AuthUnavailable`` (incl. ``BreakerOpen``)."""
        check_shape(token)
        if not self.breaker.allow():
            raise BreakerOpen("auth service circuit breaker is open", retry_after=1)
        try:
            response = await self._get(token)
        except asyncio.CancelledError:
            self.breaker.abandon()
            raise
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            self._failed(f"auth service did not answer ({type(exc).__name__})")
            raise AuthUnavailable("auth service did not answer", retry_after=1) from exc
        return self._verdict(response, token)

    async def _get(self, token: str) -> httpx.Response:
        # asyncio.timeout bounds the whole call; httpx's timeout is per phase only
        async with asyncio.timeout(self.timeout_s):
            return await self._http.get(VERIFY_PATH, headers={"Authorization": f"Bearer {token}"})

    def _verdict(self, response: httpx.Response, token: str) -> VerifiedToken:
        if response.status_code in REJECTED_STATUSES:
            self.breaker.record_success()  # it answered: the service is healthy
            raise TokenRejected(f"auth service answered {response.status_code}")
        if response.status_code != 200:
            self._failed(f"auth service answered {response.status_code}")
            raise AuthUnavailable(f"auth service answered {response.status_code}")
        verified = _parse_valid(response)
        if verified is None:
            self._failed("auth service answered 200 without a usable user_id")
            raise AuthUnavailable("auth service broke the contract")
        self.breaker.record_success()
        if verified.expires_at is None:
            verified = VerifiedToken(verified.user_id, verified.session_id, peek_expiry(token))
        return verified

    def _failed(self, reason: str) -> None:
        self.breaker.record_failure()
        log.warning("auth service failure", extra={"reason": reason, "breaker": self.breaker.state})

    async def aclose(self) -> None:
        await self._http.aclose()


def _parse_valid(response: httpx.Response) -> VerifiedToken | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or (user_id := as_id(body.get("user_id"))) is None:
        return None
    return VerifiedToken(
        user_id=user_id,
        session_id=as_id(body.get("session_id")),
        expires_at=as_epoch(body.get("exp")),
    )
