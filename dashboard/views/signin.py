"""Sign-in with username, password and the code from an authenticator app."""

from __future__ import annotations

import streamlit as st

from dashboard import session
from dashboard.client import ApiError, SignedOut

REFUSED = ("That username, password or code was not accepted. Codes change every 30 seconds and each one works "
           "once; after several failures the account is locked for a while.")


def sign_in_page() -> None:
    """The only page before sign-in; on success the role's pages appear."""
    st.title("ContactPoint graph explorer")
    st.caption("Who else is working with this child. For authorised practitioners: every look is recorded.")
    if session.returning_page():
        st.info("Your session ended. Sign in again to carry on where you were.", icon=":material/schedule:")
    with st.form("sign-in"):
        username = st.text_input("Username", max_chars=64, autocomplete="username")
        password = st.text_input("Password", type="password", max_chars=256, autocomplete="current-password")
        otp = st.text_input("Authenticator code", max_chars=6, placeholder="6 digits",
                            autocomplete="one-time-code")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if not username.strip() or not password or not otp.strip():
        st.warning("Enter your username, password and the 6-digit code from your authenticator app.")
        return
    if not (len(otp.strip()) == 6 and otp.strip().isdigit()):
        st.warning("The code from your authenticator app is 6 digits.")
        return
    try:
        with st.spinner("Signing in…"):
            session.sign_in(username, password, otp)
    except SignedOut:
        st.error(REFUSED)
        return
    except ApiError as exc:
        st.error(exc.plain)
        return
    st.rerun()
