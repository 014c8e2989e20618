"""Load a folder of feeds: validate every row, reject the bad ones with a reason, upsert the rest."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from neo4j import Driver

from graph import admission, alerts, ingest, shielding
from graph.cohort import Scope
from graph.identity import models as identity_models
from graph.identity import rows as identity_rows
from graph.identity import run as identity_run
from graph.identity import store as identity_store
from graph.instants import uk_today
from loaders.cohort import targeted_cohort
from loaders.feeds import FEEDS, FEEDS_BY_NAME, ChildRef, FeedSpec
from loaders.feedrows import (KEYS, MAX_FIELD_CHARS, FeedError, Rejects, count_lines, raw_text, read_rows,
                              validate_row)

__all__ = ["KEYS", "MAX_FIELD_CHARS", "FeedError", "FeedResult", "LoadReport", "Rejects", "load_dir", "load_feed",
           "load_rows", "match_into", "raw_text", "read_rows", "validate_row"]

# The feeds that name a child: by child_id, or by the record a source sent (source_id, local_id), which the
# loader resolves to the child that record identifies before the upsert (one look-up per batch).
CHILD_FEEDS = frozenset(spec.name for spec in FEEDS if issubclass(spec.model, ChildRef))
MATCH_AFTER = "person_records"  # matching runs once this feed is loaded, before the relationship feeds

Progress = Callable[[str, int, int], None]
Matcher = Callable[[], Any]



@dataclass
class FeedResult:
    """What happened to one feed file."""

    feed: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    out_of_scope: int = 0  # targeted mode: rows about children the directory does not hold (graph/admission.py)
    readmitted: int = 0  # children destroyed on leaving the targeted cohort, admitted again as in scope
    seconds: float = 0.0
    error: str | None = None
    kept: int = 0  # involvement rows that met a self-recorded involvement or a chosen lead (docs/feeds.md)
    alerts: int = 0  # emergency_attendance alerts raised as the attendances were written (docs/alerts.md)

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class LoadReport:
    """The summary of a load: one result per feed, where the rejects went, and the matching run (if any)."""

    results: list[FeedResult] = field(default_factory=list)
    rejects_path: Path | None = None
    missing: list[str] = field(default_factory=list)
    matching: Any = None  # graph.identity.run.RunSummary of the run after person_records
    matching_error: str | None = None
    scope: Scope = field(default_factory=Scope)

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.results)

    @property
    def out_of_scope(self) -> int:
        return sum(r.out_of_scope for r in self.results)

    @property
    def readmitted(self) -> int:
        return sum(r.readmitted for r in self.results)

    @property
    def loaded(self) -> int:
        return sum(r.loaded for r in self.results)

    @property
    def alerts(self) -> int:
        return sum(r.alerts for r in self.results)

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.results)



def resolve_children(session: Any, rows: list[dict[str, Any]], *,
                     targeted: bool = False) -> tuple[dict[int, str], set[int]]:
    """Name each row's child by directory id: a row naming a source record gets the child that record identifies
    now (and `via`, the record's key, so the relationship can follow the record). Gives the lines that name a
    record unknown, destroyed under the retention rules or not yet matched, with the reason; and, in targeted mode,
    the lines naming a record the directory does not hold (out of scope, as for an unknown child_id:
    graph/admission.py). One or two reads per batch."""
    named = {row["line"]: identity_rows.record_key(row["source_id"], row["local_id"])
             for row in rows if row.get("child_id") is None}
    found = session.execute_read(identity_store.children_of_records, keys=sorted(set(named.values()))) if named else {}
    unknown = sorted({key for key in named.values() if key not in found})
    gone = session.execute_read(admission.record_tombstones, keys=unknown) if unknown else {}
    reasons: dict[int, str] = {}
    unheld: set[int] = set()
    for row in rows:
        key = named.get(row["line"])
        if key is None:
            row["via"] = None
        elif key in gone and not (targeted and gone[key]["rule"] == "cohort"):
            reasons[row["line"]] = admission.destroyed_record_reason(key, gone[key])
        elif key not in found and targeted:
            unheld.add(row["line"])
        elif key not in found:
            reasons[row["line"]] = f"no person record {key}: send it in person_records.csv first"
        elif found[key] is None:
            reasons[row["line"]] = (f"person record {key} is not matched to a child yet "
                                    "(see the rejects of person_records.csv, or run `contactpoint match run`)")
        else:
            row["child_id"], row["via"] = found[key], key
    return reasons, unheld


_Batch = tuple[list[dict[str, Any]], dict[int, list[str]]]
_OnRejects = Callable[[dict[int, str], dict[int, list[str]]], None]


class _Writer(threading.Thread):
    """Writes batches in the background so parsing and Neo4j work overlap."""

    def __init__(self, driver: Driver, database: str, feed: str, file: str, on_rejects: _OnRejects, as_of: date,
                 cohort: admission.Cohort | None = None):
        super().__init__(daemon=True, name=f"writer-{feed}")
        self.driver, self.database, self.feed, self.file, self.on_rejects = driver, database, feed, file, on_rejects
        self.as_of, self.cohort = as_of, cohort
        self.batches: queue.Queue[_Batch | None] = queue.Queue(maxsize=4)
        self.written = self.kept = self.alerts = self.out_of_scope = self.readmitted = 0
        self.failure: BaseException | None = None
        self.request_id = str(uuid.uuid4())  # the audit events of this file's shielding decisions share it

    def _write(self, tx: Any, batch: list[dict[str, Any]]) -> tuple[set[int], dict[int, str], admission.Screened,
                                                                      int, int]:
        """In one transaction: screen the batch (retention and scope), then write what may be stored. Gives the lines
        written, those refused with a reason, the screening, the involvement rows kept from changing what feeds do
        not change, and the alerts the attendances written raised at once (counted by the caller, as a retried
        transaction function runs again)."""
        screened = admission.screen(tx, feed=self.feed, rows=batch, cohort=self.cohort)
        refused = dict(screened.refused)
        if not screened.rows:
            return set(), refused, screened, 0, 0
        if self.feed == "shielding":  # each decision as the API makes it: locked, checked, audited
            written, decided = shielding.apply_feed(tx, rows=screened.rows, file=self.file, request_id=self.request_id)
            return written, refused | decided, screened, 0, 0
        rows = screened.rows
        kept = len(ingest.kept_involvements(tx, rows=rows)) if self.feed == "involvements" else 0
        written = ingest.upsert(tx, feed=self.feed, rows=rows)
        raised = 0
        if self.feed == "attendances" and written:
            raised = alerts.raise_for_attendances(tx, rows=[r for r in rows if r["line"] in written],
                                                  as_of=self.as_of, load_id=self.request_id)
        return written, refused, screened, kept, raised

    def run(self) -> None:
        with self.driver.session(database=self.database) as session:
            while (item := self.batches.get()) is not None:
                if self.failure is not None:
                    continue
                batch, raws = item
                try:
                    unresolved, unheld = resolve_children(session, batch, targeted=self.cohort is not None) \
                        if self.feed in CHILD_FEEDS else ({}, set())
                    if unresolved:
                        self.on_rejects(unresolved, raws)
                    self.out_of_scope += len(unheld)
                    batch = [row for row in batch if row["line"] not in unresolved and row["line"] not in unheld]
                    written, reasons, screened, kept, raised = session.execute_write(self._write, batch) if batch \
                        else (set(), {}, admission.Screened([]), 0, 0)
                    self.written += len(written)
                    self.kept += kept
                    self.alerts += raised
                    self.out_of_scope += len(screened.out_of_scope)
                    self.readmitted += len(screened.readmitted)
                    unwritten = [row for row in batch if row["line"] not in written and row["line"] not in reasons
                                 and row["line"] not in screened.out_of_scope]
                    if unwritten:
                        reasons |= session.execute_read(ingest.explain_unwritten, feed=self.feed, rows=unwritten)
                    if reasons:
                        self.on_rejects(reasons, raws)
                except BaseException as exc:  # surfaced to the caller after the queue drains
                    self.failure = exc


Rows = Iterable[tuple[int, dict[str, Any] | None, str | None, list[str]]]


def load_feed(
    driver: Driver,
    spec: FeedSpec,
    path: Path,
    *,
    database: str,
    rejects: Rejects,
    batch_size: int = 5000,
    progress: Progress | None = None,
    as_of: date | None = None,
    cohort: admission.Cohort | None = None,
) -> FeedResult:
    """Validate and upsert one feed file in batches; bad rows go to the rejects file.

    Attendances raise their emergency_attendance alerts as they are written, over the year up to `as_of`
    (default today), as a scan as of that day would. With a `cohort` (targeted mode) rows about children outside
    it are counted as out of scope and not stored.
    """
    return load_rows(driver, spec, read_rows(spec, path), filename=path.name, total=count_lines(path),
                     database=database, rejects=rejects, batch_size=batch_size, progress=progress, as_of=as_of,
                     cohort=cohort)


def load_rows(
    driver: Driver,
    spec: FeedSpec,
    rows: Rows,
    *,
    filename: str,
    total: int,
    database: str,
    rejects: Rejects,
    batch_size: int = 5000,
    progress: Progress | None = None,
    as_of: date | None = None,
    label: str | None = None,
    cohort: admission.Cohort | None = None,
) -> FeedResult:
    """Upsert rows of one feed in batches: (line, validated row or None, reject reason, raw fields) each, as
    `read_rows` yields them or as another reader (the SSD import) builds them; rejects name `filename`.
    Progress and the result are reported under `label` (default the feed's name)."""
    result = FeedResult(label or spec.name)
    counting = threading.Lock()
    started = time.perf_counter()

    def reject(line: int, reason: str, fields: list[str]) -> None:
        rejects.add(filename, line, reason, raw_text(fields))
        with counting:
            result.rejected += 1

    def on_rejects(reasons: dict[int, str], raws: dict[int, list[str]]) -> None:
        for line, reason in sorted(reasons.items()):
            reject(line, reason, raws[line])

    writer = _Writer(driver, database, spec.name, filename, on_rejects, as_of or uk_today(), cohort)
    writer.start()
    batch: list[dict[str, Any]] = []
    raws: dict[int, list[str]] = {}
    try:
        for line, row, reason, fields in rows:
            result.read += 1
            if row is None:
                reject(line, reason or "invalid", fields)
            else:
                batch.append(row)
                raws[line] = fields
                if len(batch) >= batch_size:
                    if writer.failure is not None:
                        break
                    writer.batches.put((batch, raws))
                    batch, raws = [], {}
            if progress is not None and result.read % 1000 == 0:
                progress(result.feed, result.read, total)
        if batch and writer.failure is None:
            writer.batches.put((batch, raws))
    finally:
        writer.batches.put(None)
        writer.join()
    if writer.failure is not None:
        raise writer.failure
    result.loaded, result.kept, result.alerts = writer.written, writer.kept, writer.alerts
    result.out_of_scope, result.readmitted = writer.out_of_scope, writer.readmitted
    result.seconds = time.perf_counter() - started
    if progress is not None:
        progress(result.feed, result.read, max(total, result.read))
    return result


def load_dir(
    driver: Driver,
    directory: Path,
    *,
    database: str,
    rejects_path: Path | None = None,
    batch_size: int = 5000,
    progress: Progress | None = None,
    only: list[str] | None = None,
    as_of: date | None = None,
    matcher: Matcher | None = None,
    scope: Scope | None = None,
) -> LoadReport:
    """Load every known feed present in a folder, in dependency order (`as_of` as for `load_feed`).

    Once person_records is loaded (or before the relationship feeds, if records wait from an earlier load),
    the pending person records are matched: `matcher()` if given (the CLI's, with progress), else
    graph.identity.run.match_pending with its defaults. A matching error is reported, not raised: rows naming
    a record it left unmatched are then rejected with the reason.

    In targeted mode (`scope`) the folder's plans decide the cohort before any row is written (loaders/cohort.py):
    a child outside it is never stored, not even for the minutes until its plans are read; nor is a person
    record about one (graph/admission.py says which records are in scope).
    """
    if not directory.is_dir():
        raise FeedError(f"{directory}: no such folder of feeds")
    specs = [s for s in FEEDS if only is None or s.name in only]
    present = [s for s in specs if (directory / s.filename).is_file()]
    if not present:
        expected = ", ".join(s.filename for s in specs)
        raise FeedError(f"{directory}: no feed files found (expected any of: {expected})")
    report = LoadReport(rejects_path=rejects_path or directory / "rejects.csv", scope=scope or Scope())
    report.missing = [s.filename for s in specs if s not in present]
    matched = False
    cohort = targeted_cohort(driver, directory, database=database, scope=report.scope) if report.scope.targeted else None
    with Rejects(report.rejects_path) as rejects:
        for spec in present:
            if not matched and FEEDS.index(spec) > FEEDS.index(FEEDS_BY_NAME[MATCH_AFTER]):
                matched = True
                match_into(driver, database, report, matcher)
            try:
                result = load_feed(
                    driver, spec, directory / spec.filename,
                    database=database, rejects=rejects, batch_size=batch_size, progress=progress, as_of=as_of,
                    cohort=cohort,
                )
            except FeedError as exc:  # the whole file is refused: one line in the rejects says why
                result = FeedResult(spec.name, error=str(exc))
                rejects.add(spec.filename, 1, f"file refused, no row loaded: {exc}", "")
            report.results.append(result)
        if not matched:
            match_into(driver, database, report, matcher)
    return report


def match_into(driver: Driver, database: str, report: LoadReport, matcher: Matcher | None) -> None:
    """Match the pending person records, if there are any; the outcome goes into the report."""
    if identity_run.pending_count(driver, database=database) == 0:
        return
    try:
        report.matching = matcher() if matcher is not None else identity_run.match_pending(driver, database=database)
    except identity_models.MatchError as exc:
        report.matching_error = str(exc)
