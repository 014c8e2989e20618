"""A child's multi-agency chronology for leads and management teams: identified, shaped like the card.

One statement (CHRONOLOGY) returns, for a child the viewer may see in full, every dated fact the directory
holds about it, already withheld as the card withholds it (graph/policy.py: hidden, kin_*, protected_address,
sensitive_visible); for a hidden child it returns the card's restricted shape and nothing else. graph/lanes.py
turns those facts into lanes of dated entries (and computes the school and GP gaps); nothing is filtered there.

Involvements practitioners recorded themselves (graph/involvements.py, `source: 'self'`) are in their agency's
lane like a feed's, marked as such, with the lead professional chosen or unset on the card. A merged id is
resolved to its survivor by the route (api/routes/children.py), as for the card.

Missing episodes are read from `(Child)-[:WENT_MISSING {since, until}]->(LocalAuthority)` (the authority the
child went missing from; `since` and `until` DATEs or UTC DATETIMEs, `until` null while missing) where a feed
has written them; the lane is empty until one does. Break-glass does not open a chronology: the override is
for one look at the card, and the rest of the record stays with the holding team (docs/access.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from graph import lanes
from graph.alerts import ITEM, TEAM_KINDS
from graph.children import CHILD_START, native
from graph.policy import in_area, protected_address, restricted, sensitive_visible, team
from graph.query import Query, first
from graph.viewer import Viewer

CHRONOLOGY = CHILD_START + f"""
RETURN CASE WHEN is_hidden THEN {{child: {restricted('c', 'holding')}, hidden: true}} ELSE {{
  hidden: false,
  in_area: {in_area('c')},
  child: c {{.id, .given_name, .family_name, .dob, .gender, .status, shielded: c.shielded}},
  holding_team: {team('holding')},
  details_withheld: size(kin) > 0,
  homes: COLLECT {{
    MATCH (c)-[l:LIVED_AT]->(h:Address)
    OPTIONAL MATCH (h)-[:IN]->(hla:LocalAuthority)
    WITH l, h, hla, h.id IN kaddr OR {protected_address('h')} AS withheld
    RETURN {{since: l.since, until: l.until, withheld: withheld,
            authority: CASE WHEN withheld OR hla IS NULL THEN null ELSE hla {{.code, .name}} END,
            line1: CASE WHEN withheld THEN null ELSE h.line1 END,
            postcode: CASE WHEN withheld THEN null ELSE h.postcode END}} AS x ORDER BY x.since
  }},
  plans: COLLECT {{
    MATCH (c)-[p:HAS_PLAN]->(r:LocalAuthority)
    RETURN {{kind: p.kind, since: p.since, until: p.until, responsible: r {{.code, .name}}}} AS x
    ORDER BY x.since, x.kind
  }},
  involvements: COLLECT {{
    MATCH (c)<-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(g:Agency)
    WHERE NOT p.id IN kp AND NOT g.id IN ka AND {sensitive_visible('i')}
    OPTIONAL MATCH (g)-[:IN]->(gla:LocalAuthority)
    RETURN {{service: i.service, since: i.since, until: i.until, lead: coalesce(i.lead, false),
            self_recorded: coalesce(i.source = 'self', false),
            ended_by_self: i.ended_by IS NOT NULL, lead_set_at: i.lead_set_at, lead_unset_at: i.lead_unset_at,
            practitioner: p {{.id, .name, .job_title}}, agency: g {{.id, .name, .kind, authority: gla.name}}}} AS x
    ORDER BY x.since, x.practitioner.id
  }},
  registrations: COLLECT {{
    MATCH (c)-[e:ENROLLED_AT|REGISTERED_WITH]->(g:Agency) WHERE NOT g.id IN ka
    RETURN {{type: type(e), since: e.since, until: e.until, agency: g {{.id, .name, .kind}}}} AS x
    ORDER BY x.since, x.agency.id
  }},
  // Every period on a school roll or a GP list, dates only: the gaps are the days none covers, so a school
  // withheld above (a hidden household member's) still counts as a school and no false gap appears.
  school_spells: COLLECT {{ MATCH (c)-[e:ENROLLED_AT]->() RETURN [e.since, e.until] AS x ORDER BY x[0] }},
  gp_spells: COLLECT {{ MATCH (c)-[e:REGISTERED_WITH]->() RETURN [e.since, e.until] AS x ORDER BY x[0] }},
  attendances: COLLECT {{
    MATCH (c)-[v:ATTENDED]->(g:Agency) WHERE NOT g.id IN ka
    OPTIONAL MATCH (g)-[:IN]->(gla:LocalAuthority)
    RETURN {{at: v.at, reason: v.reason, agency: g {{.id, .name, .kind, authority: gla.name}}}} AS x ORDER BY x.at
  }},
  missing: COLLECT {{
    MATCH (c)-[m:WENT_MISSING]->(r:LocalAuthority)
    RETURN {{since: m.since, until: m.until, authority: r {{.code, .name}}}} AS x ORDER BY x.since
  }},
  // As in the inbox (graph/alerts.py): none while a household member is hidden from the viewer; a break-glass
  // alert only for the authority it was addressed to; the team's own kinds (a user's conduct, a shield moved by
  // a merge) are about users and records, not the child's story. The per-attendance and flag-viewed alerts of
  // emergency care are part of it, to every authority addressed.
  alerts: CASE WHEN size(kin) > 0 THEN [] ELSE COLLECT {{
    MATCH (a:Alert {{child_id: c.id}})
    WHERE NOT a.kind IN $team_kinds AND (a.kind <> 'break_glass' OR a.la_code = $viewer.la_code)
    OPTIONAL MATCH (to:LocalAuthority {{code: a.la_code}})
    RETURN {{item: {ITEM}, to: to.name}} AS x ORDER BY x.item.raised_at, x.item.id
  }} END
}} END AS chronology
"""


def chronology_query(*, viewer: Viewer, child_id: str, as_of: date) -> Query[dict[str, Any] | None]:
    """The child's chronology as this viewer may see it, in lanes, with gaps up to `as_of`; None if no such child."""
    params = {"viewer": viewer.params(), "child_id": child_id, "override": [], "team_kinds": list(TEAM_KINDS)}
    return Query(CHRONOLOGY, params, lambda records: _chronology(records, as_of))


def _chronology(records: list[Any], as_of: date) -> dict[str, Any] | None:
    record = first(records)
    if record is None:
        return None
    raw = native(record["chronology"])
    if raw["hidden"]:
        return {"hidden": True, "in_area": False, "child": raw["child"], "as_of": as_of, "lanes": [], "entries": [],
                "periods": []}
    return {"hidden": False, "in_area": raw["in_area"], "child": raw["child"], "holding_team": raw["holding_team"],
            "details_withheld": raw["details_withheld"], "as_of": as_of, **lanes.build(raw, as_of)}


def chronology(tx: Any, *, viewer: Viewer, child_id: str, as_of: date) -> dict[str, Any] | None:
    """As `chronology_query`, run in `tx`."""
    return chronology_query(viewer=viewer, child_id=child_id, as_of=as_of).run(tx)
