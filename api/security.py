"""Credentials without I/O: argon2 password hashes, TOTP second factor (RFC 6238), JWT access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.config import ApiSettings
from graph.viewer import Viewer

MIN_PASSWORD_LENGTH = 12
# argon2id with the library's RFC 9106 "low memory" defaults; change here and needs_rehash() upgrades on login.
_HASHER = PasswordHasher()

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
TOTP_SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation for HMAC-SHA-1

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "contactpoint"
JWT_AUDIENCE = "contactpoint-api"
_REQUIRED_CLAIMS = ["sub", "role", "la", "iat", "exp", "jti", "iss", "aud"]


# -- passwords ---------------------------------------------------------------------------------


def check_password_strength(password: str) -> None:
    """Refuse a password below the minimum policy.

    Raises:
        ValueError: the password is too short or only whitespace.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if not password.strip():
        raise ValueError("the password must not be only spaces")


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with its parameters) of the password."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches the hash; False (never an error) on a mismatch or a bad hash."""
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def spend_verification(password: str) -> None:
    """Do the work of a verification for an unknown user, so timing does not say who exists."""
    verify_password(_dummy_hash(), password)


# -- TOTP (RFC 6238 over RFC 4226 HOTP) ---------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh random 160-bit secret in base32, as authenticator apps expect it."""
    return base64.b32encode(secrets.token_bytes(TOTP_SECRET_BYTES)).decode("ascii").rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def totp_step(at: datetime) -> int:
    """The RFC 6238 time step counter T for a moment."""
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def _hotp(key: bytes, counter: int, digits: int) -> str:
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp_code(secret: str, at: datetime, *, digits: int = TOTP_DIGITS) -> str:
    """The TOTP code (HMAC-SHA-1, 30 s step) of a base32 secret at a moment."""
    return _hotp(_secret_bytes(secret), totp_step(at), digits)


def verify_totp(secret: str, code: str, at: datetime, last_used_step: int | None) -> int | None:
    """The step the code belongs to (now or ±1 step of drift), or None if wrong or already used.

    A step at or before `last_used_step` is refused, so a code seen once cannot be replayed.
    """
    code = code.replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    key = _secret_bytes(secret)
    now = totp_step(at)
    for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(_hotp(key, step, TOTP_DIGITS), code):
            return step
    return None


def provisioning_uri(secret: str, username: str, issuer: str = "ContactPoint") -> str:
    """The otpauth:// URI an authenticator app reads (usually shown as a QR code)."""
    label = quote(f"{issuer}:{username}", safe="")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1",
                       "digits": TOTP_DIGITS, "period": TOTP_STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"


# -- access tokens -----------------------------------------------------------------------------


class InvalidToken(Exception):
    """The token is expired, forged, malformed, or not meant for this API."""


def issue_token(settings: ApiSettings, user: Viewer, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A signed HS256 access token for the user and the moment it expires."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + timedelta(minutes=settings.token_minutes)
    claims = {
        "sub": user.user_id,
        "role": str(user.role),
        "la": user.la_code,
        "agency": user.agency_id,
        "iat": issued,
        "exp": expires,
        "jti": uuid.uuid4().hex,
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)
    return token, expires


def decode_token(settings: ApiSettings, token: str) -> dict[str, Any]:
    """The claims of a token this API issued and that is still valid.

    Raises:
        InvalidToken: for any token that is expired, badly signed, unsigned, malformed,
            or issued by or for someone else.
    """
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": _REQUIRED_CLAIMS},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("role"), str):
        raise InvalidToken("token claims have the wrong shape")
    return claims
