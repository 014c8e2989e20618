"""The retention rules: when a child's record is archived, and when it is destroyed (docs/privacy.md).

- A child who turns 18 is archived on their 18th birthday (ContactPoint's rule; a child born on 29 February
  turns 18 on 1 March).
- A child who dies is archived on the day of death: there is no one left to contact about, and a live record
  would raise alerts (no school, no GP) about a child who has died.
- A child who left England is archived three years after leaving (the last home's end, else the day the status
  was recorded): ContactPoint recorded whether a child meant to return within three years, and a child who comes
  back within them is found again with their history.
- An archived record is destroyed six years after the day it was archived: the Limitation Act 1980 standard
  ContactPoint used, long enough for a serious case review or a claim.
- In targeted mode a live child who has left the cohort (no cohort plan now or within the last N months,
  graph.cohort) is destroyed at once: the directory holds only children known to be at risk.
- An address nobody in the directory lives or lived at is removed (a stale addresses feed can bring back a
  destroyed child's old home, without the child).

Archiving swaps the `Child` label for `ArchivedChild`, so every statement that matches a `Child` (search, card,
network, moves, alerts, the reviewers' cases) leaves it out by construction; reviewers' prevalence counts it on
the dates before its archive day (graph/analytics.py), and subject access still exports it. The dates follow
from the record, not from the day the run happens, so runs are idempotent and a late run archives and destroys
on the days the rules say. Each batch and its audit event are one transaction; a dry run rolls every batch back.
"""

from __future__ import annotations

import calendar
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph import audit, destruction
from graph.cohort import Scope, in_cohort_cypher
from graph.instants import NOW

ADULT_AGE = 18
ARCHIVE_YEARS = 6
LEFT_ENGLAND_YEARS = 3
BATCH = 500
DRY_RUN_WHOLE = 20_000  # records a dry run holds in one transaction (rolled back) for exact counts
PURPOSE = "retention rules (docs/privacy.md)"

DUE_AGE = "MATCH (c:Child) WHERE c.dob <= $born_by RETURN c.id AS id, c.dob AS day"
DUE_DEATH = "MATCH (c:Child) WHERE c.died_on <= $as_of RETURN c.id AS id, c.died_on AS day"
DUE_LEFT = """
MATCH (c:Child {status: 'left_england'})
RETURN c.id AS id, c.status_since AS status_since,
       CASE WHEN EXISTS { (c)-[h:LIVED_AT WHERE h.until IS NULL]->() } THEN null
            ELSE COLLECT { MATCH (c)-[h:LIVED_AT]->() WHERE h.until IS NOT NULL RETURN h.until ORDER BY h.until DESC
                           LIMIT 1 }[0] END AS last_home_end
"""
OUT_OF_COHORT = f"""
MATCH (c:Child) WHERE NOT {in_cohort_cypher('c')}
RETURN c.id AS id
"""
DUE_DESTROY = "MATCH (a:ArchivedChild) WHERE a.destroy_on <= $as_of RETURN a.id AS id, a.archive_reason AS rule"
ARCHIVE = f"""
UNWIND $rows AS r
MATCH (c:Child {{id: r.id}})
REMOVE c:Child
SET c:ArchivedChild, c.archived_on = r.on, c.archive_reason = r.reason, c.destroy_on = r.destroy_on,
    c.archived_at = {NOW}
RETURN collect(c.id) AS ids
"""


def years_after(day: date, years: int) -> date:
    """The anniversary `years` on; 29 February's is 1 March in a common year (when a person born that day
    attains an age in England)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def born_by(as_of: date, age: int = ADULT_AGE) -> date:
    """The latest birth date of a child who has reached `age` by `as_of` (as years_after counts birthdays)."""
    year = as_of.year - age
    latest = date(year, as_of.month, min(as_of.day, calendar.monthrange(year, as_of.month)[1]))
    return latest if years_after(latest, age) <= as_of else date.fromordinal(latest.toordinal() - 1)


@dataclass
class Plan:
    """What a run would do: records to archive ({id: (day, reason)}) and to destroy ({id: rule})."""

    as_of: date
    archive: dict[str, tuple[date, str]] = field(default_factory=dict)
    destroy: dict[str, str] = field(default_factory=dict)


@dataclass
class RetentionReport:
    """What a run did (or, in a dry run, would do): counts by rule, what destruction removed, how long it took."""

    as_of: date
    scope: str
    dry_run: bool
    archived: dict[str, int] = field(default_factory=dict)
    destroyed: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    redacted: int = 0
    run_id: str = ""
    seconds: float = 0.0
    exact: bool = True  # False for a dry run too big for one transaction (see `run`)

    @property
    def changed(self) -> bool:
        return bool(sum(self.archived.values()) or sum(self.destroyed.values()))

    def detail(self) -> dict[str, Any]:
        """The counts as the run's audit event records them."""
        return {"as_of": self.as_of.isoformat(), "scope": self.scope, "archived": self.archived,
                "destroyed": self.destroyed, "removed": self.removed, "redacted": self.redacted}


def plan(tx: ManagedTransaction, *, scope: Scope) -> Plan:
    """The records due for archiving and destruction on the scope's day (reads only)."""
    as_of = scope.day
    out = Plan(as_of)
    due: list[tuple[str, date, str]] = []
    for r in tx.run(DUE_AGE, born_by=born_by(as_of)):
        day = years_after(r["day"].to_native(), ADULT_AGE)
        if day <= as_of:
            due.append((r["id"], day, "age"))
    due += [(r["id"], r["day"].to_native(), "death") for r in tx.run(DUE_DEATH, as_of=as_of)]
    for r in tx.run(DUE_LEFT):
        left = r["last_home_end"] or r["status_since"]
        if left is not None and years_after(left.to_native(), LEFT_ENGLAND_YEARS) <= as_of:
            due.append((r["id"], years_after(left.to_native(), LEFT_ENGLAND_YEARS), "left_england"))
    for child_id, day, reason in sorted(due, key=lambda d: (d[0], d[1])):
        out.archive.setdefault(child_id, (day, reason))  # the earliest rule that applies
    # An archived record is destroyed six years on, in this run too if that day has passed.
    for child_id, (day, reason) in out.archive.items():
        if years_after(day, ARCHIVE_YEARS) <= as_of:
            out.destroy[child_id] = reason
    out.destroy.update({r["id"]: r["rule"] for r in tx.run(DUE_DESTROY, as_of=as_of)})
    if scope.targeted:
        for r in tx.run(OUT_OF_COHORT, scope.params()):
            if r["id"] not in out.archive:
                out.destroy[r["id"]] = "cohort"
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def run(driver: Driver, *, database: str, scope: Scope, actor: audit.Actor, dry_run: bool = False,
        batch: int = BATCH) -> RetentionReport:
    """Apply the rules on the scope's day: archive, then destroy, in batches; each batch is a transaction with its
    audit event, and the run ends with one event of its counts.

    A dry run does the same work in one transaction it rolls back, so its counts are the run's, and writes nothing
    (no audit event either). Above DRY_RUN_WHOLE records it rolls back each batch instead, to bound its memory:
    a carer or address shared by records of two batches is then not counted (`exact` says which).

    Raises:
        neo4j.exceptions.Neo4jError, audit.AuditError: a batch failed; the batches before it stand (a run again
            picks up where it stopped: the rules are idempotent).
    """
    started = time.perf_counter()
    report = RetentionReport(as_of=scope.day, scope=scope.mode, dry_run=dry_run, run_id=str(uuid.uuid4()))
    with driver.session(database=database) as session:
        todo = session.execute_read(plan, scope=scope)
        whole = dry_run and len(todo.archive) + len(todo.destroy) <= DRY_RUN_WHOLE
        report.exact = whole or not dry_run
        archived: Counter[str] = Counter()
        destroyed: Counter[str] = Counter()
        removed: Counter[str] = Counter()
        with _Writes(session, dry_run=dry_run, whole=whole) as write:
            for rows in _chunks([{"id": k, "on": day, "reason": reason,
                                  "destroy_on": years_after(day, ARCHIVE_YEARS)}
                                 for k, (day, reason) in sorted(todo.archive.items())], batch):
                ids = write(lambda tx, rows=rows: _archive(tx, rows, report, actor))
                archived.update(r["reason"] for r in rows if r["id"] in ids)
            for rows in _chunks([{"id": k, "rule": rule} for k, rule in sorted(todo.destroy.items())], batch):
                done = write(lambda tx, rows=rows: _destroy(tx, rows, report, actor))
                destroyed.update(r["rule"] for r in rows if r["id"] in done.ids)
                removed.update(done.removed)
                report.redacted += done.redacted
            if dry_run:  # what the sweep below would take, after the destructions
                removed["vacant_addresses"] += write(destruction.vacant_addresses)
        while not dry_run:  # in batches, until a batch finds fewer than it may take
            swept = session.execute_write(destruction.sweep_vacant_addresses, limit=batch * 10)
            removed["vacant_addresses"] += swept
            if swept < batch * 10:
                break
        report.archived, report.destroyed = dict(archived), dict(destroyed)
        report.removed = dict(removed)
        if not dry_run:
            session.execute_write(lambda tx: audit.append(
                tx, viewer=actor, action="retention_run", children=[], purpose=PURPOSE,
                request_id=report.run_id, detail=report.detail()))
    report.seconds = time.perf_counter() - started
    return report


class _Writes:
    """Where a run's batches are written: each committed on its own; or, in a dry run, all in one transaction
    rolled back at the end (`whole`), or each in its own rolled back."""

    def __init__(self, session: Any, *, dry_run: bool, whole: bool) -> None:
        self.session, self.dry_run, self.whole = session, dry_run, whole
        self.tx: Any = None

    def __enter__(self) -> _Writes:
        if self.dry_run and self.whole:
            self.tx = self.session.begin_transaction()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tx is not None:
            self.tx.rollback()
            self.tx.close()

    def __call__(self, work: Any) -> Any:
        if self.tx is not None:
            return work(self.tx)
        if not self.dry_run:
            return self.session.execute_write(work)
        with self.session.begin_transaction() as tx:
            try:
                return work(tx)
            finally:
                tx.rollback()


def _archive(tx: ManagedTransaction, rows: list[dict[str, Any]], report: RetentionReport,
             actor: audit.Actor) -> set[str]:
    ids = set(tx.run(ARCHIVE, rows=rows).single(strict=True)["ids"])
    if ids and not report.dry_run:
        reasons = Counter(r["reason"] for r in rows if r["id"] in ids)
        audit.append(tx, viewer=actor, action="retention_archive", children=sorted(ids), purpose=PURPOSE,
                     request_id=report.run_id, detail={"as_of": report.as_of.isoformat(), "archived": dict(reasons)})
    return ids


def _destroy(tx: ManagedTransaction, rows: list[dict[str, Any]], report: RetentionReport,
             actor: audit.Actor) -> destruction.Destroyed:
    done = destruction.destroy(tx, rows=rows, as_of=report.as_of, redact=not report.dry_run,
                               authority=f"retention run {report.run_id}")
    if done.ids and not report.dry_run:
        rules = Counter(r["rule"] for r in rows if r["id"] in set(done.ids))
        audit.append(tx, viewer=actor, action="retention_destroy", children=done.ids, purpose=PURPOSE,
                     request_id=report.run_id,
                     detail={"as_of": report.as_of.isoformat(), "destroyed": dict(rules), "removed": done.removed,
                             "redacted": done.redacted})
    return done

