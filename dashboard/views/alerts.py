"""The authority's alert inbox: children lost between areas and other signposting alerts; acknowledge, close."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import labels, roles, session
from dashboard.views.common import not_available, open_child

STATES = {"open": "Open", "acknowledged": "Acknowledged", "closed": "Closed"}
PAGE_SIZE = 20
DEFAULT_PURPOSE = "Reviewing my authority's alert inbox"


def alerts_page() -> None:
    """List by state and kind, newest first; each open alert can be acknowledged with a note or closed."""
    viewer = session.require_role(roles.LEADS)
    st.title("Alerts inbox")
    st.caption(f"Alerts addressed to {viewer.get('authority') or viewer['la_code']}. Shielded children's alerts "
               "reach only the holding authority's management team.")
    session.show_flash()
    place = session.inputs("alerts")
    place.setdefault("state", "open")
    place.setdefault("kind", "")
    place.setdefault("skip", 0)
    place.setdefault("purpose", DEFAULT_PURPOSE)
    with st.form("alert-filters"):
        one, two, three = st.columns([2, 2, 3])
        state = one.selectbox("State", list(STATES), index=list(STATES).index(place["state"]), format_func=STATES.get)
        kinds = [""] + list(labels.ALERT_KINDS)
        kind = two.selectbox("Kind", kinds, index=kinds.index(place["kind"]),
                             format_func=lambda k: labels.ALERT_KINDS.get(k, "Every kind"))
        purpose = three.text_input("Purpose (recorded)", value=place["purpose"], max_chars=200)
        if st.form_submit_button("Show"):
            place.update(state=state, kind=kind, skip=0, purpose=purpose.strip() or DEFAULT_PURPOSE)
    params = {"state": place["state"], "kind": place["kind"], "limit": PAGE_SIZE, "skip": place["skip"]}
    inbox = session.fetch(("alerts", tuple(params.items()), place["purpose"]),
                          lambda api: api.get("/alerts", purpose=place["purpose"], params=params),
                          spinner="Reading the inbox…")
    if inbox is None:
        return
    columns = st.columns(3)
    for column, (key, title) in zip(columns, STATES.items(), strict=True):
        column.metric(title, inbox["counts"].get(key, 0))
    if not inbox["items"]:
        not_available(f"No {STATES[place['state']].lower()} alerts"
                      + (f" of kind '{labels.ALERT_KINDS[place['kind']]}'." if place["kind"] else "."))
    for alert in inbox["items"]:
        _alert(alert, place["purpose"])
    _pager(place, inbox["total"])


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


def _pager(place: dict[str, Any], total: int) -> None:
    if total <= PAGE_SIZE:
        return
    back, where, ahead = st.columns([1, 2, 1])
    where.caption(f"{place['skip'] + 1}–{min(place['skip'] + PAGE_SIZE, total)} of {total}")
    if back.button("Newer", disabled=place["skip"] == 0):
        place["skip"] = max(0, place["skip"] - PAGE_SIZE)
        st.rerun()
    if ahead.button("Older", disabled=place["skip"] + PAGE_SIZE >= total):
        place["skip"] += PAGE_SIZE
        st.rerun()
