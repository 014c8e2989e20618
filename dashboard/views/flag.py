"""The protection flag for emergency-department clinicians (as CP-IS): is this child on a child protection plan
or looked after, and whom to call. Nothing else of the record is shown, and the authority is told of the look."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st

from dashboard import labels, roles, session
from dashboard.views.common import not_available

NHS_NUMBER = re.compile(r"^\d{10}$")
DEFAULT_PURPOSE = "child attending the emergency department"


def check_flag(fields: dict[str, str], purpose: str) -> str | None:
    """The API's rules, said before asking: an NHS number, or given name, family name and date of birth."""
    names = [fields["given_name"], fields["family_name"], fields["dob"]]
    if fields["nhs_number"] and any(names):
        return "Give the NHS number, or the names and date of birth: not both."
    if fields["nhs_number"] and not NHS_NUMBER.match(fields["nhs_number"]):
        return "An NHS number is 10 digits."
    if not fields["nhs_number"] and not all(names):
        return "Give the child's NHS number, or their given name, family name and date of birth."
    if len(purpose.strip()) < 3:
        return "Say why you are looking: it is recorded in the audit trail."
    return None


def flag_page() -> None:
    """Look a child up by NHS number (or names and date of birth) and show the flag alone."""
    session.require_role(roles.CLINICIANS)
    st.title("Protection flag")
    st.caption("Whether a child is on a child protection plan or looked after (now, or ended in the last 12 "
               "months), which authority is responsible and how to reach its team; nothing else of the record. "
               "The responsible authority is told each time a flag is viewed, and every look is audited.")
    asked = session.inputs("flag")
    with st.form("flag"):
        nhs = st.text_input("NHS number", value=asked.get("nhs_number", ""), max_chars=12,
                            placeholder="10 digits, e.g. 943 476 5919")
        st.markdown("or")
        left, middle, right = st.columns(3)
        given = left.text_input("Given name", value=asked.get("given_name", ""), max_chars=60)
        family = middle.text_input("Family name", value=asked.get("family_name", ""), max_chars=60)
        dob = right.date_input("Date of birth", value=date.fromisoformat(asked["dob"]) if asked.get("dob") else None,
                               min_value=date(1990, 1, 1), max_value=date.today(), format="DD/MM/YYYY")
        purpose = st.text_input("Why are you looking?", value=asked.get("purpose", DEFAULT_PURPOSE), max_chars=200,
                                help="Recorded in the audit trail.")
        looked = st.form_submit_button("Check the flag", type="primary")
    if looked:
        fields = {"nhs_number": nhs.replace(" ", "").strip(), "given_name": given.strip(),
                  "family_name": family.strip(), "dob": dob.isoformat() if dob else ""}
        problem = check_flag(fields, purpose)
        if problem:
            st.warning(problem)
            return
        asked.clear()
        asked.update(fields, purpose=purpose.strip())
    if not asked:
        not_available("Enter the child's NHS number, or names and date of birth, to check for a flag.")
        return
    params = {k: asked[k] for k in ("nhs_number", "given_name", "family_name", "dob")}
    found = session.fetch(("flag", tuple(params.items()), asked["purpose"]),
                          lambda api: api.get("/flags", purpose=asked["purpose"], params=params),
                          spinner="Checking the flag…")
    if found is None:
        return
    if not found["results"]:
        not_available("No child with those details is in the directory. With an NHS number, also try the names "
                      "and date of birth.")
        return
    for child in found["results"]:
        show(child)
    if found.get("truncated"):
        st.caption("There are more matches than shown: use the NHS number.")


def show(child: dict[str, Any]) -> None:
    """One child's flag: a shielded record's holding team, the plans that flag it, or that nothing does."""
    with st.container(border=True, key=f"flag-{child['id']}"):
        st.header(f"{child['given_name']} {child['family_name']}")
        st.markdown(f"Born **{labels.day(child.get('dob'))}** · directory ID `{child['id']}`")
        if child.get("shielded"):
            team = child.get("holding_team") or {}
            st.warning(f"**This record is shielded.** Contact the management team of "
                       f"{team.get('name', 'the holding authority')}: "
                       f"{labels.contact(team.get('team_phone'), team.get('team_email'))}. "
                       "They have been told of this look.", icon=":material/shield:")
            return
        if not child.get("flagged"):
            st.success("No child protection plan or looked-after status, now or in the last 12 months.",
                       icon=":material/check_circle:")
            return
        for plan in child["protection"]:
            team = plan.get("responsible") or {}
            when = "current" if plan["current"] else f"ended {labels.day(plan.get('ended_on'))}"
            st.error(f"**{labels.PLAN_KINDS.get(plan['kind'], plan['kind'])}** ({when}) — responsible authority "
                     f"**{team.get('name', '')}**: {labels.contact(team.get('team_phone'), team.get('team_email'))}",
                     icon=":material/crisis_alert:")
        st.caption("The responsible authority has been told that this flag was viewed.")
