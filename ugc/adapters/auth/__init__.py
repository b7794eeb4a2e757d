"""Auth adapter: the external auth service client and the local JWT check (pyjwt).

The only package that imports httpx and jwt. ``AuthClient.verify`` asks the auth service
(``docs/auth-contract.md``) behind a ``CircuitBreaker``; ``LocalVerifier.verify`` checks the
signature locally with the pinned algorithms, lifetime unchecked (seed 001). Both return a
``VerifiedToken`` or raise ``TokenRejected``; the client may also raise ``AuthUnavailable``.
"""

from ugc.adapters.auth.breaker import CircuitBreaker
from ugc.adapters.auth.claims import VerifiedToken, check_shape
from ugc.adapters.auth.client import AuthClient
from ugc.adapters.auth.errors import AuthUnavailable, BreakerOpen, TokenRejected
from ugc.adapters.auth.local import LocalVerifier

__all__ = [
    "AuthClient",
    "AuthUnavailable",
    "BreakerOpen",
    "CircuitBreaker",
    "LocalVerifier",
    "TokenRejected",
    "VerifiedToken",
    "check_shape",
]
