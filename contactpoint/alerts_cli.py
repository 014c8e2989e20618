"""`contactpoint alerts scan`: raise the signposting alerts as of a date (see docs/alerts.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from neo4j import Driver
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactpoint.common import console, database, fail
from graph import alerts, analytics
from graph.config import GraphSettings, get_settings

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
alerts_app = typer.Typer(help="Signposting alerts for safeguarding leads.", no_args_is_help=True)


@alerts_app.callback()
def alerts_main() -> None:
    """Signposting alerts for safeguarding leads."""


def parse_as_of(value: str | None) -> date:
    """--as-of as a date (default today); a clear error otherwise."""
    if value is None:
        return date.today()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: '{value}' is not a date like 2026-10-31")
    if not EARLIEST <= day <= LATEST:
        fail(f"--as-of: {day} is outside {EARLIEST.year}-{LATEST.year}")
    return day


def run_scan(driver: Driver, settings: GraphSettings, as_of: date, *, patterns: bool = True) -> alerts.ScanResult:
    """Scan with a progress bar per rule and print what was raised; then count the patterns for reviewers."""
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("scanning", total=len(alerts.RULES))
        result = alerts.scan(driver, database=settings.database, as_of=as_of,
                             progress=lambda rule, done, total: bar.update(task, completed=done,
                                                                           description=rule))
    table = Table(title=f"Alerts as of {as_of.isoformat()}")
    for col in ("kind", "addressed", "new"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind in result.addressed:
        table.add_row(kind, f"{result.addressed[kind]:,}", f"{result.raised[kind]:,}")
    console.print(table)
    took = ", ".join(f"{rule} {s:.1f} s" for rule, s in result.seconds.items())
    console.print(f"{result.total_raised:,} new alerts ({took}).", highlight=False)
    if patterns:
        with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("patterns", total=None)
            counted = analytics.compute(driver, database=settings.database, as_of=as_of,
                                        progress=lambda done, total: bar.update(task, completed=done, total=total))
        console.print(f"Pattern counts for reviewers on {', '.join(d.isoformat() for d in counted.dates)} "
                      f"({counted.children:,} children on {as_of.isoformat()}; {counted.seconds:.1f} s): "
                      + ", ".join(f"{p} {n:,}" for p, n in counted.by_pattern.items()), highlight=False)
    return result


@alerts_app.command("scan")
def scan(
    as_of: Annotated[str | None, typer.Option(help="The scan date YYYY-MM-DD (default today).")] = None,
    patterns: Annotated[bool, typer.Option(help="Also count the serious-case patterns for reviewers.")] = True,
) -> None:
    """Raise the alerts the graph shows as of a date (no duplicates on re-runs) and count the patterns."""
    day = parse_as_of(as_of)
    settings = get_settings()
    with database(settings) as driver:
        run_scan(driver, settings, day, patterns=patterns)
