"""Load a folder of feeds: validate every row, reject the bad ones with a reason, upsert the rest."""

from __future__ import annotations

import csv
import io
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo4j import Driver
from pydantic import ValidationError

from graph import admission, ingest, shielding
from graph.cohort import Scope
from loaders.cohort import targeted_cohort
from loaders.feeds import FEEDS, FeedSpec

# One CSV field may be at most this long; longer ones are rejected, not loaded.
MAX_FIELD_CHARS = 10_000
csv.field_size_limit(1_000_000)

# A field holding bytes that are not UTF-8 decodes to these lone surrogates.
_UNDECODABLE = re.compile("[\udc80-\udcff]")

# Columns that identify a row: a second row with the same key in one file is rejected.
KEYS: dict[str, tuple[str, ...]] = {
    "authorities": ("code",),
    "agencies": ("agency_id",),
    "practitioners": ("practitioner_id",),
    "children": ("child_id",),
    "addresses": ("address_id",),
    "residences": ("child_id", "address_id", "since"),
    "carers": ("carer_id", "child_id", "since"),
    "school_enrolments": ("child_id", "agency_id", "since"),
    "gp_registrations": ("child_id", "agency_id", "since"),
    "involvements": ("practitioner_id", "child_id", "service", "since"),
    "plans": ("child_id", "la_code", "kind", "since"),
    "attendances": ("child_id", "agency_id", "at"),
    "shielding": ("child_id", "decided_on"),
}

Progress = Callable[[str, int, int], None]


class FeedError(Exception):
    """A whole feed file cannot be read (its header is wrong); no row of it is loaded."""


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

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class LoadReport:
    """The summary of a load: one result per feed, and where the rejects went."""

    results: list[FeedResult] = field(default_factory=list)
    rejects_path: Path | None = None
    missing: list[str] = field(default_factory=list)
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


@dataclass
class _Rejects:
    """The rejects file, written as rows are rejected."""

    path: Path
    _writer: Any = None
    _file: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> _Rejects:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8", errors="backslashreplace")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["file", "line", "reason", "row"])
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def add(self, filename: str, line: int, reason: str, raw: str) -> None:
        with self._lock:
            self._writer.writerow([filename, line, reason, raw])


def _raw(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(fields)
    return out.getvalue().rstrip("\r\n")


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return max(count - 1, 0)


def _header(spec: FeedSpec, path: Path, header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    unknown = [n for n in names if n not in spec.columns]
    missing = [n for n in spec.required if n not in names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if unknown:
        problems.append(f"unknown columns {', '.join(unknown)}")
    if missing:
        problems.append(f"missing required columns {', '.join(missing)}")
    if duplicated:
        problems.append(f"repeated columns {', '.join(duplicated)}")
    if problems:
        raise FeedError(f"{path.name} line 1: {'; '.join(problems)} (expected: {', '.join(spec.columns)})")
    return names


def read_rows(spec: FeedSpec, path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, list[str]]]:
    """Yield (line, validated row or None, reject reason or None, raw fields) for each record.

    Raises:
        FeedError: the file is empty or its header names wrong columns.
    """
    keys = KEYS[spec.name]
    seen: dict[tuple[Any, ...], int] = {}
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = _header(spec, path, next(reader))
        except StopIteration:
            raise FeedError(f"{path.name}: the file is empty (a header row is required)") from None
        except csv.Error as exc:
            raise FeedError(f"{path.name} line 1: unreadable header ({exc})") from None
        width = len(header)
        last_line = reader.line_num
        while True:
            line = last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = reader.line_num
                yield line, None, f"malformed CSV ({exc})", []
                continue
            last_line = reader.line_num
            if not fields or fields == [""]:
                continue
            if len(fields) != width:
                yield line, None, f"expected {width} fields, found {len(fields)}", fields
                continue
            joined = "\x1f".join(fields)
            if _UNDECODABLE.search(joined):
                bad = next(name for name, value in zip(header, fields) if _UNDECODABLE.search(value))
                yield line, None, f"{bad}: not valid UTF-8", fields
                continue
            if len(joined) > MAX_FIELD_CHARS and max(map(len, fields)) > MAX_FIELD_CHARS:
                long = next(name for name, value in zip(header, fields) if len(value) > MAX_FIELD_CHARS)
                yield line, None, f"{long}: longer than {MAX_FIELD_CHARS} characters", fields
                continue
            try:  # blank cells are left out, so optional columns take their defaults
                model = spec.model.model_validate({k: v for k, v in zip(header, fields) if v and not v.isspace()})
            except ValidationError as exc:
                yield line, None, _reason(exc), fields
                continue
            row = model.model_dump()
            key = tuple(row[k] for k in keys)
            first = seen.get(key)
            if first is not None:
                yield line, None, f"duplicate {'/'.join(keys)} (first at line {first})", fields
                continue
            seen[key] = line
            row["line"] = line
            if spec.name == "children":  # no former names: no property (as the bulk importer writes it)
                row["former_names"] = list(row["former_names"]) or None
                row["former_names_text"] = " ".join(row["former_names"] or ()) or None
            yield line, row, None, fields


_Batch = tuple[list[dict[str, Any]], dict[int, list[str]]]
_OnRejects = Callable[[dict[int, str], dict[int, list[str]]], None]


class _Writer(threading.Thread):
    """Writes batches in the background so parsing and Neo4j work overlap."""

    def __init__(self, driver: Driver, database: str, feed: str, file: str, on_rejects: _OnRejects,
                 cohort: admission.Cohort | None = None):
        super().__init__(daemon=True, name=f"writer-{feed}")
        self.driver, self.database, self.feed, self.file, self.on_rejects = driver, database, feed, file, on_rejects
        self.cohort = cohort
        self.batches: queue.Queue[_Batch | None] = queue.Queue(maxsize=4)
        self.written = self.out_of_scope = self.readmitted = 0
        self.failure: BaseException | None = None
        self.request_id = str(uuid.uuid4())  # the audit events of this file's shielding decisions share it

    def _write(self, tx: Any, batch: list[dict[str, Any]]) -> tuple[set[int], dict[int, str], admission.Screened]:
        """In one transaction: screen the batch (retention and scope), then write what may be stored. Gives the lines
        written, those refused with a reason, and the screening."""
        screened = admission.screen(tx, feed=self.feed, rows=batch, cohort=self.cohort)
        refused = dict(screened.refused)
        if not screened.rows:
            return set(), refused, screened
        if self.feed == "shielding":  # each decision as the API makes it: locked, checked, audited
            written, decided = shielding.apply_feed(tx, rows=screened.rows, file=self.file, request_id=self.request_id)
            return written, refused | decided, screened
        return ingest.upsert(tx, feed=self.feed, rows=screened.rows), refused, screened

    def run(self) -> None:
        with self.driver.session(database=self.database) as session:
            while (item := self.batches.get()) is not None:
                if self.failure is not None:
                    continue
                batch, raws = item
                try:
                    written, reasons, screened = session.execute_write(self._write, batch)
                    self.written += len(written)
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


def load_feed(
    driver: Driver,
    spec: FeedSpec,
    path: Path,
    *,
    database: str,
    rejects: _Rejects,
    batch_size: int = 5000,
    progress: Progress | None = None,
    cohort: admission.Cohort | None = None,
) -> FeedResult:
    """Validate and upsert one feed file in batches; bad rows go to the rejects file.

    With a `cohort` (targeted mode) rows about children outside it are counted as out of scope and not stored.
    """
    result = FeedResult(spec.name)
    counting = threading.Lock()
    started = time.perf_counter()
    total = _count_lines(path)

    def reject(line: int, reason: str, fields: list[str]) -> None:
        rejects.add(path.name, line, reason, _raw(fields))
        with counting:
            result.rejected += 1

    def on_rejects(reasons: dict[int, str], raws: dict[int, list[str]]) -> None:
        for line, reason in sorted(reasons.items()):
            reject(line, reason, raws[line])

    writer = _Writer(driver, database, spec.name, path.name, on_rejects, cohort)
    writer.start()
    batch: list[dict[str, Any]] = []
    raws: dict[int, list[str]] = {}
    try:
        for line, row, reason, fields in read_rows(spec, path):
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
                progress(spec.name, result.read, total)
        if batch and writer.failure is None:
            writer.batches.put((batch, raws))
    finally:
        writer.batches.put(None)
        writer.join()
    if writer.failure is not None:
        raise writer.failure
    result.loaded, result.out_of_scope, result.readmitted = writer.written, writer.out_of_scope, writer.readmitted
    result.seconds = time.perf_counter() - started
    if progress is not None:
        progress(spec.name, result.read, max(total, result.read))
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
    scope: Scope | None = None,
) -> LoadReport:
    """Load every known feed present in a folder, in dependency order.

    In targeted mode (`scope`) the folder's plans decide the cohort before any row is written (loaders/cohort.py):
    a child outside it is never stored, not even for the minutes until its plans are read.
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
    cohort = targeted_cohort(driver, directory, database=database, scope=report.scope) if report.scope.targeted else None
    with _Rejects(report.rejects_path) as rejects:
        for spec in present:
            try:
                result = load_feed(
                    driver, spec, directory / spec.filename,
                    database=database, rejects=rejects, batch_size=batch_size, progress=progress, cohort=cohort,
                )
            except FeedError as exc:  # the whole file is refused: one line in the rejects says why
                result = FeedResult(spec.name, error=str(exc))
                rejects.add(spec.filename, 1, f"file refused, no row loaded: {exc}", "")
            report.results.append(result)
    return report
