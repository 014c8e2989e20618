"""Pure credential logic: RFC 6238 vectors, replay and drift, argon2 hashes, token forgery refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from pydantic import SecretStr

from api.config import ApiSettings
from api.security import InvalidToken, decode_token, issue_token
from graph.credentials import (
    check_password_strength,
    hash_password,
    needs_rehash,
    new_totp_secret,
    provisioning_uri,
    totp_code,
    totp_step,
    verify_password,
    verify_totp,
)
from graph.viewer import Role, Viewer

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
AT = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
VIEWER = Viewer(user_id="u-1", role=Role.PRACTITIONER, la_code="E08000025", agency_id="AG-1")


@pytest.fixture(scope="module")
def settings() -> ApiSettings:
    return ApiSettings(demo_mode=True)


# -- TOTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
     (2000000000, "69279037"), (20000000000, "65353130")],
)
def test_rfc6238_appendix_b_sha1_vectors(unix_time: int, code: str) -> None:
    assert totp_code(RFC_SECRET, datetime.fromtimestamp(unix_time, UTC), digits=8) == code


def test_new_secret_is_160_bit_base32() -> None:
    secret = new_totp_secret()
    assert len(base64.b32decode(secret)) == 20
    assert secret != new_totp_secret()


def test_code_of_now_and_one_step_either_side_is_accepted() -> None:
    secret = new_totp_secret()
    now = totp_step(AT)
    for offset in (-1, 0, 1):
        code = totp_code(secret, AT + timedelta(seconds=30 * offset))
        assert verify_totp(secret, code, AT, None) == now + offset


def test_code_two_steps_away_is_refused() -> None:
    secret = new_totp_secret()
    for offset in (-2, 2):
        assert verify_totp(secret, totp_code(secret, AT + timedelta(seconds=60 * offset)), AT, None) is None


def test_used_step_and_older_ones_are_refused() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, AT)
    step = verify_totp(secret, code, AT, None)
    assert step == totp_step(AT)
    assert verify_totp(secret, code, AT, step) is None  # replay
    assert verify_totp(secret, totp_code(secret, AT - timedelta(seconds=30)), AT, step) is None
    assert verify_totp(secret, totp_code(secret, AT + timedelta(seconds=30)), AT, step) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert verify_totp(new_totp_secret(), code, AT, None) is None


def test_provisioning_uri() -> None:
    uri = urlparse(provisioning_uri("JBSWY3DPEHPK3PXP", "jo.bloggs"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/ContactPoint%3Ajo.bloggs")
    assert parse_qs(uri.query) == {"secret": ["JBSWY3DPEHPK3PXP"], "issuer": ["ContactPoint"],
                                   "algorithm": ["SHA1"], "digits": ["6"], "period": ["30"]}


# -- passwords ---------------------------------------------------------------------------------


def test_password_hash_round_trip() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterx")
    assert not needs_rehash(hashed)
    assert hash_password("correct horse battery") != hashed  # salted


@pytest.mark.parametrize("bad", [None, "", "not-a-hash", "$argon2id$v=19$m=65536,t=3,p=4$broken"])
def test_verify_never_raises_on_bad_hashes(bad: str | None) -> None:
    assert verify_password(bad, "whatever password") is False


def test_weaker_parameters_need_rehash() -> None:
    from argon2 import PasswordHasher

    assert needs_rehash(PasswordHasher(time_cost=1, memory_cost=8192).hash("some password here"))
    assert needs_rehash("garbage")


def test_password_policy() -> None:
    check_password_strength("twelve chars")
    with pytest.raises(ValueError, match="at least 12 characters"):
        check_password_strength("short")
    with pytest.raises(ValueError, match="spaces"):
        check_password_strength(" " * 14)


# -- access tokens -----------------------------------------------------------------------------


def test_token_round_trip(settings: ApiSettings) -> None:
    now = datetime.now(UTC)
    token, expires = issue_token(settings, VIEWER, now=now)
    claims = decode_token(settings, token)
    assert {k: claims[k] for k in ("sub", "role", "la", "agency", "iss", "aud")} == {
        "sub": "u-1", "role": "practitioner", "la": "E08000025", "agency": "AG-1",
        "iss": "contactpoint", "aud": "contactpoint-api"}
    assert claims["exp"] - claims["iat"] == settings.token_minutes * 60
    assert expires == datetime.fromtimestamp(claims["exp"], UTC)
    assert len(claims["jti"]) == 32
    assert decode_token(settings, issue_token(settings, VIEWER)[0])["jti"] != claims["jti"]


def _claims(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": "u-1", "role": "la_admin", "la": "E08000025", "agency": None, "iat": now,
                                 "exp": now + timedelta(minutes=5), "jti": "x" * 32, "iss": "contactpoint",
                                 "aud": "contactpoint-api"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_expired_token_is_refused(settings: ApiSettings) -> None:
    token, _ = issue_token(settings, VIEWER, now=datetime.now(UTC) - timedelta(minutes=settings.token_minutes + 1))
    with pytest.raises(InvalidToken):
        decode_token(settings, token)


def test_forged_payload_is_refused(settings: ApiSettings) -> None:
    token, _ = issue_token(settings, VIEWER)
    header, payload, signature = token.split(".")
    raised = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised["role"] = "la_admin"
    with pytest.raises(InvalidToken):
        decode_token(settings, f"{header}.{_b64(raised)}.{signature}")


def test_wrong_key_is_refused(settings: ApiSettings) -> None:
    other = ApiSettings(demo_mode=True, jwt_secret=SecretStr("another-signing-key-of-enough-length-42"))
    token, _ = issue_token(other, VIEWER)
    with pytest.raises(InvalidToken):
        decode_token(settings, token)


def test_unsigned_alg_none_is_refused(settings: ApiSettings) -> None:
    claims = _claims(iat=int(datetime.now(UTC).timestamp()), exp=int(datetime.now(UTC).timestamp()) + 300)
    for token in (f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
                  jwt.encode(_claims(), key=None, algorithm="none")):
        with pytest.raises(InvalidToken):
            decode_token(settings, token)


@pytest.mark.parametrize("overrides", [{"aud": "someone-else"}, {"iss": "elsewhere"}, {"exp": ...},
                                       {"sub": ...}, {"role": ...}, {"sub": 42}])
def test_wrong_audience_issuer_or_missing_claims_are_refused(settings: ApiSettings, overrides: dict) -> None:
    token = jwt.encode(_claims(**overrides), settings.jwt_secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(InvalidToken):
        decode_token(settings, token)


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_other_algorithm_with_the_same_key_is_refused(settings: ApiSettings) -> None:
    token = jwt.encode(_claims(), settings.jwt_secret.get_secret_value(), algorithm="HS512")
    with pytest.raises(InvalidToken):
        decode_token(settings, token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9..sig"])
def test_malformed_tokens_are_refused(settings: ApiSettings, token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(settings, token)
