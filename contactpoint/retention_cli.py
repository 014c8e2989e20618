"""`contactpoint retention run`: archive and destroy records as the retention rules say (docs/privacy.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from neo4j import Driver
from rich.table import Table

from contactpoint.alerts_cli import parse_as_of
from contactpoint.common import console, database, operator
from graph import retention
from graph.admission import REASONS
from graph.cohort import Scope
from graph.config import GraphSettings, get_settings

retention_app = typer.Typer(help="The retention rules: archive at 18, destroy six years later.", no_args_is_help=True)


@retention_app.callback()
def retention_main() -> None:
    """The retention rules: archive at 18, destroy six years later."""


def run_retention(driver: Driver, settings: GraphSettings, as_of: date, *,
                  dry_run: bool = False) -> retention.RetentionReport:
    """Apply the rules on `as_of` in the configured scope and print what was (or would be) done."""
    scope = Scope.of(settings, as_of)
    report = retention.run(driver, database=settings.database, scope=scope, actor=operator(), dry_run=dry_run)
    mode = f"targeted ({scope.months} months)" if scope.targeted else "full"
    table = Table(title=f"Retention as of {as_of.isoformat()} ({mode} mode)" + (" — dry run" if dry_run else ""))
    for col in ("rule", "archived", "destroyed"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for rule, why in REASONS.items():
        archived, destroyed = report.archived.get(rule, 0), report.destroyed.get(rule, 0)
        if archived or destroyed or rule != "cohort" or scope.targeted:
            table.add_row(why, f"{archived:,}", f"{destroyed:,}")
    console.print(table)
    removed = {k: v for k, v in report.removed.items() if v and k != "children"}
    if removed:
        console.print("With the destroyed records: " + ", ".join(f"{k.replace('_', ' ')} {v:,}"
                                                                  for k, v in removed.items()), highlight=False)
    verb = "Would change" if dry_run else "Changed"
    if not report.changed:
        console.print(f"Nothing is due ({report.seconds:.1f} s).")
    else:
        console.print(f"{verb} {sum(report.archived.values()):,} archived and {sum(report.destroyed.values()):,} "
                      f"destroyed records in {report.seconds:.1f} s.", highlight=False)
    console.print("Dry run: nothing was changed and nothing was recorded." if dry_run
                  else f"Recorded in the audit trail (run {report.run_id}).", highlight=False)
    if not report.exact:
        console.print(f"[yellow]A dry run this big rolls back batch by batch[/]: carers and addresses shared by "
                      f"records in different batches are not counted (the run removes them).", highlight=False)
    return report


@retention_app.command("run")
def run(
    as_of: Annotated[str | None, typer.Option(help="The day the rules are applied on (default today).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would change; change nothing.")] = False,
) -> None:
    """Archive the records due (18th birthday, death, three years after leaving England) and destroy those
    archived six years ago (and, in targeted mode, children who left the cohort). Idempotent and audited."""
    day = parse_as_of(as_of)
    settings = get_settings()
    with database(settings) as driver:
        run_retention(driver, settings, day, dry_run=dry_run)
