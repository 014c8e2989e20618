"""The API's access tokens (signed JWTs), without I/O; the password and TOTP policy is graph.credentials."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from api.config import ApiSettings
from graph.viewer import Viewer

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "contactpoint"
JWT_AUDIENCE = "contactpoint-api"
_REQUIRED_CLAIMS = ["sub", "role", "la", "iat", "exp", "jti", "iss", "aud"]


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
