"""Merge, unmerge and split as a person makes them: checked against the viewer, locked, guarded, audited.

Each runs inside the caller's write transaction and writes its audit event there (action `merge`, `unmerge`
or `split`, naming every child involved, with the reason), so the change and its record commit together or
not at all; a refused attempt changes nothing and is recorded with outcome `denied` and why. The children are
locked first, in id order, so two changes to the same children queue instead of deadlocking.

Who may: a data officer or the management team (graph.policy.IDENTITY_ROLES) of an authority holding either
child, who sees both in full (a child shielded from the viewer is never merged or split by them). After the
change the children touched are re-scanned for alerts (graph.alerts.scan_children): a merge can complete a
pattern neither record showed alone. Alerts raised by a merge's re-scan are closed when that merge is undone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from neo4j import ManagedTransaction

from graph import alerts, audit
from graph.identity import guards, merge, store
from graph.identity.rows import DIRECTORY
from graph.instants import NOW, uk_today
from graph.policy import hidden, holding_authority
from graph.viewer import Viewer

Outcome = Literal["ok", "not_found", "denied", "refused"]

LOCK = """
OPTIONAL MATCH (c:Child {id: $id})
OPTIONAL MATCH (m:MergedChild {id: $id})
WITH coalesce(c, m) AS n WHERE n IS NOT NULL
SET n._lock = true
REMOVE n._lock
"""
# Whether the viewer sees the child in full, which authority holds it, and who shields it.
STANDING = f"""
UNWIND $ids AS id
MATCH (c:Child {{id: id}})
RETURN c.id AS id, {hidden('c')} AS hidden, {holding_authority('c')}.code AS holding,
       COLLECT {{ MATCH (c)-[:SHIELDED_BY]->(la:LocalAuthority) RETURN la.code }}[0] AS shielded_by
"""
# The authorities that held a merged child: its own (left on it) and those that moved to its survivor.
MERGED_AUTHORITIES = """
MATCH (m:MergedChild {id: $merged})
RETURN COLLECT { MATCH (m)-[:HELD_BY|SHIELDED_BY]->(la) RETURN la.code }
     + COLLECT { MATCH (:Child {id: $survivor})-[r:HELD_BY|SHIELDED_BY]->(la) WHERE r.moved_from = $merged
                 RETURN la.code } AS codes
"""
MARK_MERGE = "MATCH (m:MergedChild {id: $merged}) SET m.merge_id = $merge_id RETURN m.merge_id AS id"
MERGE_ID = "MATCH (m:MergedChild {id: $merged}) RETURN m.merge_id AS id"
CLOSE_RESCAN_ALERTS = f"""
MATCH (a:Alert) WHERE a.scan_id = $scan_id AND a.state <> 'closed'
SET a.state = 'closed', a.closed_at = {NOW}, a.closed_by = $viewer.user_id,
    a.close_note = 'raised by a merge that was undone'
"""
RECORDS = """
MATCH (x:SourceRecord)-[i:IDENTIFIES]->(:Child {id: $child})
RETURN x.key AS key, i.moved_from AS moved_from
"""
TREE = "MATCH (e:MergedChild)-[:MERGED_INTO]->(:Child {id: $child}) RETURN e.id AS id ORDER BY id"


@dataclass
class Change:
    """What a person's merge, unmerge or split did, or why it did nothing."""

    outcome: Outcome
    message: str = ""
    children: list[str] = field(default_factory=list)  # every child involved, as the audit event names them
    survivor: str | None = None
    merged: str | None = None
    new_child: str | None = None
    alerts_raised: int = 0


def _lock(tx: ManagedTransaction, ids: Sequence[str]) -> None:
    for child_id in sorted(set(ids)):
        tx.run(LOCK, id=child_id).consume()


def _standing(tx: ManagedTransaction, viewer: Viewer, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = tx.run(STANDING, ids=list(ids), viewer=viewer.params(), override=[])
    return {r["id"]: dict(r) for r in rows}


def _check(viewer: Viewer, ids: Sequence[str], standing: dict[str, dict[str, Any]],
           also: Sequence[str] = ()) -> Change | None:
    """Not found, shielded from the viewer, or held by no authority of the viewer's: the refusal, else None."""
    missing = [c for c in ids if c not in standing]
    if missing:
        return Change("not_found", f"No child with directory ID {missing[0]}.")
    if any(standing[c]["hidden"] for c in ids):
        return Change("denied", "A shielded record: only the management team of the authority holding it can "
                                "merge or split it.")
    if viewer.la_code not in {standing[c]["holding"] for c in ids} | set(also):
        return Change("denied", "Only the data team of an authority holding one of these records can change it.")
    return None


# The detail's fields that name children (one id, or a list of ids: the merged children an unmerge restores).
_NAMING = ("survivor", "merged", "child", "new_child", "restored")


def _named(detail: dict[str, Any], shown: Sequence[str]) -> list[str]:
    """The children the detail names besides those the event shows: its `about`, so redacting any of them finds it."""
    ids = [v for k in _NAMING for v in (detail.get(k) if isinstance(detail.get(k), list) else [detail.get(k)])]
    return [c for c in dict.fromkeys(ids) if c and c not in shown]


def _record(tx: ManagedTransaction, change: Change, *, viewer: Viewer, action: str, reason: str, purpose: str,
            request_id: str, client_request_id: str | None, detail: dict[str, Any] | None = None) -> Change:
    outcome = change.outcome if change.outcome != "refused" else "denied"
    info = {"reason": reason, **(detail or {})}
    if change.outcome != "ok":
        info["refused"] = change.message
    audit.append(tx, viewer=viewer, action=action, children=change.children, purpose=purpose,
                 request_id=request_id, client_request_id=client_request_id, outcome=outcome, detail=info,
                 about=_named(info, change.children))
    return change


def _rescan(tx: ManagedTransaction, ids: Sequence[str], scan_id: str) -> int:
    return alerts.scan_children(tx, ids=list(ids), as_of=uk_today(), scan_id=scan_id)


def merge_children(tx: ManagedTransaction, *, viewer: Viewer, survivor: str, merged: str, reason: str, purpose: str,
                   request_id: str, client_request_id: str | None = None, review_id: str | None = None,
                   record_key: str | None = None) -> Change:
    """Merge child `merged` into `survivor` for this viewer (see the module's rules); audited.

    `review_id` and `record_key` name the review pair accepted, if that is how the merge came: the record a
    person joined then identifies its child by method `reviewed` (until the merge is undone).
    """
    who = dict(viewer=viewer, action="merge", reason=reason, purpose=purpose, request_id=request_id,
               client_request_id=client_request_id, detail={"survivor": survivor, "merged": merged,
                                                            **({"review_id": review_id} if review_id else {})})
    if survivor == merged:
        return _record(tx, Change("refused", "A child cannot be merged into itself.", [survivor]), **who)
    _lock(tx, [survivor, merged])
    standing = _standing(tx, viewer, [survivor, merged])
    refused = _check(viewer, [survivor, merged], standing)
    if refused is not None:
        refused.children = [] if refused.outcome == "not_found" else [survivor, merged]
        return _record(tx, refused, **who)
    why = guards.refusal(tx, left=survivor, right=merged)
    if why is not None:
        return _record(tx, Change("refused", f"These records stay two children: {why}.", [survivor, merged]), **who)
    merge_id = str(uuid.uuid4())
    merge.merge(tx, merged=merged, survivor=survivor, reason=reason, by=viewer.user_id)
    tx.run(MARK_MERGE, merged=merged, merge_id=merge_id).consume()
    if review_id and record_key:
        tx.run(REVIEWED, key=record_key, child=survivor, by=viewer.user_id, review_id=review_id).consume()
    store.refresh_children(tx, ids=[survivor])
    raised = _rescan(tx, [survivor], f"merge:{merge_id}")
    change = Change("ok", f"{merged} was merged into {survivor}.", [survivor, merged], survivor=survivor,
                    merged=merged, alerts_raised=raised)
    who["detail"] |= {"merge_id": merge_id, "alerts_raised": raised}
    return _record(tx, change, **who)


# The record a person joined identifies its child by review (the method it had goes back on an unmerge).
REVIEWED = """
MATCH (:SourceRecord {key: $key})-[i:IDENTIFIES]->(:Child {id: $child})
SET i.method_before = i.method, i.method = 'reviewed', i.by = $by, i.review_id = $review_id
"""


def unmerge_child(tx: ManagedTransaction, *, viewer: Viewer, merged: str, reason: str, purpose: str,
                  request_id: str, client_request_id: str | None = None, action: str = "unmerge") -> Change:
    """Undo the merge of `merged` exactly (graph.identity.merge.unmerge) for this viewer; audited."""
    who = dict(viewer=viewer, action=action, reason=reason, purpose=purpose, request_id=request_id,
               client_request_id=client_request_id, detail={"merged": merged})
    found = merge.merged_into(tx, merged=merged)
    if found is None:
        if _standing(tx, viewer, [merged]):
            return _record(tx, Change("refused", f"{merged} is not a merged record.", [merged]), **who)
        return _record(tx, Change("not_found", f"No merged record with directory ID {merged}."), **who)
    survivor = found[0]
    _lock(tx, [survivor, merged])
    survivor, subtree = merge.merged_into(tx, merged=merged) or found  # as it is under the lock
    codes = tx.run(MERGED_AUTHORITIES, merged=merged, survivor=survivor).single(strict=True)["codes"]
    refused = _check(viewer, [survivor], _standing(tx, viewer, [survivor]), also=codes)
    if refused is not None:
        refused.children = [] if refused.outcome == "not_found" else [merged, survivor]
        return _record(tx, refused, **who)
    merge_id = tx.run(MERGE_ID, merged=merged).single(strict=True)["id"]
    merge.unmerge(tx, merged=merged)
    store.refresh_children(tx, ids=[merged, survivor])
    if merge_id:
        tx.run(CLOSE_RESCAN_ALERTS, scan_id=f"merge:{merge_id}", viewer=viewer.params()).consume()
    raised = _rescan(tx, [merged, survivor], f"unmerge:{uuid.uuid4()}")
    who["detail"] |= {"survivor": survivor, "restored": subtree, "alerts_raised": raised}
    return _record(tx, Change("ok", f"{merged} is a child of its own again (it was merged into {survivor}).",
                              [merged, survivor], survivor=survivor, merged=merged, alerts_raised=raised), **who)


def split_child(tx: ManagedTransaction, *, viewer: Viewer, child: str, record_keys: Sequence[str], reason: str,
                purpose: str, request_id: str, client_request_id: str | None = None) -> Change:
    """Put some records of `child` (and what was written through them) on a child of their own; audited.

    When the records are exactly those a merge brought in, the split is that merge undone (the merged child
    comes back, with everything the merge moved); otherwise they go to a new child with a new directory id.
    """
    keys = sorted(set(record_keys))
    who = dict(viewer=viewer, action="split", reason=reason, purpose=purpose, request_id=request_id,
               client_request_id=client_request_id, detail={"child": child, "records": keys})
    _lock(tx, [child])
    standing = _standing(tx, viewer, [child])
    refused = _check(viewer, [child], standing)
    if refused is not None:
        refused.children = [] if refused.outcome == "not_found" else [child]
        return _record(tx, refused, **who)
    held = {r["key"]: r["moved_from"] for r in tx.run(RECORDS, child=child)}
    strangers = [k for k in keys if k not in held]
    problem = (f"record {strangers[0]} does not identify {child}" if strangers
               else "no records given" if not keys
               else f"{child} must keep at least one record" if len(keys) >= len(held)
               else f"the directory's own record of {child} stays with it" if f"{DIRECTORY}|{child}" in keys
               else None)
    if problem:
        return _record(tx, Change("refused", f"Cannot split: {problem}.", [child]), **who)
    for merged in [r["id"] for r in tx.run(TREE, child=child)]:
        _, subtree = merge.merged_into(tx, merged=merged) or (None, [merged])
        if sorted(k for k, origin in held.items() if origin in subtree) == keys:
            return unmerge_child(tx, viewer=viewer, merged=merged, reason=reason, purpose=purpose,
                                 request_id=request_id, client_request_id=client_request_id, action="split")
    [new] = store.allocate_ids(tx, count=1)
    merge.split(tx, child=child, keys=keys, new=new)
    store.refresh_children(tx, ids=[child, new])
    raised = _rescan(tx, [child, new], f"split:{uuid.uuid4()}")
    who["detail"] |= {"new_child": new, "alerts_raised": raised}
    return _record(tx, Change("ok", f"The records now identify a new child, {new}.", [child, new], survivor=child,
                              new_child=new, alerts_raised=raised), **who)
