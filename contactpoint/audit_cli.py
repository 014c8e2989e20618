"""`contactpoint audit`: check that the audit trail is intact."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contactpoint.common import console, database, err
from graph import audit
from graph.config import get_settings

audit_app = typer.Typer(help="The audit trail: who looked at which child, when and why.", no_args_is_help=True)

@audit_app.callback()
def audit_main() -> None:
    """The audit trail: who looked at which child, when and why."""


@audit_app.command("verify")
def verify(
    batch: Annotated[int, typer.Option(min=100, max=100_000, help="Events read per transaction.")] = 10_000,
) -> None:
    """Recompute the hash chain; exit 0 if intact, 1 with the first problem if not."""
    settings = get_settings()
    with database(settings) as driver, Progress(
        TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("verify", total=None)
        result = audit.verify(
            driver, database=settings.database, batch=batch,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if not result.ok:
        err.print(f"[bold red]audit trail broken:[/] {result.problem} "
                  f"({result.events:,} events verified before it)", highlight=False)
        raise typer.Exit(code=1)
    console.print(f"audit trail intact: {result.events} events, head {result.head_hash[:16]}", highlight=False)
