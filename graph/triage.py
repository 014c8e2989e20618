"""Triage of an authority's alert inbox: alerts grouped by child, children ranked by how their signals compound.

One statement (TRIAGE) groups the alerts the viewer may see (graph/alerts.py VISIBLE: the inbox's own rule) by
child, and reads each child's facts as of the latest scan date: statutory plans, the authorities it lived in
over the year, the agencies involved now and whether one leads, school roll, GP list, emergency visits and
hospitals in the year, and the other alerts about it (open anywhere, or closed; never the management team's
own kinds, which are about users and records). `score` turns the facts into
points, one explained line per signal; the weights are the named constants below, described in docs/alerts.md
§ Triage. An alert kind without a weight (one added later) scores nothing until it is given one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from graph.alerts import ITEM, SCHOOL_AGES, STATUTORY_PLANS, TEAM_KINDS, VISIBLE, shape
from graph.analytics import MANY_AGENCIES
from graph.children import native
from graph.instants import uk_days
from graph.lanes import PLAN_NAMES, day_text
from graph.policy import sensitive_visible
from graph.viewer import Viewer

# -- the weights (docs/alerts.md § Triage) -------------------------------------------------------
PLAN_POINTS = {"cp_plan": 4, "looked_after": 3, "child_in_need": 2}  # per statutory plan held on the scan date
AUTHORITY_POINTS = 3  # per authority moved into within the 12 months (authorities lived in, less one)
NO_LEAD_POINTS = 1  # per agency involved now, when MANY_AGENCIES or more are and none is the lead
NO_SCHOOL_POINTS = 3  # of school age (5-16) and on no school roll
NO_GP_POINTS = 2  # registered with no GP practice
EMERGENCY_VISIT_POINTS = 1  # per emergency attendance in the 12 months after the first ...
EMERGENCY_VISIT_CAP = 4  # ... up to this many points: frequent attendance alone is common (docs/alerts.md)
EXTRA_HOSPITAL_POINTS = 2  # per further hospital attended in the 12 months: a story split between sites
CLOSED_ALERT_POINTS = 1  # per earlier alert about the child that was closed ...
CLOSED_ALERT_CAP = 3  # ... up to this many points
# Alert kinds that say something the facts above do not (a missed deadline, an override, a user's conduct).
# Any other kind, including kinds added later, scores 0 until it is given a weight here.
KIND_POINTS = {"transfer_in_overdue": 3, "break_glass": 3, "misuse": 8}
# A child on a CP plan or looked after seen in emergency care: an `emergency_attendance` alert (one per visit) or a
# `flag_viewed` one (a clinician looked the child up). One signal however many of either: the visits themselves
# are counted by the emergency line above, and a look at the flag is usually the same visit.
PROTECTED_EMERGENCY_POINTS = 2
PROTECTED_EMERGENCY_KINDS = ("emergency_attendance", "flag_viewed")
COMPOUND_POINTS = 2  # per signal beyond the first: concerns that arrive together compound
LOOKBACK_DAYS = 365

AS_OF = "MATCH (a:Alert {la_code: $viewer.la_code}) WHERE a.as_of IS NOT NULL RETURN max(a.as_of) AS as_of"
TRIAGE = VISIBLE + f"""
WITH a, c WHERE $state IS NULL OR a.state = $state
WITH a, c ORDER BY a.raised_at DESC, a.id
WITH coalesce(a.child_id, 'user:' + a.user_id) AS subject, c, collect(a) AS listed
RETURN subject, [a IN listed | {ITEM}] AS items,
  CASE WHEN c IS NULL THEN null ELSE c {{.id, .given_name, .family_name, .dob}} END AS child,
  CASE WHEN c IS NULL THEN null ELSE {{
    age: duration.between(c.dob, $as_of).years,
    in_england: coalesce(c.status, 'active') <> 'left_england',
    plans: COLLECT {{ MATCH (c)-[h:HAS_PLAN]->()
                     WHERE h.kind IN $statutory_plans AND h.since <= $as_of AND (h.until IS NULL OR h.until >= $as_of)
                     RETURN DISTINCT h.kind }},
    // Pattern comprehensions expand from the child: a MATCH with a range on `since` or `at` may be planned
    // from the LIVED_AT(since) or ATTENDED(at) index instead, reading every home or visit in England.
    authorities: [(c)-[l:LIVED_AT]->(:Address)-[:IN]->(r:LocalAuthority)
                  WHERE l.since <= $as_of AND (l.until IS NULL OR l.until > $window_start) | [l.since, r.name]],
    involved: COLLECT {{ MATCH (c)<-[i:INVOLVED_WITH]-(:Practitioner)-[:WORKS_FOR]->(g:Agency)
                        WHERE i.since <= $as_of AND (i.until IS NULL OR i.until >= $as_of) AND {sensitive_visible('i')}
                        RETURN {{agency: g.id, lead: coalesce(i.lead, false)}} }},
    enrolled: EXISTS {{ (c)-[e:ENROLLED_AT]->() WHERE e.since <= $as_of AND (e.until IS NULL OR e.until > $as_of) }},
    registered: EXISTS {{ (c)-[g:REGISTERED_WITH]->()
                         WHERE g.since <= $as_of AND (g.until IS NULL OR g.until > $as_of) }},
    hospitals: [(c)-[v:ATTENDED]->(e:Agency) WHERE $window_from <= v.at < $window_until | e.id],
    kinds: COLLECT {{ MATCH (x:Alert {{child_id: c.id}})
                     WHERE x.state <> 'closed' AND NOT x.kind IN $team_kinds
                       AND (x.kind <> 'break_glass' OR x IN listed)
                     RETURN DISTINCT x.kind }},
    closed: size(COLLECT {{ MATCH (x:Alert {{child_id: c.id}}) WHERE x.state = 'closed' AND NOT x.kind IN $team_kinds
                           AND NOT x IN listed RETURN x.id }})
  }} END AS facts
"""


@dataclass(frozen=True)
class Reason:
    """One line of a score: the signal, its points, and why, in words."""

    signal: str
    points: int
    why: str


def params(as_of: date) -> dict[str, Any]:
    """The windows of the facts: the 12 months up to `as_of`, as dates and as the UTC instants of UK days."""
    window_start = as_of - timedelta(days=LOOKBACK_DAYS)
    window_from, window_until = uk_days(window_start + timedelta(days=1), as_of)
    return {"as_of": as_of, "window_start": window_start, "window_from": window_from, "window_until": window_until,
            "statutory_plans": STATUTORY_PLANS}


def _kind_line(kind: str, items: list[dict[str, Any]]) -> str:
    if kind == "misuse":
        found = next((i for i in items if i["kind"] == "misuse"), None)
        return "A user's looks at many records in a short time" + (f": {found['summary']}" if found else "")
    words = {"transfer_in_overdue": "A transfer-in conference was due and nothing was recorded in time",
             "break_glass": "A shielded record was opened by break-glass"}
    return words.get(kind, f"An alert of kind {kind}")


def _emergency_line(items: list[dict[str, Any]]) -> str:
    """Why a protected child's emergency care scores: how many of the listed alerts say so (others are elsewhere)."""
    visits = sum(i["kind"] == "emergency_attendance" for i in items)
    looks = sum(i["kind"] == "flag_viewed" for i in items)
    told = []
    if visits:
        told.append(f"{visits} attendance {'alert' if visits == 1 else 'alerts'}")
    if looks:
        told.append(f"{looks} {'look' if looks == 1 else 'looks'} at the protection flag")
    said = ", ".join(told) if told else "told to another authority"
    return f"Seen in emergency care while on a child protection plan or looked after ({said})"


def score(facts: dict[str, Any] | None, kinds: set[str], items: list[dict[str, Any]],
          as_of: date) -> tuple[int, list[Reason]]:
    """The points of one child (or, for a misuse alert, one user), one Reason per signal that scored."""
    lines: list[Reason] = []
    if facts is not None:
        for kind in sorted(facts["plans"], key=lambda k: -PLAN_POINTS.get(k, 0)):
            if PLAN_POINTS.get(kind):
                name = PLAN_NAMES.get(kind, kind)
                lines.append(Reason(kind, PLAN_POINTS[kind], f"{name}, open on {day_text(as_of)}"))
        places = list(dict.fromkeys(name for _, name in sorted(facts["authorities"])))  # in the order lived in
        if len(places) > 1:
            lines.append(Reason("authorities", AUTHORITY_POINTS * (len(places) - 1),
                                f"Lived in {len(places)} authorities in the 12 months: {', '.join(places)}"))
        agencies = {i["agency"] for i in facts["involved"]}
        if len(agencies) >= MANY_AGENCIES and not any(i["lead"] for i in facts["involved"]):
            lines.append(Reason("no_lead", NO_LEAD_POINTS * len(agencies),
                                f"{len(agencies)} agencies involved now and no lead professional"))
        if facts["in_england"] and SCHOOL_AGES[0] <= facts["age"] <= SCHOOL_AGES[1] and not facts["enrolled"]:
            lines.append(Reason("no_school", NO_SCHOOL_POINTS, f"Aged {facts['age']} and on no school roll"))
        if facts["in_england"] and not facts["registered"]:
            lines.append(Reason("no_gp", NO_GP_POINTS, "Registered with no GP practice"))
        visits, sites = len(facts["hospitals"]), len(set(facts["hospitals"]))
        if visits > 1:
            points = (min(EMERGENCY_VISIT_POINTS * (visits - 1), EMERGENCY_VISIT_CAP)
                      + EXTRA_HOSPITAL_POINTS * (sites - 1))
            lines.append(Reason("emergency", points, f"{visits} emergency attendances at {sites} "
                                                     f"{'hospital' if sites == 1 else 'hospitals'} in the 12 months"))
        if facts["closed"]:
            lines.append(Reason("closed_alerts", min(facts["closed"], CLOSED_ALERT_CAP) * CLOSED_ALERT_POINTS,
                                f"{facts['closed']} earlier {'alert' if facts['closed'] == 1 else 'alerts'} "
                                "about this child closed"))
    seen = [kind for kind in PROTECTED_EMERGENCY_KINDS if kind in kinds]
    if seen:
        lines.append(Reason("protected_emergency", PROTECTED_EMERGENCY_POINTS, _emergency_line(items)))
    for kind in sorted(kinds):
        if KIND_POINTS.get(kind, 0) > 0:
            lines.append(Reason(kind, KIND_POINTS[kind], _kind_line(kind, items)))
    if len(lines) > 1:
        lines.append(Reason("compound", COMPOUND_POINTS * (len(lines) - 1),
                            f"{len(lines)} signals at once: each makes the others more serious"))
    return sum(line.points for line in lines), lines


def triage(tx: Any, *, viewer: Viewer, state: str | None, today: date, limit: int, skip: int) -> dict[str, Any]:
    """The viewer's inbox as children ranked by score (ties: the most recent alert first), one page of them.

    Facts are as of the latest scan date among the authority's alerts (`today` when none has one), the date the
    alerts themselves were raised as of.
    """
    found = tx.run(AS_OF, viewer=viewer.params()).single()
    as_of = native(found["as_of"]) if found and found["as_of"] is not None else today
    rows = list(tx.run(TRIAGE, {**params(as_of), "viewer": viewer.params(), "override": [], "state": state,
                                "team_kinds": list(TEAM_KINDS)}))
    groups = []
    for row in rows:
        items = [shape(raw) for raw in row["items"]]
        facts = native(row["facts"])
        kinds = {i["kind"] for i in items} | set(facts["kinds"] if facts else [])
        points, reasons = score(facts, kinds, items, as_of)
        groups.append({"subject": row["subject"], "child": native(row["child"]), "score": points,
                       "reasons": [r.__dict__ for r in reasons], "alerts": items,
                       "latest": max(i["raised_at"] for i in items)})
    groups.sort(key=lambda g: (-g["score"], -g["latest"].timestamp(), g["subject"]))
    for rank, group in enumerate(groups, start=1):
        group["rank"] = rank
    return {"as_of": as_of, "total": len(groups), "alerts": sum(len(g["alerts"]) for g in groups),
            "items": groups[skip:skip + limit]}

