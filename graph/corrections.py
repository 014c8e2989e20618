"""Rectification (UK GDPR article 16): the management team corrects a child's field, with a reason, on top of
what the source sent.

A correction is a node of its own, `(child)-[:CORRECTED]->(:Correction {field, value, from_value, source_value,
reason, by, at, state})`. The child's property shows the corrected value (so search, the card and every rule
use it) and `child.corrected` lists the fields that stand corrected. What the source sent stays on the
correction: `from_value` is what it sent when the correction was made, `source_value` what it sent last.

The next feed never silently undoes a correction (`UPSERT_CHILDREN` in graph/ingest.py leaves a corrected field
alone, and `RECORD_SENT` runs after it in the same transaction):
- the source sends the value it sent before: nothing changes;
- it sends the corrected value: the source has caught up; the correction stands, marked `source_agrees`;
- it sends a third value: the correction still stands, the new value is kept on it (`conflict_value`) and the
  holding authority's management team gets a `correction_conflict` alert to keep or withdraw it.
Withdrawing a correction puts the source's latest value back. docs/privacy.md states the rule.
"""

from __future__ import annotations

from typing import Any

from neo4j import ManagedTransaction

from graph.children import native
from graph.instants import NOW
from graph.policy import holding_authority, holds_record
from graph.viewer import Viewer

CORRECTABLE = ("given_name", "family_name", "dob", "gender", "nhs_number", "upn")

# A live or archived record by id, through each label's unique index (a label disjunction would do the same).
RECORD = """
OPTIONAL MATCH (live:Child {id: $child_id})
OPTIONAL MATCH (arch:ArchivedChild {id: $child_id})
WITH coalesce(live, arch) AS c WHERE c IS NOT NULL
"""
# Locks the record first (writing _lock), so two corrections of one field run one after the other.
CORRECT = RECORD + f"""
SET c._lock = true
REMOVE c._lock
WITH c, {holds_record('c')} AS allowed
OPTIONAL CALL (c, allowed) {{
  WITH c WHERE allowed
  OPTIONAL MATCH (c)-[:CORRECTED]->(old:Correction {{field: $field, state: 'standing'}})
  WITH c, old, CASE WHEN old IS NULL THEN c[$field] ELSE old.source_value END AS sent
  SET old.state = 'superseded', old.superseded_at = {NOW}
  CREATE (c)-[:CORRECTED]->(k:Correction {{id: randomUUID(), field: $field, value: $value, from_value: sent,
          source_value: sent, reason: $reason, by: $viewer.user_id, by_role: $viewer.role,
          la_code: $viewer.la_code, at: {NOW}, state: 'standing'}})
  SET c[$field] = $value, c.corrected = [f IN coalesce(c.corrected, []) WHERE f <> $field] + $field
  RETURN k.id AS correction_id
}}
RETURN allowed, correction_id
"""
WITHDRAW = RECORD + f"""
SET c._lock = true
REMOVE c._lock
WITH c, {holds_record('c')} AS allowed
OPTIONAL MATCH (c)-[:CORRECTED]->(k:Correction {{id: $correction_id, state: 'standing'}})
OPTIONAL CALL (c, k, allowed) {{
  WITH c, k WHERE allowed AND k IS NOT NULL
  SET c[k.field] = k.source_value, c.corrected = [f IN coalesce(c.corrected, []) WHERE f <> k.field],
      k.state = 'withdrawn', k.withdrawn_at = {NOW}, k.withdrawn_by = $viewer.user_id, k.withdraw_reason = $reason
  RETURN k.field AS field
}}
RETURN allowed, field
"""
_ITEM = """k {.id, .field, .value, .from_value, .source_value, .reason, .by, .by_role, .la_code, .at, .state,
  .source_agrees, .in_conflict, .conflict_value, .conflict_on, .superseded_at, .withdrawn_at, .withdrawn_by, .withdraw_reason}"""
LIST = RECORD + f"""
RETURN {holds_record('c')} AS allowed,
       COLLECT {{ MATCH (c)-[:CORRECTED]->(k:Correction) RETURN {_ITEM} AS item ORDER BY item.at, item.id }} AS items
"""

# After a children feed's upsert, in its transaction: what the source sent for each field that stands corrected.
# `same` is null-safe equality. A third value raises one alert per correction and value sent.
_SAME = "(({a}) = ({b}) OR (({a}) IS NULL AND ({b}) IS NULL))"
RECORD_SENT = f"""
UNWIND $rows AS r
MATCH (c:Child {{id: r.child_id}})-[:CORRECTED]->(k:Correction {{state: 'standing'}})
WITH c, k, r[k.field] AS sent
WITH c, k, sent, {_SAME.format(a='sent', b='k.value')} AS agrees,
     NOT {_SAME.format(a='sent', b='k.value')} AND NOT {_SAME.format(a='sent', b='k.from_value')} AS differs
WITH c, k, sent, agrees, differs,
     CASE WHEN NOT differs THEN null
          WHEN coalesce(k.in_conflict, false) AND {_SAME.format(a='k.conflict_value', b='sent')} THEN k.conflict_on
          ELSE date({{timezone: 'Europe/London'}}) END AS conflict_on
SET k.source_value = sent, k.source_agrees = agrees, k.in_conflict = differs,
    k.conflict_value = CASE WHEN differs THEN sent END, k.conflict_on = conflict_on
WITH c, k, sent WHERE k.in_conflict
WITH c, k, sent, {holding_authority('c')} AS la WHERE la IS NOT NULL
MERGE (a:Alert {{key: 'correction_conflict|' + c.id + '|' + k.id + ':' + coalesce(toString(sent), '(blank)') + '|'
                      + la.code}})
  ON CREATE SET a.id = randomUUID(), a.kind = 'correction_conflict', a.state = 'open', a.la_code = la.code,
                a.child_id = c.id, a.raised_at = {NOW}, a.field = k.field, a.corrected_on = date(k.at)
"""


def correct(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, field: str, value: Any,
            reason: str) -> tuple[str, str | None]:
    """Correct one field of a record the viewer's authority holds; gives (outcome, the correction's id).

    The outcome is "ok", "denied" (not the holding authority's management team) or "not_found".

    Raises:
        ValueError: the field is not one a correction may change.
    """
    if field not in CORRECTABLE:
        raise ValueError(f"field: {field!r} cannot be corrected (one of {', '.join(CORRECTABLE)})")
    record = tx.run(CORRECT, viewer=viewer.params(), child_id=child_id, field=field, value=value,
                    reason=reason).single()
    if record is None:
        return "not_found", None
    return ("ok", record["correction_id"]) if record["allowed"] else ("denied", None)


def withdraw(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, correction_id: str,
             reason: str) -> tuple[str, str | None]:
    """Withdraw a standing correction, putting the source's latest value back; gives (outcome, the field).

    The outcome is "ok", "denied", or "not_found" (no such record, or no such standing correction of it).
    """
    record = tx.run(WITHDRAW, viewer=viewer.params(), child_id=child_id, correction_id=correction_id,
                    reason=reason).single()
    if record is None:
        return "not_found", None
    if not record["allowed"]:
        return "denied", None
    return ("ok", record["field"]) if record["field"] is not None else ("not_found", None)


def listed(tx: ManagedTransaction, *, viewer: Viewer, child_id: str) -> tuple[str, list[dict[str, Any]]]:
    """Every correction of a record, oldest first, for its holding authority's management team."""
    record = tx.run(LIST, viewer=viewer.params(), child_id=child_id).single()
    if record is None:
        return "not_found", []
    return ("ok", [native(i) for i in record["items"]]) if record["allowed"] else ("denied", [])


def record_sent(tx: ManagedTransaction, *, rows: list[dict[str, Any]]) -> None:
    """After a children batch's upsert: keep what the source sent on each standing correction (see the module)."""
    tx.run(RECORD_SENT, rows=rows).consume()
