"""Credential policy, without I/O: password strength, argon2id hashing, and the TOTP second factor (RFC 6238).

Owned by neither the API (which verifies them at sign-in) nor the CLI (which sets them when it adds a
user): both import it, so the rules are the same wherever a credential is made or checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, urlencode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
# argon2id with the library's RFC 9106 "low memory" defaults; change here and needs_rehash() upgrades on login.
_HASHER = PasswordHasher()

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
TOTP_SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation for HMAC-SHA-1


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
