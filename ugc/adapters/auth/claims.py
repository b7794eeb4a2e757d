"""``VerifiedToken``: the few facts ugc takes from a token once it has been verified."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from ugc.adapters.auth.errors import TokenRejected

#: a real JWT is a few hundred bytes; refusing huge ones bounds the work a client can cause
MAX_TOKEN_LENGTH = 8192
#: ids longer than this are not ids; they are someone stuffing data into a claim
MAX_ID_LENGTH = 256
#: compact JWS: base64url header and payload, a possibly empty signature (``alg: none`` has
#: none and must still reach the verifier to be refused by name)
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class VerifiedToken:
    """Who a verified token speaks for. ``expires_at`` is epoch seconds, when known."""

    user_id: str
    session_id: str | None = None
    expires_at: float | None = None


def check_shape(token: str) -> None:
    """Cheap checks before any parsing, cache or network call.

    Why the character check: a token with spaces or control characters cannot go into an
    ``Authorization`` header; letting it try would count as an auth-service failure, and a
    client could then open the circuit breaker at will.
    """
    if not isinstance(token, str) or not token:
        raise TokenRejected("empty token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected("token too long")
    if not _COMPACT_JWS.fullmatch(token):
        raise TokenRejected("not a compact JWS (header.payload.signature)")


def peek_expiry(token: str) -> float | None:
    """The ``exp`` claim WITHOUT verification: only to bound a cache TTL for a token that the
    auth service has already verified. Never use it to decide whether a token is valid."""
    try:
        segment = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    return as_epoch(payload.get("exp")) if isinstance(payload, dict) else None


def as_id(value: Any) -> str | None:
    """A string or integer id as text; anything else (bool, float, object, too long) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def as_epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def from_claims(payload: dict[str, Any], user_claim: str, session_claim: str) -> VerifiedToken:
    """Build a ``VerifiedToken`` from verified claims; no usable user id means rejected."""
    user_id = as_id(payload.get(user_claim))
    if user_id is None:
        raise TokenRejected(f"no usable {user_claim!r} claim")
    return VerifiedToken(
        user_id=user_id,
        session_id=as_id(payload.get(session_claim)),
        expires_at=as_epoch(payload.get("exp")),
    )
