"""The API's audit writer: group commit of concurrent requests' events, confirming each user's standing."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Any

from neo4j import Driver
from neo4j.exceptions import ConstraintError, TransientError

from graph.audit.chain import (
    CREATE_HEAD, GENESIS, READ_HEAD, WRITE_EVENT, AuditError, AuditRecord, UserRevoked, _chain, _record, _stored,
    event_fields, standing,
)

_log = logging.getLogger("contactpoint.audit")

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
CALL (writing) {
  UNWIND CASE WHEN writing THEN $events ELSE [] END AS e
  CALL (e) {""" + WRITE_EVENT + """}
}
SET h.seq = CASE WHEN writing THEN $last_seq ELSE h.seq END,
    h.hash = CASE WHEN writing THEN $last_hash ELSE h.hash END
RETURN writing, revoked
"""


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

