"""Signposting alerts: raised by a set-based scan of the graph, read and worked through by leads.

Each rule is one statement over the whole graph (started from an index, no per-child round trips)
that ends in the same tail: address the alert, then MERGE it on its key. The key names the kind,
the child, the fact that triggered it (the move, the last day on a school roll, ...) and the
authority addressed, and is unique (schema migration 3), so re-scans and concurrent scans never
duplicate an alert. A shielded child's alerts, and those of a child whose household has a shielded
member, are addressed only to the holding authority; reads apply the shielding policy again, so an
alert raised before a child was shielded disappears from everyone else's inbox.

Rules and dates are described in docs/alerts.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.children import native
from graph.instants import NOW, UK, uk_days, uk_midnight, utc_cypher, year_before
from graph.policy import hidden, holding_authority, household, kin
from graph.viewer import Viewer
from graph.workdays import due_dates

SCAN_KINDS = ("protected_move", "transfer_in_overdue", "no_school_roll", "no_gp", "repeat_emergency",
              "emergency_attendance")
# Break-glass alerts are raised by the override route; misuse alerts by the audit writer (graph/misuse.py);
# flag_viewed by the emergency flag route (graph/flags.py); shield_merged by a merge of two records shielded by
# different authorities (graph/identity/changes.py); correction conflicts by a children feed that sends a third
# value for a corrected field (graph/corrections.py).
KINDS = (*SCAN_KINDS, "break_glass", "misuse", "flag_viewed", "shield_merged", "correction_conflict")
# Kinds about a user or a record decision rather than a child's situation: for the management team only.
TEAM_KINDS = ("misuse", "shield_merged")
LOOKBACK_DAYS = 365  # moves and emergency attendances count over the year before the scan date
TRANSFER_IN_WORKING_DAYS = 15  # Working Together: a transfer-in conference within 15 working days
REPEAT_EMERGENCY_VISITS = 3
SCHOOL_AGES = (5, 16)
PROTECTED_PLANS = ["cp_plan", "looked_after"]
STATUTORY_PLANS = ["cp_plan", "looked_after", "child_in_need"]

# The authorities that may hear about child `c`: its holding authority (the shielding one) when `c` is
# shielded, else the holding authorities of its household's shielded members (graph.policy.household).
# Empty for an ordinary household.
_HOLDERS = f"""
CASE WHEN c.shielded THEN [{holding_authority('c')}]
ELSE [k IN {household('c')} | {holding_authority('k')}] END
"""

# Every rule yields rows (c, kind, fact, details, addressees); this tail addresses and MERGEs them.
_RAISE = f"""
WITH c, kind, fact, details, addressees, {_HOLDERS} AS holders
WITH c, kind, fact, details,
     CASE WHEN c.shielded OR size(holders) > 0 THEN holders ELSE addressees END AS targets
UNWIND targets AS la
WITH DISTINCT c, kind, fact, details, la WHERE la IS NOT NULL
MERGE (a:Alert {{key: kind + '|' + c.id + '|' + fact + '|' + la.code}})
  ON CREATE SET a.id = randomUUID(), a.kind = kind, a.state = 'open', a.la_code = la.code, a.child_id = c.id,
                a.raised_at = $raised_at, a.as_of = $as_of, a.scan_id = $scan_id, a += details
RETURN kind, count(a) AS addressed, count(CASE WHEN a.scan_id = $scan_id THEN 1 END) AS raised
"""
RAISE_TAIL = _RAISE  # the same tail for alerts raised outside the scan (graph/flags.py)

# A child on a CP plan or looked after on the day it moved to an address in another authority, in the
# year before the scan; when the 15th working day after the move has passed with no involvement or plan
# in the receiving authority recorded by then, also a transfer-in alert (a late record does not undo
# it: the answer does not depend on the day the scan runs). Started from the LIVED_AT(since) index.
MOVES = """
MATCH (c:Child)-[l:LIVED_AT]->(:Address)-[:IN]->(to:LocalAuthority)
WHERE l.since > $window_start AND l.since <= $as_of
CALL (c, l) {
  MATCH (c)-[p:LIVED_AT]->(:Address)-[:IN]->(src:LocalAuthority) WHERE p.since < l.since
  RETURN src ORDER BY p.since DESC LIMIT 1
}
WITH c, l, src, to WHERE src <> to
MATCH (c)-[h:HAS_PLAN]->(resp:LocalAuthority)
WHERE h.kind IN $protected_plans AND h.since <= l.since AND (h.until IS NULL OR h.until >= l.since)
WITH c, l, src, to, collect(DISTINCT h.kind) AS plans, collect(DISTINCT resp) AS responsible
WITH c, l, src, to, plans, responsible, $due_by[toString(l.since)] AS due
WITH c, src, to, plans, responsible + [to] AS addressees, due,
     toString(l.since) + ':' + src.code + '>' + to.code AS fact,
     {from_code: src.code, from_name: src.name, to_code: to.code, to_name: to.name, moved_on: l.since,
      plans: plans} AS move,
     due < $as_of
       AND NOT EXISTS { (c)<-[i:INVOLVED_WITH]-(:Practitioner)-[:WORKS_FOR]->(:Agency)-[:IN]->(to)
                        WHERE i.since <= due AND (i.until IS NULL OR i.until >= l.since) }
       AND NOT EXISTS { (c)-[h2:HAS_PLAN]->(to) WHERE h2.since <= due AND (h2.until IS NULL OR h2.until >= l.since) }
       AS overdue
UNWIND [['protected_move', move]] + CASE WHEN overdue THEN [['transfer_in_overdue', move {.*, due: due}]] ELSE [] END
       AS raised
WITH c, raised[0] AS kind, fact, raised[1] AS details, addressees
""" + _RAISE

# A child with a statutory plan today and, for the school roll, of school age (5-16), with no current
# enrolment or GP registration. The fact is the day the last one ended ('never' if there was none).
_UNREGISTERED = """
MATCH (c:Child)-[h:HAS_PLAN]->(resp:LocalAuthority)
WHERE h.kind IN $statutory_plans AND h.since <= $as_of AND (h.until IS NULL OR h.until >= $as_of)
  AND coalesce(c.status, 'active') <> 'left_england'
WITH c, collect(DISTINCT h.kind) AS plans, collect(DISTINCT resp) AS addressees
WITH c, plans, addressees, duration.between(c.dob, $as_of).years AS age
"""
NO_SCHOOL_ROLL = _UNREGISTERED + """
WHERE $min_age <= age <= $max_age
  AND NOT EXISTS { (c)-[e:ENROLLED_AT]->() WHERE e.since <= $as_of AND (e.until IS NULL OR e.until > $as_of) }
WITH c, plans, addressees, age, COLLECT { MATCH (c)-[e:ENROLLED_AT]->() WHERE e.until <= $as_of
                                          RETURN e.until ORDER BY e.until DESC LIMIT 1 }[0] AS left_on
WITH c, 'no_school_roll' AS kind, coalesce(toString(left_on), 'never') AS fact, addressees,
     {plans: plans, age: age, off_roll_since: left_on} AS details
""" + _RAISE
NO_GP = _UNREGISTERED + """
WHERE NOT EXISTS { (c)-[g:REGISTERED_WITH]->() WHERE g.since <= $as_of AND (g.until IS NULL OR g.until > $as_of) }
WITH c, plans, addressees, age, COLLECT { MATCH (c)-[g:REGISTERED_WITH]->() WHERE g.until <= $as_of
                                          RETURN g.until ORDER BY g.until DESC LIMIT 1 }[0] AS left_on
WITH c, 'no_gp' AS kind, coalesce(toString(left_on), 'never') AS fact, addressees,
     {plans: plans, age: age, unregistered_since: left_on} AS details
""" + _RAISE

# Three or more emergency attendances in the year before the scan, from the ATTENDED(at) index: UTC instants
# between the UK midnights that open the window's first day and close the scan date (graph.instants). The
# fact is the attendance that first brought the count in a year (on the UK clock) to three within that
# window, so the same run of visits raises one alert however often it is scanned. Addressed to the authority
# the child lives in (else its holding authority) and the authorities of its plans.
REPEAT_EMERGENCY = """
MATCH (c:Child)-[v:ATTENDED]->(:Agency)
WHERE $window_from <= v.at < $window_until
WITH c, count(v) AS visits WHERE visits >= $visits
WITH c, visits, COLLECT { MATCH (c)-[w:ATTENDED]->(e:Agency)
                          WHERE $history_from <= w.at < $window_until
                          RETURN [w.at, e.name] AS seen ORDER BY w.at } AS seen
WITH c, visits, [x IN seen | x[0]] AS ats, [x IN seen WHERE x[0] >= $window_from] AS recent
WITH c, visits, recent, ats, [t IN ats WHERE t >= $window_from |
                              [t, datetime({datetime: t, timezone: 'Europe/London'}) - duration({years: 1})]] AS ends
WITH c, visits, recent, [e IN ends WHERE size([u IN ats WHERE e[1] < u <= e[0]]) >= $visits][0][0] AS crossing
WITH c, 'repeat_emergency' AS kind, toString(crossing) AS fact,
     {visits: visits, first_at: recent[0][0], last_at: recent[-1][0],
      hospitals: reduce(names = [], x IN recent | CASE WHEN x[1] IN names THEN names ELSE names + x[1] END)} AS details,
     [coalesce(COLLECT { MATCH (c)-[cur:LIVED_AT WHERE cur.until IS NULL]->(:Address)-[:IN]->(here:LocalAuthority)
                         RETURN here }[0],
               COLLECT { MATCH (c)-[:HELD_BY]->(held:LocalAuthority) RETURN held }[0])]
     + COLLECT { MATCH (c)-[h:HAS_PLAN]->(r:LocalAuthority)
                 WHERE h.kind IN $statutory_plans AND h.since <= $as_of AND (h.until IS NULL OR h.until >= $as_of)
                 RETURN r } AS addressees
""" + _RAISE

# Every emergency attendance, in the year before the scan, of a child on a CP plan or looked after on the
# attendance's UK day (CP-IS: the responsible authority hears of each visit, not only of the third). The fact is
# the attendance's UTC instant; addressed to the authorities responsible for those plans. The loader raises the
# same alerts as each batch of attendances is written (ATTENDANCES_LOADED), so they do not wait for a scan.
_PROTECTED_ATTENDANCE = """
WITH c, v, e, date(datetime({datetime: v.at, timezone: 'Europe/London'})) AS day
MATCH (c)-[h:HAS_PLAN]->(resp:LocalAuthority)
WHERE h.kind IN $protected_plans AND h.since <= day AND (h.until IS NULL OR h.until >= day)
WITH c, v, e, collect(DISTINCT h.kind) AS plans, collect(DISTINCT resp) AS addressees
WITH c, 'emergency_attendance' AS kind, toString(v.at) AS fact, addressees,
     {attended_at: v.at, hospital: e.name, plans: plans} AS details
""" + _RAISE
EMERGENCY_ATTENDANCE = """
MATCH (c:Child)-[v:ATTENDED]->(e:Agency)
WHERE $window_from <= v.at < $window_until
""" + _PROTECTED_ATTENDANCE
ATTENDANCES_LOADED = f"""
UNWIND $rows AS r
MATCH (c:Child {{id: r.child_id}})-[v:ATTENDED {{at: {utc_cypher('r.at')}}}]->(e:Agency {{id: r.agency_id}})
WHERE $window_from <= v.at < $window_until
""" + _PROTECTED_ATTENDANCE

RULES: dict[str, str] = {"moves": MOVES, "no_school_roll": NO_SCHOOL_ROLL, "no_gp": NO_GP,
                         "repeat_emergency": REPEAT_EMERGENCY, "emergency_attendance": EMERGENCY_ATTENDANCE}
# Each rule started from some children only ($ids), for a re-scan after their records changed (a merge):
# every rule's first clause matches the child it is about.
_WHOLE_GRAPH = "MATCH (c:Child)"
CHILD_RULES: dict[str, str] = {name: rule.replace(_WHOLE_GRAPH, "MATCH (c:Child WHERE c.id IN $ids)", 1)
                               for name, rule in RULES.items()}
assert all(rule.lstrip().startswith(_WHOLE_GRAPH) for rule in RULES.values()), "a rule starts elsewhere"


@dataclass
class ScanResult:
    """What one scan found: per kind, alerts addressed (existing ones included) and newly raised."""

    as_of: date
    addressed: dict[str, int] = field(default_factory=dict)
    raised: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_raised(self) -> int:
        return sum(self.raised.values())


def scan_params(as_of: date) -> dict[str, Any]:
    """The parameters every rule takes: the scan date, the windows and the transfer-in due dates.

    Dates bound the rules on dates; the UK days after window_start up to as_of, as UTC instants, bound those on
    instants (window_from <= at < window_until), so the window is the same days whatever the season or offset.
    """
    window_start = as_of - timedelta(days=LOOKBACK_DAYS)
    window_from, window_until = uk_days(window_start + timedelta(days=1), as_of)
    return {
        "as_of": as_of,
        "window_start": window_start,
        "window_from": window_from,
        "window_until": window_until,
        # Earlier visits that may count towards a crossing inside the window: a year before its first day.
        "history_from": uk_midnight(year_before(window_start + timedelta(days=1))),
        "due_by": due_dates(window_start, as_of, TRANSFER_IN_WORKING_DAYS),
        "protected_plans": PROTECTED_PLANS,
        "statutory_plans": STATUTORY_PLANS,
        "min_age": SCHOOL_AGES[0],
        "max_age": SCHOOL_AGES[1],
        "visits": REPEAT_EMERGENCY_VISITS,
    }


def raise_for_attendances(tx: ManagedTransaction, *, rows: list[dict[str, Any]], as_of: date, load_id: str) -> int:
    """The emergency_attendance alerts of attendance rows just written in `tx`, as a scan as of `as_of` raises them
    (same window, same keys), so the responsible authority hears at once; returns how many are new."""
    window_from, window_until = uk_days(as_of - timedelta(days=LOOKBACK_DAYS - 1), as_of)
    picked = [{"child_id": r["child_id"], "agency_id": r["agency_id"], "at": r["at"]} for r in rows]
    result = tx.run(ATTENDANCES_LOADED, rows=picked, window_from=window_from, window_until=window_until,
                    protected_plans=PROTECTED_PLANS, as_of=as_of, raised_at=datetime.now(UTC), scan_id=load_id)
    return sum(r["raised"] for r in result)


def run_rule(tx: ManagedTransaction, *, rule: str, params: dict[str, Any]) -> list[tuple[str, int, int]]:
    """One rule over the whole graph: (kind, alerts addressed, alerts newly raised) per kind."""
    return [(r["kind"], r["addressed"], r["raised"]) for r in tx.run(RULES[rule], params)]


def scan(
    driver: Driver,
    *,
    database: str,
    as_of: date,
    parallel: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
) -> ScanResult:
    """Run every rule as of a date, each in a write transaction of its own, `parallel` at a time; idempotent.

    Raises:
        neo4j.exceptions.Neo4jError: a rule failed; the rules before it are kept (each is idempotent).
    """
    params = {**scan_params(as_of), "raised_at": datetime.now(UTC), "scan_id": str(uuid.uuid4())}
    result = ScanResult(as_of=as_of)
    for kind in SCAN_KINDS:
        result.addressed[kind] = result.raised[kind] = 0

    def one(rule: str) -> tuple[str, list[tuple[str, int, int]], float]:
        started = time.perf_counter()
        with driver.session(database=database) as session:
            rows = session.execute_write(run_rule, rule=rule, params=params)
        return rule, rows, time.perf_counter() - started

    # Rules write alerts of different kinds (different keys), so they run side by side without contention.
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for done, (rule, rows, seconds) in enumerate(pool.map(one, RULES), start=1):
            for kind, addressed, raised in rows:
                result.addressed[kind] += addressed
                result.raised[kind] += raised
            result.seconds[rule] = seconds
            if progress is not None:
                progress(rule, done, len(RULES))
    return result


def scan_children(tx: ManagedTransaction, *, ids: list[str], as_of: date, scan_id: str) -> int:
    """Every rule for these children only, in the caller's transaction; returns the alerts newly raised."""
    params = {**scan_params(as_of), "raised_at": datetime.now(UTC), "scan_id": scan_id, "ids": ids}
    return sum(r["raised"] for rule in CHILD_RULES.values() for r in tx.run(rule, params))


# -- the inbox ---------------------------------------------------------------------------------

# Alerts addressed to the viewer's authority whose child the viewer may see in full: a live record (an archived
# child's alerts leave every inbox with it, graph/retention.py), not hidden from them, and no hidden member in its
# household (policy rules 1 and 3, as on the card). Misuse alerts, about a user rather than a child, and
# shield_merged alerts, about a record merged away (its id is a MergedChild now), are for the management team
# only, and never about the viewer.
_VISIBLE = f"""
MATCH (a:Alert {{la_code: $viewer.la_code}})
WHERE NOT a.kind IN $team_kinds OR ($viewer.role = 'la_admin' AND coalesce(a.user_id, '') <> $viewer.user_id)
OPTIONAL MATCH (c:Child {{id: a.child_id}})
WITH a, c WHERE CASE WHEN a.child_id IS NULL THEN true WHEN c IS NULL THEN a.kind IN $team_kinds
                     ELSE NOT ({hidden('c')} OR size({kin('c')}) > 0) END
"""
_ITEM = """a {.id, .kind, .state, .child_id, .la_code, .raised_at, .as_of,
  .from_code, .from_name, .to_code, .to_name, .moved_on, .plans, .due, .age, .off_roll_since,
  .unregistered_since, .visits, .first_at, .last_at, .hospitals, .attended_at, .hospital, .user_id, .user_role,
  .user_la_code, .user_agency, .reason,
  .request_id, .records, .window_minutes, .field, .corrected_on, .acknowledged_at, .acknowledged_by, .note,
  .closed_at, .closed_by,
  .close_note}"""
INBOX = _VISIBLE + f"""
WITH a ORDER BY a.raised_at DESC, a.id
WITH collect(a) AS every
WITH every, [a IN every WHERE ($state IS NULL OR a.state = $state) AND ($kind IS NULL OR a.kind = $kind)] AS chosen
RETURN {{open: size([a IN every WHERE a.state = 'open']),
         acknowledged: size([a IN every WHERE a.state = 'acknowledged']),
         closed: size([a IN every WHERE a.state = 'closed'])}} AS counts,
       size(chosen) AS total, [a IN chosen[$skip..$skip + $limit] | {_ITEM}] AS items
"""
ONE = _VISIBLE + f"WITH a WHERE a.id = $alert_id RETURN {_ITEM} AS item"
# Each takes the alert's write lock before reading its state (writing _lock), so of an acknowledgement and a
# close at once the later sees what the earlier committed: a closed alert is never acknowledged after.
ACKNOWLEDGE = f"""
MATCH (a:Alert {{id: $alert_id}})
SET a._lock = true
REMOVE a._lock
WITH a WHERE a.state = 'open'
SET a.state = 'acknowledged', a.acknowledged_at = {NOW}, a.acknowledged_by = $viewer.user_id, a.note = $note
RETURN count(a) AS changed
"""
CLOSE = f"""
MATCH (a:Alert {{id: $alert_id}})
SET a._lock = true
REMOVE a._lock
WITH a WHERE a.state IN ['open', 'acknowledged']
SET a.state = 'closed', a.closed_at = {NOW}, a.closed_by = $viewer.user_id, a.close_note = $note
RETURN count(a) AS changed
"""

# The visibility filter and projection, for the triage (graph/triage.py) and the chronology (graph/chronology.py).
VISIBLE, ITEM = _VISIBLE, _ITEM

# What each kind shows besides the common fields.
DETAILS: dict[str, tuple[str, ...]] = {
    "protected_move": ("from_code", "from_name", "to_code", "to_name", "moved_on", "plans"),
    "transfer_in_overdue": ("from_code", "from_name", "to_code", "to_name", "moved_on", "plans", "due"),
    "no_school_roll": ("plans", "age", "off_roll_since"),
    "no_gp": ("plans", "age", "unregistered_since"),
    "repeat_emergency": ("visits", "first_at", "last_at", "hospitals"),  # hospitals in order of first visit
    "break_glass": ("user_id", "user_role", "user_la_code", "reason", "request_id"),
    "misuse": ("user_id", "user_role", "user_la_code", "records", "window_minutes", "first_at", "last_at"),
    "emergency_attendance": ("attended_at", "hospital", "plans"),
    "flag_viewed": ("user_id", "user_role", "user_la_code", "user_agency", "plans", "request_id"),
    "shield_merged": ("to_code", "to_name", "reason"),
    "correction_conflict": ("field", "corrected_on"),
}
_PLAN_NAMES = {"cp_plan": "a child protection plan", "looked_after": "looked after",
               "child_in_need": "a child in need plan"}


def _plans(item: dict[str, Any]) -> str:
    return " and ".join(_PLAN_NAMES.get(p, p) for p in item.get("plans") or []) or "a plan"


def summary(item: dict[str, Any]) -> str:
    """One plain sentence saying what happened and what is expected."""
    kind = item["kind"]
    if kind == "protected_move":
        return (f"Child {item['child_id']} ({_plans(item)}) moved from {item['from_name']} to {item['to_name']} "
                f"on {item['moved_on']}.")
    if kind == "transfer_in_overdue":
        return (f"Child {item['child_id']} ({_plans(item)}) moved from {item['from_name']} to {item['to_name']} "
                f"on {item['moved_on']}; no involvement or plan in {item['to_name']} was recorded by {item['due']} "
                "(15 working days).")
    if kind == "no_school_roll":
        since = f"since {item['off_roll_since']}" if item.get("off_roll_since") else "with no enrolment on record"
        return f"Child {item['child_id']} ({_plans(item)}, aged {item['age']}) is on no school roll, {since}."
    if kind == "no_gp":
        since = f"since {item['unregistered_since']}" if item.get("unregistered_since") else "with none on record"
        return f"Child {item['child_id']} ({_plans(item)}) is registered with no GP practice, {since}."
    if kind == "repeat_emergency":
        return (f"Child {item['child_id']} attended emergency care {item['visits']} times in 12 months "
                f"({', '.join(item.get('hospitals') or [])}).")
    if kind == "emergency_attendance":
        return (f"Child {item['child_id']} ({_plans(item)}) attended emergency care at {item['hospital']} "
                f"on {item['attended_at'].astimezone(UK):%d %B %Y at %H:%M} (UK time).")
    if kind == "flag_viewed":
        return (f"An emergency-department clinician of {item.get('user_agency') or item['user_la_code']} viewed the "
                f"protection flag of child {item['child_id']} ({_plans(item)}).")
    if kind == "break_glass":
        return (f"A {item['user_role']} of {item['user_la_code']} opened shielded record {item['child_id']} "
                f"by override: {item['reason']}")
    if kind == "misuse":
        return (f"A {item['user_role']} of {item['user_la_code']} ({item['user_id']}) opened {item['records']} "
                f"children's records within {item['window_minutes']} minutes; an auditor can list them "
                f"(GET /audit?user_id={item['user_id']}).")
    if kind == "shield_merged":
        return (f"Record {item['child_id']}, which your team shielded, was found to be the same child as a record "
                f"shielded by {item['to_name']}, and merged into it; that team now holds it: contact them.")
    if kind == "correction_conflict":
        return (f"The source now sends a different {item['field']} for child {item['child_id']} from the one your "
                f"team corrected on {item['corrected_on']}; the correction stands until you keep or withdraw it.")
    return f"{kind} for child {item['child_id']}."


def _shape(raw: dict[str, Any]) -> dict[str, Any]:
    item = native(raw)
    return {
        "id": item["id"], "kind": item["kind"], "state": item["state"], "child_id": item["child_id"],
        "la_code": item["la_code"], "raised_at": item["raised_at"], "as_of": item["as_of"],
        "summary": summary(item),
        "details": {k: item[k] for k in DETAILS.get(item["kind"], ())},
        "acknowledged": None if item["acknowledged_at"] is None else
        {"at": item["acknowledged_at"], "by": item["acknowledged_by"], "note": item["note"]},
        "closed": None if item["closed_at"] is None else
        {"at": item["closed_at"], "by": item["closed_by"], "note": item["close_note"]},
    }


shape = _shape


def inbox(tx: ManagedTransaction, *, viewer: Viewer, state: str | None = None, kind: str | None = None,
          limit: int = 50, skip: int = 0) -> dict[str, Any]:
    """The alerts addressed to the viewer's authority that the viewer may see, newest first, one page."""
    record = tx.run(INBOX, viewer=viewer.params(), override=[], state=state, kind=kind, limit=limit,
                    skip=skip, team_kinds=list(TEAM_KINDS)).single(strict=True)
    return {"counts": record["counts"], "total": record["total"], "items": [_shape(a) for a in record["items"]]}


def get(tx: ManagedTransaction, *, viewer: Viewer, alert_id: str) -> dict[str, Any] | None:
    """One alert as the viewer may see it, or None (also when it is addressed to someone else)."""
    record = tx.run(ONE, viewer=viewer.params(), override=[], alert_id=alert_id,
                    team_kinds=list(TEAM_KINDS)).single()
    return None if record is None else _shape(record["item"])


def acknowledge(tx: ManagedTransaction, *, viewer: Viewer, alert_id: str, note: str) -> bool:
    """Mark an open alert acknowledged, with a note; False if it was not open. The caller checked visibility."""
    return tx.run(ACKNOWLEDGE, viewer=viewer.params(), alert_id=alert_id, note=note).single(strict=True)["changed"] > 0


def close(tx: ManagedTransaction, *, viewer: Viewer, alert_id: str, note: str | None) -> bool:
    """Close an open or acknowledged alert; False if it was already closed. The caller checked visibility."""
    return tx.run(CLOSE, viewer=viewer.params(), alert_id=alert_id, note=note).single(strict=True)["changed"] > 0
