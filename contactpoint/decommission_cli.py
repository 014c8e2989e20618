"""`contactpoint decommission`: destroy the local directory (store, logs, feeds, caches), after a typed
confirmation, and write a destruction certificate (graph/decommission.py says what is destroyed and how)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contactpoint import service
from contactpoint.common import console, database, fail, operator
from graph import local
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from graph.decommission import (
    KNOWN, DecommissionError, certificate, check_certificate_path, destroy, holdings, seal_trail, targets,
    write_certificate,
)

VAR_DIR = PROJECT_ROOT / "var"


def run_decommission(settings: GraphSettings, *, var_dir: Path, certificate_path: Path, confirm: str | None,
                     overwrite: bool = True) -> dict:
    """Read what is held, ask for the typed confirmation, seal the trail, stop, destroy, certify.

    Raises:
        DecommissionError: refused before anything was destroyed (the message says why).
    """
    if settings.uri is not None:
        raise DecommissionError(f"NEO4J_URI points at {settings.uri}: decommission destroys the local DBMS only; "
                                "destroy a remote store with its operator's tools")
    check_certificate_path(certificate_path, settings=settings, var_dir=var_dir)
    started = datetime.now(UTC)
    was_running = local.status(settings).running
    local.start(settings, timeout=300)
    with database(settings) as driver:
        held = holdings(driver, database=settings.database)
    doomed = targets(settings, var_dir)
    table = Table(title=f"To be destroyed (DBMS home {settings.home}, project files {var_dir})")
    table.add_column("path")
    table.add_column("what")
    for path in doomed:
        table.add_row(str(path), KNOWN.get(path.name, "other files"))
    console.print(table)
    console.print(f"The store holds {held.children:,} children, {held.archived:,} archived records and "
                  f"{held.audit_events:,} audit events.", highlight=False)
    typed = confirm if confirm is not None else typer.prompt(f"Type '{held.phrase}' to destroy all of it")
    if typed.strip() != held.phrase:
        if not was_running:
            local.stop(settings)
        raise DecommissionError(f"the confirmation was not '{held.phrase}': nothing was destroyed")
    actor = operator()
    with database(settings) as driver:
        trail = seal_trail(driver, database=settings.database, actor=actor, held=held)
    if var_dir.resolve() == VAR_DIR.resolve():  # the demo's API and dashboard keep their run files there
        for name in ("dashboard", "api"):
            _stop_service(name)
    local.stop(settings)
    done = destroy(targets(settings, var_dir), overwrite=overwrite)
    body = certificate(settings=settings, var_dir=var_dir, held=held, trail=trail, destroyed=done,
                       remaining=targets(settings, var_dir), started=started, actor=actor, overwrite=overwrite,
                       phrase=held.phrase)
    write_certificate(certificate_path, body, settings=settings, var_dir=var_dir)
    return body


def _stop_service(name: str) -> None:
    """Stop the demo's API or dashboard if its pid file says it runs (its run file is about to go)."""
    if not (service.RUN_DIR / f"{name}.pid").is_file():
        return
    if name == "api":
        from contactpoint.api_cli import stop as stop_api

        stop_api()
    else:
        from contactpoint.dashboard_cli import stop as stop_dashboard

        stop_dashboard()


def decommission(
    var_dir: Annotated[Path, typer.Option(help="The project's files to destroy with the store.")] = VAR_DIR,
    certificate_path: Annotated[Path | None, typer.Option(
        "--certificate", help="Where the destruction certificate goes (default ./contactpoint-destruction-"
                              "certificate-<time>.json).")] = None,
    confirm: Annotated[str | None, typer.Option(
        help="The confirmation phrase, for scripts (otherwise it is asked for).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite/--no-overwrite",
                                            help="Overwrite files with zeros before deleting them.")] = True,
) -> None:
    """Destroy the local directory for good: the store, transaction logs, logs, caches, feeds, exports and backups in
    the DBMS home and var/, after a typed confirmation; writes a destruction certificate."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = certificate_path or Path.cwd() / f"contactpoint-destruction-certificate-{stamp}.json"
    try:
        body = run_decommission(get_settings(), var_dir=var_dir.resolve(), certificate_path=path, confirm=confirm,
                                overwrite=overwrite)
    except (DecommissionError, local.LocalNeo4jError) as exc:
        fail(str(exc))
    console.print(f"[bold]Destroyed[/] {body['files']:,} files ({body['bytes'] / 1e6:,.1f} MB) in "
                  f"{len(body['destroyed'])} places; final audit head {body['audit_trail']['head_hash']} "
                  f"(event {body['audit_trail']['head_seq']:,}).", highlight=False)
    if body["remaining"]:
        console.print(f"[red]Still present:[/] {', '.join(body['remaining'])}", highlight=False)
    console.print(f"Destruction certificate: {path.resolve()}", highlight=False)
