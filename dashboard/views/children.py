"""Find a child, and the contacts card: who is working with the child and how to reach them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import streamlit as st

from dashboard import labels, nav, roles, session
from dashboard.roles import Role
from dashboard.views.common import choose_child, identity, is_restricted, not_available, open_child, shielded_notice
from dashboard.views.involvement import involvement_actions

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")
GENDER_CHOICES = ["", "female", "male", "not_known", "not_specified"]


def check_search(fields: dict[str, Any], purpose: str) -> str | None:
    """The API's search rules, said before asking: at least two identifying fields, a postcode that is one."""
    given = {k: v for k, v in fields.items() if v}
    if len(given) < 2:
        return "Give at least two of: given name, family name, date of birth, gender, postcode."
    if fields.get("postcode") and not POSTCODE.match(fields["postcode"].upper().strip()):
        return "That postcode does not look like a UK postcode (for example B1 1AA)."
    if len(purpose.strip()) < 3:
        return "Say why you are searching: it is recorded in the audit trail."
    return None


def search_page() -> None:
    """Search by at least two identifying fields; names match approximately, including former names."""
    session.require_role(roles.SEARCHERS)
    st.title("Find a child")
    st.caption("Give at least two of given name, family name, date of birth, gender and postcode. Names match "
               "approximately (spelling variants and former names). A shielded child is found only by name, date "
               "of birth and gender.")
    asked = session.inputs("search")
    with st.form("search"):
        left, right = st.columns(2)
        given = left.text_input("Given name", value=asked.get("given_name", ""), max_chars=60)
        family = right.text_input("Family name", value=asked.get("family_name", ""), max_chars=60)
        one, two, three = st.columns(3)
        dob = one.date_input("Date of birth", value=date.fromisoformat(asked["dob"]) if asked.get("dob") else None,
                             min_value=date(1990, 1, 1), max_value=date.today(), format="DD/MM/YYYY")
        gender = two.selectbox("Gender", GENDER_CHOICES, index=GENDER_CHOICES.index(asked.get("gender", "")),
                               format_func=lambda g: labels.GENDERS.get(g, "Any"))
        postcode = three.text_input("Postcode", value=asked.get("postcode", ""), max_chars=10)
        purpose = st.text_input("Why are you looking?", value=asked.get("purpose", ""), max_chars=200,
                                placeholder="e.g. school admission check", help="Recorded in the audit trail.")
        searched = st.form_submit_button("Search", type="primary")
    if searched:
        fields = {"given_name": given.strip(), "family_name": family.strip(), "dob": dob.isoformat() if dob else "",
                  "gender": gender, "postcode": postcode.strip().upper()}
        problem = check_search(fields, purpose)
        if problem:
            st.warning(problem)
            return
        asked.clear()
        asked.update(fields, purpose=purpose.strip())
    if not asked:
        not_available("Enter the child's details above to search.")
        return
    params = {k: asked[k] for k in ("given_name", "family_name", "dob", "gender", "postcode")}
    found = session.fetch(("search", tuple(params.items()), asked["purpose"]),
                          lambda api: api.get("/children/search", purpose=asked["purpose"], params=params),
                          spinner="Searching the directory…")
    if found is None:
        return
    _results(found, asked["purpose"])


def _results(found: dict[str, Any], purpose: str) -> None:
    results = found["results"]
    if not results:
        not_available("No child matches those details. Check the spelling, or add the date of birth or postcode.")
        return
    st.subheader(f"{len(results)} {'match' if len(results) == 1 else 'matches'}")
    if found.get("truncated"):
        st.caption("There are more matches than shown: add a field to narrow the search.")
    for child in results:
        with st.container(border=True, key=f"result-{child['id']}"):
            text, action = st.columns([5, 1])
            where = ("Shielded record" if child.get("shielded") and "postcode" not in child
                     else " · ".join(x for x in (child.get("area"), child.get("postcode")) if x) or "no address known")
            text.markdown(f"**{child['given_name']} {child['family_name']}** · born {labels.day(child['dob'])} · "
                          f"{labels.GENDERS.get(child['gender'], '—')}  \n{where} · ID `{child['id']}`")
            if action.button("Open", key=f"open-{child['id']}"):
                open_child(child["id"], suggested=purpose)


def card_page() -> None:
    """The contacts card, after the purpose is stated; a shielded record shows only its holding team."""
    viewer = session.require_role(roles.SEARCHERS)
    st.title("Contacts card")
    chosen = choose_child("card")
    if chosen is None:
        return
    child_id, purpose = chosen
    card = session.fetch(("card", child_id, purpose),
                         lambda api: api.get(f"/children/{child_id}", purpose=purpose), spinner="Opening the record…")
    if card is None:
        return
    if is_restricted(card):
        shielded_notice(card)
        if viewer["role"] in roles.OVERRIDERS:
            _break_glass(child_id, purpose)
        return
    session.show_flash()
    render_card(card)
    involvement_actions(viewer, child_id, purpose, card)
    _next_steps(viewer, child_id)


def _break_glass(child_id: str, purpose: str) -> None:
    """Rule 4: a safeguarding lead may open a shielded record once, with a reason; it will be investigated."""
    opened = session.recall(("override", child_id))
    if opened:
        st.error(opened["warning"], icon=":material/warning:")
        render_card(opened["card"])
        return
    with st.expander("Break-glass: open this shielded record", icon=":material/lock_open:"):
        st.markdown("Only where there is reasonable cause to suspect a child is at risk of significant harm. "
                    "**The override is recorded, flagged for investigation, and the holding team is told.**")
        with st.form("break-glass"):
            reason = st.text_area("Reason for the override", max_chars=500)
            understood = st.checkbox("I understand this override will be investigated")
            go = st.form_submit_button("Open shielded record", type="primary")
        if go:
            if len(reason.strip()) < 5:
                st.warning("Give the reason for the override (at least a few words).")
            elif not understood:
                st.warning("Confirm that you understand the override will be investigated.")
            else:
                result = session.call(lambda api: api.post(f"/children/{child_id}/override", purpose=purpose,
                                                           json={"reason": reason.strip()}),
                                      spinner="Opening by override…")
                if result is not None:
                    session.remember(("override", child_id), result)
                    st.rerun()


def render_card(card: dict[str, Any]) -> None:
    """The full contacts card: lead professional, services, school, GP, carers, plans, address."""
    with st.container(key="contacts-card"):
        identity(card)
        if card.get("shielded"):
            st.warning("This is a shielded record. Do not share its address or contacts outside the holding team's "
                       "arrangements.", icon=":material/shield:")
        if card.get("details_withheld"):
            st.info("Some details are withheld to protect another member of this household.", icon=":material/lock:")
        services = card.get("services") or []
        lead = next((s for s in services if s.get("lead")), None)
        if lead:
            p, a = lead["practitioner"], lead["agency"]
            st.success(f"**Lead professional: {p['name']}**, {p.get('job_title') or 'practitioner'}, {a['name']} — "
                       f"{labels.contact(p.get('phone'), p.get('email'))}", icon=":material/star:")
        elif services:
            st.warning("No lead professional is recorded for this child.", icon=":material/person_off:")
        st.subheader("Who is working with this child")
        if not services:
            not_available("No current involvement of any service is recorded.")
        for s in services:
            p, a = s["practitioner"], s["agency"]
            with st.container(border=True):
                star = "★ lead professional · " if s.get("lead") else ""
                star += "recorded by the practitioner · " if s.get("self_recorded") else ""
                st.markdown(f"**{p['name']}** · {p.get('job_title') or ''} · {a['name']} "
                            f"({labels.kind(a.get('kind'))})  \n{star}{s['service'].replace('_', ' ')} since "
                            f"{labels.day(s.get('since'))} · {labels.contact(p.get('phone'), p.get('email'))}")
        school, gp, home = st.columns(3)
        _place(school, "School", card.get("school"), "On no school roll.")
        _place(gp, "GP practice", card.get("gp"), "Registered with no GP practice.")
        with home:
            st.subheader("Address")
            address = card.get("address")
            if address is None:
                st.markdown("No address known.")
            elif address.get("withheld"):
                st.markdown("Withheld to protect a member of this household.")
            else:
                st.markdown(", ".join(x for x in (address.get("line1"), address.get("line2"), address.get("town"),
                                                  address.get("postcode")) if x)
                            + (f"  \n{address['area']['name']}" if address.get("area") else ""))
        _carers(card.get("carers") or [])
        _plans(card.get("plans") or [])


def _place(column: Any, title: str, place: dict[str, Any] | None, missing: str) -> None:
    with column:
        st.subheader(title)
        if not place:
            st.markdown(missing)
        else:
            st.markdown(f"**{place['name']}** since {labels.day(place.get('since'))}  \n"
                        f"{labels.contact(place.get('phone'), place.get('email'))}")


def _carers(carers: list[dict[str, Any]]) -> None:
    st.subheader("Parents and carers")
    if not carers:
        not_available("No parent or carer is recorded (or they are withheld).")
    for k in carers:
        pr = " · parental responsibility" if k.get("parental_responsibility") else ""
        st.markdown(f"- **{k['name']}** ({k.get('relationship') or 'carer'}{pr}) — "
                    f"{labels.contact(k.get('phone'), k.get('email'))}")


def _plans(plans: list[dict[str, Any]]) -> None:
    if not plans:
        return
    st.subheader("Plans")
    for plan in plans:
        team = plan.get("responsible") or {}
        st.markdown(f"- **{labels.PLAN_KINDS.get(plan['kind'], plan['kind'])}** since {labels.day(plan['since'])}, "
                    f"{team.get('name', '')} — {labels.contact(team.get('team_phone'), team.get('team_email'))}")


def _next_steps(viewer: dict[str, Any], child_id: str) -> None:
    """Links to what this role may do next with the child."""
    if viewer["role"] not in roles.LEADS:
        return
    st.divider()
    keys = ["chronology", "network", "moves", "accesses"] + (["shielding"] if viewer["role"] == Role.LA_ADMIN else [])
    for column, key in zip(st.columns(len(keys)), keys, strict=True):
        if column.button(nav.BY_KEY[key].title, key=f"next-{key}", icon=nav.BY_KEY[key].icon):
            nav.go(key)
