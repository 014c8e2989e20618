"""Shielding decisions: one locked change, made by the API's shield and unshield and by shielding.csv.

Each decision locks the child first, reads the decision recorded (graph.policy decides whether the new one
may stand), changes the record, and writes its audit event in the same transaction. The date of the last
decision, a shield or a lift, is kept on the child (`shield_decided_on`, a DATE), so that a feed's older
decision never overrides a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from neo4j import ManagedTransaction

from graph import audit, policy
from graph.viewer import Role, Viewer

# Writing _lock takes the child's write lock first, so two shielding changes to one child run one after
# the other, each deciding on what the other committed (two concurrent shields made two SHIELDED_BY).
RECORDED = """
MATCH (c:Child {id: $child_id})
SET c._lock = true
REMOVE c._lock
WITH c
OPTIONAL MATCH (c)-[s:SHIELDED_BY]->(sla:LocalAuthority)
OPTIONAL MATCH (c)-[:HELD_BY]->(hla:LocalAuthority)
RETURN coalesce(c.shielded, false) AS shielded, coalesce(sla, hla).code AS holding,
       c.shield_decided_on AS decided_on, s.reason AS reason
LIMIT 1
"""
# A decision is dated by its maker (a feed's decided_on) or else today; an API decision is never dated
# before the one it replaces, whatever the clocks of the loader and the database say.
_DATED = "coalesce($decided_on, CASE WHEN c.shield_decided_on > date() THEN c.shield_decided_on ELSE date() END)"
SHIELD = f"""
MATCH (c:Child {{id: $child_id}})
MATCH (la:LocalAuthority {{code: $viewer.la_code}})
OPTIONAL MATCH (c)-[old:SHIELDED_BY]->()
DELETE old
WITH DISTINCT c, la
SET c.shielded = true, c.shield_decided_on = {_DATED}
CREATE (c)-[:SHIELDED_BY {{since: c.shield_decided_on, reason: $reason, by: $viewer.user_id}}]->(la)
"""
UNSHIELD = f"""
MATCH (c:Child {{id: $child_id}})
OPTIONAL MATCH (c)-[old:SHIELDED_BY]->()
DELETE old
WITH DISTINCT c
SET c.shielded = false, c.shield_decided_on = {_DATED}
"""
KNOWN_AUTHORITIES = "UNWIND $codes AS code MATCH (la:LocalAuthority {code: code}) RETURN collect(la.code) AS codes"

FEED_USER = "feed:shielding"
FEED_PURPOSE = "shielding decision from the shielding.csv feed"


@dataclass(frozen=True)
class Recorded:
    """A child's shielding as recorded: shielded or not, the holding authority, the last decision's date."""

    shielded: bool
    holding: str | None
    decided_on: date | None
    reason: str | None


def recorded(tx: ManagedTransaction, *, child_id: str) -> Recorded | None:
    """The child's shielding, under its write lock until the transaction ends; None if there is no such child."""
    record = tx.run(RECORDED, child_id=child_id).single()
    if record is None:
        return None
    decided = record["decided_on"]
    return Recorded(bool(record["shielded"]), record["holding"], decided.to_native() if decided else None,
                    record["reason"])


def change(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, shield: bool, reason: str,
           decided_on: date | None = None) -> None:
    """Shield the child (held from then on by the viewer's authority) or lift its shield, dated `decided_on`
    (else today). The caller holds the lock (`recorded`) and has checked the decision may stand."""
    statement = SHIELD if shield else UNSHIELD
    tx.run(statement, viewer=viewer.params(), child_id=child_id, reason=reason, decided_on=decided_on).consume()


def decide(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, shield: bool, reason: str) -> policy.Outcome:
    """A management team's decision through the API, made today: "ok", or "denied" or "not_found" unchanged."""
    state = recorded(tx, child_id=child_id)
    if state is None:
        return "not_found"
    if not policy.may_change_shielding(viewer=viewer, shielded=state.shielded, holding=state.holding, shield=shield):
        return "denied"
    change(tx, viewer=viewer, child_id=child_id, shield=shield, reason=reason)
    return "ok"


def feed_viewer(la_code: str) -> Viewer:
    """Who a feed's decision is recorded as: the shielding feed, for the named authority's management team."""
    return Viewer(user_id=FEED_USER, role=Role.LA_ADMIN, la_code=la_code)


def _unchanged(row: dict[str, Any], state: Recorded) -> bool:
    """The row restates the decision recorded (the same file loaded again): nothing to change or audit."""
    return (row["shielded"] == state.shielded and row["decided_on"] == state.decided_on
            and (not row["shielded"] or (row["la_code"] == state.holding and row["reason"] == state.reason)))


def apply_feed(tx: ManagedTransaction, *, rows: Sequence[dict[str, Any]], file: str,
               request_id: str) -> tuple[set[int], dict[int, str]]:
    """Apply validated shielding.csv rows in file order, each as the API's change: lock, check, change, audit.

    Every row that names a known child and authority writes one audit event (outcome "ok" when applied,
    "denied" when refused), except a restatement of the decision already recorded, which changes nothing.

    Returns:
        The lines written (restatements included), and the refused lines with their reasons. A row naming
        an unknown child or authority is neither (graph.ingest.explain_unwritten says why).
    """
    known = set(tx.run(KNOWN_AUTHORITIES, codes=sorted({r["la_code"] for r in rows})).single(strict=True)["codes"])
    written: set[int] = set()
    refused: dict[int, str] = {}
    events = []
    for row in rows:
        if row["la_code"] not in known:
            continue
        state = recorded(tx, child_id=row["child_id"])
        if state is None:
            continue
        viewer = feed_viewer(row["la_code"])
        why = policy.feed_decision_refused(la_code=row["la_code"], shield=row["shielded"],
                                           decided_on=row["decided_on"], shielded=state.shielded,
                                           holding=state.holding, recorded_on=state.decided_on)
        if why is None:
            written.add(row["line"])
            if _unchanged(row, state):
                continue
            change(tx, viewer=viewer, child_id=row["child_id"], shield=row["shielded"], reason=row["reason"],
                   decided_on=row["decided_on"])
        else:
            refused[row["line"]] = why
        detail = {"file": file, "line": row["line"], "decided_on": row["decided_on"].isoformat(),
                  "reason": row["reason"], **({"refused": why} if why else {})}
        events.append(audit.event_fields(
            viewer=viewer, action="shield" if row["shielded"] else "unshield", children=[row["child_id"]],
            purpose=FEED_PURPOSE, request_id=request_id, outcome="denied" if why else "ok", detail=detail))
    if events:
        audit.append_batch(tx, events)
    return written, refused
