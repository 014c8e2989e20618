"""The involvement network of a child: an interactive graph a lead expands by clicking on children."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import figures, labels, nav, roles, session
from dashboard.views.common import choose_child, not_available, shielded_notice

INVOLVEMENT = {"current": "Current only", "ended": "Ended only", "all": "Current and ended"}


def _network(child_id: str, purpose: str) -> dict[str, Any] | None:
    return session.fetch(("network", child_id, purpose),
                         lambda api: api.get(f"/children/{child_id}/network", purpose=purpose),
                         spinner="Fetching the involvement network…")


def merge(networks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One graph from several children's networks (each already shaped for the viewer by the API)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[Any, ...], dict[str, Any]] = {}
    for net in networks:
        for n in net.get("nodes", []):
            nodes.setdefault(n["id"], {k: v for k, v in n.items() if k != "root"})
        for e in net.get("edges", []):
            edges.setdefault((e["source"], e["target"], e["type"], e.get("service"), str(e.get("since"))), e)
    return list(nodes.values()), list(edges.values())


def network_page() -> None:
    """Filter by agency kind and by current or ended involvement; click a child to add its network."""
    session.require_role(roles.LEADS)
    st.title("Involvement network")
    chosen = choose_child("network")
    if chosen is None:
        return
    child_id, purpose = chosen
    place = session.inputs("network")
    if place.get("root") != child_id:
        place.clear()
        place.update(root=child_id, expanded=[])
    root = _network(child_id, purpose)
    if root is None:
        return
    if root.get("hidden"):
        shielded_notice(root["child"])
        not_available("A shielded record has no network to show.")
        return
    networks = [root]
    for other in list(place["expanded"]):
        got = _network(other, purpose)
        if got is None or got.get("hidden"):
            place["expanded"].remove(other)
        else:
            networks.append(got)
    nodes, edges = merge(networks)
    st.caption(f"{root['child']['given_name']} {root['child']['family_name']} and everyone linked to them: carers, "
               "practitioners, schools, GP practices and the emergency departments they attended. Click a child to "
               "add their network; click anyone else to see how to reach them or when they were involved.")
    if st.button("Chronology of this child", icon=nav.BY_KEY["chronology"].icon, key="network-chronology"):
        nav.go("chronology")
    # Options are the words shown; each maps back to the API's code.
    kinds_present = {labels.kind(k): k for k in sorted({n.get("agency_kind") for n in nodes
                                                        if n["kind"] == "agency"} - {None})}
    left, right = st.columns([3, 2])
    # A kind that arrives with an expanded network starts selected: the widget is keyed by the kinds offered.
    kinds = left.multiselect("Agency kinds", list(kinds_present), default=list(kinds_present),
                             key=f"w.network.kinds.{child_id}.{'|'.join(kinds_present.values())}")
    when = {title: code for code, title in INVOLVEMENT.items()}
    involvement = right.radio("Involvement", list(when), horizontal=True, key=f"w.network.when.{child_id}")
    shown_nodes, shown_edges = figures.filter_graph(nodes, edges, kinds={kinds_present[k] for k in kinds},
                                                    involvement=when[involvement])
    positions = figures.layout(nodes, edges, f"child:{child_id}")
    figure = figures.network_figure(shown_nodes, shown_edges, positions, root=f"child:{child_id}")
    event = st.plotly_chart(figure, key=f"network-chart-{len(networks)}", on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    if not any(n["kind"] == "practitioner" for n in shown_nodes):
        not_available("No practitioner involvement matches these filters.")
    picked = figures.clicked(event)
    by_id = {n["id"]: n for n in nodes}
    options = [n["id"] for n in shown_nodes]
    choice = st.selectbox("Or choose someone in the network", [""] + options, key=f"w.network.pick.{child_id}",
                          format_func=lambda k: by_id[k].get("label", k) if k else "—")
    target = picked or choice or None
    if target in by_id:
        _details(by_id[target], shown_edges, place, child_id)


def _details(node: dict[str, Any], edges: list[dict[str, Any]], place: dict[str, Any], root: str) -> None:
    """What a clicked node is; a child not yet expanded is added to the graph."""
    if node["kind"] == "child":
        other = node["id"].split(":", 1)[1]
        if other != root and other not in place["expanded"]:
            place["expanded"].append(other)
            st.rerun()
        st.info(f"**{node['label']}** — their network is shown.", icon=":material/child_care:")
        return
    with st.container(border=True, key="network-details"):
        if node["kind"] == "practitioner":
            work = [e for e in edges if e["source"] == node["id"] and e["type"] == "involved_with"]
            lead = " · ★ lead professional" if any(e.get("lead") for e in work) else ""
            st.markdown(f"**{node['label']}**, {node.get('job_title') or 'practitioner'}{lead}  \n"
                        f"{labels.contact(node.get('phone'), node.get('email'))}")
            for e in work:
                ended = f", ended {labels.day(e['until'])}" if e.get("until") else ""
                st.markdown(f"- {e['service'].replace('_', ' ')} since {labels.day(e.get('since'))}{ended}")
        elif node["kind"] == "agency":
            st.markdown(f"**{node['label']}** · {labels.kind(node.get('agency_kind'))}")
            for e in edges:
                if e["target"] != node["id"]:
                    continue
                if e["type"] == "attended":
                    visits = ", ".join(labels.day(at) for at in e.get("dates") or [])
                    st.markdown(f"- attended {e['count']} {'time' if e['count'] == 1 else 'times'}: {visits}")
                elif e["type"] in ("enrolled_at", "registered_with"):
                    what = "on the roll" if e["type"] == "enrolled_at" else "registered"
                    until = f" to {labels.day(e['until'])}" if e.get("until") else ", now"
                    st.markdown(f"- {what} from {labels.day(e.get('since'))}{until}")
        else:
            st.markdown(f"**{node['label']}** · {node['kind']}")
