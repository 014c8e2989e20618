"""`contactpoint import ssd`: a council's Standard Safeguarding Dataset extract, as that council's source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contactpoint.common import console, database, fail
from contactpoint.load_view import print_report, progress_bar
from contactpoint.match_cli import run_matching
from graph.config import get_settings
from loaders.ssd.importer import SsdReport, import_ssd
from loaders.ssd.read import ExtractError

import_app = typer.Typer(help="Import a case system's extract as a source.", no_args_is_help=True)


def print_ssd(report: SsdReport, folder: Path) -> None:
    """The load's summary, and what of the extract was not used."""
    print_report(report.load, f"Imported the SSD of {report.council.name} ({report.council.la_code}) from {folder}",
                 missing_label="Tables not in the extract (optional)")
    if report.ignored:
        console.print(f"Tables not used (ignored): {', '.join(report.ignored)}", style="dim")
    if report.adults:
        console.print(f"{report.adults:,} adults in ssd_person (mothers, people over 25) are carers or nobody "
                      "here, not children's records.", style="dim", highlight=False)


@import_app.command("ssd")
def ssd(
    folder: Annotated[Path, typer.Argument(help="Folder of the SSD tables as CSV (ssd_person.csv, ...).")],
    la: Annotated[str, typer.Option("--la", help="The council's ONS code, e.g. E08000025.")],
    rejects: Annotated[Path | None, typer.Option(help="Rejects file (default FOLDER/rejects.csv).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 5000,
) -> None:
    """Import a council's SSD extract: its children as the council's person records, with their addresses,
    workers, involvements, plans, placements, households and missing episodes (docs/feeds.md)."""
    settings = get_settings()
    with database(settings) as driver:
        try:
            with progress_bar(width=34) as progress:
                report = import_ssd(driver, folder, la_code=la.strip().upper(), database=settings.database,
                                    rejects_path=rejects, batch_size=batch_size, progress=progress,
                                    matcher=lambda: run_matching(driver, settings))
        except ExtractError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot read the extract in {folder}: {exc}")
        print_ssd(report, folder)
        if report.load.matching_error:
            raise typer.Exit(code=2)
