"""The first national load: Neo4j's bulk importer (neo4j-admin database import full) into the local DBMS's home.

The importer writes a new store into a staging folder of the home. Only once it has finished is the store
moved into place (replacing the old one when overwriting), so a failed or interrupted import leaves the home
as it was. While an import runs, a marker in the home stops the DBMS from starting (graph.local.import_marker).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from graph import local
from graph.config import GraphSettings
from matching.records import BLOCKING_KEYS


@dataclass(frozen=True)
class Group:
    """One file of the import: the nodes of one label, or relationships of one type, and its header row."""

    file: str
    kind: Literal["nodes", "relationships"]
    name: str
    header: tuple[str, ...]


def _period(start: str, end: str) -> tuple[str, ...]:
    return (f":START_ID({start})", f":END_ID({end})", "since:date", "until:date")


# The graph graph/ingest.py writes, as importer headers: the same labels and key properties (an ID column
# named after the key becomes that property), the same property names and types, and the same
# relationship types and directions. An empty cell is no property, as a blank optional cell is online.
GROUPS: tuple[Group, ...] = (
    Group("authorities.csv", "nodes", "LocalAuthority",
          ("code:ID(LocalAuthority)", "name", "region", "team_phone", "team_email")),
    Group("agencies.csv", "nodes", "Agency", ("id:ID(Agency)", "name", "kind", "phone", "email", "la_code")),
    Group("practitioners.csv", "nodes", "Practitioner", ("id:ID(Practitioner)", "name", "job_title", "phone", "email")),
    Group("children.csv", "nodes", "Child",
          ("id:ID(Child)", "given_name", "family_name", "former_names:string[]", "former_names_text", "dob:date",
           "gender", "nhs_number", "upn", "la_child_id", "status", "shielded:boolean", "shield_decided_on:date")),
    Group("addresses.csv", "nodes", "Address",
          ("id:ID(Address)", "line1", "line2", "town", "postcode", "la_code", "easting:long", "northing:long")),
    Group("carers.csv", "nodes", "Carer", ("id:ID(Carer)", "name", "phone", "email")),
    Group("agency_in.csv", "relationships", "IN", (":START_ID(Agency)", ":END_ID(LocalAuthority)")),
    Group("works_for.csv", "relationships", "WORKS_FOR", (":START_ID(Practitioner)", ":END_ID(Agency)")),
    Group("held_by.csv", "relationships", "HELD_BY", (":START_ID(Child)", ":END_ID(LocalAuthority)")),
    Group("address_in.csv", "relationships", "IN", (":START_ID(Address)", ":END_ID(LocalAuthority)")),
    Group("lived_at.csv", "relationships", "LIVED_AT", _period("Child", "Address")),
    Group("cares_for.csv", "relationships", "CARES_FOR",
          (":START_ID(Carer)", ":END_ID(Child)", "since:date", "until:date", "relationship",
           "parental_responsibility:boolean")),
    Group("enrolled_at.csv", "relationships", "ENROLLED_AT", _period("Child", "Agency")),
    Group("registered_with.csv", "relationships", "REGISTERED_WITH", _period("Child", "Agency")),
    Group("involved_with.csv", "relationships", "INVOLVED_WITH",
          (":START_ID(Practitioner)", ":END_ID(Child)", "service", "since:date", "until:date", "lead:boolean",
           "sensitive:boolean", "consent:boolean")),
    Group("has_plan.csv", "relationships", "HAS_PLAN",
          (":START_ID(Child)", ":END_ID(LocalAuthority)", "kind", "since:date", "until:date")),
    # A UTC instant written with its Z (graph.instants): a zoned DATETIME, as the online loader stores it.
    Group("attended.csv", "relationships", "ATTENDED",
          (":START_ID(Child)", ":END_ID(Agency)", "at:datetime", "reason")),
    Group("shielded_by.csv", "relationships", "SHIELDED_BY",
          (":START_ID(Child)", ":END_ID(LocalAuthority)", "since:date", "reason", "by")),
    # The directory's own record of each child (graph.identity.rows.directory_rows), as children.csv makes online.
    Group("sources.csv", "nodes", "Source", ("id:ID(Source)", "kind", "name", "registered_at:datetime")),
    Group("source_records.csv", "nodes", "SourceRecord",
          ("key:ID(SourceRecord)", "source_id", "local_id", "given_name", "family_name", "other_names:string[]",
           "dob:date", "sex", "nhs_number", "upn", "council_person_id", "nhs_number_valid:boolean",
           "upn_valid:boolean", "fingerprint", *BLOCKING_KEYS, "match_state", "received:datetime",
           "changed:datetime")),
    Group("record_from.csv", "relationships", "FROM", (":START_ID(SourceRecord)", ":END_ID(Source)")),
    Group("identifies.csv", "relationships", "IDENTIFIES",
          (":START_ID(SourceRecord)", ":END_ID(Child)", "method", "since:datetime")),
)

# With --verbose (the only way it names a bad entry) the importer announces each step ("Relationships, started
# <time>"), shows counts as it goes ("[*Relationships:...]2.81M ∆110K") and ends each with "Done in 46s 130ms".
_STEP = re.compile(r"^(.+?)(?: \d+-\d+/\d+)?, started \d{4}-\d\d-\d\d")
_COUNT = re.compile(r"\]\s*([\d.]+)([KMGT]?) ∆")
_IMPORTED = re.compile(r"^\s+(\d+) (nodes|relationships|properties)\s*$")
# Printed without a line break, so the first step's line starts with it.
_HEAP_WARNING = re.compile(r"^WARNING: heap size .*? Suggested heap size is [\d.]+[KMGT]iB")
_UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
# Its steps as shown here: the two long passes (with counts against the rows expected), the rest as one.
NODES, RELATIONSHIPS, LINKING = "import: nodes", "import: relationships", "import: linking and counts"
_SHOWN = {"Nodes": NODES, "Prepare node index": NODES, "Relationships": RELATIONSHIPS}
_LINKING_STEPS = 11  # in 5.26: degrees, three linking passes, groups (four steps), two count builds

Progress = Callable[[str, int, int], None]


class BulkImportError(Exception):
    """The import cannot run or failed; the message is one line, and the home's store is as it was."""


@dataclass
class ImportResult:
    """What the importer did, and what it cost."""

    seconds: float
    nodes: int = 0
    relationships: int = 0
    properties: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_bytes: int = 0
    store_bytes: int = 0
    log_path: Path | None = None


def store_dirs(settings: GraphSettings, home: Path | None = None) -> tuple[Path, Path]:
    """The database's store and transaction-log folders in a DBMS home (as EmbeddedNeo4j lays it out)."""
    data = (home or settings.home) / "data"
    return data / "databases" / settings.database, data / "transactions" / settings.database


def folder_bytes(path: Path) -> int:
    """Bytes of the files under a folder (0 if it does not exist)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def check_target(settings: GraphSettings, *, overwrite: bool) -> None:
    """Refuse to import into a home whose DBMS runs, is being imported into, or holds a store (unless overwriting).

    Raises:
        BulkImportError: with what to do instead.
    """
    state = local.status(settings)
    if state.running:
        raise BulkImportError(
            f"Neo4j is running on {settings.home} (pid {state.pid}, {state.bolt_uri}): the importer needs the store "
            "to itself; stop it first ('contactpoint neo4j stop' with the same CP_NEO4J_HOME)")
    marker = local.import_marker(settings)
    if marker.exists() and _another_importer(marker):
        raise BulkImportError(f"another bulk import into {settings.home} is running ({marker})")
    store = store_dirs(settings)[0]
    if not overwrite and store.is_dir() and any(store.iterdir()):
        size = folder_bytes(store) / 1e9
        raise BulkImportError(
            f"{settings.home} already holds database '{settings.database}' ({size:.2f} GB in {store}): "
            "pass --overwrite to replace it, or choose another home")


def _another_importer(marker: Path) -> bool:
    """Whether the process that wrote the marker still runs and is not this one (else the marker is stale)."""
    try:
        pid = int(marker.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return pid != os.getpid()


def import_store(
    settings: GraphSettings,
    csv_dir: Path,
    *,
    overwrite: bool = False,
    threads: int | None = None,
    heap: str = "2g",
    max_off_heap: str = "4g",
    rows: dict[str, int] | None = None,
    progress: Progress | None = None,
    extra: tuple[Group, ...] = (),
) -> ImportResult:
    """Import the files of GROUPS in csv_dir as the home's database, replacing it only once the import succeeded.

    The DBMS must be stopped. The importer aborts on the first bad entry (a duplicate id, a relationship to a
    missing node, a value that does not parse): nothing is skipped silently. ``rows`` (per file, if known)
    turns the importer's counts into percentages. ``extra`` adds groups of other files (a benchmark's audit
    trail, say).

    Raises:
        BulkImportError: the target is not importable (see check_target), a file is missing, or the importer
            failed (the message names its log).
        LocalNeo4jError: Java is missing, or the jars cannot be fetched.
    """
    local.check_prerequisites(need_maven=False)
    groups = GROUPS + extra
    missing = [g.file for g in groups if not (csv_dir / g.file).is_file()]
    if missing:
        raise BulkImportError(f"{csv_dir}: missing bulk files {', '.join(missing)}")
    dist = local.ensure_installed(settings)
    check_target(settings, overwrite=overwrite)
    marker = local.import_marker(settings)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{os.getpid()} {time.strftime('%F %T')}\n")
    staging = settings.home / "import-staging"
    log_path = settings.home / "logs" / "import.log"
    try:
        check_target(settings, overwrite=overwrite)  # again, now that the marker keeps the DBMS from starting
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        known = rows or {}
        expected = tuple(sum(known.get(g.file, 0) for g in groups if g.kind == kind)
                         for kind in ("nodes", "relationships"))
        result = _run_importer(settings, dist, csv_dir, staging, log_path, threads, heap, max_off_heap, expected,
                               progress, groups)
        _swap_in(settings, staging)
        result.store_bytes = sum(folder_bytes(p) for p in store_dirs(settings))
        result.log_path = log_path
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        marker.unlink(missing_ok=True)


def _command(settings: GraphSettings, dist: Path, csv_dir: Path, staging: Path, threads: int | None, heap: str,
             max_off_heap: str, groups: tuple[Group, ...] = GROUPS) -> list[str]:
    options = [f"--{g.kind}={g.name}={csv_dir / g.file}" for g in groups]
    return local.admin_command(
        dist, heap, "database", "import", "full", settings.database, *options,
        f"--threads={threads or os.cpu_count() or 1}", f"--max-off-heap-memory={max_off_heap}",
        "--bad-tolerance=0", "--skip-bad-relationships=false", "--skip-duplicate-nodes=false",
        f"--report-file={_report_path(settings)}", "--verbose",
    )


def _run_importer(settings: GraphSettings, dist: Path, csv_dir: Path, staging: Path, log_path: Path,
                  threads: int | None, heap: str, max_off_heap: str, expected: tuple[int, int],
                  progress: Progress | None, groups: tuple[Group, ...] = GROUPS) -> ImportResult:
    """Run the importer on the staging home, relaying its steps; its output goes to the log."""
    command = _command(settings, dist, csv_dir, staging, threads, heap, max_off_heap, groups)
    env = {**os.environ, "NEO4J_HOME": str(staging), "NEO4J_CONF": str(staging / "conf")}
    began = time.monotonic()
    relay = _Relay(progress, *expected)
    with log_path.open("w", encoding="utf-8", buffering=1) as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, cwd=staging, text=True, encoding="utf-8", errors="replace")
        sampler = _PeakRss(proc.pid)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                relay.line(line)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            sampler.stop()
    if code != 0:
        raise BulkImportError(f"the importer failed (exit {code}): {_failure(log_path)} (see {log_path})")
    relay.finish()
    return ImportResult(seconds=time.monotonic() - began, nodes=relay.imported.get("nodes", 0),
                        relationships=relay.imported.get("relationships", 0),
                        properties=relay.imported.get("properties", 0), stage_seconds=relay.seconds,
                        peak_rss_bytes=sampler.peak)


class _Relay:
    """Turns the importer's verbose output into progress: its steps, and counts against the rows expected."""

    def __init__(self, progress: Progress | None, nodes: int, relationships: int):
        self.progress = progress or (lambda stage, done, total: None)
        self.expected = {NODES: nodes, RELATIONSHIPS: relationships}
        self.step: str | None = None
        self.step_began = time.monotonic()
        self.linked = 0
        self.seconds: dict[str, float] = {}
        self.imported: dict[str, int] = {}

    def line(self, line: str) -> None:
        line = _HEAP_WARNING.sub("", line)
        if match := _STEP.match(line):
            self.step, self.step_began = match.group(1), time.monotonic()
            shown = _SHOWN.get(self.step, LINKING)
            if shown == LINKING:
                self.progress(LINKING, self.linked, _LINKING_STEPS)
            elif self.step != "Prepare node index":
                self.progress(shown, 0, 100)
        elif self.step in ("Nodes", "Relationships") and (match := _COUNT.search(line)):
            shown = _SHOWN[self.step]
            if self.expected[shown]:
                done = float(match.group(1)) * _UNITS[match.group(2)] / self.expected[shown]
                self.progress(shown, min(int(100 * done), 99), 100)
        elif line.startswith("Done in ") and self.step is not None:
            shown = _SHOWN.get(self.step, LINKING)
            self.seconds[shown] = round(self.seconds.get(shown, 0.0) + time.monotonic() - self.step_began, 1)
            if self.step in ("Prepare node index", "Relationships"):
                self.progress(shown, 100, 100)
            elif shown == LINKING:  # a big graph may take more linking passes than this counts
                self.linked += 1
                self.progress(LINKING, min(self.linked, _LINKING_STEPS - 1), _LINKING_STEPS)
            self.step = None
        elif match := _IMPORTED.match(line):
            self.imported[match.group(2)] = int(match.group(1))

    def finish(self) -> None:
        self.progress(LINKING, _LINKING_STEPS, _LINKING_STEPS)


def _report_path(settings: GraphSettings) -> Path:
    """Where the importer lists bad entries."""
    return settings.home / "logs" / "import.report"


def _failure(log_path: Path) -> str:
    """The importer's own words for what went wrong."""
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    for line in lines:
        if match := re.match(r"original error: (.+)", line):
            return match.group(1)[:300]
    for pattern in (r"^Caused by: ", r"(?i)error|exception|failed|missing|duplicate|invalid"):
        hits = [line for line in lines if re.search(pattern, line) and not line.startswith("at ")]
        if hits:
            return hits[-1][:300]
    return lines[-1][:300] if lines else "no output"


def _swap_in(settings: GraphSettings, staging: Path) -> None:
    """Move the imported store and its transaction logs into the home, replacing (then deleting) the old ones."""
    pairs = list(zip(store_dirs(settings, staging), store_dirs(settings)))
    for new, _ in pairs:
        if not new.is_dir():
            raise BulkImportError(f"the importer finished but wrote no {new}")
    old = settings.home / "data" / "replaced-by-import"
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir(parents=True)
    for k, (new, target) in enumerate(pairs):
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rename(old / str(k))
        new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


class _PeakRss:
    """Samples a process's peak resident memory (VmHWM) every half second while it runs."""

    def __init__(self, pid: int):
        self.pid, self.peak = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="import-rss")
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, resident_memory(self.pid)[1])

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def resident_memory(pid: int | None) -> tuple[int, int]:
    """A live process's resident memory now and at its peak, in bytes (VmRSS, VmHWM; 0 if unknown)."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.split(maxsplit=1)[0] in found:
                found[line.split()[0]] = int(line.split()[1]) * 1024
    return found["VmRSS:"], found["VmHWM:"]
