"""A child's moves across authorities (timeline and a map from postcode coordinates), and its last accesses."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import figures, labels, roles, session
from dashboard.views.common import choose_child, not_available, shielded_notice


def moves_page() -> None:
    """Residences through time, the moves between authorities with the plans held that day, and a map."""
    session.require_role(roles.LEADS)
    st.title("Moves and map")
    chosen = choose_child("moves")
    if chosen is None:
        return
    child_id, purpose = chosen
    moves = session.fetch(("moves", child_id, purpose),
                          lambda api: api.get(f"/children/{child_id}/moves", purpose=purpose),
                          spinner="Fetching the residence history…")
    if moves is None:
        return
    if moves.get("hidden"):
        shielded_notice(moves["child"])
        return
    child = moves["child"]
    st.subheader(f"{child['given_name']} {child['family_name']}")
    residences = moves.get("residences") or []
    if not residences:
        not_available("No address has been recorded for this child.")
        return
    st.plotly_chart(figures.moves_timeline(residences, moves.get("plans") or [], date.today()),
                    key="moves-timeline", config={"displaylogo": False})
    between = moves.get("moves") or []
    st.subheader("Moves between authorities")
    if not between:
        not_available("No move between local authorities is recorded.")
    for m in between:
        protected = ", ".join(labels.PLAN_KINDS.get(p, p) for p in m.get("protected") or [])
        st.markdown(f"- **{labels.day(m['date'])}**: {m['from']['name']} → {m['to']['name']}"
                    + (f" — while on: **{protected}**" if protected else ""))
    placements = moves.get("placement_moves") or []
    if placements:
        st.subheader("Placement moves while looked after")
        for m in placements:
            st.markdown(f"- {labels.day(m['date'])}: {m['from']['name']} → {m['to']['name']}"
                        + (" (between authorities)" if m.get("between_authorities") else ""))
    if any(r.get("withheld") for r in residences):
        st.info("Some addresses are withheld to protect a member of this household.", icon=":material/lock:")
    st.subheader("Map")
    figure = figures.moves_map(residences)
    if figure is None:
        not_available("No coordinates are recorded for these addresses.")
    else:
        st.caption("Homes in order on the Ordnance Survey national grid, from their postcodes' coordinates "
                   "(no map tiles are loaded).")
        st.plotly_chart(figure, key="moves-map", config={"displaylogo": False})


def accesses_page() -> None:
    """The last 25 looks at a record: who, as what, from where, why, and whether it was flagged."""
    session.require_role(roles.LEADS)
    st.title("Record accesses")
    chosen = choose_child("accesses")
    if chosen is None:
        return
    child_id, purpose = chosen
    found = session.fetch(("accesses", child_id, purpose),
                          lambda api: api.get(f"/children/{child_id}/accesses", purpose=purpose),
                          spinner="Reading the access log…")
    if found is None:
        return
    rows = [{"when": labels.day(a["at"]), "role": a["role"].replace("_", " "), "authority": a["la_code"],
             "user": a["user_id"], "what": a["action"], "purpose": a["purpose"], "outcome": a["outcome"],
             "flagged": "⚑ investigate" if a["flagged"] else ""} for a in found["accesses"]]
    if not rows:
        not_available("Nobody has looked at this record yet.")
        return
    st.caption(f"The last {len(rows)} accesses to record {child_id}, newest first (your own look included).")
    st.table(rows)
