"""Verifying the trail: recompute the hash chain in seq order, all of it or from the last verified point.

A full run walks from the first event. An incremental run starts at the checkpoint (the seq and hash the
last good run ended on, `(:AuditCheckpoint)`), checks that the event there still has that hash, walks the
events after it, and rechecks the events before it that were redacted since: so a day's events cost a
day's work, not the whole trail's. What an incremental run cannot see is an edit made before the
checkpoint to an event not redacted since: only a full run finds that (run one regularly; see docs/audit.md).

Both also check every redaction against the run that made it (graph.audit.redaction), and count the
redacted events by reason. With `record`, a good run moves the checkpoint to the head it verified.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.audit.chain import GENESIS, READ_HEAD
from graph.audit.form import SCHEME, chain_hash, payload_problem

ANY_EVENT = "MATCH (e:AuditEvent) RETURN e.seq AS seq LIMIT 1"
# Keyset pagination on the unique seq index: bounded memory however long the chain. One list per
# batch and `at` as epoch parts: per-record decoding and the driver's DateTime hydration (~0.7 ms
# an event) dominated verify time. `unindexed` names a child an event shows (or concerns) that has
# no index entry for it: an entry deleted would hide the look from the child's access history.
_FIELDS = """.id, .seq, .user_id, .role, .la_code, .agency_id, .action, .outcome, .request_id, .client_request_id,
     .flagged, .scheme, .children, .child_salts, .about, .about_salts, .purpose, .detail_json, .context_salt,
     .payload_digest, .part_digests, .redaction_reason, .redaction_seq, .prev_hash, .hash,
     at_s: CASE WHEN dated THEN e.at.epochSeconds END, at_ns: CASE WHEN dated THEN e.at.nanosecond END"""
STREAM_EVENTS = """
MATCH (e:AuditEvent)
WHERE e.seq > $after AND e.seq <= $upto
WITH e ORDER BY e.seq LIMIT $batch
WITH e, e.at IS :: ZONED DATETIME AS dated
RETURN collect(e {""" + _FIELDS + """,
  unindexed: CASE WHEN e.scheme IS NULL THEN [] ELSE
    [c IN coalesce(e.children, []) WHERE NOT EXISTS { MATCH (:AuditAccess {child_id: c, seq: e.seq}) }] +
    [c IN coalesce(e.about, []) WHERE NOT EXISTS { MATCH (:AuditMention {child_id: c, seq: e.seq}) }] END
}) AS events
"""
# The events before the checkpoint redacted since it was set (their redaction run came after it), each with
# the link the next event holds to it. The redaction_seq index serves it.
REDACTED_SINCE = """
MATCH (e:AuditEvent)
WHERE e.redaction_seq > $after AND e.seq <= $after
WITH e, e.at IS :: ZONED DATETIME AS dated
OPTIONAL MATCH (n:AuditEvent {seq: e.seq + 1})
RETURN collect(e {""" + _FIELDS + """, next_prev_hash: n.prev_hash, unindexed: []}) AS events
"""
# Every redaction, by the run that made it: the redaction_seq index holds only redacted events.
REDACTION_RUNS = """
MATCH (e:AuditEvent)
WHERE e.redaction_seq IS NOT NULL
WITH e.redaction_seq AS run, e.redaction_reason AS reason, count(*) AS events, min(e.seq) AS first, max(e.seq) AS last
OPTIONAL MATCH (r:AuditEvent {seq: run})
RETURN run, reason, events, first, last, r.action AS action, r.detail_json AS detail
ORDER BY first
"""
READ_CHECKPOINT = """
MATCH (c:AuditCheckpoint {id: 'checkpoint'})
OPTIONAL MATCH (e:AuditEvent {seq: c.seq})
RETURN c.seq AS seq, c.hash AS hash, c.verified_at AS verified_at, c.full_at AS full_at, e.hash AS event_hash
"""
WRITE_CHECKPOINT = """
MERGE (c:AuditCheckpoint {id: 'checkpoint'})
SET c.seq = $seq, c.hash = $hash, c.verified_at = $now, c.full_at = CASE WHEN $full THEN $now ELSE c.full_at END
"""
REDACT_ACTION = "audit_redact"


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: counts, the head, where it started, the redactions, and the first problem if any."""

    ok: bool
    events: int  # events verified by this run
    head_seq: int
    head_hash: str
    seconds: float
    kind: str | None = None  # edited, removed, reordered, relinked, truncated, head_missing, unindexed, redaction
    seq: int | None = None
    problem: str | None = None
    mode: str = "full"  # or "incremental"
    from_seq: int = 0  # the checkpoint an incremental run started after
    redacted: dict[str, int] = field(default_factory=dict)  # redacted events by reason, over the whole trail
    rechecked: int = 0  # events before the checkpoint redacted since, checked again
    incomplete_redactions: int = 0  # runs that stopped before redacting all they planned (run again to finish)

    @property
    def events_per_second(self) -> float:
        """Throughput of this run."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Checkpoint:
    """The last verified point: a good run verified every event up to seq, which had this hash."""

    seq: int
    hash: str
    verified_at: datetime
    full_at: datetime | None
    event_hash: str | None  # the hash the event at seq holds now


@dataclass(frozen=True)
class _Problem:
    kind: str
    seq: int
    message: str


def _utc(seconds: int | None, nanos: int | None) -> datetime | None:
    """A stored `at` from its epoch parts; None (so the hash fails) if absent or not a whole microsecond."""
    if seconds is None or nanos is None or nanos % 1000:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanos // 1000)


def _read_head(tx: ManagedTransaction) -> tuple[int, str] | None:
    row = tx.run(READ_HEAD).single()
    return None if row is None else (row["seq"], row["hash"])


def _has_events(tx: ManagedTransaction) -> bool:
    return tx.run(ANY_EVENT).single() is not None


def _dated(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for event in events:
        event["at"] = _utc(event.pop("at_s"), event.pop("at_ns"))
    return events


def _stream(tx: ManagedTransaction, *, after: int, upto: int, batch: int) -> list[dict[str, Any]]:
    return _dated(tx.run(STREAM_EVENTS, after=after, upto=upto, batch=batch).single(strict=True)["events"])


def read_checkpoint(tx: ManagedTransaction) -> Checkpoint | None:
    """The last verified point, if a recorded run set one."""
    row = tx.run(READ_CHECKPOINT).single()
    if row is None:
        return None
    full_at = row["full_at"]
    return Checkpoint(row["seq"], row["hash"], row["verified_at"].to_native(),
                      full_at.to_native() if full_at is not None else None, row["event_hash"])


def _recorded_as(event: Mapping[str, Any], head_seq: int) -> int | None:
    """The seq an event was hashed with, if moved: nearest candidates first, only on failure."""
    here = event["seq"]
    for distance in range(1, head_seq):
        for seq in (here + distance, here - distance):
            if 1 <= seq <= head_seq and chain_hash(event["prev_hash"], {**event, "seq": seq}) == event["hash"]:
                return seq
    return None


def _check(event: Mapping[str, Any], head_seq: int, linked: bool) -> _Problem | None:
    """What is wrong with one event on its own: its payload against its digest, its hash, its index entries."""
    seq = event["seq"]
    if event.get("scheme") not in (None, SCHEME):
        return _Problem("edited", seq, f"the event at seq {seq} has an unknown scheme {event.get('scheme')!r}")
    if event.get("scheme") == SCHEME and (why := payload_problem(event)) is not None:
        return _Problem("edited", seq, f"the event at seq {seq} does not match its payload digest: {why}")
    if chain_hash(event["prev_hash"], event) != event["hash"]:
        moved = None if linked else _recorded_as(event, head_seq)
        if moved is not None:
            return _Problem("reordered", seq, f"seq {seq} holds the event recorded as seq {moved}")
        return _Problem("edited", seq, f"the event at seq {seq} does not match its hash")
    if event["unindexed"]:
        return _Problem("unindexed", seq, f"the event at seq {seq} has no access-index entry for "
                                          f"{len(event['unindexed'])} of the children it names")
    return None


def _walk(events: Iterator[dict[str, Any]], head_seq: int, *, start: int = 1,
          prev_hash: str = GENESIS) -> tuple[int, str, _Problem | None]:
    """Check each event against its digest, its hash and its predecessor: (events verified, last hash, problem)."""
    expected_seq, verified = start, 0
    for event in events:
        seq = event["seq"]
        if seq != expected_seq:
            gone = str(expected_seq) if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            return verified, prev_hash, _Problem("removed", expected_seq,
                                                 f"seq {gone} missing (seq {seq} follows seq {expected_seq - 1})")
        linked = event["prev_hash"] == prev_hash
        if (problem := _check(event, head_seq, linked)) is not None:
            return verified, prev_hash, problem
        if not linked:
            return verified, prev_hash, _Problem(
                "relinked", seq, f"the event at seq {seq} does not follow the hash of seq {seq - 1} "
                "(an event rewritten with a new hash, or removed and the rest renumbered)")
        expected_seq, prev_hash, verified = seq + 1, event["hash"], verified + 1
    return verified, prev_hash, None


def _recheck(events: list[dict[str, Any]], head_seq: int) -> _Problem | None:
    """Events redacted since the checkpoint: each still matches its hash, and its successor still links to it."""
    for event in sorted(events, key=lambda e: e["seq"]):
        if (problem := _check(event, head_seq, linked=True)) is not None:
            return problem
        if event["next_prev_hash"] is not None and event["next_prev_hash"] != event["hash"]:
            return _Problem("relinked", event["seq"] + 1, f"the event at seq {event['seq'] + 1} does not follow "
                                                          f"the hash of seq {event['seq']}")
    return None


def _redactions(tx: ManagedTransaction) -> tuple[dict[str, int], int, _Problem | None]:
    """Redacted events by reason, runs left incomplete, and the first redaction no run accounts for."""
    by_reason: Counter[str] = Counter()
    incomplete, problem = 0, None
    for row in tx.run(REDACTION_RUNS):
        by_reason[row["reason"]] += row["events"]
        detail = json.loads(row["detail"]) if row["action"] == REDACT_ACTION and row["detail"] else None
        if detail is None or detail.get("reason") != row["reason"] or row["last"] >= row["run"]:
            problem = problem or _Problem("redaction", row["first"], f"the event at seq {row['first']} was redacted "
                                          f"citing seq {row['run']}, which is no redaction run before it for "
                                          f"{row['reason']!r}")
        elif row["events"] > detail.get("events", 0):
            problem = problem or _Problem("redaction", row["first"], f"{row['events']} events cite the redaction run "
                                          f"at seq {row['run']}, which redacted {detail.get('events', 0)}")
        elif row["events"] < detail.get("events", 0):
            incomplete += 1
    return dict(sorted(by_reason.items())), incomplete, problem


def _write_checkpoint(tx: ManagedTransaction, *, seq: int, hash: str, full: bool) -> None:
    tx.run(WRITE_CHECKPOINT, seq=seq, hash=hash, full=full, now=datetime.now(timezone.utc)).consume()


def verify(
    driver: Driver,
    *,
    database: str,
    batch: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
    incremental: bool = False,
    record: bool = False,
) -> VerifyResult:
    """Recompute the chain in seq order, in batches, and report the first problem precisely.

    The head is read first, so events appended while this runs are left for the next run.
    `progress(done, total)` is called after each batch (seqs). With `incremental`, start from the
    checkpoint (a full run when there is none). With `record`, a good run moves the checkpoint to the head.
    """
    started = time.perf_counter()
    with driver.session(database=database) as session:
        head = session.execute_read(_read_head)
        if head is None:
            took = time.perf_counter() - started
            if session.execute_read(_has_events):
                return VerifyResult(False, 0, 0, "", took, "head_missing",
                                    problem="head_missing: events exist but the audit head is gone")
            return VerifyResult(True, 0, 0, GENESIS, took)
        head_seq, head_hash = head
        mark = session.execute_read(read_checkpoint) if incremental else None
        start, prev_hash = (mark.seq + 1, mark.hash) if mark is not None else (1, GENESIS)
        mode = "incremental" if mark is not None else "full"

        def events() -> Iterator[dict[str, Any]]:
            # The next batch is read (on one worker thread, the session's only user meanwhile) while this
            # one is hashed: the database's work and Python's overlap.
            with ThreadPoolExecutor(1, thread_name_prefix="audit-verify-read") as reader:
                after = start - 1
                ahead = reader.submit(session.execute_read, _stream, after=after, upto=head_seq, batch=batch)
                while after < head_seq:
                    rows = ahead.result()
                    if not rows:
                        return
                    after = rows[-1]["seq"]
                    if after < head_seq:
                        ahead = reader.submit(session.execute_read, _stream, after=after, upto=head_seq, batch=batch)
                    yield from rows
                    if progress is not None:
                        progress(after, head_seq)

        rechecked, problem = 0, _stale(mark, head_seq)
        if problem is None and mark is not None:
            redacted_since = session.execute_read(
                lambda tx: _dated(tx.run(REDACTED_SINCE, after=mark.seq).single(strict=True)["events"]))
            rechecked, problem = len(redacted_since), _recheck(redacted_since, head_seq)
        verified, last_hash = 0, prev_hash
        if problem is None:
            stream = events()
            try:
                verified, last_hash, problem = _walk(stream, head_seq, start=start, prev_hash=prev_hash)
            finally:
                stream.close()  # a read still ahead ends before the session is used again
        redacted, incomplete, unaccounted = session.execute_read(_redactions)
        if problem is None and verified != head_seq - start + 1:
            problem = _Problem("truncated", start + verified, f"the head is at seq {head_seq} but the last event "
                                                              f"is seq {start + verified - 1}: events at the end "
                                                              "were removed")
        elif problem is None and last_hash != head_hash:
            problem = _Problem("truncated", head_seq,
                               f"the head does not match the hash of the last event (seq {head_seq})")
        problem = problem or unaccounted
        if problem is None and record:
            session.execute_write(_write_checkpoint, seq=head_seq, hash=head_hash, full=mark is None)
    took = time.perf_counter() - started
    common = {"mode": mode, "from_seq": start - 1, "redacted": redacted, "rechecked": rechecked,
              "incomplete_redactions": incomplete}
    if problem is None:
        return VerifyResult(True, verified, head_seq, head_hash, took, **common)
    return VerifyResult(False, verified, head_seq, head_hash, took, problem.kind, problem.seq,
                        f"{problem.kind}: {problem.message}", **common)


def _stale(mark: Checkpoint | None, head_seq: int) -> _Problem | None:
    """What an incremental run finds wrong with its starting point before reading on."""
    if mark is None:
        return None
    if mark.seq > head_seq:
        return _Problem("truncated", head_seq + 1, f"seq {mark.seq} was verified, but the head is now at seq "
                                                   f"{head_seq}: events at the end were removed")
    if mark.seq > 0 and mark.event_hash != mark.hash:
        return _Problem("edited", mark.seq, f"the event at seq {mark.seq} no longer has the hash verified at "
                                            f"{mark.verified_at.isoformat(timespec='seconds')}: run a full "
                                            "verification")
    return None
