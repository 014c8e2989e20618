"""The audit trail: a hash-chained, append-only log of every look at child data, and its choke point.

Append-only is a rule of this codebase, not of the database: Neo4j Community has no per-label
write privileges (fine-grained access control is Enterprise-only), so anyone holding the database
credentials can change an AuditEvent. Nothing in the code updates or deletes one (the only write
besides CREATE is the advance of the chain's head), and the hash chain makes any change made
outside the code detectable by `verify`. Publishing the head hash elsewhere (the `audit verify`
command prints it) also catches a rewrite of the whole chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from neo4j import READ_ACCESS, AsyncDriver, Driver, ManagedTransaction
from neo4j.exceptions import ConstraintError, SessionExpired, TransientError

from graph.query import Query
from graph.viewer import Viewer

T = TypeVar("T")
_log = logging.getLogger("contactpoint.audit")

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
# The head must still be where LOCK_HEAD found it.
APPEND_EVENTS = """
MATCH (h:AuditHead {id: 'head'})
WHERE h.seq = $head_seq AND h.hash = $head_hash
UNWIND $events AS e
CREATE (:AuditEvent {id: e.id, seq: e.seq, at: $at, user_id: e.user_id, role: e.role, la_code: e.la_code,
                     agency_id: e.agency_id, action: e.action, children: e.children, purpose: e.purpose,
                     request_id: e.request_id, outcome: e.outcome, flagged: e.flagged,
                     detail_json: e.detail_json, prev_hash: e.prev_hash, hash: e.hash})
WITH h, count(*) AS written
SET h.seq = $last_seq, h.hash = $last_hash
"""
# The group writer's one statement a batch, run without taking the head's lock first: it writes only
# if the head is still the one the writer hashed from (no row back: it moved; hash again and retry).
# Two writers that hashed from the same head give their first events the same seq, so the unique
# seq constraint fails one of them: the chain cannot fork. Users whose standing no longer matches
# their token (disabled, or another role, authority or agency) are returned; unless the writer
# already recorded them as refused ($denied), nothing is written and the writer tries again.
APPEND_CONFIRMED = """
MATCH (h:AuditHead {id: 'head'})
WHERE h.seq = $head_seq AND h.hash = $head_hash
CALL {
  UNWIND $users AS v
  OPTIONAL MATCH (u:User {id: v.user_id})
  WITH v, u
  WHERE u IS NULL OR coalesce(u.disabled, false) OR coalesce(u.role, '') <> v.role
        OR coalesce(u.la_code, '') <> v.la_code OR coalesce(u.agency_id, '') <> v.agency_id
  RETURN collect(DISTINCT v.key) AS revoked
}
WITH h, revoked, all(k IN revoked WHERE k IN $denied) AS writing
FOREACH (e IN CASE WHEN writing THEN $events ELSE [] END |
  CREATE (:AuditEvent {id: e.id, seq: e.seq, at: $at, user_id: e.user_id, role: e.role, la_code: e.la_code,
                       agency_id: e.agency_id, action: e.action, children: e.children, purpose: e.purpose,
                       request_id: e.request_id, outcome: e.outcome, flagged: e.flagged,
                       detail_json: e.detail_json, prev_hash: e.prev_hash, hash: e.hash}))
SET h.seq = CASE WHEN writing THEN $last_seq ELSE h.seq END,
    h.hash = CASE WHEN writing THEN $last_hash ELSE h.hash END
RETURN writing, revoked
"""
CREATE_HEAD = "MERGE (h:AuditHead {id: 'head'}) ON CREATE SET h.seq = 0, h.hash = $genesis"
READ_HEAD = "MATCH (h:AuditHead {id: 'head'}) RETURN h.seq AS seq, h.hash AS hash"
ANY_EVENT = "MATCH (e:AuditEvent) RETURN e.seq AS seq LIMIT 1"
# Keyset pagination on the unique seq index: bounded memory however long the chain. One list per
# batch and `at` as epoch parts: per-record decoding and the driver's DateTime hydration (~0.7 ms
# an event) dominated verify time.
STREAM_EVENTS = """
MATCH (e:AuditEvent)
WHERE e.seq > $after AND e.seq <= $upto
WITH e ORDER BY e.seq LIMIT $batch
WITH e, e.at IS :: ZONED DATETIME AS dated
RETURN collect(e {.id, .seq, .user_id, .role, .la_code, .agency_id, .action, .children, .purpose,
                  .request_id, .outcome, .flagged, .detail_json, .prev_hash, .hash,
                  at_s: CASE WHEN dated THEN e.at.epochSeconds END,
                  at_ns: CASE WHEN dated THEN e.at.nanosecond END}) AS events
"""
# Newest first by seq, which the seq index serves in order, so the scan stops after $limit hits.
LAST_ACCESSES = """
MATCH (e:AuditEvent)
WHERE e.seq > 0 AND $child_id IN e.children
RETURN e {.seq, .at, .user_id, .role, .la_code, .agency_id, .action, .purpose, .outcome,
          .flagged} AS access
ORDER BY e.seq DESC
LIMIT $limit
"""
# `search` joins the fragments of the filters given, so each variant can use its own index.
SEARCH_MATCH = "MATCH (e:AuditEvent) WHERE e.seq > 0"
SEARCH_FILTERS: dict[str, str] = {
    "child_id": " AND $child_id IN e.children",
    "user_id": " AND e.user_id = $user_id",
    "since": " AND e.at >= $since",
    "until": " AND e.at < $until",
    "action": " AND e.action = $action",
    "flagged": " AND e.flagged = $flagged",
}
SEARCH_RETURN = """
RETURN e {.id, .seq, .at, .user_id, .role, .la_code, .agency_id, .action, .children, .purpose,
          .request_id, .outcome, .flagged, .detail_json, .prev_hash, .hash} AS event
ORDER BY e.seq DESC
SKIP $skip
LIMIT $limit
"""


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

    @property
    def detail(self) -> dict[str, Any]:
        """The detail map the event was written with."""
        return json.loads(self.detail_json)


@dataclass(frozen=True)
class Access:
    """One line of a child's access history: who looked, as what, from where, why and when."""

    seq: int
    at: datetime
    user_id: str
    role: str
    la_code: str
    agency_id: str | None
    action: str
    purpose: str
    outcome: str
    flagged: bool


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: counts, the head, and the first problem if any."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    seconds: float
    kind: str | None = None  # edited, removed, reordered, relinked, truncated, head_missing
    seq: int | None = None
    problem: str | None = None


def canonical(fields: Mapping[str, Any]) -> str:
    """The hashed form of an event: JSON with sorted keys, fixed separators, `at` in UTC ISO."""
    payload = {k: v for k, v in fields.items() if k not in ("prev_hash", "hash")}
    at = payload["at"]
    payload["at"] = None if at is None else _native(at).astimezone(timezone.utc).isoformat(timespec="microseconds")
    payload["children"] = list(payload["children"])
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of the event's fields), hex."""
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _native(at: Any) -> datetime:
    return at.to_native() if hasattr(at, "to_native") else at


def _utc(seconds: int | None, nanos: int | None) -> datetime | None:
    """A stored `at` from its epoch parts; None (so the hash fails) if absent or not a whole microsecond."""
    if seconds is None or nanos is None or nanos % 1000:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanos // 1000)


def _record(row: Mapping[str, Any]) -> AuditRecord:
    values = dict(row)
    values["at"] = _native(values["at"])
    values["children"] = tuple(values.get("children") or ())
    return AuditRecord(**values)


def event_fields(
    *,
    viewer: Viewer,
    action: str,
    children: Sequence[str],
    purpose: str,
    request_id: str,
    outcome: str = "ok",
    flagged: bool = False,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An event's own fields, checked, before the chain gives it a seq, a time and a hash.

    Raises:
        ValueError: a required field is empty, or the outcome is unknown.
    """
    if not action or not purpose or not request_id:
        raise ValueError("an audit event needs an action, a stated purpose and a request id")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
    return {
        "id": str(uuid.uuid4()), **viewer.params(), "action": action, "children": [str(c) for c in children],
        "purpose": purpose, "request_id": request_id, "outcome": outcome, "flagged": bool(flagged),
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


def append(tx: ManagedTransaction, *, viewer: Viewer, action: str, children: Sequence[str], purpose: str,
           request_id: str, outcome: str = "ok", flagged: bool = False,
           detail: Mapping[str, Any] | None = None) -> AuditRecord:
    """Append one event inside the caller's write transaction (with the change it records, if any).

    Raises as `event_fields` and `append_batch`.
    """
    fields = event_fields(viewer=viewer, action=action, children=children, purpose=purpose,
                          request_id=request_id, outcome=outcome, flagged=flagged, detail=detail)
    return append_batch(tx, [fields])[0]


_Pending = tuple[dict[str, Any], "Future[AuditRecord]"]


class AuditWriter:
    """Group commit for the API: the events of concurrent requests go to the chain in one statement.

    Each `append` blocks its caller until the statement holding its event has committed, and raises
    if it failed, so no data leaves before its event is durable; one round trip and one commit serve
    every request waiting at that moment. The writer keeps the head it last wrote and appends from
    it without a lock (APPEND_CONFIRMED); when another process has appended meanwhile, it reads the
    head again and retries, and the unique seq constraint keeps the chain linear whatever the
    interleaving. Times come from this process's clock and never go back within it; seq is the order.

    With `confirm_users` (the API), the same statement checks that each event's user still stands as
    their token says; a revoked user's event is written as refused and their `append` raises
    UserRevoked, so a route can trust a token's claims and need not read the user itself.

    `after_commit` (the API's misuse watch, graph.misuse.Watch) is called on the writer's thread with
    each committed batch's events, after their requests are released; what it raises is logged.
    """

    ATTEMPTS = 20

    def __init__(self, driver: Driver, *, database: str, confirm_users: bool = False, max_batch: int = 256,
                 timeout: float = 30.0,
                 after_commit: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        self._driver, self._database, self._confirm_users = driver, database, confirm_users
        self._after_commit = after_commit
        self._max_batch, self._timeout = max_batch, timeout
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._head: tuple[int, str] | None = None
        self._last_at = datetime.min.replace(tzinfo=timezone.utc)
        self.batches = 0  # committed batches, for tests and benchmarks
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def append(self, **event: Any) -> AuditRecord:
        """Append one event (the arguments of `event_fields`) and wait until it is committed.

        Raises:
            ValueError: as `event_fields`.
            UserRevoked: the user no longer stands as the viewer says (the refusal is recorded).
            AuditError: the writer is closed, or the commit did not come within the timeout.
            Whatever the statement raised (the database unreachable, say).
        """
        try:
            return self._submit(event).result(timeout=self._timeout)
        except TimeoutError:
            raise AuditError(f"the audit event was not committed within {self._timeout:g} s") from None

    async def append_async(self, **event: Any) -> AuditRecord:
        """As `append`, awaited on an event loop (the loop goes on serving while the batch commits).

        A request cancelled while it waits (its client went away) leaves the event to be written:
        the shield keeps the cancellation from reaching the writer's future.
        """
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._submit(event))), self._timeout)
        except TimeoutError:
            raise AuditError(f"the audit event was not committed within {self._timeout:g} s") from None

    def _submit(self, event: Mapping[str, Any]) -> Future[AuditRecord]:
        fields = event_fields(**event)
        done: Future[AuditRecord] = Future()
        with self._lock:
            if self._closed:
                raise AuditError("the audit writer is closed")
            self._queue.put((fields, done))
        return done

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop; later appends raise AuditError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            rows, denied = self._write([fields for fields, _ in batch])
        except BaseException as exc:  # every waiting request fails with the batch; the writer goes on
            for _, done in batch:
                done.set_exception(exc)
            return
        self.batches += 1
        for row, (fields, done) in zip(rows, batch):
            if standing(fields) in denied:
                done.set_exception(UserRevoked(f"user {fields['user_id']} no longer stands as their token says"))
            else:
                done.set_result(_record(row))
        if self._after_commit is not None:
            try:
                self._after_commit(rows)
            except Exception:  # noqa: BLE001 (the batch is committed and answered; a hook cannot undo that)
                _log.warning("the audit writer's after-commit hook failed", exc_info=True)

    def _write(self, events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], frozenset[str]]:
        users = [{"key": standing(f), "user_id": f["user_id"], "role": f["role"], "la_code": f["la_code"],
                  "agency_id": f["agency_id"] or ""} for f in events] if self._confirm_users else []
        denied: frozenset[str] = frozenset()
        failure: Exception | None = None
        with self._driver.session(database=self._database) as session:
            for attempt in range(self.ATTEMPTS):
                if self._head is None:
                    self._head = self._read_head(session)
                seq, prev_hash = self._head
                at = max(datetime.now(timezone.utc), self._last_at)
                rows = _chain(events, seq=seq, prev_hash=prev_hash, at=at, denied=denied)
                try:
                    result = session.run(APPEND_CONFIRMED, head_seq=seq, head_hash=prev_hash, at=at, users=users,
                                         denied=sorted(denied), events=_stored(rows),
                                         last_seq=rows[-1]["seq"], last_hash=rows[-1]["hash"]).single()
                except (ConstraintError, TransientError) as exc:  # another appender took these seqs, or a deadlock
                    failure, self._head = exc, None
                    time.sleep(0.001 * attempt)
                    continue
                if result is None:  # the head moved since this writer last wrote
                    self._head = None
                elif not result["writing"]:  # users to record as refused first
                    denied = denied | frozenset(result["revoked"])
                else:
                    self._head, self._last_at = (rows[-1]["seq"], rows[-1]["hash"]), at
                    return rows, denied
        raise AuditError(f"the audit chain's head kept moving: gave up after {self.ATTEMPTS} attempts") from failure

    @staticmethod
    def _read_head(session: Any) -> tuple[int, str]:
        row = session.run(READ_HEAD).single()
        if row is None:
            session.run(CREATE_HEAD, genesis=GENESIS).consume()
            row = session.run(READ_HEAD).single(strict=True)
        return row["seq"], row["hash"]


def audited_read(
    driver: Driver,
    *,
    database: str,
    viewer: Viewer,
    action: str,
    purpose: str,
    request_id: str,
    read: Callable[[Any], T],
    children_of: Callable[[T], Sequence[str]],
    outcome_of: Callable[[T], str] | None = None,
    flagged: bool | Callable[[T], bool] = False,
    detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None = None,
    writer: AuditWriter | None = None,
) -> T:
    """The one way to read child data: read (routed as a read), write the audit event, then return.

    The read runs as auto-commit statements in a read session: one round trip each, where a
    transaction function adds a BEGIN and a COMMIT for nothing (Neo4j reads are read-committed
    either way), and a cluster still routes them to its readers. A transient failure (a leader
    change, a lost connection to a reader) is tried once more. `read` gets the session and uses
    it as the query functions use a transaction (`run`).

    With a `writer` the event joins its group commit (the API); without, it commits on its own.
    The outcome defaults to "ok" when `children_of` names children and "not_found" when it names
    none; `outcome_of` overrides it. A read that raises is recorded with outcome "error".
    `audited_read_async` is the same choke point on an event loop.

    Raises:
        Whatever the read, the callables or the audit write raise; the data is then never returned.
    """
    with driver.session(database=database, default_access_mode=READ_ACCESS) as session:

        def record(event: dict[str, Any]) -> None:
            if writer is not None:
                writer.append(**event)
            else:
                session.execute_write(lambda tx: append(tx, **event))

        try:
            try:
                data = read(session)
            except (TransientError, SessionExpired):
                data = read(session)
        except Exception as exc:
            record(_failed(viewer, action, purpose, request_id, exc))
            raise
        record(_event(viewer, action, purpose, request_id, data, children_of, outcome_of, flagged, detail))
    return data


async def audited_read_async(
    driver: AsyncDriver,
    *,
    database: str,
    viewer: Viewer,
    action: str,
    purpose: str,
    request_id: str,
    read: Callable[[Any], Awaitable[T]],
    children_of: Callable[[T], Sequence[str]],
    writer: AuditWriter,
    outcome_of: Callable[[T], str] | None = None,
    flagged: bool | Callable[[T], bool] = False,
    detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None = None,
) -> T:
    """As `audited_read`, for the API's event loop: the read through the async driver, the event
    through the writer's group commit, and no thread held while either waits.

    Raises:
        Whatever the read, the callables or the audit write raise; the data is then never returned.
    """
    async with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
        try:
            try:
                data = await read(session)
            except (TransientError, SessionExpired):
                data = await read(session)
        except Exception as exc:
            await writer.append_async(**_failed(viewer, action, purpose, request_id, exc))
            raise
    await writer.append_async(**_event(viewer, action, purpose, request_id, data, children_of, outcome_of,
                                       flagged, detail))
    return data


def _failed(viewer: Viewer, action: str, purpose: str, request_id: str, exc: Exception) -> dict[str, Any]:
    """The event of a read that raised."""
    return {"viewer": viewer, "action": action, "children": [], "purpose": purpose, "request_id": request_id,
            "outcome": "error", "flagged": False, "detail": {"error": type(exc).__name__}}


def _event(viewer: Viewer, action: str, purpose: str, request_id: str, data: T,
           children_of: Callable[[T], Sequence[str]], outcome_of: Callable[[T], str] | None,
           flagged: bool | Callable[[T], bool],
           detail: Mapping[str, Any] | Callable[[T], Mapping[str, Any]] | None) -> dict[str, Any]:
    """The event of a read that returned `data` (the arguments of `event_fields`)."""
    children = list(children_of(data))
    outcome = outcome_of(data) if outcome_of is not None else ("ok" if children else "not_found")
    return {"viewer": viewer, "action": action, "children": children, "purpose": purpose,
            "request_id": request_id, "outcome": outcome,
            "flagged": flagged(data) if callable(flagged) else flagged,
            "detail": detail(data) if callable(detail) else detail}


def last_accesses_query(*, child_id: str, limit: int = 25) -> Query[list[Access]]:
    """The latest accesses to a child's record, newest first (CP-IS shows the last 25)."""
    return Query(LAST_ACCESSES, {"child_id": child_id, "limit": limit},
                 lambda rows: [Access(**{**row["access"], "at": _native(row["access"]["at"])}) for row in rows])


def last_accesses(tx: ManagedTransaction, *, child_id: str, limit: int = 25) -> list[Access]:
    """As `last_accesses_query`, run in `tx`."""
    return last_accesses_query(child_id=child_id, limit=limit).run(tx)


def search(
    tx: ManagedTransaction,
    *,
    child_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    flagged: bool | None = None,
    limit: int = 100,
    skip: int = 0,
) -> list[AuditRecord]:
    """Events for auditors, newest first, filtered by child, user, time (since <= at < until), action and flag.

    `flagged=True` lists the events marked for investigation: the break-glass log.
    """
    params = {"child_id": child_id, "user_id": user_id, "since": since, "until": until, "action": action,
              "flagged": flagged}
    statement = SEARCH_MATCH + "".join(SEARCH_FILTERS[k] for k, v in params.items() if v is not None) + SEARCH_RETURN
    rows = tx.run(statement, **params, skip=skip, limit=limit)
    return [_record(row["event"]) for row in rows]


def _read_head(tx: ManagedTransaction) -> tuple[int, str] | None:
    row = tx.run(READ_HEAD).single()
    return None if row is None else (row["seq"], row["hash"])


def _has_events(tx: ManagedTransaction) -> bool:
    return tx.run(ANY_EVENT).single() is not None


def _stream(tx: ManagedTransaction, *, after: int, upto: int, batch: int) -> list[dict[str, Any]]:
    row = tx.run(STREAM_EVENTS, after=after, upto=upto, batch=batch).single(strict=True)
    events: list[dict[str, Any]] = row["events"]
    for event in events:
        event["at"] = _utc(event.pop("at_s"), event.pop("at_ns"))
    return events


def _recorded_as(event: Mapping[str, Any], head_seq: int) -> int | None:
    """The seq an event was hashed with, if moved: nearest candidates first, only on failure."""
    here = event["seq"]
    for distance in range(1, head_seq):
        for seq in (here + distance, here - distance):
            if 1 <= seq <= head_seq and chain_hash(event["prev_hash"], {**event, "seq": seq}) == event["hash"]:
                return seq
    return None


@dataclass(frozen=True)
class _Problem:
    kind: str
    seq: int
    message: str


def _walk(events: Iterator[dict[str, Any]], head_seq: int) -> tuple[int, str, _Problem | None]:
    """Check each event against its hash and its predecessor: (events verified, last hash, problem)."""
    expected_seq, prev_hash, verified = 1, GENESIS, 0
    for event in events:
        seq = event["seq"]
        if seq != expected_seq:
            gone = str(expected_seq) if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            return verified, prev_hash, _Problem("removed", expected_seq,
                                                 f"seq {gone} missing (seq {seq} follows seq {expected_seq - 1})")
        linked = event["prev_hash"] == prev_hash
        if chain_hash(event["prev_hash"], event) != event["hash"]:
            moved = None if linked else _recorded_as(event, head_seq)
            if moved is not None:
                return verified, prev_hash, _Problem("reordered", seq,
                                                     f"seq {seq} holds the event recorded as seq {moved}")
            return verified, prev_hash, _Problem("edited", seq, f"the event at seq {seq} does not match its hash")
        if not linked:
            return verified, prev_hash, _Problem(
                "relinked", seq, f"the event at seq {seq} does not follow the hash of seq {seq - 1} "
                "(an event rewritten with a new hash, or removed and the rest renumbered)")
        expected_seq, prev_hash, verified = seq + 1, event["hash"], verified + 1
    return verified, prev_hash, None


def verify(
    driver: Driver,
    *,
    database: str,
    batch: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyResult:
    """Recompute the whole chain in seq order, in batches, and report the first problem precisely.

    The head is read first, so events appended while this runs are left for the next run.
    `progress(done, total)` is called after each batch.
    """
    started = time.perf_counter()
    with driver.session(database=database) as session:
        head = session.execute_read(_read_head)
        if head is None:
            if session.execute_read(_has_events):
                return VerifyResult(ok=False, events=0, head_seq=0, head_hash="",
                                    seconds=time.perf_counter() - started, kind="head_missing",
                                    problem="head_missing: events exist but the audit head is gone")
            return VerifyResult(ok=True, events=0, head_seq=0, head_hash=GENESIS,
                                seconds=time.perf_counter() - started)
        head_seq, head_hash = head

        def events() -> Iterator[dict[str, Any]]:
            after = 0
            while after < head_seq:
                rows = session.execute_read(_stream, after=after, upto=head_seq, batch=batch)
                if not rows:
                    return
                yield from rows
                after = rows[-1]["seq"]
                if progress is not None:
                    progress(after, head_seq)

        verified, last_hash, problem = _walk(events(), head_seq)
    took = time.perf_counter() - started
    if problem is None and verified != head_seq:
        problem = _Problem("truncated", verified + 1, f"the head is at seq {head_seq} but the last event is "
                                                      f"seq {verified}: events at the end were removed")
    elif problem is None and last_hash != head_hash:
        problem = _Problem("truncated", head_seq,
                           f"the head does not match the hash of the last event (seq {head_seq})")
    if problem is None:
        return VerifyResult(True, verified, head_seq, head_hash, took)
    return VerifyResult(False, verified, head_seq, head_hash, took, problem.kind, problem.seq,
                        f"{problem.kind}: {problem.message}")
