"""Reviewer analytics in Cypher: serious-case patterns per child, their prevalence, cases and subgraphs.

The patterns of a child on a date are computed from its facts (homes, plans, school and GP
registrations, emergency visits, involvements) gathered once per child in a single expansion (a child's
relationships are one chain: expanding each type apart walks it seven times), then evaluated for each
date asked for, so one pass over the children gives every date of a trend. Prevalence is counted by the
authority the child lived in on the date, per cohort, and stored as PatternCount nodes; reviewers read
those (suppressed and pseudonymised by analytics.privacy), never the children behind them.

Patterns and cohorts are described in docs/analytics.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.alerts import REPEAT_EMERGENCY_VISITS, SCHOOL_AGES, TRANSFER_IN_WORKING_DAYS
from graph.children import native
from graph.instants import NOW, uk_days, uk_midnight, year_before
from graph.policy import hidden, kin, sensitive_visible
from graph.viewer import Viewer
from graph.workdays import due_dates

PATTERNS = ("moved_authority", "transfer_gap", "no_school_roll", "no_gp", "repeat_emergency",
            "no_lead_professional")
COHORTS = ("cp_plan", "looked_after", "child_in_need", "all")
MANY_AGENCIES = 3  # "many agencies and no lead professional": three or more at once
WINDOW_DAYS = 365

# Prevalence counts archived records too, on the dates before they were archived (graph/retention.py): a child
# who has since turned 18, died or left England was still a child of the authority on those dates.
COUNTED = "Child|ArchivedChild"

# The facts of child `c` and its patterns on each date of $dates (rows: c, d, la, cohorts, flags).
_FLAGS = """
WITH c, [(c)-[r:LIVED_AT|HELD_BY|HAS_PLAN|ENROLLED_AT|REGISTERED_WITH|ATTENDED|INVOLVED_WITH]-(x) |
         CASE type(r)
           WHEN 'LIVED_AT' THEN {t: 'LIVED_AT', since: r.since, until: r.until, la: x.la_code}
           WHEN 'HELD_BY' THEN {t: 'HELD_BY', la: x.code}
           WHEN 'HAS_PLAN' THEN {t: 'HAS_PLAN', since: r.since, until: r.until, kind: r.kind, la: x.code}
           WHEN 'ATTENDED' THEN {t: 'ATTENDED', at: r.at}
           WHEN 'INVOLVED_WITH' THEN {t: 'INVOLVED_WITH', since: r.since, until: r.until, lead: coalesce(r.lead, false),
                                      agency: [(x)-[:WORKS_FOR]->(g:Agency) | [g.id, g.la_code]][0]}
           ELSE {t: type(r), since: r.since, until: r.until} END]
        AS facts,
     coalesce(c.status, 'active') <> 'left_england' AS in_england
WITH c, in_england,
     [f IN facts WHERE f.t = 'LIVED_AT'] AS homes,
     [f IN facts WHERE f.t = 'HELD_BY' | f.la][0] AS held,
     [f IN facts WHERE f.t = 'HAS_PLAN'] AS plans,
     [f IN facts WHERE f.t = 'ENROLLED_AT'] AS schools,
     [f IN facts WHERE f.t = 'REGISTERED_WITH'] AS gps,
     [f IN facts WHERE f.t = 'ATTENDED' AND f.at >= $earliest | f.at] AS visits,
     [f IN facts WHERE f.t = 'INVOLVED_WITH' AND f.agency IS NOT NULL |
      {agency: f.agency[0], la: f.agency[1], since: f.since, until: f.until, lead: f.lead}] AS works
// A move is a home whose previous home (the latest one before it) is in another authority.
WITH c, homes, held, plans, schools, gps, visits, works, in_england,
     [h IN homes | {on: h.since, to: h.la, from: reduce(p = null, x IN homes |
        CASE WHEN x.since < h.since AND (p IS NULL OR x.since > p.since) THEN x ELSE p END).la}] AS steps
WITH c, homes, held, plans, schools, gps, visits, works, in_england,
     [s IN steps WHERE s.from IS NOT NULL AND s.from <> s.to | {on: s.on, to: s.to}] AS moves
UNWIND $dates AS d
WITH c, d, homes, held, plans, schools, gps, visits, works, in_england, moves,
     duration.between(c.dob, d).years AS age, $visit_windows[toString(d)] AS span
WHERE c.dob <= d AND age < 18 AND (c.archived_on IS NULL OR d < c.archived_on) AND (c.died_on IS NULL OR d < c.died_on)
WITH c, d, age, plans, schools, gps, works, in_england, size([v IN visits WHERE span[0] <= v < span[1]]) AS seen,
     [m IN moves WHERE m.on > d - duration({days: $window}) AND m.on <= d | m {.*, due: $due_by[toString(m.on)]}]
       AS recent,
     coalesce(reduce(here = null, h IN homes | CASE WHEN h.since <= d AND (h.until IS NULL OR h.until > d)
              AND (here IS NULL OR h.since > here.since) THEN h ELSE here END).la, held) AS la,
     [w IN works WHERE w.since <= d AND (w.until IS NULL OR w.until >= d)] AS active
WITH c, d, la, age,
     ['all'] + [k IN $plan_cohorts WHERE any(p IN plans WHERE p.kind = k AND p.since <= d
                                              AND (p.until IS NULL OR p.until >= d))] AS cohorts,
     {moved_authority: size(recent) > 0,
      transfer_gap: any(m IN recent WHERE m.due < d
        AND NOT any(w IN works WHERE w.la = m.to AND w.since <= m.due AND (w.until IS NULL OR w.until >= m.on))
        AND NOT any(p IN plans WHERE p.la = m.to AND p.since <= m.due AND (p.until IS NULL OR p.until >= m.on))),
      no_school_roll: in_england AND $min_age <= age <= $max_age
        AND NOT any(s IN schools WHERE s.since <= d AND (s.until IS NULL OR s.until > d)),
      no_gp: in_england AND NOT any(g IN gps WHERE g.since <= d AND (g.until IS NULL OR g.until > d)),
      repeat_emergency: seen >= $visits,
      no_lead_professional: NOT any(w IN active WHERE w.lead)
        AND size(reduce(s = [], w IN active | CASE WHEN w.agency IN s THEN s ELSE s + w.agency END)) >= $agencies
     } AS flags
"""
_SUMS = ",\n       ".join(f"sum(CASE WHEN flags.{p} THEN 1 ELSE 0 END) AS {p}" for p in PATTERNS)
PREVALENCE = f"""
MATCH (c:{COUNTED}) WHERE c.id >= $from_id AND ($to_id IS NULL OR c.id < $to_id)
{_FLAGS}
UNWIND cohorts AS cohort
RETURN d AS date, la, cohort, count(*) AS children,
       {_SUMS}
"""
SPLIT_POINTS = f"MATCH (c:{COUNTED}) WITH c.id AS id ORDER BY id WITH collect(id) AS ids RETURN [n IN range(1, $parts - 1) | ids[n * size(ids) / $parts]] AS points"
_SETS = ", ".join(f"p.{name} = r.{name}" for name in PATTERNS)
STORE = f"""
MATCH (old:PatternCount) WHERE old.date IN $dates DETACH DELETE old
WITH count(*) AS gone
UNWIND $rows AS r
CREATE (p:PatternCount {{id: toString(r.date) + '|' + r.la + '|' + r.cohort}})
SET p.date = r.date, p.la_code = r.la, p.cohort = r.cohort, p.children = r.children, p.computed_at = {NOW},
    {_SETS}
"""
_COUNTS = ", ".join(f".{p}" for p in PATTERNS)
COUNTS = f"""
MATCH (p:PatternCount) WHERE p.date = $date AND p.cohort = $cohort
OPTIONAL MATCH (la:LocalAuthority {{code: p.la_code}})
RETURN p {{.la_code, .children, {_COUNTS}, name: la.name}} AS row ORDER BY row.la_code
"""
DATES = "MATCH (p:PatternCount) RETURN DISTINCT p.date AS date ORDER BY date"


def pattern_params(dates: list[date]) -> dict[str, Any]:
    """Parameters of the pattern statements for these dates (windows and transfer-in due dates).

    A date's emergency visits are those of the UK days in the year up to it, as UTC instants from <= at < until
    (graph.instants), keyed by the date's ISO text.
    """
    first = min(dates) - timedelta(days=WINDOW_DAYS)
    return {
        "dates": dates, "earliest": uk_midnight(first - timedelta(days=366)), "window": WINDOW_DAYS,
        "visit_windows": {d.isoformat(): list(uk_days(year_before(d) + timedelta(days=1), d)) for d in dates},
        "due_by": due_dates(first, max(dates), TRANSFER_IN_WORKING_DAYS),
        "plan_cohorts": [c for c in COHORTS if c != "all"],
        "min_age": SCHOOL_AGES[0], "max_age": SCHOOL_AGES[1], "visits": REPEAT_EMERGENCY_VISITS,
        "agencies": MANY_AGENCIES,
    }


def trend_dates(as_of: date, quarters: int = 4) -> list[date]:
    """The scan date and the ends of the `quarters` calendar quarters before it, oldest first."""
    out = [as_of]
    year, quarter = as_of.year, (as_of.month - 1) // 3  # quarters completed this year
    for _ in range(quarters):
        if quarter == 0:
            year, quarter = year - 1, 4
        end = date(year, quarter * 3, 31 if quarter in (1, 4) else 30)
        if end < out[-1]:
            out.append(end)
        quarter -= 1
    return sorted(set(out))


@dataclass
class PatternResult:
    """One pattern computation: the dates, the rows stored and how long it took."""

    dates: list[date]
    rows: int = 0
    children: int = 0
    seconds: float = 0.0
    by_pattern: dict[str, int] = field(default_factory=dict)


def compute(driver: Driver, *, database: str, as_of: date, quarters: int = 4, parts: int = 2,
            progress: Callable[[int, int], None] | None = None) -> PatternResult:
    """Count every pattern per authority and cohort on the scan date, and on the quarter ends before it
    that have no counts stored yet (so the first scan fills the trend and later ones add one date).

    The children are split into `parts` ranges of ids, read concurrently (Neo4j runs each read on a
    core of its own), then the counts are summed and replace those stored for the same dates.
    """
    started = time.perf_counter()
    with driver.session(database=database) as session:
        stored = set(session.execute_read(stored_dates))
        points = session.execute_read(lambda tx: tx.run(SPLIT_POINTS, parts=parts).single(strict=True)["points"])
    dates = [d for d in trend_dates(as_of, quarters) if d == as_of or d not in stored]
    params = pattern_params(dates)
    bounds = list(zip([""] + points, points + [None]))

    def part(bound: tuple[str, str | None]) -> list[dict[str, Any]]:
        with driver.session(database=database) as session:
            return session.execute_read(lambda tx: [r.data() for r in tx.run(
                PREVALENCE, params, from_id=bound[0], to_id=bound[1])])

    totals: dict[tuple[Any, str, str], dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=parts) as pool:
        for done, rows in enumerate(pool.map(part, bounds), start=1):
            for row in rows:
                key = (row["date"], row["la"], row["cohort"])
                acc = totals.setdefault(key, {"date": row["date"], "la": row["la"], "cohort": row["cohort"],
                                              "children": 0, **{p: 0 for p in PATTERNS}})
                for name in ("children", *PATTERNS):
                    acc[name] += row[name]
            if progress is not None:
                progress(done, parts)
    rows = [r for r in totals.values() if r["la"] is not None]
    with driver.session(database=database) as session:
        session.execute_write(lambda tx: tx.run(STORE, dates=dates, rows=rows).consume())
    latest = [r for r in rows if r["date"] == as_of and r["cohort"] == "all"]
    return PatternResult(dates=dates, rows=len(rows), children=sum(r["children"] for r in latest),
                         seconds=time.perf_counter() - started,
                         by_pattern={p: sum(r[p] for r in latest) for p in PATTERNS})


def counts(tx: ManagedTransaction, *, day: date, cohort: str) -> list[dict[str, Any]]:
    """The stored counts of one date and cohort, one row per authority (unsuppressed: analytics only)."""
    return [native(r["row"]) for r in tx.run(COUNTS, date=day, cohort=cohort)]


def stored_dates(tx: ManagedTransaction) -> list[date]:
    """The dates with stored counts, oldest first."""
    return [native(r["date"]) for r in tx.run(DATES)]


# -- cases ---------------------------------------------------------------------------------------

# The children a reviewer may study in an authority: living there now, not shielded, and no shielded
# member in their household (policy rules 1 and 3, with the reviewer as viewer).
_CASES_IN = f"""
MATCH (:LocalAuthority {{code: $la_code}})<-[:IN]-(:Address)<-[l:LIVED_AT WHERE l.until IS NULL]-(c:Child)
WITH DISTINCT c WHERE NOT {hidden('c')} AND size({kin('c')}) = 0
"""
CASE_IDS = _CASES_IN + "RETURN c.id AS id"
CASES = _CASES_IN + _FLAGS + """
WITH c, cohorts, age, flags WHERE any(p IN $patterns WHERE flags[p])
RETURN c.id AS id, age, cohorts, flags
"""
CASE = _CASES_IN + "WITH c WHERE c.id = $child_id" + _FLAGS + f"""
RETURN age, cohorts, flags,
  COLLECT {{ MATCH (c)<-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(a:Agency) WHERE {sensitive_visible('i')}
            RETURN {{practitioner: p.id, agency: a.id, kind: a.kind, la: a.la_code, service: i.service, since: i.since,
                    until: i.until, lead: coalesce(i.lead, false)}} AS x ORDER BY x.since }} AS involvements,
  COLLECT {{ MATCH (c)-[e:ENROLLED_AT|REGISTERED_WITH]->(a:Agency)
            RETURN {{type: type(e), agency: a.id, kind: a.kind, la: a.la_code, since: e.since, until: e.until}} AS x
            ORDER BY x.since }} AS registrations,
  COLLECT {{ MATCH (c)-[v:ATTENDED]->(a:Agency)
            RETURN {{agency: a.id, kind: a.kind, la: a.la_code, at: v.at}} AS x ORDER BY x.at }} AS visits,
  COLLECT {{ MATCH (c)-[h:HAS_PLAN]->(r:LocalAuthority)
            RETURN {{kind: h.kind, la: r.code, name: r.name, since: h.since, until: h.until}} AS x ORDER BY x.since }} AS plans,
  COLLECT {{ MATCH (c)-[l:LIVED_AT]->(:Address)-[:IN]->(r:LocalAuthority)
            RETURN {{since: l.since, until: l.until, la: r.code, name: r.name}} AS x ORDER BY x.since }} AS homes,
  COLLECT {{ MATCH (k:Carer)-[r:CARES_FOR]->(c) RETURN {{carer: k.id, relationship: r.relationship}} AS x
            ORDER BY x.carer }} AS carers,
  COLLECT {{ MATCH (c)-[m:WENT_MISSING]->(r:LocalAuthority)
            RETURN {{kind: m.kind, name: r.name, since: m.since, until: m.until}} AS x ORDER BY x.since }} AS missing
"""


def case_ids(tx: ManagedTransaction, *, viewer: Viewer, la_code: str) -> list[str]:
    """The ids of the children a reviewer may study in an authority (to resolve a pseudonym)."""
    return [r["id"] for r in tx.run(CASE_IDS, viewer=viewer.params(), override=[], la_code=la_code)]


def cases(tx: ManagedTransaction, *, viewer: Viewer, la_code: str, as_of: date,
          patterns: tuple[str, ...] = PATTERNS) -> list[dict[str, Any]]:
    """The children in an authority showing any of `patterns` on a date, with real ids (pseudonymise them)."""
    params = {**pattern_params([as_of]), "viewer": viewer.params(), "override": [], "la_code": la_code,
              "patterns": list(patterns)}
    return [native(r.data()) for r in tx.run(CASES, params)]


def case(tx: ManagedTransaction, *, viewer: Viewer, la_code: str, child_id: str, as_of: date) -> dict[str, Any] | None:
    """Everything the case view is built from, with real ids (pseudonymise them), or None."""
    params = {**pattern_params([as_of]), "viewer": viewer.params(), "override": [], "la_code": la_code,
              "child_id": child_id}
    record = tx.run(CASE, params).single()
    return None if record is None else native(record.data())


# Current involvements, addresses and carers of the children a reviewer may study in an authority.
SUBGRAPH = _CASES_IN + f"""
RETURN c.id AS child,
  COLLECT {{ MATCH (c)-[l:LIVED_AT WHERE l.until IS NULL]->(a:Address) RETURN a.id }}[0] AS address,
  COLLECT {{ MATCH (k:Carer)-[:CARES_FOR]->(c) RETURN k.id }} AS carers,
  COLLECT {{ MATCH (c)<-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(g:Agency)
            WHERE i.since <= $as_of AND (i.until IS NULL OR i.until >= $as_of) AND {sensitive_visible('i')}
            RETURN {{practitioner: p.id, agency: g.id, kind: g.kind, lead: coalesce(i.lead, false)}} }} AS involvements
"""


def subgraph(tx: ManagedTransaction, *, viewer: Viewer, la_code: str, as_of: date) -> list[dict[str, Any]]:
    """Per child a reviewer may study in an authority: current address, carers and involvements (real ids)."""
    return [r.data() for r in tx.run(SUBGRAPH, viewer=viewer.params(), override=[], la_code=la_code, as_of=as_of)]
