"""The chain itself: an event's fields, its canonical form and hash, and the locked append in a transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from neo4j import ManagedTransaction

from graph.viewer import Viewer

GENESIS = "0" * 64
OUTCOMES = frozenset({"ok", "not_found", "denied", "error"})
# Fields events gained after the chain began. Hashed only when set, so the events stored before them
# verify as they were written; once set, any edit, removal or addition of one breaks the hash.
LATER_FIELDS = ("client_request_id",)

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
# The head must still be where LOCK_HEAD found it.
APPEND_EVENTS = """
MATCH (h:AuditHead {id: 'head'})
WHERE h.seq = $head_seq AND h.hash = $head_hash
UNWIND $events AS e
CREATE (:AuditEvent {id: e.id, seq: e.seq, at: $at, user_id: e.user_id, role: e.role, la_code: e.la_code,
                     agency_id: e.agency_id, action: e.action, children: e.children, purpose: e.purpose,
                     request_id: e.request_id, client_request_id: e.client_request_id, outcome: e.outcome,
                     flagged: e.flagged, detail_json: e.detail_json, prev_hash: e.prev_hash, hash: e.hash})
WITH h, count(*) AS written
SET h.seq = $last_seq, h.hash = $last_hash
"""
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
    purpose: str
    request_id: str
    outcome: str
    flagged: bool
    detail_json: str
    prev_hash: str
    hash: str
    client_request_id: str | None = None  # the client's own X-Request-ID, if it sent a usable one

    @property
    def detail(self) -> dict[str, Any]:
        """The detail map the event was written with."""
        return json.loads(self.detail_json)



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


def canonical(fields: Mapping[str, Any]) -> str:
    """The hashed form of an event: JSON with sorted keys, fixed separators, `at` in UTC ISO."""
    payload = {k: v for k, v in fields.items()
               if k not in ("prev_hash", "hash") and not (k in LATER_FIELDS and v is None)}
    at = payload["at"]
    payload["at"] = None if at is None else _native(at).astimezone(timezone.utc).isoformat(timespec="microseconds")
    payload["children"] = list(payload["children"])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the event's fields), hex."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _native(at: Any) -> datetime:
    return at.to_native() if hasattr(at, "to_native") else at


def _record(row: Mapping[str, Any]) -> AuditRecord:
    values = dict(row)
    values["at"] = _native(values["at"])
    values["children"] = tuple(values.get("children") or ())
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
) -> dict[str, Any]:
    """An event's own fields, checked, before the chain gives it a seq, a time and a hash.

    `request_id` is the server's id for the request; `client_request_id` what the client called it
    (its X-Request-ID), kept beside it and never in its place.

    Raises:
        ValueError: a required field is empty, or the outcome is unknown.
    """
    if not action or not purpose or not request_id:
        raise ValueError("an audit event needs an action, a stated purpose and a request id")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
    return {
        "id": str(uuid.uuid4()), **viewer.params(), "action": action, "children": [str(c) for c in children],
        "purpose": purpose, "request_id": request_id, "client_request_id": client_request_id,
        "outcome": outcome, "flagged": bool(flagged),
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
            row.update(outcome="denied", children=[],
                       detail_json=json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str))
        row["prev_hash"], row["hash"] = prev_hash, chain_hash(prev_hash, row)
        prev_hash = row["hash"]
        rows.append(row)
    return rows


def _stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as statement parameters (`at` goes once, as $at)."""
    return [{k: v for k, v in row.items() if k != "at"} for row in rows]


def append_batch(tx: ManagedTransaction, events: Sequence[Mapping[str, Any]]) -> list[AuditRecord]:
    """Append events (from `event_fields`) in order inside the caller's write transaction.

    The head is locked first and stays locked until the transaction commits; the events share the
    database's time read under that lock, and seq orders them.

    Raises:
        AuditError: the head moved under the lock (never expected; nothing is written).
    """
    head = tx.run(LOCK_HEAD, genesis=GENESIS).single(strict=True)
    rows = _chain(events, seq=head["seq"], prev_hash=head["hash"], at=head["at"])
    summary = tx.run(APPEND_EVENTS, head_seq=head["seq"], head_hash=head["hash"], at=head["at"],
                     events=_stored(rows), last_seq=rows[-1]["seq"], last_hash=rows[-1]["hash"]).consume()
    if summary.counters.nodes_created != len(rows):
        raise AuditError(f"audit head moved while locked (expected seq {head['seq']})")
    return [_record(row) for row in rows]


def append(tx: ManagedTransaction, *, viewer: Viewer | Actor, action: str, children: Sequence[str], purpose: str,
           request_id: str, outcome: str = "ok", flagged: bool = False,
           detail: Mapping[str, Any] | None = None, client_request_id: str | None = None) -> AuditRecord:
    """Append one event inside the caller's write transaction (with the change it records, if any).

    Raises as `event_fields` and `append_batch`.
    """
    fields = event_fields(viewer=viewer, action=action, children=children, purpose=purpose,
                          request_id=request_id, outcome=outcome, flagged=flagged, detail=detail,
                          client_request_id=client_request_id)
    return append_batch(tx, [fields])[0]
