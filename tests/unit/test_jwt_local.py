"""The local JWT check: signature and pinned algorithms verified, lifetime deliberately not."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ugc.adapters.auth import LocalVerifier, TokenRejected, check_shape
from ugc.adapters.auth.claims import MAX_TOKEN_LENGTH, peek_expiry
from ugc.errors import ConfigError

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return _rsa_pair()


@pytest.fixture(scope="module")
def other_keys() -> tuple[str, str]:
    return _rsa_pair()


@pytest.fixture
def verifier(keys: tuple[str, str]) -> LocalVerifier:
    return LocalVerifier(keys[1], ["RS256"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    return head + "." + _b64(signature)


def forge_hs256(payload: dict, secret: str) -> str:
    """HS256 by hand: pyjwt itself refuses a PEM as an HMAC secret, an attacker would not."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


@functools.cache
def _private_key(pem: str) -> Any:
    """Parsed once: loading an RSA private PEM is slow enough to dominate these tests."""
    return jwt.get_algorithm_by_name("RS256").prepare_key(pem)


def sign(private: str, **claims: object) -> str:
    payload = {"sub": "user-1", "sid": "session-1", "exp": int(time.time()) + 300}
    payload.update(claims)
    return jwt.encode(payload, _private_key(private), algorithm="RS256")


# ------------------------------------------------------------------------------ accepted
def test_valid_token_gives_user_session_and_expiry(keys, verifier):
    exp = int(time.time()) + 300
    verified = verifier.verify(sign(keys[0], sub="u-42", sid="s-7", exp=exp))
    assert (verified.user_id, verified.session_id, verified.expires_at) == ("u-42", "s-7", exp)


def test_expired_token_is_accepted_locally_lifetime_not_checked(keys, verifier):
    now = int(time.time())
    token = sign(keys[0], exp=now - 86400, nbf=now + 3600, iat=now + 3600)
    assert verifier.verify(token).user_id == "user-1"


def test_token_without_session_claim_has_no_session(keys, verifier):
    token = jwt.encode({"sub": "u"}, keys[0], algorithm="RS256")
    verified = verifier.verify(token)
    assert (verified.user_id, verified.session_id, verified.expires_at) == ("u", None, None)


def test_claim_names_come_from_settings(keys):
    verifier = LocalVerifier(keys[1], ["RS256"], user_claim="uid", session_claim="session")
    token = jwt.encode({"uid": 17, "session": "abc"}, keys[0], algorithm="RS256")
    verified = verifier.verify(token)
    assert (verified.user_id, verified.session_id) == ("17", "abc")


def test_private_key_pem_as_jwt_key_still_verifies(keys):
    assert LocalVerifier(keys[0], ["RS256"]).verify(sign(keys[0])).user_id == "user-1"


def test_hs256_with_the_right_secret():
    token = jwt.encode({"sub": "u-hs"}, SECRET, algorithm="HS256")
    assert LocalVerifier(SECRET, ["HS256"]).verify(token).user_id == "u-hs"


# ------------------------------------------------------------------------------ rejected
def _rejected(verifier: LocalVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    return info.value.reason


def test_signature_by_another_key_is_rejected(other_keys, verifier):
    assert _rejected(verifier, sign(other_keys[0])) == "bad signature"


def test_tampered_payload_is_rejected(keys, verifier):
    header, _, signature = sign(keys[0], sub="alice").split(".")
    forged_body = _b64(json.dumps({"sub": "admin", "exp": int(time.time()) + 300}).encode())
    assert _rejected(verifier, f"{header}.{forged_body}.{signature}") == "bad signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_rejected(verifier, alg):
    assert _rejected(verifier, forge({"alg": alg, "typ": "JWT"}, {"sub": "admin"})) == (
        "algorithm not allowed"
    )


def test_alg_none_made_by_pyjwt_is_rejected(verifier):
    token = jwt.encode({"sub": "admin"}, None, algorithm="none")
    assert _rejected(verifier, token) == "algorithm not allowed"


def test_hs256_signed_with_the_rsa_public_key_is_rejected(keys, verifier):
    """Algorithm confusion: the public key (known to everyone) used as an HMAC secret."""
    token = forge_hs256({"sub": "admin", "exp": int(time.time()) + 300}, keys[1])
    assert _rejected(verifier, token) == "algorithm not allowed"


def test_rs256_token_is_rejected_when_hs256_is_pinned(keys):
    assert _rejected(LocalVerifier(SECRET, ["HS256"]), sign(keys[0])) == "algorithm not allowed"


def test_hs256_with_a_wrong_secret_is_rejected():
    token = jwt.encode(
        {"sub": "u"}, "another-secret-that-is-long-enough-to-sign", algorithm="HS256"
    )
    assert _rejected(LocalVerifier(SECRET, ["HS256"]), token) == "bad signature"


def test_header_alg_outside_the_pinned_list_is_rejected(verifier):
    token = forge({"alg": "ES256"}, {"sub": "u"}, b"x" * 64)
    assert _rejected(verifier, token) == "algorithm not allowed"


LONG = "e" * MAX_TOKEN_LENGTH


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a b.c.d",
        "a.b.c\n",
        "Bearer a.b.c",
        "#$%.^&*.()",
        "é.é.é",
        f"{LONG}.{LONG}.x",
        "eyJhbGciOiJSUzI1NiJ9.!!!.sig",
        "not-base64-json.eyJzdWIiOiJ1In0.c2ln",
        _b64(b"[1,2]") + "." + _b64(b'{"sub":"u"}') + ".c2ln",
        _b64(b'{"alg":"RS256"}') + "." + _b64(b"[1,2]") + ".c2ln",
        _b64(b'{"alg":"RS256"}') + "." + _b64(b"not json") + ".c2ln",
        _b64(b'{"alg":"RS256"}') + "." + _b64(b'{"sub":"u"}') + "." + "A" * 5,
    ],
)
def test_malformed_tokens_are_rejected(verifier, token):
    _rejected(verifier, token)


@pytest.mark.parametrize("sub", [None, "", True, 1.5, {"id": 1}, ["u"], "x" * 300])
def test_a_token_without_a_usable_user_claim_is_rejected(keys, verifier, sub):
    payload = {"sid": "s"} if sub is None else {"sub": sub, "sid": "s"}
    # pyjwt refuses to sign some of these; forge them with a real signature by hand
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = jwt.get_algorithm_by_name("RS256").sign(
        f"{header}.{body}".encode(),
        _private_key(keys[0]),
    )
    _rejected(verifier, f"{header}.{body}.{_b64(signature)}")


def test_audience_and_issuer_are_checked_when_configured(keys):
    verifier = LocalVerifier(keys[1], ["RS256"], audience="ugc", issuer="https://auth")
    assert verifier.verify(sign(keys[0], aud="ugc", iss="https://auth")).user_id == "user-1"
    _rejected(verifier, sign(keys[0], aud="other", iss="https://auth"))
    _rejected(verifier, sign(keys[0], aud="ugc", iss="https://evil"))
    _rejected(verifier, sign(keys[0]))


def test_audience_is_ignored_when_not_configured(keys, verifier):
    assert verifier.verify(sign(keys[0], aud="anything")).user_id == "user-1"


def test_without_a_key_nothing_verifies(keys):
    verifier = LocalVerifier("", ["RS256"])
    assert not verifier.configured
    _rejected(verifier, sign(keys[0]))


# ------------------------------------------------------------------------- configuration
def test_rsa_public_key_as_hmac_secret_is_refused_at_startup(keys):
    with pytest.raises(ConfigError, match="UGC_JWT_KEY"):
        LocalVerifier(keys[1], ["HS256"])


@pytest.mark.parametrize("algorithms", [["HS256", "RS256"], ["RS256", "ES256"], ["PS256", "HS512"]])
def test_mixing_key_families_is_refused_at_startup(keys, algorithms):
    with pytest.raises(ConfigError, match="UGC_JWT_ALGORITHMS"):
        LocalVerifier(keys[1], algorithms)


@pytest.mark.parametrize("algorithms", [[], ["none"], ["XX999"]])
def test_unusable_algorithm_lists_are_refused(keys, algorithms):
    with pytest.raises(ConfigError):
        LocalVerifier(keys[1], algorithms)


def test_a_secret_is_not_an_rsa_key():
    with pytest.raises(ConfigError, match="UGC_JWT_KEY"):
        LocalVerifier(SECRET, ["RS256"])


# ---------------------------------------------------------------------------- helpers
def test_check_shape_accepts_a_real_token_and_refuses_control_characters(keys):
    check_shape(sign(keys[0]))
    with pytest.raises(TokenRejected):
        check_shape(sign(keys[0]) + "\r\nX-Injected: 1")


def test_peek_expiry_reads_exp_without_verifying(keys):
    assert peek_expiry(sign(keys[0], exp=1234567890)) == 1234567890
    assert peek_expiry("a.b.c") is None
    assert peek_expiry(jwt.encode({"sub": "u"}, SECRET, algorithm="HS256")) is None
