"""Small primitives that move records between children and merge one child into another.

They are the building blocks, not the audited, reversible merge and split of the review queue (which is
built on top of them): they write no audit event and raise no alert. Each marks what it moved so it can be
put back: a relationship written through a record carries `via` (the record's key) and moves with the
record; a relationship moved by a merge carries `moved_from` (the merged child's id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graph.instants import NOW

# The child's relationships, by direction (fixed names, never input).
OUTGOING = ("LIVED_AT", "ENROLLED_AT", "REGISTERED_WITH", "HAS_PLAN", "ATTENDED")  # (Child)-[r]->(n)
INCOMING = ("CARES_FOR", "INVOLVED_WITH")  # (n)-[r]->(Child)


def _via_out(rel: str) -> str:
    return f"""
UNWIND $rows AS r
MATCH (:Child {{id: r.from}})-[old:{rel} {{via: r.key}}]->(n)
MATCH (to:Child {{id: r.to}})
CREATE (to)-[m:{rel}]->(n)
SET m = properties(old)
DELETE old
"""


def _via_in(rel: str) -> str:
    return f"""
UNWIND $rows AS r
MATCH (n)-[old:{rel} {{via: r.key}}]->(:Child {{id: r.from}})
MATCH (to:Child {{id: r.to}})
CREATE (n)-[m:{rel}]->(to)
SET m = properties(old)
DELETE old
"""


MOVE_VIA = tuple(_via_out(rel) for rel in OUTGOING) + tuple(_via_in(rel) for rel in INCOMING)


def _all_out(rel: str) -> str:
    return f"""
MATCH (:Child {{id: $merged}})-[old:{rel}]->(n)
MATCH (to:Child {{id: $survivor}})
CREATE (to)-[m:{rel}]->(n)
SET m = properties(old), m.moved_from = $merged
DELETE old
"""


def _all_in(rel: str) -> str:
    return f"""
MATCH (n)-[old:{rel}]->(:Child {{id: $merged}})
MATCH (to:Child {{id: $survivor}})
CREATE (n)-[m:{rel}]->(to)
SET m = properties(old), m.moved_from = $merged
DELETE old
"""


MOVE_ALL = tuple(_all_out(rel) for rel in OUTGOING) + tuple(_all_in(rel) for rel in (*INCOMING, "IDENTIFIES"))
# The survivor keeps its own holding and shielding authority; the merged child's is taken only when it has
# none. The most restrictive shielding wins: the survivor is shielded if either was.
MERGE_AUTHORITIES = """
MATCH (m:Child {id: $merged}), (s:Child {id: $survivor})
SET s.shielded = coalesce(s.shielded, false) OR coalesce(m.shielded, false),
    s.shield_decided_on = CASE WHEN m.shield_decided_on > s.shield_decided_on OR s.shield_decided_on IS NULL
                               THEN m.shield_decided_on ELSE s.shield_decided_on END
WITH m, s
CALL (m, s) {
  MATCH (m)-[old:SHIELDED_BY]->(la)
  CALL (s, old, la) { WITH s, old, la WHERE NOT EXISTS { (s)-[:SHIELDED_BY]->() }
                      CREATE (s)-[n:SHIELDED_BY]->(la) SET n = properties(old), n.moved_from = $merged }
  DELETE old
}
CALL (m, s) {
  MATCH (m)-[old:HELD_BY]->(la)
  CALL (s, la) { WITH s, la WHERE NOT EXISTS { (s)-[:HELD_BY]->() } CREATE (s)-[:HELD_BY]->(la) }
  DELETE old
}
"""
# The merged child stops being a Child (reads never see it) and points at its survivor; earlier merges into
# it are repointed, so MERGED_INTO always names the final survivor.
RETIRE = f"""
MATCH (m:Child {{id: $merged}}), (s:Child {{id: $survivor}})
OPTIONAL MATCH (earlier:MergedChild)-[old:MERGED_INTO]->(m)
DELETE old
WITH DISTINCT m, s, collect(earlier) AS earlier
FOREACH (e IN earlier | SET e.merged_into = s.id CREATE (e)-[:MERGED_INTO]->(s))
REMOVE m:Child
SET m:MergedChild, m.merged_into = s.id, m.merged_at = {NOW}, m.by = $by, m.reason = $reason
CREATE (m)-[:MERGED_INTO]->(s)
"""


def move_via(tx: ManagedTransaction, *, moves: Sequence[dict[str, Any]]) -> None:
    """Move the relationships written through each record ({key, from, to}) from one child to another."""
    rows = [m for m in moves if m["from"] and m["from"] != m["to"]]
    if rows:
        for statement in MOVE_VIA:
            tx.run(statement, rows=rows).consume()


def merge(tx: ManagedTransaction, *, merged: str, survivor: str, reason: str, by: str) -> None:
    """Merge child `merged` into `survivor`: every relationship and record moves (marked `moved_from`), the
    most restrictive shielding wins, and `merged` becomes a MergedChild pointing at the survivor.

    Raises:
        ValueError: a child merged into itself.
    """
    if merged == survivor:
        raise ValueError(f"cannot merge {merged} into itself")
    for statement in MOVE_ALL:
        tx.run(statement, merged=merged, survivor=survivor).consume()
    tx.run(MERGE_AUTHORITIES, merged=merged, survivor=survivor).consume()
    tx.run(RETIRE, merged=merged, survivor=survivor, reason=reason, by=by).consume()
