"""How a load shows itself: a progress bar per feed (rows/s) and the summary table, for every load command."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactpoint.common import console
from contactpoint.match_cli import print_run
from loaders.load import LoadReport


@contextmanager
def progress_bar(width: int = 18) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback for loaders.load (one bar per feed, with its rate), live while the block runs."""
    with Progress(
        TextColumn(f"{{task.description:<{width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>12}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, tuple[int, float]] = {}

        def progress(feed: str, done: int, total: int) -> None:
            if feed not in tasks:
                tasks[feed] = (bar.add_task(feed, total=total, rate=""), time.perf_counter())
            task, began = tasks[feed]
            rate = done / max(time.perf_counter() - began, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s")

        yield progress


def print_report(report: LoadReport, title: str, missing_label: str = "Not present (skipped)") -> None:
    """The summary of a load: rows read, loaded and rejected per feed, the matching run, where the rejects are."""
    targeted = report.scope.targeted
    mode = f" (targeted mode: children at risk now or within {report.scope.months} months)" if targeted else ""
    table = Table(title=f"{title}{mode}")
    for col in ("feed", "read", "loaded", "rejected", *(("out of scope",) if targeted else ()), "seconds", "rows/s"):
        table.add_column(col, justify="left" if col == "feed" else "right")
    for r in report.results:
        scoped = (f"{r.out_of_scope:,}",) if targeted else ()
        if r.error:
            table.add_row(r.feed, "-", "-", "-", *("-" for _ in scoped), "-", f"[red]{r.error}[/]")
        else:
            table.add_row(r.feed, f"{r.read:,}", f"{r.loaded:,}", f"{r.rejected:,}", *scoped, f"{r.seconds:.1f}",
                          f"{r.rows_per_second:,.0f}")
    console.print(table)
    if report.matching is not None:
        print_run(report.matching)
    if report.matching_error:
        console.print(f"[yellow]Matching did not run[/]: {report.matching_error}", highlight=False)
    if targeted:
        console.print(f"{report.out_of_scope:,} rows were about children outside the targeted cohort: counted, not "
                      "stored.", highlight=False)
    if report.readmitted:
        console.print(f"[yellow]{report.readmitted:,} children destroyed when they left the targeted cohort were "
                      "admitted again[/] (newly in scope; their old records are gone).", highlight=False)
    if report.missing:
        console.print(f"{missing_label}: {', '.join(report.missing)}", style="dim")
    if report.rejected:
        console.print(f"[yellow]{report.rejected:,} rows rejected[/]; each with its file, line and reason in "
                      f"{report.rejects_path}", highlight=False)
    if report.alerts:
        console.print(f"{report.alerts:,} emergency attendances of protected children alerted their authority as "
                      "they were loaded.", highlight=False)
    if report.kept:
        console.print(f"{report.kept:,} involvement rows met an involvement a practitioner recorded, or a lead "
                      "professional chosen in the directory, and did not change it (docs/feeds.md).", highlight=False)
