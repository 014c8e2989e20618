"""The primitives that move records and relationships between children: merge, unmerge, split.

They write no audit event and check no viewer (graph.identity.changes does both, for the review queue and
the API); the relink uses `merge` and `move_via` directly. Each marks what it moved so it can be put back:
a relationship written through a record carries `via` (the record's key) and moves with the record; one moved
by a merge carries `moved_from`, the child it was on before its first merge (so after chained merges each
relationship still names the child it came from). A relationship the survivor already has (the same type, the
same other end, the same key properties as the loader's upserts use) is not copied: it stays on the retired
child, as do that child's holding and shielding authorities when the survivor has its own. The retired child
keeps its id as a MergedChild whose MERGED_INTO names the final survivor and whose `merged_parent` names the
child it was merged into, so an unmerge restores exactly what that merge moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graph.instants import NOW
from graph.query import Query, first

# Every relationship type that touches a Child, by direction, with the key properties the loader merges it on
# (graph/ingest.py): a relationship with the same key to the same node is the same fact. IDENTIFIES has no key
# (a record identifies one child). tests/identity/test_merge.py fails when a type in the graph is not listed.
OUT_KEYS: dict[str, tuple[str, ...]] = {
    "LIVED_AT": ("since",), "ENROLLED_AT": ("since",), "REGISTERED_WITH": ("since",),
    "HAS_PLAN": ("kind", "since"), "ATTENDED": ("at",),
}
IN_KEYS: dict[str, tuple[str, ...]] = {"CARES_FOR": ("since",), "INVOLVED_WITH": ("service", "since"),
                                       "IDENTIFIES": ()}
AUTHORITIES = ("HELD_BY", "SHIELDED_BY")  # (Child)->(LocalAuthority): the survivor keeps its own
HANDLED_OUT = frozenset(OUT_KEYS) | frozenset(AUTHORITIES)
HANDLED_IN = frozenset(IN_KEYS) | {"MERGED_INTO"}  # MERGED_INTO: from earlier merges, repointed
# The relationships written through a record (feeds naming a child by source_id and local_id).
OUTGOING = tuple(OUT_KEYS)
INCOMING = ("CARES_FOR", "INVOLVED_WITH")


class MergeError(Exception):
    """A merge, unmerge or split that cannot be made as asked; nothing was changed."""


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


def _same(rel: str, keys: tuple[str, ...], pattern: str) -> str:
    """`WHERE` a relationship holding the same fact is not already on the survivor (none for keyless types)."""
    if not keys:
        return ""
    same = " AND ".join(f"d.{k} = old.{k}" for k in keys)
    return f"WHERE NOT EXISTS {{ MATCH {pattern.format(d=f'd:{rel}')} WHERE {same} }}"


def _merge_out(rel: str, keys: tuple[str, ...]) -> str:
    return f"""
MATCH (:Child {{id: $merged}})-[old:{rel}]->(n)
MATCH (to:Child {{id: $survivor}})
{_same(rel, keys, "(to)-[{d}]->(n)")}
CREATE (to)-[m:{rel}]->(n)
SET m = properties(old), m.moved_from = coalesce(old.moved_from, $merged)
DELETE old
"""


def _merge_in(rel: str, keys: tuple[str, ...]) -> str:
    return f"""
MATCH (n)-[old:{rel}]->(:Child {{id: $merged}})
MATCH (to:Child {{id: $survivor}})
{_same(rel, keys, "(n)-[{d}]->(to)")}
CREATE (n)-[m:{rel}]->(to)
SET m = properties(old), m.moved_from = coalesce(old.moved_from, $merged)
DELETE old
"""


def _merge_authority(rel: str) -> str:
    return f"""
MATCH (:Child {{id: $merged}})-[old:{rel}]->(la)
MATCH (to:Child {{id: $survivor}}) WHERE NOT EXISTS {{ (to)-[:{rel}]->() }}
CREATE (to)-[m:{rel}]->(la)
SET m = properties(old), m.moved_from = coalesce(old.moved_from, $merged)
DELETE old
"""


MERGE_MOVES = (tuple(_merge_out(rel, keys) for rel, keys in OUT_KEYS.items())
               + tuple(_merge_in(rel, keys) for rel, keys in IN_KEYS.items())
               + tuple(_merge_authority(rel) for rel in AUTHORITIES))
UNHANDLED = """
MATCH (c:Child {id: $id})
RETURN COLLECT { MATCH (c)-[r]->() WHERE NOT type(r) IN $outgoing RETURN DISTINCT type(r) }
     + COLLECT { MATCH (c)<-[r]-() WHERE NOT type(r) IN $incoming RETURN DISTINCT type(r) } AS types
"""
# The most restrictive shielding wins: the survivor is shielded if either was; the later decision date stays.
MERGE_SHIELDING = """
MATCH (m:Child {id: $merged}), (s:Child {id: $survivor})
SET s.shielded = coalesce(s.shielded, false) OR coalesce(m.shielded, false),
    s.shield_decided_on = CASE WHEN m.shield_decided_on > s.shield_decided_on OR s.shield_decided_on IS NULL
                               THEN m.shield_decided_on ELSE s.shield_decided_on END
"""
# Both shielded, by two authorities: the survivor's stays (MERGE_MOVES leaves the other on the retired child),
# and the other authority's management team is told the record it shielded is now held by another team (about
# the merged id, the one that team knows; raised after the merged child's own alerts are re-addressed).
SHIELD_MERGED_ALERT = f"""
MATCH (:Child {{id: $merged}})-[:SHIELDED_BY]->(told:LocalAuthority)
MATCH (:Child {{id: $survivor}})-[:SHIELDED_BY]->(kept:LocalAuthority) WHERE kept <> told
MERGE (a:Alert {{key: 'shield_merged|' + $merged + '|' + $survivor + '|' + told.code}})
  ON CREATE SET a.id = randomUUID(), a.kind = 'shield_merged', a.la_code = told.code, a.child_id = $merged
SET a.state = 'open', a.to_code = kept.code, a.to_name = kept.name, a.reason = $reason, a.user_id = $by,
    a.raised_at = {NOW}
"""
# The merged child's alerts are now about the survivor (so the inbox applies the survivor's shielding to them).
READDRESS_ALERTS = """
MATCH (a:Alert) WHERE a.child_id = $merged
SET a.child_id = $survivor, a.merged_from = coalesce(a.merged_from, $merged)
"""
# The merged child stops being a Child (reads never see it) and points at its survivor; earlier merges into
# it are repointed, so MERGED_INTO always names the final survivor (`merged_parent` keeps the tree).
RETIRE = f"""
MATCH (m:Child {{id: $merged}}), (s:Child {{id: $survivor}})
OPTIONAL MATCH (earlier:MergedChild)-[old:MERGED_INTO]->(m)
DELETE old
WITH DISTINCT m, s, collect(earlier) AS earlier
FOREACH (e IN earlier | SET e.merged_into = s.id CREATE (e)-[:MERGED_INTO]->(s))
REMOVE m:Child
SET m:MergedChild, m.merged_into = s.id, m.merged_parent = s.id, m.merged_at = {NOW}, m.by = $by,
    m.reason = $reason
CREATE (m)-[:MERGED_INTO]->(s)
"""

# A merged id resolves to its final survivor (reads of a merged id answer with the survivor's).
SURVIVOR = "MATCH (m:MergedChild {id: $child_id}) RETURN m.merged_into AS survivor"


def survivor_query(*, child_id: str) -> Query[str | None]:
    """The child a merged id now leads to, or None if the id is not a merged one."""
    return Query(SURVIVOR, {"child_id": child_id}, lambda records: (first(records) or {}).get("survivor"))


# -- unmerge -------------------------------------------------------------------------------------

MERGED = """
MATCH (m:MergedChild {id: $merged})-[:MERGED_INTO]->(s:Child)
RETURN s.id AS survivor,
       COLLECT { MATCH (e:MergedChild)-[:MERGED_INTO]->(s) RETURN [e.id, e.merged_parent] } AS tree
"""


def _back_out(rel: str) -> str:
    return f"""
MATCH (:Child {{id: $survivor}})-[old:{rel}]->(n) WHERE old.moved_from IN $subtree
MATCH (to:Child {{id: $merged}})
CREATE (to)-[m:{rel}]->(n)
SET m = properties(old), m.moved_from = CASE WHEN old.moved_from = $merged THEN null ELSE old.moved_from END
DELETE old
"""


def _back_in(rel: str) -> str:
    return f"""
MATCH (n)-[old:{rel}]->(:Child {{id: $survivor}}) WHERE old.moved_from IN $subtree
MATCH (to:Child {{id: $merged}})
CREATE (n)-[m:{rel}]->(to)
SET m = properties(old), m.moved_from = CASE WHEN old.moved_from = $merged THEN null ELSE old.moved_from END
DELETE old
"""


# The merged child is a Child again, and the merges into it point at it once more.
RESTORE = """
MATCH (m:MergedChild {id: $merged})-[old:MERGED_INTO]->()
DELETE old
WITH DISTINCT m
REMOVE m:MergedChild
SET m:Child
REMOVE m.merged_into, m.merged_parent, m.merged_at, m.by, m.reason
WITH m
UNWIND $others AS other
MATCH (e:MergedChild {id: other})-[old:MERGED_INTO]->()
DELETE old
CREATE (e)-[:MERGED_INTO]->(m)
SET e.merged_into = m.id
"""
UNMERGE_MOVES = (tuple(_back_out(rel) for rel in (*OUT_KEYS, *AUTHORITIES))
                 + tuple(_back_in(rel) for rel in IN_KEYS))
# A record a person joined by a review goes home with the method it had before.
UNREVIEW = """
MATCH (x:SourceRecord)-[i:IDENTIFIES]->(:Child {id: $merged}) WHERE i.method_before IS NOT NULL
SET i.method = i.method_before
REMOVE i.method_before, i.by, i.review_id
"""
# Each child is shielded exactly when it has a shielding authority again.
UNMERGE_SHIELDING = """
UNWIND [$merged, $survivor] AS id
MATCH (c:Child {id: id})
SET c.shielded = EXISTS { (c)-[:SHIELDED_BY]->() }
"""
RETURN_ALERTS = """
MATCH (a:Alert) WHERE a.child_id = $survivor AND a.merged_from IN $subtree
SET a.child_id = $merged, a.merged_from = CASE WHEN a.merged_from = $merged THEN null ELSE a.merged_from END
"""

# -- split ---------------------------------------------------------------------------------------

# The new child takes the holding and shielding of the child it is split from (the most restrictive wins).
SPLIT_CHILD = """
MATCH (c:Child {id: $child})
CREATE (n:Child {id: $new, shielded: coalesce(c.shielded, false), status: coalesce(c.status, 'active'),
                 shield_decided_on: c.shield_decided_on, split_from: c.id})
WITH c, n
CALL (c, n) {
  MATCH (c)-[r:HELD_BY|SHIELDED_BY]->(la)
  WITH n, la, r, type(r) = 'SHIELDED_BY' AS shield
  FOREACH (_ IN CASE WHEN shield THEN [1] ELSE [] END | CREATE (n)-[s:SHIELDED_BY]->(la) SET s = properties(r))
  FOREACH (_ IN CASE WHEN shield THEN [] ELSE [1] END | CREATE (n)-[:HELD_BY]->(la))
}
"""
SPLIT_RECORDS = """
UNWIND $keys AS k
MATCH (x:SourceRecord {key: k})-[old:IDENTIFIES]->(:Child {id: $child})
MATCH (n:Child {id: $new})
CREATE (x)-[i:IDENTIFIES]->(n)
SET i = properties(old), i.split_from = $child
DELETE old
"""


def unhandled(tx: ManagedTransaction, *, child_id: str) -> list[str]:
    """The relationship types of a child that a merge does not know how to move (none, while it is complete)."""
    record = tx.run(UNHANDLED, id=child_id, outgoing=sorted(HANDLED_OUT), incoming=sorted(HANDLED_IN)).single()
    return [] if record is None else sorted(set(record["types"]))


def move_via(tx: ManagedTransaction, *, moves: Sequence[dict[str, Any]]) -> None:
    """Move the relationships written through each record ({key, from, to}) from one child to another."""
    rows = [m for m in moves if m["from"] and m["from"] != m["to"]]
    if rows:
        for statement in MOVE_VIA:
            tx.run(statement, rows=rows).consume()


def merge(tx: ManagedTransaction, *, merged: str, survivor: str, reason: str, by: str) -> None:
    """Merge child `merged` into `survivor`: its records and relationships move (marked `moved_from`), its
    alerts are re-addressed, the most restrictive shielding wins (two shields of two authorities: the
    survivor's stays and the other team gets a `shield_merged` alert), and `merged` becomes a MergedChild.

    Raises:
        MergeError: a child merged into itself, or one holding a relationship type a merge does not handle.
    """
    if merged == survivor:
        raise MergeError(f"cannot merge {merged} into itself")
    strange = unhandled(tx, child_id=merged)
    if strange:
        raise MergeError(f"{merged} has relationships a merge does not handle: {', '.join(strange)}")
    for statement in MERGE_MOVES:
        tx.run(statement, merged=merged, survivor=survivor).consume()
    tx.run(MERGE_SHIELDING, merged=merged, survivor=survivor).consume()
    tx.run(READDRESS_ALERTS, merged=merged, survivor=survivor).consume()
    tx.run(SHIELD_MERGED_ALERT, merged=merged, survivor=survivor, reason=reason, by=by).consume()
    tx.run(RETIRE, merged=merged, survivor=survivor, reason=reason, by=by).consume()


def merged_into(tx: ManagedTransaction, *, merged: str) -> tuple[str, list[str]] | None:
    """The survivor a merged child resolves to, and the merged children under it in the merge tree (itself
    first: those merged into it, directly or not, go back with it); None if it is not a merged child."""
    record = tx.run(MERGED, merged=merged).single()
    if record is None:
        return None
    children: dict[str, list[str]] = {}
    for child, parent in record["tree"]:
        children.setdefault(parent, []).append(child)
    subtree, todo = [merged], [merged]
    while todo:
        for child in sorted(children.get(todo.pop(), [])):
            subtree.append(child)
            todo.append(child)
    return record["survivor"], subtree


def unmerge(tx: ManagedTransaction, *, merged: str) -> str:
    """Undo the merge of `merged`: it is a Child again with every relationship that merge moved (and those of
    the children merged into it before), its alerts and its own shielding; returns the survivor's id.

    Raises:
        MergeError: `merged` is not a merged child.
    """
    found = merged_into(tx, merged=merged)
    if found is None:
        raise MergeError(f"{merged} is not a merged child")
    survivor, subtree = found
    tx.run(RESTORE, merged=merged, others=subtree[1:]).consume()
    for statement in UNMERGE_MOVES:
        tx.run(statement, merged=merged, survivor=survivor, subtree=subtree).consume()
    tx.run(UNREVIEW, merged=merged).consume()
    tx.run(UNMERGE_SHIELDING, merged=merged, survivor=survivor).consume()
    tx.run(RETURN_ALERTS, merged=merged, survivor=survivor, subtree=subtree).consume()
    return survivor


def split(tx: ManagedTransaction, *, child: str, keys: Sequence[str], new: str) -> None:
    """Put the records `keys` of `child`, and the relationships written through them, on a new child `new`
    (holding and shielding as `child`'s). The caller checked that `child` keeps at least one record."""
    tx.run(SPLIT_CHILD, child=child, new=new).consume()
    tx.run(SPLIT_RECORDS, keys=list(keys), child=child, new=new).consume()
    move_via(tx, moves=[{"key": k, "from": child, "to": new} for k in keys])
