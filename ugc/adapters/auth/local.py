"""The local JWT check (pyjwt): the fallback when the auth service cannot answer.

Seed 001: when the auth service is unavailable, verify the token locally, signature only,
lifetime not checked. What this check insists on:

- the signature, with ``jwt_key`` and only the pinned ``jwt_algorithms`` (the token's own
  ``alg`` header never chooses the algorithm, so ``alg: none`` and HS/RS confusion fail);
- one key family per configuration: pinning HS256 next to RS256 with one key is exactly the
  setup algorithm confusion exploits, so it is refused at start-up;
- a usable user claim; ``aud``/``iss`` when configured.

What it skips on purpose: ``exp``, ``nbf`` and ``iat`` (the lifetime).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from ugc.adapters.auth.claims import VerifiedToken, check_shape, from_claims
from ugc.adapters.auth.errors import TokenRejected
from ugc.errors import ConfigError

_FAMILIES = {"HS": "hmac", "RS": "rsa", "PS": "rsa", "ES": "ec", "Ed": "okp"}


def _family(algorithm: str) -> str:
    for prefix, family in _FAMILIES.items():
        if algorithm.startswith(prefix):
            return family
    raise ConfigError(f"bad setting UGC_JWT_ALGORITHMS: unsupported algorithm {algorithm!r}")


class LocalVerifier:
    """Verify a JWT's signature against one configured key; lifetime deliberately unchecked."""

    def __init__(
        self,
        key: str,
        algorithms: Sequence[str],
        *,
        user_claim: str = "sub",
        session_claim: str = "sid",
        audience: str = "",
        issuer: str = "",
    ) -> None:
        self.algorithms = list(algorithms)
        self.user_claim = user_claim
        self.session_claim = session_claim
        self.audience = audience or None
        self.issuer = issuer or None
        self._key = _prepare_key(key, self.algorithms) if key else None

    @property
    def configured(self) -> bool:
        """False without ``jwt_key``: then no token can be verified locally."""
        return self._key is not None

    def verify(self, token: str) -> VerifiedToken:
        """The token's identity, or ``TokenRejected``. Never raises anything else."""
        check_shape(token)
        if self._key is None:
            raise TokenRejected("no local key configured")
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options=self._options(),
            )
        except jwt.InvalidAlgorithmError as exc:
            raise TokenRejected("algorithm not allowed") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("bad signature") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(type(exc).__name__) from exc
        except (ValueError, TypeError) as exc:  # a key/token mismatch deep in cryptography
            raise TokenRejected("undecodable token") from exc
        return from_claims(payload, self.user_claim, self.session_claim)

    def _options(self) -> dict[str, Any]:
        return {
            "verify_signature": True,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_aud": self.audience is not None,
            "verify_iss": self.issuer is not None,
            "require": [self.user_claim],
        }


def _prepare_key(key: str, algorithms: list[str]) -> Any:
    """Parse the key once (not per request) and prove it fits the pinned algorithms."""
    if not algorithms:
        raise ConfigError("bad setting UGC_JWT_ALGORITHMS: at least one algorithm is needed")
    families = {_family(alg) for alg in algorithms}
    if len(families) > 1:
        raise ConfigError(
            "bad setting UGC_JWT_ALGORITHMS: mixes key families "
            f"({', '.join(sorted(algorithms))}); pin one family per key"
        )
    try:
        prepared = jwt.get_algorithm_by_name(algorithms[0]).prepare_key(key)
    except (jwt.PyJWTError, NotImplementedError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"bad setting UGC_JWT_KEY: not a usable key for {algorithms[0]} ({type(exc).__name__})"
        ) from exc
    if hasattr(prepared, "public_key"):  # a private key PEM: only verification happens here
        prepared = prepared.public_key()
    return prepared
