"""The signed-in user's session: token, role checks, a per-user fetch cache, and the place kept across sign-in.

Three kinds of state live in st.session_state:
  auth       the token and the user (from GET /auth/me), removed at every sign-out;
  data       what the API returned, keyed by the user, removed at every sign-out;
  in.<name>  what the user asked for (the child, the purpose, the search): kept when a session ends
             so that signing in again as the same user carries on where they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import streamlit as st

from dashboard.client import ApiClient, ApiError, SignedOut
from dashboard.config import get_dashboard_settings
from dashboard.roles import ROLE_NAMES, Role

AUTH, DATA, RETURN, PAGE, FLASH = "auth", "data", "return_to", "page", "flash"
INPUT = "in."
EXPIRY_MARGIN_SECONDS = 5


def user() -> dict[str, Any] | None:
    """The signed-in user (username, name, role, la_code, authority, agency), or None."""
    auth = st.session_state.get(AUTH)
    return auth["user"] if auth else None


def client(token: str | None = None) -> ApiClient:
    """An API client for the signed-in user (or with the token given)."""
    settings = get_dashboard_settings()
    auth = st.session_state.get(AUTH)
    return ApiClient(settings.api_url, token=token or (auth and auth["token"]), timeout=settings.timeout_seconds)


def sign_in(username: str, password: str, otp: str) -> dict[str, Any]:
    """Sign in with password and code, then learn who we are from GET /auth/me.

    Raises:
        ApiError: refused (SignedOut for wrong credentials) or the API is unreachable.
    """
    token = client().sign_in(username.strip().lower(), password, otp.strip())
    me = client(token.access_token).get("/auth/me")
    returning = st.session_state.get(RETURN)
    if returning and returning.get("username") != me["username"]:
        _clear_inputs()
        st.session_state.pop(RETURN, None)
    st.session_state[AUTH] = {"token": token.access_token, "user": me,
                              "expires_at": time.time() + token.expires_in - EXPIRY_MARGIN_SECONDS}
    st.session_state[DATA] = {}
    return me


def sign_out(*, ended: bool = False) -> None:
    """Forget the token and every fetched result; when the session `ended`, remember the place."""
    current = user()
    if ended and current:
        st.session_state[RETURN] = {"username": current["username"], "page": st.session_state.get(PAGE)}
    else:
        _clear_inputs()
        st.session_state.pop(RETURN, None)
    st.session_state.pop(AUTH, None)
    st.session_state.pop(DATA, None)


def _clear_inputs() -> None:
    for key in [k for k in st.session_state if str(k).startswith((INPUT, "w."))]:
        del st.session_state[key]


def session_ended() -> NoReturn:
    """The API no longer accepts the token: back to sign-in, keeping the place."""
    sign_out(ended=True)
    st.rerun()


def require_role(roles: Iterable[Role]) -> dict[str, Any]:
    """The signed-in user if their role may use this page; otherwise say so and stop the page."""
    current = user()
    allowed = set(roles)
    if current is None or current["role"] not in allowed:
        names = ", ".join(sorted(ROLE_NAMES[r] for r in allowed))
        st.error(f"This page is not available to you. It is for: {names}.")
        st.stop()
    return current


def inputs(name: str) -> dict[str, Any]:
    """What the user asked for on a page (kept across an ended session)."""
    return st.session_state.setdefault(INPUT + name, {})


def returning_page() -> str | None:
    """The page to go back to after signing in again, if a session ended there."""
    back = st.session_state.get(RETURN)
    return back.get("page") if back else None


def clear_return() -> None:
    """The user is back where they were."""
    st.session_state.pop(RETURN, None)


def call(request: Callable[[ApiClient], Any], *, spinner: str = "Asking the directory…") -> Any | None:
    """Run one API request now; an error is shown in plain words and gives None, an ended session signs out."""
    auth = st.session_state.get(AUTH)
    if auth is None or time.time() >= auth["expires_at"]:
        session_ended()
    try:
        with st.spinner(spinner):
            return request(client())
    except SignedOut:
        session_ended()
    except ApiError as exc:
        st.error(exc.plain)
        return None


def fetch(key: tuple[Any, ...], request: Callable[[ApiClient], Any], *, spinner: str = "Loading…") -> Any | None:
    """As `call`, once per key for this user: reruns of a page do not ask (and audit) again."""
    current = user()
    cache = st.session_state.setdefault(DATA, {})
    full = (current and current["username"], *key)
    if full in cache:
        return cache[full]
    value = call(request, spinner=spinner)
    if value is not None:
        cache[full] = value
    return value


def remember(key: tuple[Any, ...], value: Any) -> None:
    """Keep a result of an action (not a fetch) for this user, e.g. the card a break-glass opened."""
    current = user()
    st.session_state.setdefault(DATA, {})[(current and current["username"], *key)] = value


def recall(key: tuple[Any, ...]) -> Any | None:
    """What `remember` kept for this user, or None."""
    current = user()
    return st.session_state.get(DATA, {}).get((current and current["username"], *key))


def forget(*names: str) -> None:
    """Drop fetched results whose key starts with one of `names` (after a change, or to refresh)."""
    cache = st.session_state.get(DATA, {})
    for key in [k for k in cache if k[1] in names]:
        del cache[key]


def flash(message: str) -> None:
    """A confirmation shown once on the next run (after st.rerun)."""
    st.session_state[FLASH] = message


def show_flash() -> None:
    """Show and drop the pending confirmation, if any."""
    message = st.session_state.pop(FLASH, None)
    if message:
        st.success(message)
