"""The chain itself: an event's fields, its stored form, and the locked append in a transaction.

How an event is hashed is graph.audit.form's. Each child an event names gets an `(:AuditAccess {child_id,
seq})` entry (and each child it only concerns an `(:AuditMention)`), written in the statement that writes the
event: the index a child's last accesses and a child's redaction seek, rather than scanning the trail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graph.audit.form import chain_hash, index_ids, native, seal
from graph.viewer import Viewer

GENESIS = "0" * 64
OUTCOMES = frozenset({"ok", "not_found", "denied", "error"})

# Locks the head by writing to it (Neo4j's documented way to take a write lock in Cypher), so the
# read of seq and hash below sees the last committed append and concurrent appends queue here.
# The time comes from the database after the lock, so `at` follows `seq` on a single clock.
LOCK_HEAD = """
MERGE (h:AuditHead {id: 'head'})
  ON CREATE SET h.seq = 0, h.hash = $genesis
SET h._lock = true
REMOVE h._lock
RETURN h.seq AS seq, h.hash AS hash, datetime.truncate('microsecond', datetime.realtime()) AS at
"""
# What every append writes for one event `e` (a row of `_stored`): the event, and its index entries.
WRITE_EVENT = """
CREATE (:AuditEvent {id: e.id, seq: e.seq, at: $at, user_id: e.user_id, role: e.role, la_code: e.la_code,
                     agency_id: e.agency_id, action: e.action, outcome: e.outcome, request_id: e.request_id,
                     client_request_id: e.client_request_id, flagged: e.flagged, scheme: e.scheme,
                     children: e.children, child_salts: e.child_salts, about: e.about, about_salts: e.about_salts,
                     purpose: e.purpose, detail_json: e.detail_json, context_salt: e.context_salt,
                     payload_digest: e.payload_digest, prev_hash: e.prev_hash, hash: e.hash})
FOREACH (c IN e.accessed | CREATE (:AuditAccess {child_id: c, seq: e.seq}))
FOREACH (c IN e.mentioned | CREATE (:AuditMention {child_id: c, seq: e.seq}))
"""
# The head must still be where LOCK_HEAD found it.
APPEND_EVENTS = """
MATCH (h:AuditHead {id: 'head'})
WHERE h.seq = $head_seq AND h.hash = $head_hash
UNWIND $events AS e
CALL (e) {""" + WRITE_EVENT + """}
WITH h, count(*) AS written
SET h.seq = $last_seq, h.hash = $last_hash
"""
# Every stored field of an event, for a map projection `e {...}` (explicit, never `e {.*}`).
EVENT_PROJECTION = (".id, .seq, .at, .user_id, .role, .la_code, .agency_id, .action, .outcome, .request_id, "
                    ".client_request_id, .flagged, .scheme, .children, .child_salts, .about, .about_salts, .purpose, "
                    ".detail_json, .context_salt, .payload_digest, .part_digests, .redacted_at, .redaction_reason, "
                    ".redaction_seq, .prev_hash, .hash")
CREATE_HEAD = "MERGE (h:AuditHead {id: 'head'}) ON CREATE SET h.seq = 0, h.hash = $genesis"
READ_HEAD = "MATCH (h:AuditHead {id: 'head'}) RETURN h.seq AS seq, h.hash AS hash"


class AuditError(Exception):
    """The audit event could not be written, so the access must not go ahead."""


class UserRevoked(AuditError):
    """The user was disabled, or their role, authority or agency changed, after their token was issued.

    Their event is written with outcome "denied" and no children, and the data is not returned.
    """

REVOKED_DETAIL = "the user's account was disabled or changed after sign-in"


@dataclass(frozen=True)
class AuditRecord:
    """One event of the trail, as stored."""

    id: str
    seq: int
    at: datetime
    user_id: str
    role: str
    la_code: str
    agency_id: str | None
    action: str
    children: tuple[str, ...]
    purpose: str | None  # None once redacted
    request_id: str
    outcome: str
    flagged: bool
    detail_json: str | None  # None once redacted
    prev_hash: str
    hash: str
    client_request_id: str | None = None  # the client's own X-Request-ID, if it sent a usable one
    scheme: int | None = None  # 2 (graph.audit.form); None for an event stored before it
    about: tuple[str, ...] = ()  # children the event concerns without showing them (an auditor's search)
    payload_digest: str | None = None
    child_salts: tuple[str, ...] = ()
    about_salts: tuple[str, ...] = ()
    context_salt: str | None = None
    part_digests: tuple[str, ...] | None = None  # kept once redacted
    redacted_at: datetime | None = None
    redaction_reason: str | None = None
    redaction_seq: int | None = None  # the audit_redact event that authorised the redaction

    @property
    def detail(self) -> dict[str, Any]:
        """The detail map the event was written with ({} once redacted)."""
        return json.loads(self.detail_json) if self.detail_json is not None else {}

    @property
    def redacted(self) -> bool:
        """Whether a child's details were removed from the event."""
        return self.redaction_reason is not None



@dataclass(frozen=True)
class Actor:
    """Who an event names when it is not a signed-in viewer: an operator at the command line, an unknown sign-in."""

    user_id: str
    role: str
    la_code: str = ""
    agency_id: str | None = None

    def params(self) -> dict[str, Any]:
        """The event's who-fields, as `Viewer.params` gives them."""
        return {"user_id": self.user_id, "role": self.role, "la_code": self.la_code, "agency_id": self.agency_id}


_RECORD_FIELDS = frozenset(AuditRecord.__dataclass_fields__)
_TUPLES = ("children", "about", "child_salts", "about_salts")


def _record(row: Mapping[str, Any]) -> AuditRecord:
    values = {k: v for k, v in row.items() if k in _RECORD_FIELDS}
    values["at"] = native(values["at"])
    if values.get("redacted_at") is not None:
        values["redacted_at"] = native(values["redacted_at"])
    for key in _TUPLES:
        values[key] = tuple(values.get(key) or ())
    if values.get("part_digests") is not None:
        values["part_digests"] = tuple(values["part_digests"])
    return AuditRecord(**values)


def event_fields(
    *,
    viewer: Viewer | Actor,
    action: str,
    children: Sequence[str],
    purpose: str,
    request_id: str,
    outcome: str = "ok",
    flagged: bool = False,
    detail: Mapping[str, Any] | None = None,
    client_request_id: str | None = None,
    about: Sequence[str] = (),
) -> dict[str, Any]:
    """An event's own fields, checked, before the chain gives it a seq, a time and a hash.

    `request_id` is the server's id for the request; `client_request_id` what the client called it
    (its X-Request-ID), kept beside it and never in its place. `about` names children the event
    concerns without showing their data (an auditor's search for a child's accesses): they are not
    among its `children`, so the child's access history does not show it, but redacting the child
    removes them too.

    Raises:
        ValueError: a required field is empty, or the outcome is unknown.
    """
    if not action or not purpose or not request_id:
        raise ValueError("an audit event needs an action, a stated purpose and a request id")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
    return {
        "id": str(uuid.uuid4()), **viewer.params(), "action": action, "children": [str(c) for c in children],
        "about": [str(c) for c in about], "purpose": purpose, "request_id": request_id,
        "client_request_id": client_request_id, "outcome": outcome, "flagged": bool(flagged),
        "detail_json": json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"), default=str),
    }


def standing(fields: Mapping[str, Any]) -> str:
    """Who an event says its user is (id, role, authority, agency): what a revoked token no longer matches."""
    return "|".join(str(fields[k] or "") for k in ("user_id", "role", "la_code", "agency_id"))


def _chain(events: Sequence[Mapping[str, Any]], *, seq: int, prev_hash: str, at: Any,
           denied: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The events as stored: numbered after `seq`, linked from `prev_hash`, at `at`; refused ones denied."""
    rows = []
    for fields in events:
        seq += 1
        row = {**fields, "seq": seq, "at": at}
        if standing(fields) in denied:
            detail = {**json.loads(fields["detail_json"]), "refused": REVOKED_DETAIL}
            row.update(outcome="denied", children=[], about=[],
                       detail_json=json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str))
        seal(row)
        row["prev_hash"], row["hash"] = prev_hash, chain_hash(prev_hash, row)
        prev_hash = row["hash"]
        rows.append(row)
    return rows


def _stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as statement parameters (`at` goes once, as $at), with the children to index."""
    return [{**{k: v for k, v in row.items() if k != "at"}, "accessed": index_ids(row["children"]),
             "mentioned": index_ids(row["about"])} for row in rows]


def append_batch(tx: ManagedTransaction, events: Sequence[Mapping[str, Any]]) -> list[AuditRecord]:
    """Append events (from `event_fields`) in order inside the caller's write transaction.

    The head is locked first and stays locked until the transaction commits; the events share the
    database's time read under that lock, and seq orders them.

    Raises:
        AuditError: the head moved under the lock (never expected; nothing is written).
    """
    head = tx.run(LOCK_HEAD, genesis=GENESIS).single(strict=True)
    rows = _chain(events, seq=head["seq"], prev_hash=head["hash"], at=head["at"])
    stored = _stored(rows)
    summary = tx.run(APPEND_EVENTS, head_seq=head["seq"], head_hash=head["hash"], at=head["at"],
                     events=stored, last_seq=rows[-1]["seq"], last_hash=rows[-1]["hash"]).consume()
    if summary.counters.nodes_created != sum(1 + len(e["accessed"]) + len(e["mentioned"]) for e in stored):
        raise AuditError(f"audit head moved while locked (expected seq {head['seq']})")
    return [_record(row) for row in rows]


def append(tx: ManagedTransaction, *, viewer: Viewer | Actor, action: str, children: Sequence[str], purpose: str,
           request_id: str, outcome: str = "ok", flagged: bool = False,
           detail: Mapping[str, Any] | None = None, client_request_id: str | None = None,
           about: Sequence[str] = ()) -> AuditRecord:
    """Append one event inside the caller's write transaction (with the change it records, if any).

    Raises as `event_fields` and `append_batch`.
    """
    fields = event_fields(viewer=viewer, action=action, children=children, purpose=purpose,
                          request_id=request_id, outcome=outcome, flagged=flagged, detail=detail,
                          client_request_id=client_request_id, about=about)
    return append_batch(tx, [fields])[0]
