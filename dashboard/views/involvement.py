"""On the contacts card: "I am working with this child" (add, end) and choosing the lead professional."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from dashboard import labels, roles, session

SERVICES = ("social_care", "early_help", "health_visiting", "school_nursing", "police", "youth_justice", "camhs",
            "sexual_health", "substance_misuse", "voluntary", "housing")
SENSITIVE = ("camhs", "sexual_health", "substance_misuse")


def service_name(code: str) -> str:
    """A service in words (the agency kinds' names where they match)."""
    return labels.AGENCY_KINDS.get(code, code.replace("_", " ").capitalize())


def involvement_actions(viewer: dict[str, Any], child_id: str, purpose: str, card: dict[str, Any]) -> None:
    """The card's actions for this role: record or end one's own involvement; choose the lead professional."""
    if viewer["role"] in roles.INVOLVED:
        _mine(child_id, purpose, card)
    if viewer["role"] in roles.LEAD_CHOOSERS:
        _lead(child_id, purpose, card)


def _changed(message: str) -> None:
    """After a change: the card is asked for again (it shows the change at once), with a confirmation."""
    session.forget("card")
    session.flash(message)
    st.rerun()


def _mine(child_id: str, purpose: str, card: dict[str, Any]) -> None:
    st.divider()
    st.subheader("Your involvement")
    for s in [s for s in card.get("services") or [] if s.get("mine")]:
        text, action = st.columns([4, 1])
        text.markdown(f"You are working with this child: **{service_name(s['service'])}** since "
                      f"{labels.day(s.get('since'))}.")
        if action.button("End it", key=f"end-{s['service']}", icon=":material/logout:"):
            done = session.call(lambda api, svc=s["service"]: api.post(
                f"/children/{child_id}/involvements/end", purpose=purpose, json={"service": svc}),
                spinner="Ending your involvement…")
            if done is not None:
                _changed(f"Your {service_name(s['service']).lower()} involvement has ended; it is recorded.")
    with st.expander("I am working with this child", icon=":material/person_add:"):
        with st.form("involvement"):
            service = st.selectbox("Service", SERVICES, format_func=service_name)
            since = st.date_input("Since", value=date.today(), max_value=date.today(), format="DD/MM/YYYY")
            consent = st.checkbox("For a sensitive service (CAMHS, sexual health, substance misuse): the child or "
                                  "carer consents to it being shown to other practitioners")
            job, phone, email = st.columns(3)
            job_title = job.text_input("Your job title", max_chars=80)
            phone_text = phone.text_input("Your phone", max_chars=20)
            email_text = email.text_input("Your email", max_chars=120)
            recorded = st.form_submit_button("Record my involvement", type="primary")
        if recorded:
            body: dict[str, Any] = {"service": service, "since": since.isoformat(), "sensitive": service in SENSITIVE,
                                    "consent": consent}
            body.update({k: v.strip() for k, v in (("job_title", job_title), ("phone", phone_text),
                                                    ("email", email_text)) if v.strip()})
            done = session.call(lambda api: api.post(f"/children/{child_id}/involvements", purpose=purpose,
                                                     json=body), spinner="Recording your involvement…")
            if done is not None:
                _changed("Your involvement is recorded and shows on the card.")


def _lead(child_id: str, purpose: str, card: dict[str, Any]) -> None:
    services = card.get("services") or []
    if not services:
        return
    options = [(s["practitioner"]["id"], s["service"]) for s in services]
    names = {(s["practitioner"]["id"], s["service"]): f"{s['practitioner']['name']} — {s['agency']['name']} "
             f"({service_name(s['service'])})" for s in services}
    current = next((i for i, s in enumerate(services) if s.get("lead")), None)
    with st.expander("Lead professional", icon=":material/star:"):
        with st.form("lead"):
            chosen = st.selectbox("Lead professional", options, index=current, format_func=names.get,
                                  placeholder="Choose one of the current involvements")
            st.caption("One lead at a time: choosing another unsets the current lead. Recorded in the audit trail.")
            go = st.form_submit_button("Set as lead professional", type="primary")
        if go:
            if chosen is None:
                st.warning("Choose who is to be the lead professional.")
                return
            done = session.call(lambda api: api.put(f"/children/{child_id}/lead", purpose=purpose,
                                                    json={"practitioner_id": chosen[0], "service": chosen[1]}),
                                spinner="Setting the lead professional…")
            if done is not None:
                _changed(f"{names[chosen].split(' — ')[0]} is now the lead professional.")
