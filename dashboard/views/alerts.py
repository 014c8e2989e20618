"""The authority's alert inbox: children lost between areas and other signposting alerts; acknowledge, close."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import labels, roles, session
from dashboard.views.common import not_available, open_child

STATES = {"open": "Open", "acknowledged": "Acknowledged", "closed": "Closed"}
PAGE_SIZE = 20
TRIAGE_PAGE = 10  # children a page in the triaged view
VIEWS = {"triage": "By child, most concerning first", "flat": "Every alert, newest first"}
DEFAULT_PURPOSE = "Reviewing my authority's alert inbox"


def alerts_page() -> None:
    """By child, most concerning first (each score explained), or every alert newest first; each open alert can
    be acknowledged with a note or closed."""
    viewer = session.require_role(roles.LEADS)
    st.title("Alerts inbox")
    st.caption(f"Alerts addressed to {viewer.get('authority') or viewer['la_code']}. Shielded children's alerts "
               "reach only the holding authority's management team.")
    session.show_flash()
    place = session.inputs("alerts")
    place.setdefault("view", "triage")
    place.setdefault("state", "open")
    place.setdefault("kind", "")
    place.setdefault("skip", 0)
    place.setdefault("purpose", DEFAULT_PURPOSE)
    view = st.radio("Show", list(VIEWS), index=list(VIEWS).index(place["view"]), format_func=VIEWS.get,
                    horizontal=True, key="w.alerts.view")
    if view != place["view"]:
        place.update(view=view, skip=0)
    with st.form("alert-filters"):
        one, two, three = st.columns([2, 2, 3])
        state = one.selectbox("State", list(STATES), index=list(STATES).index(place["state"]), format_func=STATES.get)
        kinds = [""] + list(labels.ALERT_KINDS)
        kind = two.selectbox("Kind", kinds, index=kinds.index(place["kind"]), disabled=place["view"] == "triage",
                             format_func=lambda k: labels.ALERT_KINDS.get(k, "Every kind"),
                             help="In the list of every alert; children are ranked on all their alerts.")
        purpose = three.text_input("Purpose (recorded)", value=place["purpose"], max_chars=200)
        if st.form_submit_button("Show"):
            place.update(state=state, kind=kind if place["view"] == "flat" else place["kind"], skip=0,
                         purpose=purpose.strip() or DEFAULT_PURPOSE)
    if place["view"] == "triage":
        _triaged(place)
    else:
        _flat(place)


def _counts(counts: dict[str, int]) -> None:
    for column, (key, title) in zip(st.columns(3), STATES.items(), strict=True):
        column.metric(title, counts.get(key, 0))


def _flat(place: dict[str, Any]) -> None:
    params = {"state": place["state"], "kind": place["kind"], "limit": PAGE_SIZE, "skip": place["skip"]}
    inbox = session.fetch(("alerts", tuple(params.items()), place["purpose"]),
                          lambda api: api.get("/alerts", purpose=place["purpose"], params=params),
                          spinner="Reading the inbox…")
    if inbox is None:
        return
    _counts(inbox["counts"])
    if not inbox["items"]:
        not_available(f"No {STATES[place['state']].lower()} alerts"
                      + (f" of kind '{labels.ALERT_KINDS[place['kind']]}'." if place["kind"] else "."))
    for alert in inbox["items"]:
        _alert(alert, place["purpose"])
    _pager(place, inbox["total"], PAGE_SIZE)


def _triaged(place: dict[str, Any]) -> None:
    params = {"state": place["state"], "limit": TRIAGE_PAGE, "skip": place["skip"]}
    page = session.fetch(("alerts", "triage", tuple(params.items()), place["purpose"]),
                         lambda api: api.get("/alerts/triage", purpose=place["purpose"], params=params),
                         spinner="Ranking the inbox…")
    if page is None:
        return
    _counts(page["counts"])
    if not page["items"]:
        not_available(f"No {STATES[place['state']].lower()} alerts.")
        return
    st.caption(f"{page['total']} children with {page['alerts']} {STATES[place['state']].lower()} alerts, ranked by how "
               f"their signals compound as of {labels.day(page['as_of'])}; each score is explained line by line.")
    for group in page["items"]:
        _group(group, place["purpose"])
    _pager(place, page["total"], TRIAGE_PAGE)


def _group(group: dict[str, Any], purpose: str) -> None:
    """One child: who, the score and why, the way to the chronology and the card, and its alerts."""
    child, alerts = group.get("child"), group["alerts"]
    with st.container(border=True, key=f"group-{group['rank']}"):
        kinds = ", ".join(sorted({labels.ALERT_KINDS.get(a["kind"], a["kind"]) for a in alerts}))
        if child:
            who = (f"{child['given_name']} {child['family_name']}** · born {labels.day(child['dob'])} · "
                   f"ID `{child['id']}`")
        elif group["subject"].startswith("user:"):
            who = "A user of your authority**"
        else:  # a record no longer in the directory under this id (merged into another team's shielded record)
            who = f"Record `{group['subject']}`**"
        st.markdown(f"**{group['rank']}. {who} · score **{group['score']}**  \n{len(alerts)} "
                    f"{'alert' if len(alerts) == 1 else 'alerts'}: {kinds}")
        st.markdown("\n".join(f"- **+{r['points']}** {r['why']}" for r in group["reasons"])
                    or "- no signal beyond the alert itself")
        if child:
            left, right, _ = st.columns([2, 2, 3])
            suggested = f"Following up alerts: {kinds}"[:200]
            if left.button("Chronology", key=f"chronology-{group['rank']}", icon=":material/timeline:"):
                open_child(child["id"], suggested=suggested, page="chronology")
            if right.button("Open child", key=f"card-{group['rank']}"):
                open_child(child["id"], suggested=suggested)
        with st.expander(f"The {len(alerts)} {'alert' if len(alerts) == 1 else 'alerts'}"):
            for alert in alerts:
                _alert(alert, purpose)


def _alert(alert: dict[str, Any], purpose: str) -> None:
    with st.container(border=True, key=f"alert-{alert['id']}"):
        st.markdown(f"**{labels.ALERT_KINDS.get(alert['kind'], alert['kind'])}** · {STATES[alert['state']]} · raised "
                    f"{labels.day(alert['raised_at'])}  \n{alert.get('summary') or ''}")
        if alert.get("acknowledged"):
            ack = alert["acknowledged"]
            st.caption(f"Acknowledged {labels.day(ack['at'])}: {ack.get('note') or ''}")
        if alert.get("closed"):
            closed = alert["closed"]
            st.caption(f"Closed {labels.day(closed['at'])}" + (f": {closed['note']}" if closed.get("note") else ""))
        left, middle, right = st.columns([1, 2, 2])
        if left.button("Open child", key=f"child-{alert['id']}"):
            open_child(alert["child_id"], suggested=f"Following up alert: {labels.ALERT_KINDS.get(alert['kind'])}")
        if alert["state"] == "open":
            with middle.form(f"ack-{alert['id']}"):
                note = st.text_input("What is being done", max_chars=1000, key=f"w.ack.{alert['id']}")
                if st.form_submit_button("Acknowledge"):
                    _change(alert, "acknowledge", note.strip(), purpose)
        if alert["state"] in ("open", "acknowledged"):
            with right.form(f"close-{alert['id']}"):
                note = st.text_input("Closing note (optional)", max_chars=1000, key=f"w.close.{alert['id']}")
                if st.form_submit_button("Close"):
                    _change(alert, "close", note.strip(), purpose)


def _change(alert: dict[str, Any], action: str, note: str, purpose: str) -> None:
    if action == "acknowledge" and not note:
        st.warning("Say what is being done about this alert before acknowledging it.")
        return
    body = {"note": note} if note or action == "acknowledge" else {}
    done = session.call(lambda api: api.post(f"/alerts/{alert['id']}/{action}", purpose=purpose, json=body),
                        spinner="Saving…")
    if done is not None:
        session.forget("alerts")
        session.flash(f"Alert {'acknowledged' if action == 'acknowledge' else 'closed'}: "
                      f"{labels.ALERT_KINDS.get(alert['kind'], alert['kind'])} about child {alert['child_id']}.")
        st.rerun()


def _pager(place: dict[str, Any], total: int, size: int) -> None:
    if total <= size:
        return
    back, where, ahead = st.columns([1, 2, 1])
    where.caption(f"{place['skip'] + 1}–{min(place['skip'] + size, total)} of {total}")
    if back.button("Previous", disabled=place["skip"] == 0):
        place["skip"] = max(0, place["skip"] - size)
        st.rerun()
    if ahead.button("Next", disabled=place["skip"] + size >= total):
        place["skip"] += size
        st.rerun()
