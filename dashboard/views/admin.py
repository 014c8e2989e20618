"""The management team's pages: shield and unshield records the authority holds; the authority's users."""

from __future__ import annotations

import streamlit as st

from dashboard import roles, session
from dashboard.views.common import choose_child, identity, not_available


def shielding_page() -> None:
    """Shield a record the authority holds, or lift its shield, with a reason (both are audited)."""
    viewer = session.require_role(roles.ADMINS)
    st.title("Shielding")
    st.caption(f"Records held by {viewer.get('authority') or viewer['la_code']}. A shielded record shows only name, "
               "date of birth, gender and your team's contact to everyone else.")
    session.show_flash()
    chosen = choose_child("shielding")
    if chosen is None:
        return
    child_id, purpose = chosen
    card = session.fetch(("card", child_id, purpose), lambda api: api.get(f"/children/{child_id}", purpose=purpose),
                         spinner="Opening the record…")
    if card is None:
        return
    identity(card)
    shielded = bool(card.get("shielded"))
    holder = (card.get("holding_team") or {}).get("name")
    state = "shielded" if shielded else "not shielded"
    st.markdown(f"Currently **{state}**" + (f"; held by {holder}." if holder else "."))
    with st.form("shield"):
        reason = st.text_area("Reason (recorded)", max_chars=500)
        confirmed = st.checkbox("Lift the shield" if shielded else "Shield this record")
        submitted = st.form_submit_button("Lift shield" if shielded else "Shield record", type="primary")
    if not submitted:
        return
    if len(reason.strip()) < 5:
        st.warning("Give the reason for this decision (at least a few words).")
        return
    if not confirmed:
        st.warning("Tick the box to confirm the decision.")
        return
    path, body = f"/children/{child_id}/shield", {"reason": reason.strip()}
    done = session.call((lambda api: api.delete(path, purpose=purpose, json=body)) if shielded
                        else (lambda api: api.post(path, purpose=purpose, json=body)), spinner="Saving…")
    if done is not None:
        session.forget("card", "search", "network", "moves")
        session.flash(f"Record {child_id} is {'no longer shielded' if shielded else 'now shielded'}.")
        st.rerun()


def users_page() -> None:
    """Who in the authority may sign in: role, agency, and whether the account is disabled or locked."""
    viewer = session.require_role(roles.ADMINS)
    st.title("Users")
    found = session.fetch(("users",), lambda api: api.get("/users"), spinner="Listing users…")
    if found is None:
        return
    st.caption(f"The users of {viewer.get('authority') or found['la_code']}. Add or disable users with "
               "`contactpoint users add|disable`.")
    if not found["users"]:
        not_available("No users in your authority yet.")
        return
    st.table([{"username": u["username"], "name": u["name"], "role": roles.ROLE_NAMES.get(u["role"], u["role"]),
               "agency": u.get("agency") or u.get("agency_id") or "—",
               "status": "disabled" if u["disabled"] else "locked" if u["locked"] else "active"}
              for u in found["users"]])
    if st.button("Refresh", icon=":material/refresh:"):
        session.forget("users")
        st.rerun()
