"""The dashboard's entry point: `streamlit run dashboard/app.py` (settings from CP_DASHBOARD_*)."""

from __future__ import annotations

import streamlit as st

from dashboard import nav, session
from dashboard.roles import ROLE_NAMES


def _sidebar(user: dict[str, str]) -> None:
    with st.sidebar:
        st.markdown(f"**{user['name']}**  \n{ROLE_NAMES.get(user['role'], user['role'])}, "
                    f"{user.get('authority') or user['la_code']}" + (f"  \n{user['agency']}" if user.get("agency")
                                                                      else ""))
        if st.button("Sign out", icon=":material/logout:", key="sign-out"):
            session.sign_out()
            st.rerun()


def main() -> None:
    """Build the navigation from the signed-in role (only sign-in before that) and run the chosen page."""
    st.set_page_config(page_title="ContactPoint", page_icon=":material/family_restroom:", layout="wide")
    user = session.user()
    if user is None:
        from dashboard.views.signin import sign_in_page

        st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="sign-in",
                               default=True)], position="hidden").run()
        return
    specs = nav.pages_for(user["role"])
    if not specs:
        st.error("Your role has no pages in this dashboard.")
        return
    sections: dict[str, list[st.Page]] = {}
    for i, spec in enumerate(specs):
        sections.setdefault(spec.section, []).append(nav.page(spec.key, default=i == 0))
    current = st.navigation(sections, expanded=True)
    here = current.url_path or specs[0].key  # the default page's URL path is empty
    back = session.returning_page()
    session.clear_return()
    if back and back != here and back in {spec.key for spec in specs}:
        nav.go(back)
    st.session_state[session.PAGE] = here
    _sidebar(user)
    current.run()


if __name__ == "__main__":
    main()
