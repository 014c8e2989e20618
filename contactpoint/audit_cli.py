"""`contactpoint audit`: check that the audit trail is intact, and redact a child from it."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contactpoint.common import console, database, err, operator
from graph import audit
from graph.audit import redaction, runs
from graph.config import get_settings

audit_app = typer.Typer(help="The audit trail: who looked at which child, when and why.", no_args_is_help=True)

@audit_app.callback()
def audit_main() -> None:
    """The audit trail: who looked at which child, when and why."""


@audit_app.command("verify")
def verify(
    batch: Annotated[int, typer.Option(min=100, max=100_000, help="Events read per transaction.")] = 10_000,
    incremental: Annotated[bool, typer.Option(
        "--incremental", help="Only the events since the last verified point (and those redacted since); "
                              "an edit before it is found only by a full run.")] = False,
) -> None:
    """Recompute the hash chain (all of it, by default); exit 0 if intact, 1 with the first problem if not.

    The result is stored for auditors (GET /audit/verify) and a good run moves the last verified point.
    """
    settings = get_settings()
    with database(settings) as driver, Progress(
        TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("verify", total=None)
        try:
            result = runs.run(
                driver, database=settings.database, full=not incremental, by=operator().user_id, batch=batch,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except audit.Busy:
            err.print("[bold red]a verification is already running[/] (see GET /audit/verify); try again when it "
                      "has finished", highlight=False)
            raise typer.Exit(code=2) from None
    if not result.ok:
        err.print(f"[bold red]audit trail broken:[/] {result.problem} "
                  f"({result.events:,} events verified before it)", highlight=False)
        raise typer.Exit(code=1)
    redacted = ", ".join(f"{reason}: {n:,}" for reason, n in result.redacted.items()) or "none"
    since = f" after seq {result.from_seq:,}" if result.mode == "incremental" else ""
    console.print(f"audit trail intact: {result.events} events{since}, head {result.head_hash[:16]} "
                  f"({result.events_per_second:,.0f} events/s); redacted events: {redacted}", highlight=False)
    if result.incomplete_redactions:
        err.print(f"{result.incomplete_redactions} redaction run(s) stopped before the end: run them again",
                  highlight=False)


@audit_app.command("redact")
def redact(
    child_id: Annotated[str, typer.Argument(help="The child's directory id.")],
    reason: Annotated[str, typer.Option(help=f"Why: one of {', '.join(sorted(audit.REASONS))}.")],
    authority: Annotated[str, typer.Option(help="What decided it: a destruction run's id, an order's reference.")],
) -> None:
    """Remove a child's identifying details from every event naming it; the chain still verifies."""
    try:
        redaction.check_request(child_id=child_id, reason=reason, authority=authority)
    except ValueError as exc:
        err.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    settings = get_settings()
    with database(settings) as driver:
        done = audit.redact_child(driver, database=settings.database, child_id=child_id, reason=reason,
                                  authority=authority, actor=operator(), request_id=str(uuid.uuid4()))
    if done.run_seq is None:
        console.print("no event names that child: nothing to redact", highlight=False)
    else:
        console.print(f"redacted the child from {done.events:,} events (run at seq {done.run_seq})", highlight=False)
