"""Writing source records: a person record as its source sent it, and the directory's own record of a child.

A batch first reads the fingerprints of the records it names, so a record sent again unchanged only has
its `received` time moved, and only new or changed ones are written (a person record is then pending: the
next matching run decides which child it is). The statements read nothing from a row under the name of a
property they write (`r.source`, not `r.source_id`), so Neo4j plans them without an Eager barrier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neo4j import ManagedTransaction

from graph.identity.rows import DIRECTORY, PROPERTIES
from graph.instants import NOW

FINGERPRINTS = """
UNWIND $keys AS k
MATCH (x:SourceRecord {key: k})
OPTIONAL MATCH (x)-[:IDENTIFIES]->(c:Child)
RETURN x.key AS key, x.fingerprint AS fingerprint, c.id AS child_id
"""
# `properties` is graph.identity.rows.PROPERTIES: fixed names, never input.
WRITE = f"""
UNWIND $rows AS r
MATCH (s:Source {{id: r.source}}) WHERE (s.kind = '{DIRECTORY}') = $directory
MERGE (x:SourceRecord {{key: r.key}})
  ON CREATE SET x.source_id = r.source, x.local_id = r.local
SET {", ".join(f"x.{p} = r.{p}" for p in PROPERTIES)},
    x.received = {NOW}, x.changed = {NOW}, x.match_state = r.state
MERGE (x)-[:FROM]->(s)
RETURN collect(r.line) AS written
"""
RECEIVED = f"""
UNWIND $keys AS k
MATCH (x:SourceRecord {{key: k}})
SET x.received = {NOW}
"""
# The directory's own record identifies its child by definition (a record already identifying a child keeps it).
LINK_DIRECTORY = f"""
UNWIND $rows AS r
MATCH (x:SourceRecord {{key: r.key}})
MATCH (c:Child {{id: r.child}})
CREATE (x)-[:IDENTIFIES {{method: '{DIRECTORY}', since: {NOW}}}]->(c)
"""


def write(tx: ManagedTransaction, *, rows: Sequence[dict[str, Any]], directory: bool = False) -> set[int]:
    """Write records (graph.identity.rows.props or directory_rows output); returns the lines written.

    A person record that is new or changed becomes pending; a directory record is matched by definition and
    identifies the child it describes. A row naming an unknown source (or, for a person record, the directory's
    own) is not written.
    """
    if not rows:
        return set()
    known = {r["key"]: (r["fingerprint"], r["child_id"]) for r in tx.run(FINGERPRINTS, keys=[r["key"] for r in rows])}
    fresh = [r for r in rows if known.get(r["key"], (None, None))[0] != r["props"]["fingerprint"]]
    same = [r for r in rows if known.get(r["key"], (None, None))[0] == r["props"]["fingerprint"]]
    state = "matched" if directory else "pending"
    flat = [{"line": r["line"], "key": r["key"], "source": r["source_id"], "local": r["local_id"], "state": state,
             **r["props"]} for r in fresh]
    record = tx.run(WRITE, rows=flat, directory=directory).single()
    written = set(record["written"]) if record else set()
    if same:
        tx.run(RECEIVED, keys=[r["key"] for r in same]).consume()
        written |= {r["line"] for r in same}
    if directory:
        unlinked = [{"key": r["key"], "child": r["local_id"]} for r in rows
                    if r["line"] in written and known.get(r["key"], (None, None))[1] is None]
        if unlinked:
            tx.run(LINK_DIRECTORY, rows=unlinked).consume()
    return written
