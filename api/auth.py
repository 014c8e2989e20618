"""POST /auth/token: password plus TOTP code for a short-lived bearer token, with lockout; GET /auth/me.

Every sign-in attempt, and every lockout it causes, is an audit event (in the transaction that records
it on the user where there is one), though the response never says why a sign-in was refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from neo4j import ManagedTransaction
from pydantic import BaseModel

from api import security
from api.deps import ApiSettingsDep, CurrentViewer, DriverDep, GraphSettingsDep, request_ids, unauthorized
from graph import audit, credentials, users
from graph.viewer import Viewer

router = APIRouter(prefix="/auth", tags=["auth"])

# Every refusal looks the same, so a response never says whether the user exists, is locked,
# is disabled, or which factor was wrong.
LOGIN_REFUSED = "Invalid username, password or code"
SIGN_IN_PURPOSE = "sign-in"
# Who a sign-in event names when no user has the name given.
UNKNOWN = audit.Actor(user_id="unknown", role="")


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


class _Trail:
    """The audit events of one sign-in request: who it was for, the request's ids, what was typed as a name."""

    def __init__(self, request: Request, typed: str) -> None:
        self.ids = request_ids(request)
        name = typed.strip().lower()
        # Kept only if it could be a username: a password typed into the name field stays out of the trail.
        self.username = name if users.USERNAME.fullmatch(name) else None

    def event(self, who: Viewer | audit.Actor, action: str, outcome: str, **detail: Any) -> dict[str, Any]:
        """The fields of one event (graph.audit.event_fields): no password, hash or TOTP secret, ever."""
        return audit.event_fields(viewer=who, action=action, children=[], purpose=SIGN_IN_PURPOSE, outcome=outcome,
                                  detail={"username": self.username, **detail}, **self.ids)

    def refusal(self, who: Viewer | audit.Actor, reason: str) -> dict[str, Any]:
        """A refused sign-in and why (the response does not say)."""
        return self.event(who, "sign_in", "denied", reason=reason)

    def record(self, session: Any, *events: dict[str, Any]) -> None:
        """Append events in a transaction of their own: a refusal that changes nothing on the user."""
        session.execute_write(lambda tx: audit.append_batch(tx, events))


@router.post("/token", response_model=TokenResponse)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    otp: Annotated[str, Form(description="The current 6-digit code from the authenticator app.")],
    driver: DriverDep,
    graph: GraphSettingsDep,
    settings: ApiSettingsDep,
    response: Response,
) -> TokenResponse:
    """Exchange username, password and TOTP code for an access token."""
    now = datetime.now(UTC)
    trail = _Trail(request, form.username)
    with driver.session(database=graph.database) as session:
        user = session.execute_read(users.get_user_for_login, username=form.username)
        if user is None:
            credentials.spend_verification(form.password)
            trail.record(session, trail.refusal(UNKNOWN, "unknown_user"))
            raise _refused()
        who = user.viewer()
        # Verify before the state checks so a locked or disabled account costs the same time.
        password_ok = credentials.verify_password(user.password_hash, form.password)
        if user.disabled or user.locked(now) or not user.totp_secret:
            reason = "disabled" if user.disabled else "locked" if user.locked(now) else "no_second_factor"
            trail.record(session, trail.refusal(who, reason))
            raise _refused()
        step = credentials.verify_totp(user.totp_secret, otp, now, user.totp_last_step) if password_ok else None
        if step is None:

            def failed(tx: ManagedTransaction) -> None:
                events = [trail.refusal(who, "wrong_code" if password_ok else "wrong_password")]
                if users.record_failure(tx, user_id=user.id, attempts_allowed=settings.lockout_attempts,
                                        lock_minutes=settings.lockout_minutes, now=now):
                    events.append(trail.event(who, "user_lock", "ok", failures=settings.lockout_attempts,
                                              minutes=settings.lockout_minutes))
                audit.append_batch(tx, events)

            session.execute_write(failed)
            raise _refused()
        fresh_hash = credentials.hash_password(form.password) if credentials.needs_rehash(user.password_hash) else None

        def succeeded(tx: ManagedTransaction) -> bool:
            # Re-checked under the user's write lock: a code spent meanwhile, or a lock or disable, refuses.
            accepted = users.record_success(tx, user_id=user.id, totp_step=step, password_hash=fresh_hash, now=now)
            audit.append_batch(tx, [trail.event(who, "sign_in", "ok") if accepted
                                    else trail.refusal(who, "refused_on_recheck")])
            return accepted

        if not session.execute_write(succeeded):
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
