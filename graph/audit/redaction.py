"""Redaction: remove a child's identifying details from the trail, and the chain still verifies.

When a child's record is destroyed (six years after 18), the trail must not go on holding who the child
was. `redact_child` removes, from every event naming the child, the child's id (its payload part) and the
event's context (purpose and detail: free text that may name the child), keeping every part's digest
(graph.audit.form), so the chain verifies as before and what remains is still checked. The event's header
stays: who looked, as what, from where, when, doing what. Other children the event names keep their
place, so their access histories keep the look (its purpose shown as redacted). The child's own index
entries go: a destroyed child has no access history.

Each redaction is authorised by a run recorded in the chain first: an `audit_redact` event naming the
reason, the authority (what decided it: a destruction run's id, an order's reference) and how many events
it will redact, never the child. Each redacted event cites that run (`redaction_seq`), and `verify` checks
that every redacted event is accounted for by a run before it, for its reason, within the number the run
planned, and reports the redacted events by reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.audit.chain import GENESIS, LOCK_HEAD, Actor, AuditError, append_batch, event_fields
from graph.audit.form import SCHEME, redacted
from graph.audit.verification import REDACT_ACTION
from graph.viewer import Viewer

# Why a child's details may leave the trail: the retention rule, or an order to erase them.
REASONS = {
    "destroyed": "the child's record was destroyed under the retention rule",
    "erasure": "an order or a successful objection required the child's details to be erased",
}
SYSTEM = Actor(user_id="system:redaction", role="system")
PURPOSE = "redaction"

# The events naming the child (shown, or only concerned) before the run: both index entries, deduplicated.
NAMING = """
CALL {
  MATCH (a:AuditAccess {child_id: $child_id}) WHERE a.seq < $before RETURN a.seq AS seq
  UNION
  MATCH (m:AuditMention {child_id: $child_id}) WHERE m.seq < $before RETURN m.seq AS seq
}
"""
COUNT_NAMING = NAMING + "RETURN count(seq) AS events"
# A batch of them, each locked (a write) before it is read, so two redactions of children sharing an
# event cannot both start from its old payload and lose one another's removal.
LOCK_BATCH = NAMING + """
WITH seq LIMIT $batch
MATCH (e:AuditEvent {seq: seq})
SET e._lock = true
REMOVE e._lock
RETURN e {.seq, .scheme, .children, .child_salts, .about, .about_salts, .purpose, .detail_json, .context_salt,
          .payload_digest, .part_digests} AS event
"""
APPLY = """
UNWIND $updates AS u
MATCH (e:AuditEvent {seq: u.seq})
SET e.children = u.children, e.child_salts = u.child_salts, e.about = u.about, e.about_salts = u.about_salts,
    e.part_digests = u.part_digests, e.redacted_at = $now, e.redaction_reason = $reason, e.redaction_seq = $run
REMOVE e.purpose, e.detail_json, e.context_salt
WITH collect(e.seq) AS seqs
CALL (seqs) { MATCH (a:AuditAccess {child_id: $child_id}) WHERE a.seq IN seqs DELETE a }
CALL (seqs) { MATCH (m:AuditMention {child_id: $child_id}) WHERE m.seq IN seqs DELETE m }
"""


@dataclass(frozen=True)
class Redaction:
    """What a redaction did: the run that authorised it (None when no event named the child) and the events."""

    run_seq: int | None
    events: int
    reason: str
    authority: str


def check_request(*, child_id: str, reason: str, authority: str) -> None:
    """Refuse a redaction without a child, a known reason, or an authority.

    Raises:
        ValueError: naming what is missing or wrong.
    """
    if not child_id or not child_id.strip():
        raise ValueError("a redaction needs the child's directory id")
    if reason not in REASONS:
        raise ValueError(f"a redaction needs a reason, one of {sorted(REASONS)} (got {reason!r})")
    if not authority or not authority.strip() or len(authority) > 200 or not authority.isprintable():
        raise ValueError("a redaction needs its authority: what decided it (a destruction run's id, an order's "
                         "reference), printable and at most 200 characters")


def open_run(tx: ManagedTransaction, *, child_id: str, reason: str, authority: str,
             actor: Viewer | Actor = SYSTEM, request_id: str | None = None) -> Redaction:
    """Record the run in the chain, with how many events name the child; none recorded when none do.

    The head is locked first, so no event naming the child can be appended between the count and the run:
    the run covers exactly the events before it.

    Raises:
        ValueError: as `check_request`.
    """
    check_request(child_id=child_id, reason=reason, authority=authority)
    tx.run(LOCK_HEAD, genesis=GENESIS).consume()
    events = tx.run(COUNT_NAMING, child_id=child_id, before=2**62).single(strict=True)["events"]
    if events == 0:
        return Redaction(None, 0, reason, authority)
    [run] = append_batch(tx, [event_fields(
        viewer=actor, action=REDACT_ACTION, children=[], purpose=PURPOSE, request_id=request_id or str(uuid.uuid4()),
        detail={"reason": reason, "authority": authority, "events": events})])
    return Redaction(run.seq, events, reason, authority)


def redact_batch(tx: ManagedTransaction, *, child_id: str, run: Redaction, batch: int = 1000) -> int:
    """Redact the child from up to `batch` of the events before the run; returns how many (0: all done).

    Raises:
        AuditError: an event naming the child was stored before events could be redacted (re-chain first:
            graph.audit.upgrade).
    """
    rows = [record["event"] for record in tx.run(LOCK_BATCH, child_id=child_id, before=run.run_seq, batch=batch)]
    updates: list[dict[str, Any]] = []
    for event in rows:
        if event["scheme"] != SCHEME:
            raise AuditError(f"the event at seq {event['seq']} predates redactable events: re-chain the trail "
                             "first (contactpoint db migrate)")
        updates.append({"seq": event["seq"], **redacted(event, child_id)})
    if updates:
        tx.run(APPLY, updates=updates, child_id=child_id, run=run.run_seq, reason=run.reason,
               now=datetime.now(timezone.utc)).consume()
    return len(updates)


def redact_child(driver: Driver, *, database: str, child_id: str, reason: str, authority: str,
                 actor: Viewer | Actor = SYSTEM, batch: int = 1000, request_id: str | None = None) -> Redaction:
    """Remove a child's identifying details from every event naming it, in batches of their own transactions.

    Safe to call again: a run cut short leaves the rest naming the child, and the next call records a
    run for those. Retention calls it when it destroys a child's record.

    Args:
        child_id: the child's directory id.
        reason: one of REASONS; `verify` counts redacted events by it.
        authority: what decided it (a destruction run's id, an order's reference); recorded in the run.
        actor: who the run's event names (the retention job, an operator).

    Raises:
        ValueError: as `check_request`.
        AuditError: as `redact_batch`.
    """
    with driver.session(database=database) as session:
        run = session.execute_write(open_run, child_id=child_id, reason=reason, authority=authority, actor=actor,
                                    request_id=request_id)
        done = 0
        while run.run_seq is not None:
            step = session.execute_write(redact_batch, child_id=child_id, run=run, batch=batch)
            if step == 0:
                break
            done += step
    return run if run.run_seq is None else Redaction(run.run_seq, done, reason, authority)
