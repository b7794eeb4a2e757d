"""What the auth adapter raises; pyjwt and httpx errors never leave this package.

::

    UgcError
    ├── BadInput
    │   └── TokenRejected          the token is not valid: bad signature, wrong algorithm,
    │                              malformed, expired (auth service), no user claim
    └── Unavailable
        └── AuthUnavailable        the auth service is down, slow, answered nonsense
            └── BreakerOpen        ... and we are not even asking it right now

The identity resolver reads ``TokenRejected`` as "anonymous, source invalid" and
``AuthUnavailable`` as "fall back to the local check"; neither ever reaches a client.
"""

from __future__ import annotations

from ugc.errors import BadInput, Unavailable


class TokenRejected(BadInput):
    """The token failed verification. ``reason`` is short and safe to log (no token text)."""

    http_status = 401
    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(f"token rejected: {reason}")
        self.reason = reason


class AuthUnavailable(Unavailable):
    """The auth service could not give a verdict (timeout, refused, 5xx, bad answer)."""

    code = "auth_unavailable"


class BreakerOpen(AuthUnavailable):
    """The circuit breaker is open: the call was not made at all."""

    code = "auth_breaker_open"
