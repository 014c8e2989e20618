"""The `contactpoint` command: run the local Neo4j, apply the schema, generate, load, demo."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from neo4j import Driver
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactpoint.alerts_cli import alerts_app, parse_as_of, run_scan
from contactpoint.api_cli import api_app
from contactpoint.api_cli import start as api_start
from contactpoint.api_cli import stop as api_stop
from contactpoint.audit_cli import audit_app
from contactpoint.bulk_cli import bulk_load
from contactpoint.common import console, database, demo_users, fail
from contactpoint.dashboard_cli import dashboard_app
from contactpoint.decommission_cli import decommission
from contactpoint.load_view import print_report, progress_bar
from contactpoint.match_cli import match_app, print_population, run_matching
from contactpoint.retention_cli import retention_app, run_retention
from contactpoint.dashboard_cli import start as dashboard_start
from contactpoint.dashboard_cli import stop as dashboard_stop
from contactpoint.ssd_cli import generate_ssd, import_app, run_import
from contactpoint.users_cli import users_app
from graph import local, schema, users
from graph.cohort import Scope
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from loaders.load import FeedError, LoadReport, load_dir

app = typer.Typer(help="ContactPoint graph explorer: who else is working with this child.", no_args_is_help=True)
neo4j_app = typer.Typer(help="The local Neo4j (embedded DBMS from Maven Central).", no_args_is_help=True)
db_app = typer.Typer(help="The database schema and its contents.", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(api_app, name="api")
app.add_typer(dashboard_app, name="dashboard")
app.command("bulk-load")(bulk_load)
app.add_typer(alerts_app, name="alerts")
app.add_typer(match_app, name="match")
app.add_typer(import_app, name="import")
app.command("generate-ssd")(generate_ssd)
app.add_typer(retention_app, name="retention")
app.command("decommission")(decommission)

DEMO_DIR = PROJECT_ROOT / "var" / "demo"
DEMO_CHILDREN = 20_000
DEMO_SEED = 20100806  # the day ContactPoint was switched off
DEMO_IDENTITY = "sources"  # the demo's England as its sources see it: its children come through matching
DEMO_SSD_LA = "E08000035"  # Leeds: the demo loads its SSD extract next to the other sources


def _progress_line(message: str) -> None:
    console.print(f"  {message}", style="dim", highlight=False)


# -- neo4j -------------------------------------------------------------------------------------


@neo4j_app.command("start")
def neo4j_start(timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt.")] = 180) -> None:
    """Start the local Neo4j in the background; returns once Bolt answers."""
    settings = get_settings()
    try:
        state = local.start(settings, timeout=timeout, progress=_progress_line)
    except local.LocalNeo4jError as exc:
        fail(str(exc))
    console.print(f"Neo4j {state.version} is running at {state.bolt_uri} (pid {state.pid}, home {state.home})")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the local Neo4j cleanly."""
    try:
        was_running = local.stop(get_settings(), progress=_progress_line)
    except local.LocalNeo4jError as exc:
        fail(str(exc))
    console.print("Neo4j stopped." if was_running else "Neo4j was not running.")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Say whether the local Neo4j runs, where, and which version."""
    state = local.status(get_settings())
    if state.running:
        console.print(f"running: Neo4j {state.version} at {state.bolt_uri} (pid {state.pid}, home {state.home})")
    else:
        console.print(f"not running (home {state.home}, version {state.version}; log {state.log_path})")
        raise typer.Exit(code=3)


# -- db ----------------------------------------------------------------------------------------


@db_app.command("init")
def db_init() -> None:
    """Apply constraints and indexes (idempotent, versioned)."""
    settings = get_settings()
    with database(settings) as driver:
        ran = schema.apply(driver, database=settings.database)
    if ran:
        console.print(f"Schema migrated to version {ran[-1]} (applied: {', '.join(map(str, ran))}).")
    else:
        console.print(f"Schema already at version {schema.SCHEMA_VERSION}; nothing to do.")


def print_counts(driver: Driver, settings: GraphSettings) -> None:
    """Schema version, then node and relationship counts."""
    state = schema.status(driver, database=settings.database)
    version = "not initialised (run 'contactpoint db init')" if state.version is None else str(state.version)
    console.print(f"Database [bold]{settings.database}[/] at {settings.bolt_uri}: schema version {version}"
                  f" (latest {state.latest})", highlight=False)
    table = Table(title="Contents", show_lines=False)
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for label, count in state.nodes.items():
        table.add_row("node", label, f"{count:,}")
    for rel, count in state.relationships.items():
        table.add_row("relationship", rel, f"{count:,}")
    console.print(table)
    offline = [name for name, st, _ in state.indexes if st != "ONLINE"]
    if offline:
        console.print(f"[yellow]indexes not yet online:[/] {', '.join(offline)}")


@db_app.command("status")
def db_status() -> None:
    """Schema version, and node and relationship counts by label and type."""
    settings = get_settings()
    with database(settings) as driver:
        print_counts(driver, settings)


# -- generate and load -------------------------------------------------------------------------


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the feeds to.")],
    children: Annotated[int, typer.Option(min=1, max=20_000_000, help="How many children.")] = DEMO_CHILDREN,
    seed: Annotated[int, typer.Option(min=0, help="Random seed; the same seed gives the same England.")] = DEMO_SEED,
    as_of: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default fixed).")] = None,
    by_region: Annotated[bool, typer.Option(
        "--by-region", help="Build England region by region (bounded memory; the England bulk-load imports).")] = False,
    identity: Annotated[str, typer.Option(
        help="'directory': children.csv and feeds keyed by child_id; 'sources': England as its sources see it "
             "(sources.csv, person_records.csv, truth.csv; feeds name children by source_id and local_id).")
    ] = "directory",
) -> None:
    """Generate a synthetic England as CSV feeds (deterministic for a seed)."""
    from loaders.generate import DEFAULT_AS_OF, generate as run_generate

    reference = DEFAULT_AS_OF
    if as_of is not None:
        try:
            reference = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of: '{as_of}' is not a date like 2026-10-31")
    started = time.perf_counter()
    with _bar() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            counts = run_generate(out, children=children, seed=seed, as_of=reference, by_region=by_region,
                                  identity=identity, progress=progress)
        except ValueError as exc:
            fail(f"--identity: {exc}")
        except OSError as exc:
            fail(f"cannot write the feeds to {out}: {exc.strerror or exc}")
    took = time.perf_counter() - started
    console.print(f"Generated {children:,} children in {took:.1f} s into {out}: "
                  + ", ".join(f"{name} {n:,}" for name, n in counts.items()), highlight=False)


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def run_load(driver: Driver, settings: GraphSettings, folder: Path, rejects: Path | None, batch_size: int,
             as_of: date | None = None) -> LoadReport:
    """Load a folder with a progress bar (rows/s) and print the summary (`as_of`: the day attendances alert as of,
    and in targeted mode the day the cohort is decided on; default today)."""
    with progress_bar() as progress:
        report = load_dir(driver, folder, database=settings.database, rejects_path=rejects,
                          batch_size=batch_size, progress=progress, as_of=as_of,
                          matcher=lambda: run_matching(driver, settings), scope=Scope.of(settings, as_of))
    print_report(report, f"Loaded {folder}")
    return report


@app.command()
def load(
    folder: Annotated[Path, typer.Argument(help="Folder of feed CSVs (see docs/feeds.md).")],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FOLDER/rejects.csv).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 5000,
    as_of: Annotated[str | None, typer.Option(help="Date alerts are raised as of: the emergency attendances' as "
                                                   "they load, and the scan after the load; and the day the "
                                                   "targeted cohort is decided on (default today).")] = None,
    scan: Annotated[bool, typer.Option(help="Scan for alerts after the load (skip it when loading several "
                                            "folders in a row, then run 'contactpoint alerts scan').")] = True,
) -> None:
    """Validate and load a folder of feeds, then scan for alerts; rejected rows go to the rejects file."""
    day = parse_as_of(as_of)
    settings = get_settings()
    with database(settings) as driver:
        try:
            report = run_load(driver, settings, folder, rejects, batch_size, day)
        except FeedError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot read the feeds in {folder}: {exc}")
        if any(r.error for r in report.results) or report.matching_error:
            console.print("[yellow]Alert scan skipped[/]: a feed could not be read or its records matched; fix it "
                          "and load again, or run 'contactpoint alerts scan'.", highlight=False)
            raise typer.Exit(code=2)
        if scan:
            console.print(f"Load complete; scanning for alerts as of {day.isoformat()}.", highlight=False)
            run_scan(driver, settings, day)
        else:
            console.print("Load complete; alert scan skipped (--no-scan).")


# -- the demo ----------------------------------------------------------------------------------


def _england(children: int, seed: int, identity: str, out: Path | None) -> Path:
    """The folder of a synthetic England's feeds, generated unless already there (same children, seed, identity)."""
    feeds = out or DEMO_DIR / (f"england-{children}-{seed}" + ("" if identity == "directory" else f"-{identity}"))
    manifest = feeds / "manifest.json"
    made = json.loads(manifest.read_text()) if manifest.is_file() else {}
    if ((made.get("children"), made.get("seed"), made.get("by_region", False), made.get("identity", "directory"))
            == (children, seed, False, identity)):
        console.print(f"Feeds already generated in {feeds}")
    else:
        generate(out=feeds, children=children, seed=seed, as_of=None, by_region=False, identity=identity)
    return feeds


@app.command()
def seed(
    children: Annotated[int, typer.Option(min=100, help="How many children.")] = DEMO_CHILDREN,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = DEMO_SEED,
    out: Annotated[Path | None, typer.Option(help="Where the feeds go (default var/demo/...).")] = None,
    identity: Annotated[str, typer.Option(help="As for generate: 'directory' or 'sources'.")] = "directory",
) -> None:
    """Apply the schema, then generate (once) and load a synthetic England into the configured Neo4j."""
    settings = get_settings()
    console.rule("Schema")
    db_init()
    console.rule("Synthetic England")
    feeds = _england(children, seed, identity, out)
    console.rule("Load")
    as_of = date.fromisoformat(json.loads((feeds / "manifest.json").read_text())["as_of"])
    with database(settings) as driver:
        run_load(driver, settings, feeds, None, 5000, as_of)
        console.rule(f"The SSD extract of {DEMO_SSD_LA}")
        extract = feeds / f"ssd-{DEMO_SSD_LA}"
        if not (extract / "ssd_person.csv").is_file():  # made from the same England keyed by directory id
            known = feeds if identity == "directory" else _england(children, seed, "directory", None)
            generate_ssd(known, la=DEMO_SSD_LA, out=extract, seed=seed, whole=False)
        run_import(driver, settings, extract, DEMO_SSD_LA)
        console.rule("Retention")
        console.print(f"Applying the retention rules as of {as_of.isoformat()}, the date the synthetic England was "
                      "made for.", highlight=False)
        run_retention(driver, settings, as_of)
        console.rule("Alerts")
        console.print(f"Scanning for alerts as of {as_of.isoformat()}, the date the synthetic England was made for.")
        run_scan(driver, settings, as_of)
        console.rule("What is there")
        print_counts(driver, settings)


@app.command()
def demo(
    children: Annotated[int, typer.Option(min=100, help="How many children.")] = DEMO_CHILDREN,
    seed_: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = DEMO_SEED,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The API's port.")] = 8000,
    dashboard_port: Annotated[int, typer.Option(min=1, max=65535, help="The dashboard's port.")] = 8501,
) -> None:
    """Start Neo4j, load a synthetic England, create the demo users, start the API and the dashboard."""
    settings = get_settings()
    if settings.uri is None:
        console.rule("Neo4j")
        neo4j_start()
    seed(children=children, seed=seed_, out=None, identity=DEMO_IDENTITY)
    console.rule("Matching")  # the demo's children came through matching: what it linked, what waits for review
    with database(settings) as driver:
        print_population(driver, settings, {users.BIRMINGHAM: "Birmingham", users.LEEDS: "Leeds"})
    console.print("  The data team works the queue: sign in as data_officer.birmingham or data_officer.leeds "
                  "(dashboard page Matching; API /identity/reviews).", highlight=False)
    console.rule("Demo users and the API")
    with database(settings) as driver:
        demo_users(driver, settings)
    api_start(port=port)
    dashboard_start(port=dashboard_port, api_url=f"http://127.0.0.1:{port}")
    console.print("Demo users (demo mode only; current TOTP code: .venv/bin/contactpoint api code USERNAME):")
    for user in users.DEMO_USERS:
        console.print(f"  {user.username:<30} password {user.password:<34} {user.role.value:<18} {user.la_code}",
                      highlight=False)
    console.print(
        "\n[bold green]The demo is running.[/]\n"
        f"  Dashboard:         http://127.0.0.1:{dashboard_port}  (sign in as a demo user above)\n"
        f"  API:               http://127.0.0.1:{port}  (interactive docs: http://127.0.0.1:{port}/docs)\n"
        f"  Neo4j (Bolt):      {settings.bolt_uri}  user {settings.user}\n"
        "  Sign in and look:  see 'A session per role' in README.md (curl)\n"
        "  Counts again:      .venv/bin/contactpoint db status\n"
        "  Stop everything:   make stop   (or .venv/bin/contactpoint stop)",
        highlight=False,
    )


@app.command()
def stop() -> None:
    """Stop everything the demo started."""
    dashboard_stop()
    api_stop()
    neo4j_stop()
