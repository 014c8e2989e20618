"""A child's multi-agency chronology: every agency's fragments in one line, and its export for a meeting."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import streamlit as st

from dashboard import figures, labels, roles, session
from dashboard.views.common import choose_child, not_available, shielded_notice

PERIODS = {"Last year": 365, "Last two years": 730, "Whole record": 0}  # days back from today (0: since birth)


def chronology_page() -> None:
    """Swimlanes by agency (homes, plans, school, GP, emergency care, alerts), every entry in time order, and an
    HTML export (one file, printable) whose download is recorded like any other look."""
    session.require_role(roles.LEADS)
    st.title("Chronology")
    chosen = choose_child("chronology")
    if chosen is None:
        return
    child_id, purpose = chosen
    chron = session.fetch(("chronology", child_id, purpose),
                          lambda api: api.get(f"/children/{child_id}/chronology", purpose=purpose),
                          spinner="Putting the fragments in one line…")
    if chron is None:
        return
    if chron.get("hidden"):
        shielded_notice(chron["child"])
        not_available("A shielded record has no chronology to show outside its holding team.")
        return
    child = chron["child"]
    st.subheader(f"{child['given_name']} {child['family_name']} · born {labels.day(child['dob'])}")
    if chron.get("details_withheld"):
        st.info("Some details are withheld to protect another member of this household, and no alerts are shown.",
                icon=":material/lock:")
    entries = chron.get("entries") or []
    if not entries:
        not_available("Nothing is recorded for this child yet.")
        return
    _summary(chron)
    used = [lane["key"] for lane in chron["lanes"] if any(e["lane"] == lane["key"] for e in entries)]
    titles = {lane["key"]: lane["title"] for lane in chron["lanes"]}
    left, right = st.columns([3, 2])
    picked = left.multiselect("Lanes", [titles[k] for k in used], default=[titles[k] for k in used],
                              key=f"w.chronology.lanes.{child_id}")
    period = right.radio("Period", list(PERIODS), index=1, horizontal=True, key=f"w.chronology.period.{child_id}")
    lanes = [k for k in used if titles[k] in picked]
    today = date.today()
    start = (today - timedelta(days=PERIODS[period])).isoformat() if PERIODS[period] else chron["child"]["dob"]
    figure = figures.chronology_figure(chron, lanes, today)
    figure.update_xaxes(range=[start, (today + timedelta(days=10)).isoformat()])
    st.plotly_chart(figure, key="chronology-chart", config={"displaylogo": False})
    rows = [{"when": labels.day(e.get("at") or e["date"]), "lane": titles[e["lane"]], "what": e["text"]}
            for e in entries if e["lane"] in lanes and e["date"] >= start]
    if rows:
        st.caption(f"{len(rows)} of {len(entries)} entries, oldest first; times on the UK clock. Periods that began "
                   "earlier are drawn from their start.")
        st.dataframe(rows, hide_index=True, key="chronology-table")
    else:
        not_available("Nothing in these lanes in this period: choose a longer period or more lanes.")
    _export(child_id, purpose)


def _summary(chron: dict[str, Any]) -> None:
    """The counts a strategy meeting asks for first."""
    entries = chron["entries"]
    agencies = [lane for lane in chron["lanes"] if lane["key"].startswith("agency:")]
    visits = [e for e in entries if e["kind"] == "emergency_attendance"]
    hospitals = {e["agency"]["id"] for e in visits}
    authorities = {e["authority"]["code"] for e in entries if e["lane"] == "homes" and e.get("authority")}
    lead = any(e.get("lead") for e in entries if e["kind"] == "involvement_started")
    gaps = [e for e in entries if e["kind"] in ("school_gap", "gp_gap") and e.get("until") is None]
    cells = st.columns(5)
    cells[0].metric("Agencies", len(agencies))
    cells[1].metric("Authorities lived in", len(authorities))
    cells[2].metric("Emergency visits", len(visits), help=f"at {len(hospitals)} hospitals")
    cells[3].metric("Lead professional", "recorded" if lead else "none")
    cells[4].metric("Open gaps", len(gaps), help="school roll or GP list")


def _export(child_id: str, purpose: str) -> None:
    """Fetch the export only when asked (it is an audited look of its own), then offer it for download."""
    st.divider()
    ready = session.recall(("chronology_export", child_id, purpose))
    left, right = st.columns([2, 3])
    if left.button("Prepare the export for a meeting", icon=":material/print:", key="chronology-export"):
        page = session.call(lambda api: api.get_html(f"/children/{child_id}/chronology", purpose=purpose,
                                                     params={"format": "html"}), spinner="Preparing the export…")
        if page is not None:
            session.remember(("chronology_export", child_id, purpose), page)
            ready = page
    if ready:
        right.download_button("Download the chronology (HTML, printable)", data=ready,
                              file_name=f"chronology-{child_id}-{date.today().isoformat()}.html", mime="text/html",
                              key="chronology-download", icon=":material/download:")
        right.caption("One self-contained file: open it in a browser and print, or save it as PDF. The export is "
                      "recorded in the audit trail.")
