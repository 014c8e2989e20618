"""Plotly figures drawn offline (no tiles, no CDN): networks, the moves timeline and map, lanes and trends."""

from __future__ import annotations

from datetime import date
from typing import Any

import networkx as nx
import plotly.graph_objects as go

from dashboard import labels

TIMED = {"involved_with", "enrolled_at", "registered_with", "attended"}  # filtered by current or ended
NODE_ORDER = ("child", "carer", "practitioner", "agency")


def _current(edge: dict[str, Any]) -> bool:
    return edge.get("current", edge.get("until") is None)


def filter_graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], *, kinds: set[str] | None = None,
                 involvement: str = "all") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The part of a network to draw: agencies of the chosen kinds, involvements current, ended or all.

    Children and carers always stay; a practitioner stays while one of its involvements and its agency do;
    an agency stays while something still links to it.
    """
    by_id = {n["id"]: n for n in nodes}
    keep = [e for e in edges if e["type"] not in TIMED or involvement == "all"
            or _current(e) == (involvement == "current")]
    dropped = {n["id"] for n in nodes if n["kind"] == "agency" and kinds is not None
               and n.get("agency_kind") not in kinds}
    employer = {e["source"]: e["target"] for e in edges if e["type"] == "works_for"}
    dropped |= {p for p, a in employer.items() if a in dropped}
    involved = {e["source"] for e in keep if e["type"] == "involved_with"}
    dropped |= {n["id"] for n in nodes if n["kind"] == "practitioner" and n["id"] not in involved}
    keep = [e for e in keep if e["source"] not in dropped and e["target"] not in dropped]
    linked = {e["target"] for e in keep if e["type"] != "works_for"} | {e["target"] for e in keep
                                                                         if e["source"] in involved}
    dropped |= {n["id"] for n in nodes if n["kind"] == "agency" and n["id"] not in linked}
    kept = [n for n in nodes if n["id"] not in dropped and n["id"] in by_id]
    return kept, [e for e in keep if e["source"] not in dropped and e["target"] not in dropped]


def layout(nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
           root: str | None) -> dict[str, tuple[float, float]]:
    """Fixed positions for a whole network (so filtering does not move what stays), root at the centre."""
    graph = nx.Graph()
    graph.add_nodes_from(n["id"] for n in nodes)
    graph.add_edges_from((e["source"], e["target"]) for e in edges if e["source"] in graph and e["target"] in graph)
    if not graph:
        return {}
    fixed = {root: (0.0, 0.0)} if root in graph and len(graph) > 1 else None
    pos = nx.spring_layout(graph, seed=7, pos=fixed, fixed=list(fixed) if fixed else None,
                           k=1.2 / max(len(graph), 1) ** 0.3)
    return {k: (float(v[0]), float(v[1])) for k, v in pos.items()}


def _category(node: dict[str, Any], kind_of: dict[str, str | None]) -> str:
    if node["kind"] in ("child", "carer"):
        return node["kind"]
    return kind_of.get(node["id"]) or "other"


def network_figure(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], positions: dict[str, tuple[float, float]],
                   *, root: str | None = None, label_of: Any = None) -> go.Figure:
    """Nodes coloured by kind (practitioners take their agency's), the lead professional a gold star.

    Every node trace carries the node ids as customdata, so a click says which node it was.
    """
    employer = {e["source"]: e["target"] for e in edges if e["type"] == "works_for"}
    agency_kind = {n["id"]: n.get("agency_kind") for n in nodes if n["kind"] == "agency"}
    kind_of = {**agency_kind, **{p: agency_kind.get(a) for p, a in employer.items()}}
    leads = {e["source"] for e in edges if e["type"] == "involved_with" and e.get("lead")}
    fig = go.Figure()
    for name, style in (("current", {"color": "#90a4ae", "width": 1.5}),
                        ("ended", {"color": "#cfd8dc", "width": 1.2, "dash": "dot"}),
                        ("lead", {"color": "#f9a825", "width": 3.5})):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for e in edges:
            kind = "lead" if e.get("lead") else ("current" if e["type"] not in TIMED or _current(e) else "ended")
            if kind == name and e["source"] in positions and e["target"] in positions:
                xs += [positions[e["source"]][0], positions[e["target"]][0], None]
                ys += [positions[e["source"]][1], positions[e["target"]][1], None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=style, hoverinfo="skip", showlegend=False,
                                     name=f"{name} link"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        if n["id"] in positions:
            groups.setdefault(_category(n, kind_of), []).append(n)
    rank = {c: i for i, c in enumerate(NODE_ORDER)}
    for category in sorted(groups, key=lambda c: (rank.get(c, len(rank)), c)):
        members = groups[category]
        colour = labels.NODE_COLOURS.get(category) or labels.colour(category)
        symbols = ["star" if n["id"] in leads else {"agency": "square", "carer": "diamond"}.get(n["kind"], "circle")
                   for n in members]
        sizes = [30 if n["id"] == root else 26 if n["id"] in leads else 20 if n["kind"] == "child" else 16
                 for n in members]
        texts = [(label_of or _label)(n, n["id"] in leads) for n in members]
        fig.add_trace(go.Scatter(
            x=[positions[n["id"]][0] for n in members], y=[positions[n["id"]][1] for n in members],
            mode="markers+text", text=texts, textposition="top center", customdata=[n["id"] for n in members],
            hovertext=[_hover(n, n["id"] in leads) for n in members], hoverinfo="text",
            marker={"color": colour, "symbol": symbols, "size": sizes,
                    "line": {"color": ["#f9a825" if n["id"] in leads else "#ffffff" for n in members], "width": 2}},
            name={"child": "Children", "carer": "Carers"}.get(category) or labels.kind(category)))
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 10, "b": 10}, clickmode="event+select",
                      dragmode="pan", plot_bgcolor="#ffffff", legend={"orientation": "h", "y": -0.05},
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _label(node: dict[str, Any], lead: bool) -> str:
    text = node.get("label") or node["id"]
    return f"★ {text}" if lead else text


def _hover(node: dict[str, Any], lead: bool) -> str:
    parts = [f"<b>{node.get('label') or node['id']}</b>", node["kind"]]
    if node.get("job_title"):
        parts.append(node["job_title"])
    if node.get("agency_kind"):
        parts.append(labels.kind(node["agency_kind"]))
    if lead:
        parts.append("lead professional")
    if node.get("authority"):
        parts.append(str(node["authority"]))
    return "<br>".join(parts)


def clicked(event: Any) -> str | None:
    """The node id of a click (point selection) on a network figure, if any."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        data = point.get("customdata")
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, str):
            return data
    return None


def moves_timeline(residences: list[dict[str, Any]], plans: list[dict[str, Any]], today: date) -> go.Figure:
    """Where the child lived (one bar per residence, coloured by authority) above its plans, through time."""
    fig = go.Figure()
    colours: dict[str, str] = {}
    for r in residences:
        authority = (r.get("authority") or {}).get("name") or "withheld"
        first = authority not in colours
        colour = colours.setdefault(authority, _palette(len(colours)))
        fig.add_trace(go.Scatter(
            x=[r["since"], r.get("until") or today.isoformat()], y=["Home", "Home"], mode="lines",
            line={"color": colour, "width": 28}, name=authority, legendgroup=authority, showlegend=first,
            hovertext=f"{authority} {r.get('postcode') or ''}: {r['since']} to {r.get('until') or 'now'}",
            hoverinfo="text"))
    for p in plans:
        fig.add_trace(go.Scatter(x=[p["since"], p.get("until") or today.isoformat()], y=["Plans", "Plans"],
                                 mode="lines", line={"color": "#c62828" if p["kind"] == "cp_plan" else "#6a1b9a",
                                                     "width": 14},
                                 name=labels.PLAN_KINDS.get(p["kind"], p["kind"]), hoverinfo="name"))
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"type": "date"},
                      yaxis={"categoryorder": "array", "categoryarray": ["Plans", "Home"]},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def moves_map(residences: list[dict[str, Any]]) -> go.Figure | None:
    """The homes in order on the national grid (easting, northing): no map tiles, so nothing is fetched."""
    placed = [r for r in residences if r.get("easting") is not None and r.get("northing") is not None]
    if not placed:
        return None
    fig = go.Figure(go.Scatter(
        x=[r["easting"] for r in placed], y=[r["northing"] for r in placed], mode="lines+markers+text",
        text=[f"{i}. {(r.get('authority') or {}).get('name', '')} {r.get('postcode') or ''}" for i, r in
              enumerate(placed, 1)], textposition="top center", line={"color": "#90a4ae", "dash": "dot"},
        marker={"size": 14, "color": [_palette(i) for i in range(len(placed))]}, hoverinfo="text"))
    fig.update_layout(height=420, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
                      xaxis={"title": "Easting (m)"}, yaxis={"title": "Northing (m)", "scaleanchor": "x"})
    return fig


def lanes_figure(lanes: list[dict[str, Any]]) -> go.Figure:
    """A case chronology: one lane per agency, events at their day since the case's first event."""
    fig = go.Figure()
    for i, lane in enumerate(lanes):
        name = labels.kind(lane.get("agency_kind")) if lane.get("agency_kind") else lane["lane"]
        title = f"{name} · {lane.get('authority') or ''}".strip(" ·")
        events = lane.get("events") or []
        fig.add_trace(go.Scatter(
            x=[e["day"] for e in events], y=[title] * len(events), mode="markers", name=title,
            marker={"size": 12, "color": labels.colour(lane.get("agency_kind")) if lane.get("agency_kind")
                    else _palette(i)},
            hovertext=[f"{e['event'].replace('_', ' ')} · {e['month']}" for e in events], hoverinfo="text"))
    fig.update_layout(height=120 + 40 * len(lanes), margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
                      xaxis={"title": "Days since the first event"})
    return fig


def trend_figure(points: list[dict[str, Any]], patterns: list[str]) -> go.Figure:
    """Each pattern's count over time; suppressed values are gaps, not zeros."""
    fig = go.Figure()
    for pattern in patterns:
        fig.add_trace(go.Scatter(x=[p["date"] for p in points],
                                 y=[p["counts"].get(pattern) if isinstance(p["counts"].get(pattern), int) else None
                                    for p in points],
                                 mode="lines+markers", name=labels.PATTERNS.get(pattern, pattern), connectgaps=False))
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis={"title": "children"},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def waterfall_figure(waterfall: dict[str, Any]) -> go.Figure:
    """A pair's match weight: the prior, each comparison's weight up or down, the total (log2 Bayes factors)."""
    bars = waterfall.get("bars") or []
    names = ["Prior"] + [labels.COMPARISONS.get(b["comparison"], b["comparison"]) for b in bars] + ["Total"]
    values = [waterfall.get("prior", 0.0)] + [b["weight"] for b in bars] + [waterfall.get("total", 0.0)]
    text = [""] + [f"{b.get('level') or ''}" for b in bars] + [""]
    fig = go.Figure(go.Waterfall(
        x=names, y=values, measure=["absolute"] + ["relative"] * len(bars) + ["total"],
        text=[f"{v:+.1f}" for v in values], hovertext=text, hoverinfo="text+y", textposition="outside",
        increasing={"marker": {"color": "#2e7d32"}}, decreasing={"marker": {"color": "#c62828"}},
        totals={"marker": {"color": "#0b3c5d"}}))
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
                      yaxis={"title": "match weight (log2 Bayes factor)"})
    return fig


def _palette(i: int) -> str:
    return ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64")[i % 8]


def chronology_figure(chronology: dict[str, Any], lanes: list[str], today: date) -> go.Figure:
    """A lead's chronology as swimlanes: bars for periods (plans, involvements, homes, gaps in orange), dots for
    what happened on a day (a move, a visit, an alert), one row per lane in the API's order."""
    titles = {lane["key"]: lane["title"] for lane in chronology["lanes"]}
    kinds = {lane["key"]: lane.get("kind") for lane in chronology["lanes"]}
    rows = [titles[key] for key in lanes]
    fig = go.Figure()
    for p in chronology["periods"]:
        if p["lane"] in lanes:
            gap = p["kind"] == "gap"
            until = labels.day(p.get("until")) if p.get("until") else "now"
            fig.add_trace(go.Scatter(
                x=[p["since"], p.get("until") or today.isoformat()], y=[titles[p["lane"]]] * 2, mode="lines",
                line={"color": "#e65100" if gap else labels.colour(kinds[p["lane"]]), "width": 10},
                opacity=0.75 if gap else 0.35, hoverinfo="text", showlegend=False,
                hovertext=f"{p['label']}: {labels.day(p['since'])} to {until}"))
    for key in lanes:
        shown = [e for e in chronology["entries"] if e["lane"] == key]
        if shown:
            fig.add_trace(go.Scatter(
                x=[e.get("at") or e["date"] for e in shown], y=[titles[key]] * len(shown), mode="markers",
                marker={"size": 11, "color": labels.colour(kinds[key]) if kinds[key] else "#0b3c5d",
                        "line": {"color": "#ffffff", "width": 1}},
                hovertext=[f"{labels.day(e.get('at') or e['date'])}: {e['text']}" for e in shown], hoverinfo="text",
                showlegend=False))
    fig.update_layout(height=90 + 34 * len(rows), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"type": "date"}, plot_bgcolor="#ffffff",
                      yaxis={"categoryorder": "array", "categoryarray": list(reversed(rows)), "gridcolor": "#eceff1"})
    return fig
