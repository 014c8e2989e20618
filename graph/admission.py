"""Which rows of a feed batch the directory may store: the retention rules' archive and tombstones, and the scope.

Run in the batch's write transaction, before its upsert (graph.ingest), so what it decides holds for what is
written. For each row naming a child:

- the child was archived (turned 18, died, left England): the row is refused with the reason, and the record
  stays out of every view (a row never updates or revives an archived record);
- the child was destroyed under the retention rules: the row is refused, naming the day and the rule
  ("child X was destroyed on D under the retention rules; not loaded"), so a stale feed never brings it back;
- except a child destroyed because it had left the targeted cohort (rule `cohort`): it is admitted again when a
  children row names it while it is in scope (its old record is gone; it starts a new one), and counted;
- in targeted mode, a children row for a child outside the cohort, and any other row naming a child the
  directory does not hold, is out of scope: counted, not stored, not a reject (the directory cannot tell a
  child outside the cohort from an unknown one without keeping the ids of children it must not hold);
  an address is in scope when a held or cohort child lives there (`Cohort.addresses`).

A person record (identity: a source's record of a child, keyed by source and local id) is screened the same way:

- its key identifies an archived child: refused with the reason (a changed record would otherwise wait for
  matching, and matching, which never links to an archived record, would make a new live child of it);
- its key identified a child since destroyed (a `DestroyedRecord` tombstone, graph/destruction.py): refused,
  naming the child, the day and the rule, unless the rule was `cohort` and the record is in scope again;
- in targeted mode it is stored only when it can be about a child in the cohort: a record the directory already
  holds, one a cohort plan of the load names by (source_id, local_id) (`Cohort.records`), or one whose NHS
  number or UPN is a held child's or that of a record in scope in the same batch. Any other record is out of scope: counted, not stored. (A record with no such
  tie is not matched on names alone first: that would mean storing it, which targeted mode exists not to do.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import ManagedTransaction

CHILD_FEEDS = frozenset({"children", "residences", "carers", "school_enrolments", "gp_registrations",
                         "involvements", "plans", "attendances", "shielding"})
REASONS = {"age": "turned 18", "death": "died", "left_england": "left England",
           "cohort": "left the targeted cohort"}

STATES = """
UNWIND $ids AS id
OPTIONAL MATCH (c:Child {id: id})
OPTIONAL MATCH (a:ArchivedChild {id: id})
OPTIONAL MATCH (d:DestroyedChild {id: id})
RETURN id, c IS NOT NULL AS held, a.archived_on AS archived_on, a.archive_reason AS archive_reason,
       d.destroyed_on AS destroyed_on, d.rule AS rule
"""
HELD_ADDRESSES = "UNWIND $ids AS id MATCH (a:Address {id: id}) RETURN collect(a.id) AS held"
HELD_CHILDREN = "UNWIND $ids AS id MATCH (c:Child {id: id}) RETURN collect(c.id) AS held"
READMIT = "UNWIND $ids AS id MATCH (d:DestroyedChild {id: id, rule: 'cohort'}) DELETE d"
# Each person record's key: the record held now and the child it identifies (live or archived), or the tombstone
# of the child it identified; and whether a valid NHS number or UPN it carries is a held child's.
RECORD_STATES = """
UNWIND $rows AS r
OPTIONAL MATCH (x:SourceRecord {key: r.key})
OPTIONAL MATCH (x)-[:IDENTIFIES]->(c:Child|ArchivedChild)
OPTIONAL MATCH (t:DestroyedRecord {key: r.key})
RETURN r.key AS key, x IS NOT NULL AS held, c.id AS child_id, c:ArchivedChild AS archived, c.archived_on AS archived_on,
       c.archive_reason AS archive_reason, t.child_id AS destroyed_child, t.destroyed_on AS destroyed_on, t.rule AS rule,
       (r.nhs IS NOT NULL AND EXISTS { MATCH (:Child {nhs_number: r.nhs}) })
         OR (r.upn IS NOT NULL AND EXISTS { MATCH (:Child {upn: r.upn}) }) AS known_identifier
"""
RECORD_TOMBSTONES = """
UNWIND $keys AS k
MATCH (t:DestroyedRecord {key: k})
RETURN t.key AS key, t.child_id AS child_id, t.destroyed_on AS on, t.rule AS rule
"""
READMIT_RECORDS = "UNWIND $keys AS k MATCH (t:DestroyedRecord {key: k, rule: 'cohort'}) DELETE t"


@dataclass(frozen=True)
class Cohort:
    """A targeted load's scope: the children its plans keep in the cohort, and the addresses they (or children
    already held) live at. None in place of a Cohort is full mode: every child is in scope."""

    children: frozenset[str]
    addresses: frozenset[str] = frozenset()
    records: frozenset[str] = frozenset()  # person record keys (source_id|local_id) its cohort plans name


@dataclass
class Screened:
    """A batch screened: the rows to write, those refused (line: reason), those out of scope, ids admitted again."""

    rows: list[dict[str, Any]]
    refused: dict[int, str] = field(default_factory=dict)
    out_of_scope: set[int] = field(default_factory=set)
    readmitted: list[str] = field(default_factory=list)


def archived_reason(child_id: str, on: date, reason: str) -> str:
    return f"child {child_id} was archived on {on} under the retention rules ({REASONS.get(reason, reason)}); not loaded"


def destroyed_reason(child_id: str, on: date, rule: str) -> str:
    return (f"child {child_id} was destroyed on {on} under the retention rules ({REASONS.get(rule, rule)}); "
            "not loaded")


def destroyed_record_reason(key: str, tombstone: dict[str, Any]) -> str:
    return (f"person record {key} identified child {tombstone['child_id']}, destroyed on {tombstone['on']} under the "
            f"retention rules ({REASONS.get(tombstone['rule'], tombstone['rule'])}); not loaded")


def screen(tx: ManagedTransaction, *, feed: str, rows: Sequence[dict[str, Any]],
           cohort: Cohort | None = None) -> Screened:
    """Decide each row of a batch (see the module); re-admits the cohort tombstones it lets through.

    Feeds that name no child pass as they are, but for addresses in targeted mode.
    """
    if feed == "person_records":
        return _screen_records(tx, rows=rows, cohort=cohort)
    if feed == "addresses" and cohort is not None:
        held = set(tx.run(HELD_ADDRESSES, ids=sorted({r["address_id"] for r in rows})).single(strict=True)["held"])
        keep = [r for r in rows if r["address_id"] in held or r["address_id"] in cohort.addresses]
        return Screened(keep, out_of_scope={r["line"] for r in rows} - {r["line"] for r in keep})
    if feed not in CHILD_FEEDS:
        return Screened(list(rows))
    states = {r["id"]: r for r in tx.run(STATES, ids=sorted({row["child_id"] for row in rows}))}
    out = Screened([])
    for row in rows:
        child_id, line, state = row["child_id"], row["line"], states[row["child_id"]]
        if state["archived_on"] is not None:
            out.refused[line] = archived_reason(child_id, state["archived_on"].to_native(), state["archive_reason"])
        elif state["destroyed_on"] is not None:
            destroyed_on, rule = state["destroyed_on"].to_native(), state["rule"]
            if rule == "cohort" and feed == "children" and (cohort is None or child_id in cohort.children):
                out.rows.append(row)  # newly at risk (or a full-mode directory): a new record
                if child_id not in out.readmitted:
                    out.readmitted.append(child_id)
            elif rule == "cohort" and cohort is not None:
                out.out_of_scope.add(line)
            else:
                hint = " (a children row admits it again)" if rule == "cohort" else ""
                out.refused[line] = destroyed_reason(child_id, destroyed_on, rule) + hint
        elif cohort is not None and not state["held"] and not (feed == "children" and child_id in cohort.children):
            out.out_of_scope.add(line)
        else:
            out.rows.append(row)
    if out.readmitted:
        tx.run(READMIT, ids=out.readmitted).consume()
    return out


def held_children(tx: ManagedTransaction, *, ids: Sequence[str]) -> set[str]:
    """Which of these ids are live children in the directory (the targeted loader's address scope)."""
    return set(tx.run(HELD_CHILDREN, ids=list(ids)).single(strict=True)["held"])


def _screen_records(tx: ManagedTransaction, *, rows: Sequence[dict[str, Any]], cohort: Cohort | None) -> Screened:
    """Decide each person record of a batch (see the module)."""
    keyed = {row["line"]: f"{row['source_id']}|{row['local_id']}" for row in rows}
    states = {r["key"]: r for r in tx.run(RECORD_STATES, rows=[
        {"key": keyed[row["line"]], "nhs": row.get("nhs_number"), "upn": row.get("upn")} for row in rows])}
    direct = {key for key, state in states.items()
              if cohort is None or state["held"] or key in cohort.records or state["known_identifier"]}
    # A record sharing an NHS number or UPN with one in scope in this batch is about the same cohort child.
    ids = {(k, row.get(k)) for row in rows if keyed[row["line"]] in direct for k in ("nhs_number", "upn")
           if row.get(k)}
    out = Screened([])
    readmitted: list[str] = []
    for row in rows:
        key, line = keyed[row["line"]], row["line"]
        state = states[key]
        in_scope = key in direct or any((k, row.get(k)) in ids for k in ("nhs_number", "upn") if row.get(k))
        if state["archived"]:
            out.refused[line] = (f"person record {key} identifies child {state['child_id']}: "
                                 + archived_reason(state["child_id"], state["archived_on"].to_native(),
                                                   state["archive_reason"]))
        elif state["destroyed_child"] is not None:
            tombstone = {"child_id": state["destroyed_child"], "on": state["destroyed_on"].to_native(),
                         "rule": state["rule"]}
            if state["rule"] == "cohort" and in_scope:
                out.rows.append(row)  # newly in scope: a new record, matched afresh
                readmitted.append(key)
            elif state["rule"] == "cohort":
                out.out_of_scope.add(line)
            else:
                out.refused[line] = destroyed_record_reason(key, tombstone)
        elif not in_scope:
            out.out_of_scope.add(line)
        else:
            out.rows.append(row)
    if readmitted:
        tx.run(READMIT_RECORDS, keys=readmitted).consume()
    return out


def record_tombstones(tx: ManagedTransaction, *, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The tombstones of these person record keys: {key: {child_id, on, rule}} (a row naming one is refused)."""
    return {r["key"]: {"child_id": r["child_id"], "on": r["on"].to_native(), "rule": r["rule"]}
            for r in tx.run(RECORD_TOMBSTONES, keys=list(keys))}
