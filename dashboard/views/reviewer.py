"""The reviewer's pages: suppressed pattern prevalence and trends, pseudonymised cases, network measures."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import figures, labels, roles, session
from dashboard.views.common import not_available

DEFAULT_PURPOSE = "Serious case review"


def _purpose() -> str:
    """The stated purpose of this review work, asked once and kept for the reviewer pages."""
    place = session.inputs("review")
    place.setdefault("purpose", DEFAULT_PURPOSE)
    given = st.sidebar.text_input("Purpose of this review (recorded)", value=place["purpose"], max_chars=200,
                                  key=f"w.review.purpose.{place['purpose']}")
    if given.strip() and given.strip() != place["purpose"]:
        place["purpose"] = given.strip()
    return place["purpose"]


def _cell(value: Any) -> str:
    """A published count as shown: suppressed cells stay '<5' or 'c'."""
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _rate(value: Any) -> str:
    """A rate per 1,000, given only where both its count and cohort are shown."""
    return f"{value:.1f}" if isinstance(value, (int, float)) else "—"


def _prevalence(purpose: str, cohort: str, day: str | None = None) -> dict[str, Any] | None:
    return session.fetch(("prevalence", cohort, day, purpose),
                         lambda api: api.get("/analytics/prevalence", purpose=purpose,
                                             params={"cohort": cohort, "date": day}),
                         spinner="Reading the pattern counts…")


def patterns_page() -> None:
    """Prevalence by authority and nationally for a cohort and date, and each pattern's trend."""
    viewer = session.require_role(roles.REVIEWERS)
    purpose = _purpose()
    st.title("Serious-case patterns")
    st.caption("Counts under 5 are shown as **<5**; **c** marks a count withheld so that a small one cannot be "
               "worked out from the totals. Rates are per 1,000 children in the cohort.")
    one, two = st.columns(2)
    cohort = one.selectbox("Cohort", list(labels.COHORTS), format_func=labels.COHORTS.get, key="w.patterns.cohort")
    latest = _prevalence(purpose, cohort)
    if latest is None:
        return
    dates = [str(d) for d in latest["dates"]]
    day = two.selectbox("Counted on", dates[::-1], key="w.patterns.date")
    table = latest if day == str(latest["date"]) else _prevalence(purpose, cohort, day)
    if table is None:
        return
    patterns = table["patterns"]
    national = table["national"]
    st.subheader(f"England · {labels.COHORTS[cohort].lower()} · {labels.day(day)}")
    st.table([{"pattern": labels.PATTERNS.get(p, p), "children": _cell(national["counts"].get(p)),
               "per 1,000": _rate((national.get("per_1000") or {}).get(p))} for p in patterns])
    st.caption(f"Cohort size: {_cell(national.get('children'))}")
    st.subheader("By authority")
    st.dataframe([{"authority": a["name"], "children": _cell(a["children"]),
                   **{labels.PATTERNS.get(p, p): _cell(a["counts"].get(p)) for p in patterns}}
                  for a in table["authorities"]], hide_index=True, key="prevalence-table")
    st.subheader("Trend")
    names = {a["code"]: a["name"] for a in table["authorities"]}
    scopes = [""] + sorted(names, key=names.get)
    own = viewer["la_code"] if viewer["la_code"] in names else ""
    scope = st.selectbox("Where", scopes, index=scopes.index(own), format_func=lambda c: names.get(c, "England"),
                         key="w.patterns.scope")
    trend = session.fetch(("trend", cohort, scope, purpose),
                          lambda api: api.get("/analytics/trend", purpose=purpose,
                                              params={"cohort": cohort, "la_code": scope}),
                          spinner="Reading the trend…")
    if trend is not None:
        st.plotly_chart(figures.trend_figure(trend["points"], trend["patterns"]), key="trend-chart",
                        config={"displaylogo": False})


def _authority(viewer: dict[str, Any], purpose: str, page: str) -> str | None:
    """The authority to study: the reviewer's own by default, any that has counts."""
    latest = _prevalence(purpose, "all")
    if latest is None:
        return None
    names = {a["code"]: a["name"] for a in latest["authorities"]}
    codes = sorted(names, key=names.get)
    if not codes:
        not_available("No authority has pattern counts yet.")
        return None
    index = codes.index(viewer["la_code"]) if viewer["la_code"] in codes else 0
    return st.selectbox("Authority", codes, index=index, format_func=names.get, key=f"w.{page}.la")


def cases_page() -> None:
    """Pseudonymised cases showing chosen patterns; one case's network and chronology by agency."""
    viewer = session.require_role(roles.REVIEWERS)
    purpose = _purpose()
    st.title("Cases")
    st.caption("Cases are pseudonymised: no names, addresses or real ids, and no exact dates. Shielded children "
               "and their households are never cases.")
    la_code = _authority(viewer, purpose, "cases")
    if la_code is None:
        return
    chosen = st.multiselect("With any of these patterns", list(labels.PATTERNS), format_func=labels.PATTERNS.get,
                            key="w.cases.patterns")
    found = session.fetch(("cases", la_code, tuple(chosen), purpose),
                          lambda api: api.get("/analytics/cases", purpose=purpose,
                                              params={"la_code": la_code, "pattern": chosen}),
                          spinner="Finding cases…")
    if found is None:
        return
    cases = found["cases"]
    if not cases:
        not_available("No case in this authority shows those patterns.")
        return
    st.table([{"case": c["case"], "age": c["age_band"], "cohorts": ", ".join(labels.COHORTS.get(x, x)
              for x in c["cohorts"]) or "—", "patterns": ", ".join(labels.PATTERNS.get(p, p) for p in c["patterns"])}
              for c in cases])
    case = st.selectbox("Open a case", [""] + [c["case"] for c in cases], key=f"w.cases.case.{la_code}",
                        format_func=lambda c: c or "—")
    if case:
        _case(case, la_code, purpose)


def _case(case: str, la_code: str, purpose: str) -> None:
    view = session.fetch(("case", case, la_code, purpose),
                         lambda api: api.get(f"/analytics/cases/{case}", purpose=purpose, params={"la_code": la_code}),
                         spinner="Opening the case…")
    if view is None:
        return
    with st.container(key="case-view"):
        st.subheader(f"Case {view['case']}")
        st.markdown(f"Age {view['age_band']} · " + (", ".join(labels.COHORTS.get(c, c) for c in view["cohorts"])
                                                   or "no plan") + " · patterns: "
                    + (", ".join(labels.PATTERNS.get(p, p) for p in view["patterns"]) or "none"))
        nodes = [{**n, "label": labels.kind(n["agency_kind"]) if n.get("agency_kind")
                  else "this child" if n["kind"] == "child" else n["id"]} for n in view["network"]["nodes"]]
        edges = view["network"]["edges"]
        root = next((n["id"] for n in nodes if n["kind"] == "child"), None)
        st.plotly_chart(figures.network_figure(nodes, edges, figures.layout(nodes, edges, root), root=root),
                        key=f"case-network-{case}", config={"displaylogo": False})
        st.subheader("Chronology by agency")
        if view["lanes"]:
            st.plotly_chart(figures.lanes_figure(view["lanes"]), key=f"case-lanes-{case}",
                            config={"displaylogo": False})
        else:
            not_available("No events are recorded for this case.")


def measures_page() -> None:
    """Bridging practitioners and agencies, household clusters, and fragmentation in an authority."""
    viewer = session.require_role(roles.REVIEWERS)
    purpose = _purpose()
    st.title("Network measures")
    la_code = _authority(viewer, purpose, "measures")
    if la_code is None:
        return
    found = session.fetch(("measures", la_code, purpose),
                          lambda api: api.get("/analytics/network", purpose=purpose, params={"la_code": la_code}),
                          spinner="Computing the network measures…")
    if found is None:
        return
    fragmentation = found["fragmentation"]
    st.subheader("Fragmentation")
    st.caption("Children with two or more agencies involved, by how little their agencies share practitioner "
               "contact (no lead professional).")
    for column, (band, title) in zip(st.columns(3), (("none", "None"), ("some", "Some (≤ 0.5)"),
                                                     ("high", "High (> 0.5)")), strict=True):
        column.metric(title, _cell(fragmentation["bands"].get(band)))
    if fragmentation.get("most_fragmented"):
        st.table(fragmentation["most_fragmented"])
    st.subheader("Bridges")
    if found["bridges"]:
        st.table([{"who": b["id"], "kind": b["kind"], "agency kind": labels.kind(b.get("agency_kind")),
                   "betweenness": round(b["betweenness"], 3)} for b in found["bridges"]])
    else:
        not_available("No practitioner or agency links separate households here.")
    st.subheader("Household clusters")
    if found["clusters"]:
        st.table(found["clusters"])
    else:
        not_available("No households share a practitioner or an address.")
