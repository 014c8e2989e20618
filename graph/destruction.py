"""Destroying a child's record under the retention rules: the record and what only it held, leaving a tombstone.

One batch is one write transaction (`destroy`), with its audit event: the record (live or archived), every
relationship of it, the source records that identify it and the match reviews naming it (identity resolution,
docs/matching.md; the statements run whether or not those labels exist yet), its alerts and corrections, the
merged records folded into it, and the carers and addresses no other record uses. Practitioners, agencies and
authorities are not about the child and stay; so do carers and addresses another record still uses.

What stays is a tombstone, `(:DestroyedChild {id, destroyed_on, rule, record_keys})`: the directory id (and the
source record keys) alone, with one `(:DestroyedRecord {key, child_id, destroyed_on, rule})` per source record
key (and a DestroyedChild per merged id), so a stale feed naming the child, by id or by the record a source sent,
is refused with the reason instead of making the child again (graph/admission.py). The id is a number the directory itself allocated; with the record gone it says
nothing about a person to anyone but the sources that already hold it. A keyed hash would protect nothing with
its key in the same store, and a key kept elsewhere would be one more secret whose loss revives every child.
docs/privacy.md gives the reasoning.

The audit trail is the trail's own (append-only, hash-chained). `redact_audit` below is the one place a
destruction hands the destroyed children (and the ids merged into them) to the trail's redaction,
graph.audit.redaction.redact_child, in the destruction's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from neo4j import ManagedTransaction

from graph.audit import redaction
from graph.instants import NOW

_RECORD = "(c:Child|ArchivedChild {id: id})"  # a label disjunction: the two unique indexes, then a union

TOMBSTONE = f"""
UNWIND $rows AS r
WITH r, r.id AS id
MATCH {_RECORD}
MERGE (t:DestroyedChild {{id: c.id}})
SET t.destroyed_on = $as_of, t.destroyed_at = {NOW}, t.rule = r.rule, t.archived_on = c.archived_on,
    t.record_keys = COLLECT {{ MATCH (s:SourceRecord)-[:IDENTIFIES]->(c) RETURN s.key ORDER BY s.key }}
WITH c, r, t
CALL (c, r, t) {{
  UNWIND t.record_keys AS key
  MERGE (rt:DestroyedRecord {{key: key}})
  SET rt.child_id = c.id, rt.destroyed_on = $as_of, rt.destroyed_at = {NOW}, rt.rule = r.rule
  RETURN count(rt) AS records
}}
WITH c, r
CALL (c, r) {{
  MATCH (m:MergedChild)-[:MERGED_INTO]->(c)
  MERGE (mt:DestroyedChild {{id: m.id}})
  SET mt.destroyed_on = $as_of, mt.destroyed_at = {NOW}, mt.rule = r.rule, mt.merged_into = c.id
  RETURN collect(m.id) AS merged
}}
RETURN collect(c.id) AS ids, reduce(all = [], m IN collect(merged) | all + m) AS merged
"""
# What only the record may hold, found before it goes.
SHARED_CANDIDATES = f"""
UNWIND $ids AS id
MATCH {_RECORD}
RETURN COLLECT {{ MATCH (k:Carer)-[:CARES_FOR]->(c) RETURN DISTINCT k.id }}
       + COLLECT {{ MATCH (k:Carer)-[:CARES_FOR]->(:MergedChild)-[:MERGED_INTO]->(c) RETURN DISTINCT k.id }} AS carers,
       COLLECT {{ MATCH (c)-[:LIVED_AT]->(a:Address) RETURN DISTINCT a.id }}
       + COLLECT {{ MATCH (c)<-[:MERGED_INTO]-(:MergedChild)-[:LIVED_AT]->(a:Address) RETURN DISTINCT a.id }} AS addresses,
       COLLECT {{ MATCH (c)<-[:IDENTIFIES]-(s:SourceRecord) RETURN s.key }} AS keys
"""
# Each statement returns how many nodes it deleted; relationships are counted from the summaries.
DELETIONS: dict[str, str] = {
    "source_records": f"UNWIND $ids AS id MATCH {_RECORD}<-[:IDENTIFIES]-(s:SourceRecord) DETACH DELETE s "
                      "RETURN count(s) AS n",
    "match_reviews": "MATCH (m:MatchReview) WHERE m.child_id IN $ids OR m.candidate_child_id IN $ids "
                     "OR m.record_key IN $keys OR m.candidate_key IN $keys "
                     "DETACH DELETE m RETURN count(m) AS n",
    "alerts": "UNWIND $ids AS id MATCH (a:Alert {child_id: id}) DETACH DELETE a RETURN count(a) AS n",
    "corrections": f"UNWIND $ids AS id MATCH {_RECORD}-[:CORRECTED]->(k:Correction) DETACH DELETE k "
                   "RETURN count(k) AS n",
    "merged_records": f"UNWIND $ids AS id MATCH {_RECORD}<-[:MERGED_INTO]-(m:MergedChild) DETACH DELETE m "
                      "RETURN count(m) AS n",
    "children": f"UNWIND $ids AS id MATCH {_RECORD} DETACH DELETE c RETURN count(c) AS n",
    "carers": "UNWIND $carers AS id MATCH (k:Carer {id: id}) WHERE NOT EXISTS { (k)-[:CARES_FOR]->() } "
              "DETACH DELETE k RETURN count(k) AS n",
    "addresses": "UNWIND $addresses AS id MATCH (a:Address {id: id}) WHERE NOT EXISTS { ()-[:LIVED_AT]->(a) } "
                 "DETACH DELETE a RETURN count(a) AS n",
}
# An address no record lives or lived at is nobody's home in the directory: the addresses feed is keyed by address,
# so a stale one can bring back a destroyed child's old home without the child; the run sweeps it away.
VACANT_ADDRESSES = """
MATCH (a:Address) WHERE NOT EXISTS { ()-[:LIVED_AT]->(a) }
WITH a LIMIT $limit
DETACH DELETE a
RETURN count(a) AS n
"""
COUNT_VACANT = "MATCH (a:Address) WHERE NOT EXISTS { ()-[:LIVED_AT]->(a) } RETURN count(a) AS n"
TOMBSTONES = "UNWIND $ids AS id MATCH (t:DestroyedChild {id: id}) RETURN t.id AS id, t.destroyed_on AS on, t.rule AS rule"


@dataclass
class Destroyed:
    """What one destruction removed: node counts by kind, relationships, and the children its redaction took."""

    ids: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)
    merged_ids: list[str] = field(default_factory=list)  # ids merged into the destroyed records, gone with them
    redacted: int = 0


def destroy(tx: ManagedTransaction, *, rows: Sequence[dict[str, str]], as_of: date,
            redact: bool = True, authority: str = "retention") -> Destroyed:
    """Destroy the records `rows` name ({id, rule}) in the caller's transaction; a missing id is skipped.

    The caller writes the audit event in the same transaction (graph/retention.py); `redact` hands the children
    to the trail's redaction (a dry run, rolled back, does not).
    """
    record = tx.run(TOMBSTONE, rows=list(rows), as_of=as_of).single(strict=True)
    ids = list(record["ids"])
    out = Destroyed(ids=ids, removed={"tombstones_of_merged_records": len(record["merged"])},
                    merged_ids=sorted(record["merged"]))
    if not ids:
        return out
    candidates = tx.run(SHARED_CANDIDATES, ids=ids)
    carers, addresses, keys = set(), set(), set()
    for row in candidates:
        carers.update(row["carers"])
        addresses.update(row["addresses"])
        keys.update(row["keys"])
    relationships = 0
    for kind, statement in DELETIONS.items():
        result = tx.run(statement, ids=ids, carers=sorted(carers), addresses=sorted(addresses), keys=sorted(keys))
        out.removed[kind] = result.single(strict=True)["n"]
        relationships += result.consume().counters.relationships_deleted
    out.removed["relationships"] = relationships
    # The one place the audit trail forgets the destroyed children (see `redact_audit`), in this transaction.
    out.redacted = redact_audit(tx, child_ids=ids + out.merged_ids, authority=authority) if redact else 0
    return out


def sweep_vacant_addresses(tx: ManagedTransaction, *, limit: int) -> int:
    """Delete up to `limit` addresses nobody in the directory lives or lived at; gives how many."""
    return tx.run(VACANT_ADDRESSES, limit=limit).single(strict=True)["n"]


def vacant_addresses(tx: ManagedTransaction) -> int:
    """How many addresses nobody in the directory lives or lived at (what a dry run reports)."""
    return tx.run(COUNT_VACANT).single(strict=True)["n"]


def redact_audit(tx: ManagedTransaction, *, child_ids: Sequence[str], authority: str) -> int:
    """The one place a destruction makes the audit trail forget its children: each child's identifying payload
    is removed from every event naming it (graph.audit.redaction, reason `destroyed`; the chain is over digests,
    so it still verifies), in the destruction's transaction, so the record and its details in the trail go
    together or not at all. Returns how many events were redacted."""
    events = 0
    for child_id in child_ids:
        run = redaction.open_run(tx, child_id=child_id, reason="destroyed", authority=authority)
        while run.run_seq is not None and (step := redaction.redact_batch(tx, child_id=child_id, run=run)):
            events += step
    return events


def tombstones(tx: ManagedTransaction, *, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The tombstones of these ids: {id: {on, rule}}."""
    return {r["id"]: {"on": r["on"].to_native(), "rule": r["rule"]} for r in tx.run(TOMBSTONES, ids=list(ids))}
