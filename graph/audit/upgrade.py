"""Re-chaining, once: events stored before the trail could forget become redactable, and get their index entries.

A scheme-1 event hashed its whole payload, so removing a child from it would break the chain. Schema
migration 8 runs `rechain`: it verifies the trail as it stands (and refuses to go on if it is broken: a
broken trail is investigated, not laundered), then rewrites every scheme-1 event in the scheme-2 form
(graph.audit.form: fresh salts, its payload digest), writes its AuditAccess and AuditMention entries,
relinks every event from the first with the new hashes, and appends an `audit_rechain` event recording the
head it started from (seq and hash, which anyone who kept a published head can compare) and how many
events it rewrote. The API may go on appending meanwhile: events below the head are rewritten in batches
of their own transactions (appends never touch them), and the last stretch up to the head, the event and
the head's move are one transaction under the head's lock. Until it ends, `verify` reports the trail as
relinked where the rewriting has reached. Safe to run again; with nothing in scheme 1, it does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.audit.chain import (
    EVENT_PROJECTION, GENESIS, LOCK_HEAD, Actor, AuditError, append_batch, event_fields,
)
from graph.audit.form import SCHEME, chain_hash, index_ids, seal
from graph.audit.verification import verify

ACTION = "audit_rechain"
ACTOR = Actor(user_id="system:migration", role="system")
ANY_OLD = "MATCH (e:AuditEvent) WHERE e.scheme IS NULL RETURN e.seq AS seq LIMIT 1"
READ = "MATCH (e:AuditEvent) WHERE e.seq > $after AND e.seq <= $upto WITH e ORDER BY e.seq LIMIT $batch " \
       "RETURN collect(e {" + EVENT_PROJECTION + "}) AS events"
HEAD_SEQ = "MATCH (h:AuditHead {id: 'head'}) RETURN h.seq AS seq"
# Converted events get their payload's salts and digest and their index entries; every event its new link.
REWRITE = """
UNWIND $events AS u
MATCH (e:AuditEvent {seq: u.seq})
SET e.prev_hash = u.prev_hash, e.hash = u.hash
WITH e, u WHERE u.converted
SET e.scheme = u.scheme, e.about = u.about, e.child_salts = u.child_salts, e.about_salts = u.about_salts,
    e.context_salt = u.context_salt, e.payload_digest = u.payload_digest
FOREACH (c IN u.accessed | MERGE (:AuditAccess {child_id: c, seq: u.seq}))
FOREACH (c IN u.mentioned | MERGE (:AuditMention {child_id: c, seq: u.seq}))
"""
MOVE_HEAD = "MATCH (h:AuditHead {id: 'head'}) SET h.hash = $hash"


@dataclass(frozen=True)
class Rechained:
    """What a re-chain did: events rewritten into scheme 2, events relinked, and the head it started from."""

    converted: int
    relinked: int
    old_head_seq: int | None = None
    old_head_hash: str | None = None


def _about(event: dict[str, Any]) -> list[str]:
    """The child an old auditor's search looked for (named then only in its filters)."""
    if event["action"] != "audit_search" or not event.get("detail_json"):
        return []
    child = json.loads(event["detail_json"]).get("filters", {}).get("child_id")
    return [child] if child else []


def _converted(event: dict[str, Any]) -> dict[str, Any]:
    """A scheme-1 event in the scheme-2 form (`at` stays as stored)."""
    fields = {**event, "children": list(event.get("children") or ()), "about": _about(event)}
    return seal(fields)


@dataclass
class _Link:
    """Where the relinking has got to: the last event's new hash, and its hash as it was."""

    new: str = GENESIS
    old: str = GENESIS


def _relink(events: list[dict[str, Any]], link: _Link) -> list[dict[str, Any]]:
    """Each event converted if old and linked to the one before it: the updates to write (`link` moves on).

    Each is checked first against its own hash and its predecessor's as they were, so an event changed
    since the trail was verified is not rewritten into a chain that would then verify.

    Raises:
        AuditError: an event does not match its hash, or does not follow its predecessor.
    """
    updates = []
    prev_hash = link.new
    for event in events:
        if event["prev_hash"] != link.old or chain_hash(event["prev_hash"], event) != event["hash"]:
            raise AuditError(f"the event at seq {event['seq']} changed while the trail was re-chained: "
                             "run contactpoint audit verify")
        link.old = event["hash"]
        converted = event.get("scheme") != SCHEME
        fields = _converted(event) if converted else event
        new_hash = chain_hash(prev_hash, fields)
        if converted or event["prev_hash"] != prev_hash or event["hash"] != new_hash:
            updates.append({**{k: fields.get(k) for k in ("seq", "scheme", "about", "child_salts", "about_salts",
                                                           "context_salt", "payload_digest")},
                            "converted": converted, "prev_hash": prev_hash, "hash": new_hash,
                            "accessed": index_ids(fields["children"]), "mentioned": index_ids(fields["about"])})
        prev_hash = new_hash
    link.new = prev_hash
    return updates


def _read(tx: ManagedTransaction, *, after: int, upto: int, batch: int) -> list[dict[str, Any]]:
    return tx.run(READ, after=after, upto=upto, batch=batch).single(strict=True)["events"]


def _rewrite(tx: ManagedTransaction, updates: list[dict[str, Any]]) -> None:
    if updates:
        tx.run(REWRITE, events=updates).consume()


def _finish(tx: ManagedTransaction, *, after: int, link: _Link) -> tuple[int, int, int, str]:
    """Under the head's lock: the rest up to the head, then the rechain event. (converted, relinked, head)."""
    head = tx.run(LOCK_HEAD, genesis=GENESIS).single(strict=True)
    events = _read(tx, after=after, upto=head["seq"], batch=2**31 - 1)
    updates = _relink(events, link)
    if link.old != head["hash"]:
        raise AuditError(f"the audit head (seq {head['seq']}) does not match its last event: "
                         "run contactpoint audit verify")
    _rewrite(tx, updates)
    tx.run(MOVE_HEAD, hash=link.new).consume()
    return sum(u["converted"] for u in updates), len(updates), head["seq"], head["hash"]


def rechain(driver: Driver, *, database: str, batch: int = 5000,
            progress: Callable[[int, int], None] | None = None) -> Rechained:
    """Rewrite the scheme-1 events of the trail in scheme 2 and relink the chain; nothing if there are none.

    Raises:
        AuditError: the trail does not verify as it stands (nothing is rewritten).
    """
    with driver.session(database=database) as session:
        if session.run(ANY_OLD).single() is None:
            return Rechained(0, 0)
        before = verify(driver, database=database, batch=batch)
        if not before.ok:
            raise AuditError(f"the audit trail does not verify, so it is not re-chained: {before.problem}")
        after, link, converted, relinked = 0, _Link(), 0, 0
        while True:
            head_seq = session.run(HEAD_SEQ).single(strict=True)["seq"]
            if head_seq - after <= batch:
                break
            events = session.execute_read(_read, after=after, upto=head_seq - 1, batch=batch)
            updates = _relink(events, link)
            session.execute_write(_rewrite, updates)
            converted += sum(u["converted"] for u in updates)
            relinked += len(updates)
            after = events[-1]["seq"]
            if progress is not None:
                progress(after, head_seq)

        def finish(tx: ManagedTransaction) -> tuple[int, int, int, str]:
            done, linked, old_seq, old_hash = _finish(tx, after=after, link=_Link(link.new, link.old))
            append_batch(tx, [event_fields(
                viewer=ACTOR, action=ACTION, children=[], purpose="migration", request_id="schema-migration-7",
                detail={"old_head_seq": old_seq, "old_head_hash": old_hash, "converted": converted + done})])
            return done, linked, old_seq, old_hash

        done, linked, old_seq, old_hash = session.execute_write(finish)
    return Rechained(converted + done, relinked + linked, old_seq, old_hash)
