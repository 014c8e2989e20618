"""Every read of child data, shaped for the viewer inside the Cypher (see graph/policy.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from neo4j import ManagedTransaction
from neo4j.time import Date, DateTime, Time

from graph.instants import NOW
from graph.policy import (
    hidden,
    in_area,
    kin,
    kin_addresses,
    kin_agencies,
    kin_carers,
    kin_practitioners,
    kin_sources,
    known_names,
    known_to,
    protected_address,
    restricted,
    sensitive_visible,
    team,
)
from graph.query import Query, first
from graph.viewer import Viewer

# The start of every single-child statement: the child, whether it is hidden, its holding authority
# (the shielding authority when shielded), and the household's hidden kin.
_CHILD = f"""
MATCH (c:Child {{id: $child_id}})
OPTIONAL MATCH (c)-[:SHIELDED_BY]->(sla:LocalAuthority)
OPTIONAL MATCH (c)-[:HELD_BY]->(hla:LocalAuthority)
WITH c, coalesce(sla, hla) AS holding, {hidden('c')} AS is_hidden
WITH c, holding, is_hidden, CASE WHEN is_hidden THEN [] ELSE {kin('c')} END AS kin
WITH c, holding, is_hidden, kin,
     {kin_carers('kin')} AS kc, {kin_practitioners('kin')} AS kp,
     {kin_agencies('kin')} AS ka, {kin_addresses('kin')} AS kaddr
"""
# The same start for the single-child statements of other modules (graph/chronology.py).
CHILD_START = _CHILD

CARD = _CHILD + f"""
OPTIONAL MATCH (c)-[cur:LIVED_AT WHERE cur.until IS NULL]->(addr:Address)
OPTIONAL MATCH (addr)-[:IN]->(area:LocalAuthority)
WITH c, holding, is_hidden, kin, kc, kp, ka, kaddr, addr, area, {kin_sources('kin')} AS ksrc,
     addr IS NOT NULL AND (addr.id IN kaddr OR {protected_address('addr')}) AS addr_withheld
RETURN CASE WHEN is_hidden THEN {restricted('c', 'holding')} ELSE c {{
  .id, .given_name, .family_name, former_names: coalesce(c.former_names, []), known_names: {known_names('c')},
  .dob, .gender, .nhs_number, .upn, .status,
  shielded: c.shielded,
  known_to: {known_to('c', 'ksrc')},
  corrected: coalesce(c.corrected, []),
  holding_team: {team('holding')},
  details_withheld: size(kin) > 0 OR addr_withheld,
  address: CASE WHEN addr IS NULL THEN null WHEN addr_withheld THEN {{withheld: true}}
           ELSE addr {{.line1, .line2, .town, .postcode, area: {team('area')}}} END,
  carers: COLLECT {{
    MATCH (k:Carer)-[r:CARES_FOR WHERE r.until IS NULL]->(c) WHERE NOT k.id IN kc
    RETURN k {{.id, .name, .phone, .email, relationship: r.relationship,
              parental_responsibility: r.parental_responsibility}} AS carer ORDER BY carer.name
  }},
  school: COLLECT {{
    MATCH (c)-[e:ENROLLED_AT WHERE e.until IS NULL]->(s:Agency) WHERE NOT s.id IN ka
    RETURN s {{.id, .name, .phone, .email, since: e.since}} AS school ORDER BY school.since DESC LIMIT 1
  }}[0],
  gp: COLLECT {{
    MATCH (c)-[g:REGISTERED_WITH WHERE g.until IS NULL]->(p:Agency) WHERE NOT p.id IN ka
    RETURN p {{.id, .name, .phone, .email, since: g.since}} AS gp ORDER BY gp.since DESC LIMIT 1
  }}[0],
  services: COLLECT {{
    MATCH (c)<-[i:INVOLVED_WITH WHERE i.until IS NULL]-(p:Practitioner)-[:WORKS_FOR]->(a:Agency)
    WHERE NOT p.id IN kp AND NOT a.id IN ka AND {sensitive_visible('i')}
    RETURN {{service: i.service, since: i.since, lead: i.lead, self_recorded: coalesce(i.source = 'self', false),
            mine: coalesce(p.user_id = $viewer.user_id, false),
            practitioner: p {{.id, .name, .job_title, .phone, .email}},
            agency: a {{.id, .name, .kind, .phone, .email}}}} AS service
    ORDER BY service.lead DESC, service.since
  }},
  plans: COLLECT {{
    MATCH (c)-[h:HAS_PLAN WHERE h.until IS NULL]->(r:LocalAuthority)
    RETURN {{kind: h.kind, since: h.since, responsible: {team('r')}}} AS plan ORDER BY plan.since
  }}
}} END AS card
"""

# Search: matches on visible fields only for hidden children; a postcode never matches a hidden child
# or anyone at a protected address. Hidden children are dropped before the limit, so no count leaks.
_SEARCH_FILTER = f"""
WHERE ($dob IS NULL OR c.dob = $dob) AND ($gender IS NULL OR c.gender = $gender)
  AND ($postcode IS NULL OR (NOT {hidden('c')} AND EXISTS {{
        MATCH (c)-[sl:LIVED_AT WHERE sl.until IS NULL]->(sa:Address {{postcode: $postcode}})
        WHERE NOT {protected_address('sa')} }}))
"""
_SEARCH_TAIL = f"""
OPTIONAL MATCH (c)-[:SHIELDED_BY]->(sla:LocalAuthority)
OPTIONAL MATCH (c)-[:HELD_BY]->(hla:LocalAuthority)
OPTIONAL MATCH (c)-[cur:LIVED_AT WHERE cur.until IS NULL]->(addr:Address)-[:IN]->(area:LocalAuthority)
WITH c, score, coalesce(sla, hla) AS holding, {hidden('c')} AS is_hidden, addr, area,
     addr IS NOT NULL AND {protected_address('addr')} AS addr_withheld
RETURN CASE WHEN is_hidden THEN {restricted('c', 'holding')} ELSE c {{
  .id, .given_name, .family_name, former_names: coalesce(c.former_names, []), known_names: {known_names('c')},
  .dob, .gender, shielded: c.shielded,
  postcode: CASE WHEN addr_withheld THEN null ELSE addr.postcode END,
  area: CASE WHEN addr_withheld OR area IS NULL THEN null ELSE area.name END
}} END AS child
ORDER BY score DESC, child.family_name, child.given_name, child.id
"""
# By name: the name fields of the directory-keyed feeds, and every name a child's records know it by.
SEARCH_BY_NAME = f"""
CALL () {{
  CALL db.index.fulltext.queryNodes('child_names', $lucene, {{limit: 1000}}) YIELD node, score
  RETURN node AS c, score
  UNION ALL
  CALL db.index.fulltext.queryNodes('child_known_names', $known, {{limit: 1000}}) YIELD node, score
  RETURN node AS c, score
}}
WITH c, max(score) AS score
{_SEARCH_FILTER}
WITH c, score ORDER BY score DESC, c.id LIMIT $limit
{_SEARCH_TAIL}
"""
SEARCH_BY_DOB = f"""
MATCH (c:Child) WHERE c.dob = $dob
WITH c, 1.0 AS score
{_SEARCH_FILTER}
WITH c, score ORDER BY c.id LIMIT $limit
{_SEARCH_TAIL}
"""
SEARCH_BY_POSTCODE = f"""
MATCH (:Address {{postcode: $postcode}})<-[pl:LIVED_AT WHERE pl.until IS NULL]-(c:Child)
WITH DISTINCT c, 1.0 AS score
{_SEARCH_FILTER}
WITH c, score ORDER BY c.id LIMIT $limit
{_SEARCH_TAIL}
"""

def native(value: Any) -> Any:
    """Neo4j temporal values to Python's, all the way down, so responses serialise."""
    if isinstance(value, (Date, DateTime, Time)):
        return value.to_native()
    if isinstance(value, dict):
        return {k: native(v) for k, v in value.items()}
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def lucene_terms(field_names: tuple[str, ...], text: str) -> str:
    """A fuzzy Lucene clause for free text over some index fields; every special character escaped."""
    terms = []
    for word in text.split():
        escaped = "".join(f"\\{ch}" if ch in _LUCENE_SPECIAL else ch for ch in word.lower())
        fuzz = "~1" if len(word) <= 4 else "~2"
        terms.append("(" + " OR ".join(f"{f}:{escaped}{fuzz}" for f in field_names) + ")")
    return " AND ".join(terms)


def search_query(
    *,
    viewer: Viewer,
    given_name: str | None = None,
    family_name: str | None = None,
    dob: date | None = None,
    gender: str | None = None,
    postcode: str | None = None,
    limit: int = 20,
) -> Query[tuple[list[dict[str, Any]], bool]]:
    """Children matching the given fields, shaped for the viewer; gives (results, truncated).

    Raises:
        ValueError: fewer than two identifying fields, or nothing to search an index on.
    """
    given = [v for v in (given_name, family_name, dob, gender, postcode) if v not in (None, "")]
    if len(given) < 2:
        raise ValueError("give at least two of given_name, family_name, dob, gender, postcode")
    params: dict[str, Any] = {"viewer": viewer.params(), "override": [], "dob": dob, "gender": gender,
                              "postcode": postcode, "limit": limit + 1}
    if given_name or family_name:
        clauses = []
        if given_name:
            clauses.append(lucene_terms(("given_name",), given_name))
        if family_name:
            clauses.append(lucene_terms(("family_name", "former_names_text"), family_name))
        words = " ".join(w for w in (given_name, family_name) if w)
        statement, params["lucene"] = SEARCH_BY_NAME, " AND ".join(clauses)
        params["known"] = lucene_terms(("known_names_text",), words)
    elif dob is not None:
        statement = SEARCH_BY_DOB
    elif postcode:
        statement = SEARCH_BY_POSTCODE
    else:
        raise ValueError("search needs a name, a date of birth or a postcode")
    return Query(statement, params, lambda records: _found(records, limit))


def _found(records: list[Any], limit: int) -> tuple[list[dict[str, Any]], bool]:
    rows = [native(record["child"]) for record in records]
    return rows[:limit], len(rows) > limit


def search(tx: ManagedTransaction, *, viewer: Viewer, **fields: Any) -> tuple[list[dict[str, Any]], bool]:
    """As `search_query` (same fields), run in `tx`."""
    return search_query(viewer=viewer, **fields).run(tx)


def card_query(*, viewer: Viewer, child_id: str, override: bool = False) -> Query[dict[str, Any] | None]:
    """The contacts card of one child as this viewer may see it, or None if there is no such child."""
    params = {"viewer": viewer.params(), "child_id": child_id, "override": [child_id] if override else []}
    return Query(CARD, params, lambda records: _field(records, "card"))


def _field(records: list[Any], key: str) -> Any:
    record = first(records)
    return None if record is None else native(record[key])


def card(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, override: bool = False) -> dict[str, Any] | None:
    """As `card_query`, run in `tx`."""
    return card_query(viewer=viewer, child_id=child_id, override=override).run(tx)


NETWORK = _CHILD + f"""
RETURN CASE WHEN is_hidden THEN {{child: {restricted('c', 'holding')}, hidden: true}} ELSE {{
  hidden: false,
  in_area: {in_area('c')},
  child: c {{.id, .given_name, .family_name, .dob, .gender, shielded: c.shielded}},
  carers: COLLECT {{
    MATCH (k:Carer)-[r:CARES_FOR WHERE r.until IS NULL]->(c) WHERE NOT k.id IN kc
    RETURN {{id: k.id, name: k.name, relationship: r.relationship}} AS x ORDER BY x.id
  }},
  siblings: COLLECT {{
    MATCH (c)<-[r1:CARES_FOR WHERE r1.until IS NULL]-(k:Carer)-[r2:CARES_FOR WHERE r2.until IS NULL]->(sib:Child)
    WHERE sib <> c AND NOT k.id IN kc AND NOT {hidden('sib')}
    RETURN {{child: sib {{.id, .given_name, .family_name, .dob}}, carer: k.id}} AS x ORDER BY x.child.id, x.carer
  }},
  involvements: COLLECT {{
    MATCH (c)<-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(a:Agency)
    WHERE NOT p.id IN kp AND NOT a.id IN ka AND {sensitive_visible('i')}
    RETURN {{child: c.id, service: i.service, since: i.since, until: i.until, lead: i.lead,
            practitioner: p {{.id, .name, .job_title, .phone, .email}},
            agency: a {{.id, .name, .kind}}}} AS x
    UNION
    MATCH (c)<-[r1:CARES_FOR WHERE r1.until IS NULL]-(k2:Carer)-[r2:CARES_FOR WHERE r2.until IS NULL]->(who:Child)
          <-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(a:Agency)
    WHERE $depth > 1 AND who <> c AND NOT k2.id IN kc AND NOT {hidden('who')}
      AND NOT p.id IN kp AND NOT a.id IN ka AND {sensitive_visible('i')}
    RETURN DISTINCT {{child: who.id, service: i.service, since: i.since, until: i.until, lead: i.lead,
            practitioner: p {{.id, .name, .job_title, .phone, .email}},
            agency: a {{.id, .name, .kind}}}} AS x
  }},
  registrations: COLLECT {{
    MATCH (c)-[e:ENROLLED_AT|REGISTERED_WITH]->(a:Agency) WHERE NOT a.id IN ka
    RETURN {{kind: type(e), since: e.since, until: e.until, agency: a {{.id, .name, .kind}}}} AS x
    ORDER BY x.since, x.agency.id
  }},
  attendances: COLLECT {{
    MATCH (c)-[v:ATTENDED]->(a:Agency) WHERE NOT a.id IN ka
    RETURN {{agency: a {{.id, .name, .kind}}, at: v.at}} AS x ORDER BY x.at, x.agency.id
  }}
}} END AS network
"""

MOVES = _CHILD + f"""
RETURN CASE WHEN is_hidden THEN {{child: {restricted('c', 'holding')}, hidden: true}} ELSE {{
  hidden: false,
  in_area: {in_area('c')},
  child: c {{.id, .given_name, .family_name, .dob}},
  residences: COLLECT {{
    MATCH (c)-[l:LIVED_AT]->(a:Address)-[:IN]->(la:LocalAuthority)
    WITH l, a, la, (a.id IN kaddr OR (l.until IS NULL AND {protected_address('a')})) AS withheld
    RETURN {{since: l.since, until: l.until, withheld: withheld,
            authority: CASE WHEN withheld THEN null ELSE la {{.code, .name}} END,
            postcode: CASE WHEN withheld THEN null ELSE a.postcode END,
            easting: CASE WHEN withheld THEN null ELSE a.easting END,
            northing: CASE WHEN withheld THEN null ELSE a.northing END}} AS r ORDER BY r.since
  }},
  plans: COLLECT {{
    MATCH (c)-[h:HAS_PLAN]->(:LocalAuthority)
    RETURN {{kind: h.kind, since: h.since, until: h.until}} AS p ORDER BY p.since
  }}
}} END AS moves
"""


def network_query(*, viewer: Viewer, child_id: str, depth: int = 1) -> Query[dict[str, Any] | None]:
    """The child's involvement network as nodes and edges, shaped for the viewer; None if no such child."""
    params = {"viewer": viewer.params(), "child_id": child_id, "override": [], "depth": depth}
    return Query(NETWORK, params, lambda records: _network(child_id, _field(records, "network")))


def network(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, depth: int = 1) -> dict[str, Any] | None:
    """As `network_query`, run in `tx`."""
    return network_query(viewer=viewer, child_id=child_id, depth=depth).run(tx)


def _network(child_id: str, raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if raw["hidden"]:
        return {"hidden": True, "in_area": False, "child": raw["child"],
                "nodes": [{"id": f"child:{child_id}", "kind": "child", "label": "shielded record"}], "edges": []}
    return {"hidden": False, "in_area": raw["in_area"], "child": raw["child"], **_graph(raw)}


def _graph(raw: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Nodes and edges from the already-filtered lists of the NETWORK statement."""
    child = raw["child"]
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []

    def node(key: str, kind: str, label: str, **extra: Any) -> str:
        nodes.setdefault(key, {"id": key, "kind": kind, "label": label, **extra})
        return key

    root = node(f"child:{child['id']}", "child", f"{child['given_name']} {child['family_name']}", root=True)
    for carer in raw["carers"]:
        key = node(f"carer:{carer['id']}", "carer", carer["name"])
        edges.append({"source": key, "target": root, "type": "cares_for", "relationship": carer["relationship"]})
    for sib in raw["siblings"]:
        s = sib["child"]
        key = node(f"child:{s['id']}", "child", f"{s['given_name']} {s['family_name']}")
        edges.append({"source": f"carer:{sib['carer']}", "target": key, "type": "cares_for"})
    ordered = sorted(raw["involvements"], key=lambda x: (x["child"], str(x["since"]), x["practitioner"]["id"]))
    for inv in ordered:
        p, a = inv["practitioner"], inv["agency"]
        pk = node(f"practitioner:{p['id']}", "practitioner", p["name"], job_title=p["job_title"],
                  phone=p["phone"], email=p["email"])
        ak = node(f"agency:{a['id']}", "agency", a["name"], agency_kind=a["kind"])
        edges.append({"source": pk, "target": f"child:{inv['child']}", "type": "involved_with",
                      "service": inv["service"], "since": inv["since"], "until": inv["until"],
                      "lead": bool(inv["lead"]), "current": inv["until"] is None})
        if not any(e["source"] == pk and e["target"] == ak for e in edges):
            edges.append({"source": pk, "target": ak, "type": "works_for"})
    for reg in raw["registrations"]:
        a = reg["agency"]
        ak = node(f"agency:{a['id']}", "agency", a["name"], agency_kind=a["kind"])
        edges.append({"source": root, "target": ak, "type": reg["kind"].lower(), "since": reg["since"],
                      "until": reg["until"], "current": reg["until"] is None})
    # Emergency departments attended: one edge per department, its visits' UTC instants and how many; current
    # while the last visit is within a year (the repeat-emergency rule's window).
    visits: dict[str, list[Any]] = {}
    for seen in raw["attendances"]:
        a = seen["agency"]
        visits.setdefault(node(f"agency:{a['id']}", "agency", a["name"], agency_kind=a["kind"]), []).append(seen["at"])
    year_ago = datetime.now(UTC) - timedelta(days=365)
    for ak, dates in visits.items():
        edges.append({"source": root, "target": ak, "type": "attended", "count": len(dates), "dates": dates,
                      "since": dates[0], "until": dates[-1], "current": dates[-1] >= year_ago})
    return {"nodes": list(nodes.values()), "edges": edges}


def _plans_on(plans: list[dict[str, Any]], day: date, kinds: tuple[str, ...]) -> list[str]:
    """The kinds of plan among `kinds` the child had on a day."""
    return sorted({p["kind"] for p in plans if p["kind"] in kinds and p["since"] <= day
                   and (p["until"] is None or p["until"] >= day)})


def moves_query(*, viewer: Viewer, child_id: str) -> Query[dict[str, Any] | None]:
    """Residence history, the moves between authorities in it (with the protecting plans held on the day:
    CP plan, looked after) and the placement moves of a looked-after child; None if no such child."""
    params = {"viewer": viewer.params(), "child_id": child_id, "override": []}
    return Query(MOVES, params, lambda records: _moves(_field(records, "moves")))


def moves(tx: ManagedTransaction, *, viewer: Viewer, child_id: str) -> dict[str, Any] | None:
    """As `moves_query`, run in `tx`."""
    return moves_query(viewer=viewer, child_id=child_id).run(tx)


def _moves(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if raw["hidden"]:
        return {"hidden": True, "in_area": False, "child": raw["child"], "residences": [], "moves": [],
                "placement_moves": [], "plans": []}
    known = [r for r in raw["residences"] if not r["withheld"]]
    pairs = list(zip(known, known[1:]))
    between = [
        {"date": after["since"], "from": before["authority"], "to": after["authority"],
         "protected": _plans_on(raw["plans"], after["since"], ("cp_plan", "looked_after"))}
        for before, after in pairs
        if before["authority"]["code"] != after["authority"]["code"]
    ]
    placements = [
        {"date": after["since"], "from": before["authority"], "to": after["authority"],
         "between_authorities": before["authority"]["code"] != after["authority"]["code"]}
        for before, after in pairs if _plans_on(raw["plans"], after["since"], ("looked_after",))
    ]
    return {"hidden": False, "in_area": raw["in_area"], "child": raw["child"],
            "residences": raw["residences"], "moves": between, "placement_moves": placements, "plans": raw["plans"]}


SCOPE = f"""
MATCH (c:Child {{id: $child_id}})
RETURN {hidden('c')} AS hidden, {in_area('c')} AS in_area
"""
BREAK_GLASS_ALERT = f"""
MATCH (c:Child {{id: $child_id}})
OPTIONAL MATCH (c)-[:SHIELDED_BY]->(la:LocalAuthority)
WITH c, la, randomUUID() AS id WHERE la IS NOT NULL
CREATE (:Alert {{id: id, key: 'break_glass|' + c.id + '|' + id + '|' + la.code, kind: 'break_glass', state: 'open',
                la_code: la.code, child_id: c.id, user_id: $viewer.user_id, user_role: $viewer.role,
                user_la_code: $viewer.la_code, reason: $reason, request_id: $request_id, raised_at: {NOW}}})
RETURN id
"""


def scope_query(*, viewer: Viewer, child_id: str) -> Query[dict[str, bool] | None]:
    """Whether the child is hidden from the viewer and linked to the viewer's authority; None if unknown."""
    params = {"viewer": viewer.params(), "child_id": child_id, "override": []}
    return Query(SCOPE, params, _scope)


def _scope(records: list[Any]) -> dict[str, bool] | None:
    record = first(records)
    return None if record is None else {"hidden": record["hidden"], "in_area": record["in_area"]}


def scope(tx: ManagedTransaction, *, viewer: Viewer, child_id: str) -> dict[str, bool] | None:
    """As `scope_query`, run in `tx`."""
    return scope_query(viewer=viewer, child_id=child_id).run(tx)


def alert_break_glass(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, reason: str,
                      request_id: str) -> str | None:
    """Rule 4: tell the holding authority's team that a shielded record was opened by override.

    Returns the alert's id, or None when the child is not shielded (there is no team to tell).
    """
    record = tx.run(BREAK_GLASS_ALERT, viewer=viewer.params(), child_id=child_id, reason=reason,
                    request_id=request_id).single()
    return None if record is None else record["id"]
