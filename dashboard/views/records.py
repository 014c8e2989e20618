"""The management team's pages for the data subject's rights: subject access and corrections (both audited)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import labels, roles, session
from dashboard.views.common import choose_child, not_available

FIELDS = {"given_name": "Given name", "family_name": "Family name", "dob": "Date of birth (YYYY-MM-DD)",
          "gender": "Gender", "nhs_number": "NHS number", "upn": "Unique pupil number"}
SECTIONS = {"sources": "sources", "addresses": "addresses", "carers": "carers", "registrations": "school and GP",
            "services": "services", "plans": "plans", "attendances": "emergency visits", "alerts": "alerts",
            "corrections": "corrections", "accesses": "looks at the record"}


def subject_access_page() -> None:
    """Export everything held about a child (UK GDPR article 15) as JSON or a readable document."""
    session.require_role(roles.ADMINS)
    st.title("Subject access")
    st.caption("Everything held about a child your authority holds, archived records included, with other people's "
               "data handled as docs/privacy.md says. Each export is recorded in the audit trail with your purpose.")
    chosen = choose_child("subject_access")
    if chosen is None:
        return
    child_id, purpose = chosen
    fmt = st.radio("Format", ["html", "json"], horizontal=True,
                   format_func=lambda f: "Readable document (HTML)" if f == "html" else "Data (JSON)")
    if st.button("Prepare the export", type="primary"):
        path = f"/children/{child_id}/subject-access"
        got = session.call((lambda api: api.get_html(path, purpose=purpose, params={"format": "html"})) if fmt == "html"
                           else (lambda api: api.get(path, purpose=purpose, params={"format": "json"})),
                           spinner="Gathering everything held…")
        if got is not None:
            session.remember(("subject_access", child_id, fmt), got)
    made = session.recall(("subject_access", child_id, fmt))
    if made is None:
        return
    if fmt == "json":
        import json

        counts = ", ".join(f"{len(made.get(k) or [])} {name}" for k, name in SECTIONS.items())
        st.markdown(f"**{made['identity']['given_name']} {made['identity']['family_name']}**: {counts}.")
        if made.get("archive"):
            st.info(f"Archived on {labels.day(made['archive']['archived_on'])}; to be destroyed on "
                    f"{labels.day(made['archive']['destroy_on'])}.")
        data, mime = json.dumps(made, indent=2, default=str), "application/json"
    else:
        st.markdown("The readable document is ready. Highlighted entries are for the data protection officer to "
                    "review before release.")
        data, mime = made, "text/html"
    st.download_button("Download the export", data=data, file_name=f"subject-access-{child_id}.{fmt}", mime=mime,
                       icon=":material/download:")


def _corrections(child_id: str, purpose: str) -> list[dict[str, Any]] | None:
    found = session.fetch(("corrections", child_id, purpose),
                          lambda api: api.get(f"/children/{child_id}/corrections", purpose=purpose),
                          spinner="Reading the corrections…")
    return None if found is None else found["corrections"]


def corrections_page() -> None:
    """Correct a field of a record with a reason; what the source sent stays under it (UK GDPR article 16)."""
    session.require_role(roles.ADMINS)
    st.title("Corrections")
    st.caption("A correction shows on the record for everyone; what the source sent is kept under it, and a feed "
               "that later sends a different value raises an alert for your team instead of undoing it.")
    session.show_flash()
    chosen = choose_child("corrections")
    if chosen is None:
        return
    child_id, purpose = chosen
    items = _corrections(child_id, purpose)
    if items is None:
        return
    standing = [c for c in items if c["state"] == "standing"]
    if not items:
        not_available("No corrections of this record.")
    else:
        st.table([{"field": FIELDS.get(c["field"], c["field"]), "corrected to": str(c["value"]),
                   "source sent": str(c["source_value"]), "state": c["state"] + (" — source differs" if c.get(
                       "in_conflict") else ""), "reason": c["reason"], "when": labels.day(str(c["at"])[:10])}
                  for c in items])
    with st.form("correct"):
        field = st.selectbox("Field", list(FIELDS), format_func=FIELDS.get)
        value = st.text_input("Corrected value", max_chars=200)
        reason = st.text_area("Reason (recorded)", max_chars=500)
        submitted = st.form_submit_button("Correct the record", type="primary")
    if submitted:
        if not value.strip() or len(reason.strip()) < 5:
            st.warning("Give the corrected value and the reason for it.")
        else:
            done = session.call(lambda api: api.post(f"/children/{child_id}/corrections", purpose=purpose,
                                                     json={"field": field, "value": value.strip(),
                                                           "reason": reason.strip()}), spinner="Saving…")
            if done is not None:
                session.forget("corrections", "card", "search")
                session.flash(f"{FIELDS[field]} of {child_id} corrected to {done['value']}.")
                st.rerun()
    if standing:
        with st.form("withdraw"):
            pick = st.selectbox("Withdraw a correction (the source's value returns)", standing,
                                format_func=lambda c: f"{FIELDS.get(c['field'], c['field'])}: {c['value']}")
            why = st.text_input("Reason (recorded)", max_chars=500)
            withdrawn = st.form_submit_button("Withdraw")
        if withdrawn and pick is not None:
            if len(why.strip()) < 5:
                st.warning("Give the reason for withdrawing it.")
                return
            done = session.call(lambda api: api.delete(f"/children/{child_id}/corrections/{pick['id']}",
                                                       purpose=purpose, json={"reason": why.strip()}))
            if done is not None:
                session.forget("corrections", "card", "search")
                session.flash(f"The correction of {FIELDS.get(pick['field'], pick['field'])} was withdrawn.")
                st.rerun()
