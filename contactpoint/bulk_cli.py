"""`contactpoint bulk-load`: the first national load through Neo4j's bulk importer, with progress and a summary.

Generate synthetic England (region by region) as bulk-import files, import them with neo4j-admin into the local
DBMS's home, start the DBMS on the new store, apply the schema and wait for every index, add the demo users in
demo mode. Daily feeds after that go through `contactpoint load` as ever.
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from neo4j.exceptions import Neo4jError
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactpoint.common import console, demo_users, fail
from graph import bulk, local, schema
from graph.config import GraphSettings, get_settings
from graph.db import connect
from loaders.generate import DEFAULT_AS_OF, GENERATOR_VERSION

# Bytes per child of the bulk files and of the store with its indexes and transaction logs: measured about 485
# and 1,330 at 1M and 11M children (docs/scaling.md), rounded up. The free-space check asks for both.
CSV_BYTES_PER_CHILD = 520
STORE_BYTES_PER_CHILD = 2_000
INDEX_WAIT_SECONDS = 4 * 3600

Reporter = Callable[[str, int, int], None]


class BulkLoadError(Exception):
    """A step of the bulk load failed; the message is one line."""


@dataclass
class BulkLoadReport:
    """Timings, sizes and memory of one bulk load (what the summary and the benchmark show)."""

    children: int
    seed: int
    home: str
    bolt_uri: str
    scope: str = "full"
    targeted_months: int | None = None
    out_of_scope: dict[str, int] = field(default_factory=dict)  # targeted mode: rows left out, per feed
    generate_seconds: float = 0.0
    generate_peak_rss_bytes: int = 0
    generated_again: bool = True
    csv_bytes: int = 0
    csv_rows: dict[str, int] = field(default_factory=dict)
    csv_kept: str | None = None
    import_seconds: float = 0.0
    import_stage_seconds: dict[str, float] = field(default_factory=dict)
    import_peak_rss_bytes: int = 0
    start_seconds: float = 0.0
    schema_seconds: float = 0.0
    index_count: int = 0
    demo_users: bool = False
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    store_bytes: int = 0
    transaction_log_bytes: int = 0
    dbms_rss_bytes: int = 0
    dbms_peak_rss_bytes: int = 0
    total_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(
    settings: GraphSettings,
    *,
    children: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    csv_dir: Path | None = None,
    keep_csv: bool = False,
    overwrite: bool = False,
    threads: int | None = None,
    import_heap: str = "2g",
    import_memory: str = "4g",
    with_demo_users: bool = False,
    progress: Reporter | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> BulkLoadReport:
    """Generate, import, start, index: the whole first load into the local DBMS of ``settings`` (left running).

    Raises:
        BulkLoadError, bulk.BulkImportError, local.LocalNeo4jError: one line saying what to do.
    """
    report_progress = progress or (lambda stage, done, total: None)
    began = time.monotonic()
    targeted = settings.scope == "targeted"
    report = BulkLoadReport(children, seed, str(settings.home), settings.bolt_uri, scope=settings.scope,
                            targeted_months=settings.targeted_months if targeted else None)
    folder = csv_dir or settings.home / "bulk-csv"
    # Everything that can refuse does so before an hour of work.
    local.check_prerequisites(need_maven=False)
    bulk.check_target(settings, overwrite=overwrite)
    reuse = _reusable(folder, children, seed, as_of, report.scope, report.targeted_months)
    _check_space(settings.home, folder, children, bool(reuse))

    if reuse:
        say(f"Bulk files for {children:,} children (seed {seed}) already in {folder}: not generating them again")
        report.generated_again = False
        report.csv_rows = reuse
    else:
        say(f"Generating {children:,} children (seed {seed}) region by region into {folder}")
        t = time.monotonic()
        report.csv_rows, report.generate_peak_rss_bytes = _generate(folder, children, seed, as_of, report_progress,
                                                                    settings.scope, settings.targeted_months)
        report.generate_seconds = time.monotonic() - t
    if targeted:
        from loaders.bulk import read_manifest

        report.out_of_scope = dict(read_manifest(folder).get("out_of_scope") or {})
    report.csv_bytes = sum(p.stat().st_size for p in folder.glob("*.csv"))

    say(f"Importing {report.csv_bytes / 1e9:.2f} GB of bulk files with neo4j-admin (log {settings.home / 'logs'})")
    imported = bulk.import_store(settings, folder, overwrite=overwrite, threads=threads, heap=import_heap,
                                 max_off_heap=import_memory, rows=report.csv_rows, progress=report_progress)
    report.import_seconds = imported.seconds
    report.import_stage_seconds = imported.stage_seconds
    report.import_peak_rss_bytes = imported.peak_rss_bytes
    if keep_csv:
        report.csv_kept = str(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)

    t = time.monotonic()
    state = local.start(settings, timeout=900, progress=say)
    report.start_seconds = time.monotonic() - t
    driver = connect(settings)
    try:
        say("Applying the schema: constraints and indexes on the imported graph")
        t = time.monotonic()
        _apply_schema(driver, settings, report_progress)
        report.schema_seconds = time.monotonic() - t
        report.index_count = len(schema.indexes(driver, database=settings.database))
        if with_demo_users:
            demo_users(driver, settings)
            report.demo_users = True
        status = schema.status(driver, database=settings.database)
        report.nodes, report.relationships = status.nodes, status.relationships
    finally:
        driver.close()
    store, logs = bulk.store_dirs(settings)
    report.store_bytes, report.transaction_log_bytes = bulk.folder_bytes(store), bulk.folder_bytes(logs)
    report.dbms_rss_bytes, report.dbms_peak_rss_bytes = bulk.resident_memory(state.pid)
    report.total_seconds = time.monotonic() - began
    return report


def _reusable(folder: Path, children: int, seed: int, as_of: date, scope: str = "full",
              months: int | None = None) -> dict[str, int]:
    """The rows of bulk files already written for exactly this England and scope ({} if none are)."""
    from loaders.bulk import read_manifest

    made = read_manifest(folder)
    wanted = {"children": children, "seed": seed, "as_of": as_of.isoformat(), "generator_version": GENERATOR_VERSION,
              "scope": scope, "targeted_months": months}
    complete = made and {g.file for g in bulk.GROUPS} <= set(made.get("rows", {}))  # written before a group was added
    return dict(made["rows"]) if complete and all(made.get(k) == v for k, v in wanted.items()) else {}


def _check_space(home: Path, folder: Path, children: int, reuse: bool) -> None:
    """Refuse early when the disk cannot hold the bulk files and the new store (an old one stays until the end)."""
    need = (0 if reuse else children * CSV_BYTES_PER_CHILD) + children * STORE_BYTES_PER_CHILD
    for path in (folder, home):
        probe = path if path.exists() else next(p for p in path.parents if p.exists())
        free = shutil.disk_usage(probe).free
        if free < need * 1.1:
            raise BulkLoadError(f"not enough free disk for {children:,} children: about {need * 1.1 / 1e9:.0f} GB "
                                f"needed (bulk files and store), {free / 1e9:.0f} GB free at {probe}")


def _generate(folder: Path, children: int, seed: int, as_of: date, progress: Reporter, scope: str = "full",
              months: int = 12) -> tuple[dict[str, int], int]:
    """Write the bulk files in a process of its own, so its memory is returned before the importer runs."""
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    worker = ctx.Process(target=_generate_worker,
                         args=(messages, str(folder), children, seed, as_of.isoformat(), scope, months),
                         name="bulk-generate", daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, *payload = messages.get(timeout=1)
            except queue.Empty:
                if not worker.is_alive():
                    raise BulkLoadError(f"generating the bulk files stopped (exit code {worker.exitcode})") from None
                continue
            if kind == "progress":
                progress(*payload)
            elif kind == "error":
                raise BulkLoadError(payload[0])
            else:
                return payload[0], payload[1]
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.terminate()
            worker.join()


def _generate_worker(messages: Any, folder: str, children: int, seed: int, as_of: str, scope: str = "full",
                     months: int = 12) -> None:
    from graph.cohort import Scope
    from loaders.bulk import write_bulk

    try:
        rows = write_bulk(Path(folder), children=children, seed=seed, as_of=date.fromisoformat(as_of),
                          progress=lambda stage, done, total: messages.put(("progress", stage, done, total)),
                          scope=Scope(scope, months))  # type: ignore[arg-type]
        messages.put(("done", rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    except OSError as exc:
        messages.put(("error", f"cannot write the bulk files to {folder}: {exc.strerror or exc}"))
    except Exception as exc:  # reported to the parent as one line
        messages.put(("error", f"generating the bulk files failed: {type(exc).__name__}: {exc}"))


def _apply_schema(driver: Any, settings: GraphSettings, progress: Reporter) -> None:
    """Apply the migrations (building every index over the imported graph), relaying index population."""
    failure: list[BaseException] = []

    def apply() -> None:
        try:
            schema.apply(driver, database=settings.database, await_seconds=INDEX_WAIT_SECONDS)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    # Out of every index there will be: those there now, and one per schema statement (a fresh import has none).
    expected = len(schema.indexes(driver, database=settings.database)) + sum(
        isinstance(step, str) for steps in schema.MIGRATIONS.values() for step in steps)
    worker = threading.Thread(target=apply, name="schema", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=2)
        try:
            states = schema.indexes(driver, database=settings.database)
        except Neo4jError:  # a progress read may race an index being created; the next one will do
            continue
        built = sum(100.0 if state == "ONLINE" else percent for _, state, percent in states)
        progress("indexes", min(int(built / expected), 99), 100)
    if failure:
        raise failure[0]
    progress("indexes", 100, 100)


# -- the command -------------------------------------------------------------------------------


class Bars:
    """Progress as bars on a terminal; in a log, a line when a step ends and every half minute while it runs."""

    def __init__(self) -> None:
        self.live = console.is_terminal
        self.bar = Progress(TextColumn("{task.description:<26}"), BarColumn(), TextColumn("{task.percentage:>5.0f}%"),
                            TimeElapsedColumn(), console=console, disable=not self.live)
        self.tasks: dict[str, TaskID] = {}
        self.logged: dict[str, float] = {}
        self.finished: set[str] = set()
        self.began = time.monotonic()

    def __enter__(self) -> Bars:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)
        if self.live or stage in self.finished:
            return
        now = time.monotonic()
        if done >= total:
            self.finished.add(stage)
            self._line(now, f"{stage}: done")
        elif now - self.logged.setdefault(stage, now) >= 30:
            self.logged[stage] = now
            self._line(now, f"{stage}: {100 * done // max(total, 1)}%")

    def _line(self, now: float, text: str) -> None:
        console.print(f"  [{now - self.began:7.1f} s] {text}", highlight=False)

    def say(self, message: str) -> None:
        self.bar.console.print(f"  {message}", style="dim", highlight=False)


def bulk_load(
    children: Annotated[int, typer.Option(min=1, max=20_000_000, help="How many children.")] = 11_000_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives the same England.")] = 1,
    home: Annotated[Path | None, typer.Option(help="DBMS home to import into (default CP_NEO4J_HOME).")] = None,
    bolt_port: Annotated[int | None, typer.Option(min=1, max=65535, help="Its Bolt port (default CP_NEO4J_BOLT_PORT).")]
    = None,
    heap: Annotated[str | None, typer.Option(help="The DBMS's heap, e.g. 2g (default CP_NEO4J_HEAP).")] = None,
    pagecache: Annotated[str | None, typer.Option(help="Its page cache, e.g. 6g (default CP_NEO4J_PAGECACHE).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the home's database if it has one.")] = False,
    keep_csv: Annotated[bool, typer.Option("--keep-csv", help="Keep the bulk files after the import.")] = False,
    csv_dir: Annotated[Path | None, typer.Option(help="Where the bulk files go (default HOME/bulk-csv).")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Importer threads (default: every core).")] = None,
    import_heap: Annotated[str, typer.Option(help="The importer's Java heap.")] = "2g",
    import_memory: Annotated[str, typer.Option(help="The importer's off-heap memory at most.")] = "4g",
    demo: Annotated[bool | None, typer.Option(
        "--demo-users/--no-demo-users", help="Add the demo users (default: when CP_API_DEMO_MODE is true).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default fixed).")] = None,
) -> None:
    """The first national load: generate England as bulk files, import them with neo4j-admin, start, index."""
    base = get_settings()
    if base.uri is not None:
        fail(f"bulk-load imports into the local DBMS, but NEO4J_URI points at {base.uri}: unset it")
    try:
        settings = GraphSettings(
            user=base.user, password=base.password, database=base.database, dist=base.dist_root,
            home=(home or base.home).resolve(), bolt_port=bolt_port or base.bolt_port, heap=heap or base.heap,
            pagecache=pagecache or base.pagecache, version=base.version, scope=base.scope,
            targeted_months=base.targeted_months)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    try:
        reference = date.fromisoformat(as_of) if as_of else DEFAULT_AS_OF
    except ValueError:
        fail(f"--as-of: '{as_of}' is not a date like 2026-10-31")
    with_demo = _demo_mode() if demo is None else demo
    console.rule(f"Bulk load: {children:,} children into {settings.home}")
    try:
        with Bars() as bars:
            report = run(settings, children=children, seed=seed, as_of=reference, csv_dir=csv_dir,
                         keep_csv=keep_csv, overwrite=overwrite, threads=threads, import_heap=import_heap,
                         import_memory=import_memory, with_demo_users=with_demo, progress=bars, say=bars.say)
    except (BulkLoadError, bulk.BulkImportError, local.LocalNeo4jError) as exc:
        fail(str(exc))
    print_summary(report)


def _demo_mode() -> bool:
    from api.config import ApiSettings

    try:
        return ApiSettings().demo_mode
    except ValidationError:  # only a non-demo configuration without its secrets fails to validate
        return False


def print_summary(report: BulkLoadReport) -> None:
    """The timings, sizes and memory of a bulk load as a table, and where things are."""
    gb = 1e9
    table = Table(title=f"Bulk load of {report.children:,} children (seed {report.seed})")
    table.add_column("step")
    table.add_column("time", justify="right")
    table.add_column("what", justify="left")
    rows = sum(report.csv_rows.values())
    table.add_row("generate", f"{report.generate_seconds:,.0f} s" if report.generated_again else "reused",
                  f"{rows:,} rows, {report.csv_bytes / gb:.2f} GB of CSV; peak memory "
                  f"{report.generate_peak_rss_bytes / gb:.2f} GB")
    stages = ", ".join(f"{stage.removeprefix('import: ')} {report.import_stage_seconds[stage]:,.0f} s"
                       for stage in (bulk.NODES, bulk.RELATIONSHIPS, bulk.LINKING)
                       if stage in report.import_stage_seconds)
    table.add_row("import (neo4j-admin)", f"{report.import_seconds:,.0f} s",
                  f"{stages}; peak memory {report.import_peak_rss_bytes / gb:.2f} GB")
    table.add_row("start Neo4j", f"{report.start_seconds:,.0f} s", "")
    table.add_row("schema and indexes", f"{report.schema_seconds:,.0f} s", f"{report.index_count} indexes online")
    table.add_row("end to end", f"{report.total_seconds:,.0f} s", f"{report.total_seconds / 60:.1f} minutes")
    console.print(table)
    nodes, rels = sum(report.nodes.values()), sum(report.relationships.values())
    if report.scope == "targeted":
        console.print(f"Targeted mode (children at risk now or within {report.targeted_months} months): "
                      f"{report.out_of_scope.get('children', 0):,} of {report.children:,} children, and "
                      f"{sum(report.out_of_scope.values()):,} rows in all, were out of scope and not stored.",
                      highlight=False)
    console.print(
        f"Graph: {nodes:,} nodes, {rels:,} relationships. Store {report.store_bytes / gb:.2f} GB "
        f"(+ {report.transaction_log_bytes / gb:.2f} GB transaction logs). Neo4j resident memory "
        f"{report.dbms_rss_bytes / gb:.2f} GB (peak {report.dbms_peak_rss_bytes / gb:.2f} GB).", highlight=False)
    if report.csv_kept:
        console.print(f"Bulk files kept in {report.csv_kept}", highlight=False)
    console.print(f"Neo4j is running at {report.bolt_uri} (home {report.home})"
                  + ("; demo users added" if report.demo_users else "")
                  + ". Stop it with 'contactpoint neo4j stop' (same CP_NEO4J_HOME).", highlight=False)
