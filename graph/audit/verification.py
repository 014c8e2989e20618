"""Verifying the trail: recompute the hash chain in seq order and name the first problem precisely."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.audit.chain import GENESIS, READ_HEAD, chain_hash

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
                  .request_id, .client_request_id, .outcome, .flagged, .detail_json, .prev_hash, .hash,
                  at_s: CASE WHEN dated THEN e.at.epochSeconds END,
                  at_ns: CASE WHEN dated THEN e.at.nanosecond END}) AS events
"""


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
