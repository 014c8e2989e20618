"""POST /auth/token: password plus TOTP code for a short-lived bearer token, with lockout; GET /auth/me."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api import security
from graph import credentials
from api.deps import ApiSettingsDep, CurrentViewer, DriverDep, GraphSettingsDep, unauthorized
from graph import users

router = APIRouter(prefix="/auth", tags=["auth"])

# Every refusal looks the same, so a response never says whether the user exists, is locked,
# is disabled, or which factor was wrong.
LOGIN_REFUSED = "Invalid username, password or code"


class TokenResponse(BaseModel):
    """An OAuth2 bearer token and its lifetime in seconds."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    """The signed-in user: who they are, their role, authority and agency (no credentials)."""

    username: str
    name: str
    role: str
    la_code: str
    authority: str | None
    agency_id: str | None
    agency: str | None


def _refused() -> HTTPException:
    return unauthorized(LOGIN_REFUSED)


@router.post("/token", response_model=TokenResponse)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    otp: Annotated[str, Form(description="The current 6-digit code from the authenticator app.")],
    driver: DriverDep,
    graph: GraphSettingsDep,
    settings: ApiSettingsDep,
    response: Response,
) -> TokenResponse:
    """Exchange username, password and TOTP code for an access token."""
    now = datetime.now(UTC)
    with driver.session(database=graph.database) as session:
        user = session.execute_read(users.get_user_for_login, username=form.username)
        if user is None:
            credentials.spend_verification(form.password)
            raise _refused()
        # Verify before the state checks so a locked or disabled account costs the same time.
        password_ok = credentials.verify_password(user.password_hash, form.password)
        if user.disabled or user.locked(now) or not user.totp_secret:
            raise _refused()
        step = credentials.verify_totp(user.totp_secret, otp, now, user.totp_last_step) if password_ok else None
        if step is None:
            session.execute_write(users.record_failure, user_id=user.id, attempts_allowed=settings.lockout_attempts,
                                  lock_minutes=settings.lockout_minutes, now=now)
            raise _refused()
        fresh_hash = credentials.hash_password(form.password) if credentials.needs_rehash(user.password_hash) else None
        # Re-checked under the user's write lock: a code spent meanwhile, or a lock or disable, refuses.
        if not session.execute_write(users.record_success, user_id=user.id, totp_step=step,
                                     password_hash=fresh_hash, now=now):
            raise _refused()
    token, _ = security.issue_token(settings, user.viewer(), now=now)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
    return TokenResponse(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=Me, summary="Who the token belongs to: username, role, authority, agency")
def me(viewer: CurrentViewer, driver: DriverDep, graph: GraphSettingsDep) -> Me:
    """The signed-in user, read afresh: a disabled or changed user gets 401 (checked by CurrentViewer)."""
    with driver.session(database=graph.database) as session:
        found = session.execute_read(users.me, user_id=viewer.user_id)
    if found is None:
        raise unauthorized("Invalid or expired token")
    return Me(**found)
