"""Verification as a background job: one run at a time across processes, its progress and its result stored.

At national volume (ContactPoint's ~73M events a year) a full verification takes hours, so no request
runs one: `Verifier.start` runs `verify` on a thread of its own and returns at once. The run takes a
lease on `(:AuditVerification {id: 'latest'})` first, so that only one runs whichever API process (or
command) started it; its heartbeat, progress and, once it ends, its result are stored there, and anyone
reads them with `status`. A lease whose heartbeat stopped (its process died) is taken over after
STALE_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph.audit.form import native
from graph.audit.verification import VerifyResult, verify

_log = logging.getLogger("contactpoint.audit")
STALE_SECONDS = 120
CLAIM = """
MERGE (v:AuditVerification {id: 'latest'})
WITH v WHERE coalesce(v.state, 'idle') <> 'running' OR v.heartbeat_at < datetime() - duration({seconds: $stale})
SET v.state = 'running', v.run_id = $run_id, v.mode = $mode, v.by = $by, v.started_at = datetime(),
    v.heartbeat_at = datetime(), v.done = 0, v.total = null
RETURN v.run_id AS run_id
"""
BEAT = """
MATCH (v:AuditVerification {id: 'latest'}) WHERE v.run_id = $run_id
SET v.done = $done, v.total = $total, v.heartbeat_at = datetime()
"""
FINISH = """
MATCH (v:AuditVerification {id: 'latest'}) WHERE v.run_id = $run_id
SET v.state = 'idle', v.heartbeat_at = datetime(), v.error = $error,
    v.result_json = coalesce($result, v.result_json), v.finished_at = CASE WHEN $result IS NULL THEN v.finished_at
                                                                        ELSE datetime() END
"""
STATUS = """
OPTIONAL MATCH (v:AuditVerification {id: 'latest'})
OPTIONAL MATCH (c:AuditCheckpoint {id: 'checkpoint'})
RETURN v {.state, .mode, .by, .started_at, .heartbeat_at, .done, .total, .error, .result_json, .finished_at} AS run,
       c {.seq, .verified_at, .full_at} AS checkpoint,
       v.state = 'running' AND v.heartbeat_at < datetime() - duration({seconds: $stale}) AS stale
"""


class _Stopped(Exception):
    """The verifier is closing: the run stops after its current batch."""


@dataclass(frozen=True)
class Status:
    """What the stored verification says: the last finished run, the one running (if any), the checkpoint."""

    state: str  # "never" (no run finished or running), "idle", "running"
    last: dict[str, Any] | None  # the last finished run's VerifyResult, with finished_at
    running: dict[str, Any] | None  # mode, by, started_at, done, total
    checkpoint: dict[str, Any] | None  # seq, verified_at, full_at
    error: str | None = None  # why the last run stopped without a result, if it did


def _iso(value: Any) -> str | None:
    return None if value is None else native(value).isoformat()


def status(tx: ManagedTransaction) -> Status:
    """The stored state of verification (a read; any process may ask)."""
    row = tx.run(STATUS, stale=STALE_SECONDS).single(strict=True)
    run, mark = row["run"] or {}, row["checkpoint"]
    last = json.loads(run["result_json"]) if run.get("result_json") else None
    if last is not None:
        last["finished_at"] = _iso(run.get("finished_at"))
    running = None
    if run.get("state") == "running" and not row["stale"]:
        running = {"mode": run["mode"], "by": run["by"], "started_at": _iso(run["started_at"]), "done": run["done"],
                   "total": run["total"]}
    state = "running" if running else ("idle" if last is not None else "never")
    checkpoint = None if mark is None else {"seq": mark["seq"], "verified_at": _iso(mark["verified_at"]),
                                            "full_at": _iso(mark["full_at"])}
    return Status(state, last, running, checkpoint, run.get("error"))


def result_json(result: VerifyResult) -> str:
    """A run's result as stored."""
    return json.dumps({**asdict(result), "events_per_second": round(result.events_per_second, 1)})


class Busy(Exception):
    """Another run holds the lease: it goes on, and this one does not start."""


def run(driver: Driver, *, database: str, full: bool, by: str, batch: int = 10_000,
        progress: Callable[[int, int], None] | None = None, beat_seconds: float = 2.0,
        stop: threading.Event | None = None) -> VerifyResult:
    """Take the lease, verify (from the checkpoint, or `full`), store the result and the heartbeat as it goes.

    `stop`, once set, ends the run after its current batch with no result stored (the last one stays).

    Raises:
        Busy: another run holds the lease.
        Whatever verify raised (stored as the run's error first).
    """
    run_id = str(uuid.uuid4())
    with driver.session(database=database) as session:
        claimed = session.execute_write(lambda tx: tx.run(
            CLAIM, run_id=run_id, mode="full" if full else "incremental", by=by, stale=STALE_SECONDS).single())
        if claimed is None:
            raise Busy("a verification is already running")
        last = [0.0]

        def beat(done: int, total: int) -> None:
            if stop is not None and stop.is_set():
                raise _Stopped
            if progress is not None:
                progress(done, total)
            if time.monotonic() - last[0] >= beat_seconds:
                last[0] = time.monotonic()
                session.execute_write(lambda tx: tx.run(BEAT, run_id=run_id, done=done, total=total).consume())

        result: VerifyResult | None = None
        error: str | None = "stopped: the process verifying was shut down"
        try:
            result = verify(driver, database=database, batch=batch, progress=beat, incremental=not full, record=True)
            error = None
            return result
        except _Stopped:
            raise Busy("stopped") from None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            with contextlib.suppress(Exception):  # if the database went away, the lease goes stale instead
                session.execute_write(lambda tx: tx.run(
                    FINISH, run_id=run_id, result=None if result is None else result_json(result),
                    error=error).consume())


class Verifier:
    """Runs verification in the background for one process (the API's), one run at a time everywhere."""

    def __init__(self, driver: Driver, *, database: str, batch: int = 10_000, beat_seconds: float = 2.0) -> None:
        self._driver, self._database, self._batch, self._beat = driver, database, batch, beat_seconds
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self, *, full: bool = False, by: str = "system") -> bool:
        """Start a run (incremental from the checkpoint, or full) unless this process is already running one.

        Returns at once; whether it then runs depends on the lease (another process's run goes on instead).
        """
        with self._lock:
            if self._closing.is_set() or (self._thread is not None and self._thread.is_alive()):
                return False
            self._thread = threading.Thread(target=self._run, args=(full, by), name="audit-verify", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for this process's run, if any, to end."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the run after its current batch (it stores no result) and wait for it."""
        self._closing.set()
        self.wait(timeout)

    def _run(self, full: bool, by: str) -> None:
        try:
            run(self._driver, database=self._database, full=full, by=by, batch=self._batch,
                beat_seconds=self._beat, stop=self._closing)
        except Busy:
            pass
        except Exception:  # noqa: BLE001 (stored with the run for auditors to see; logged here)
            _log.warning("audit verification failed", exc_info=True)
