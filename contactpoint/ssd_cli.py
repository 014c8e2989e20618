"""`contactpoint import ssd`: a council's Standard Safeguarding Dataset extract, as that council's source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from neo4j import Driver

from contactpoint.common import console, database, fail
from contactpoint.load_view import print_report, progress_bar
from contactpoint.match_cli import run_matching
from graph.config import GraphSettings, get_settings
from loaders.ssd.importer import SsdReport, import_ssd
from loaders.ssd.read import Extract, ExtractError, read_extract

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


def run_import(driver: Driver, settings: GraphSettings, folder: Path, la_code: str, rejects: Path | None = None,
               batch_size: int = 5000, extract: Extract | None = None) -> SsdReport:
    """Import an extract with a progress bar per step and print the summary.

    Raises:
        ExtractError: no such folder, no ssd_person.csv, or an authority the directory does not hold.
    """
    extract = extract or read_extract(folder)
    with progress_bar(width=34) as progress:
        report = import_ssd(driver, folder, la_code=la_code.strip().upper(), database=settings.database,
                            rejects_path=rejects, batch_size=batch_size, progress=progress,
                            matcher=lambda: run_matching(driver, settings), extract=extract)
    print_ssd(report, folder)
    return report


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
    try:  # a folder that is not an extract is refused before Neo4j is asked for anything
        extract = read_extract(folder)
    except ExtractError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read the extract in {folder}: {exc}")
    with database(settings) as driver:
        try:
            report = run_import(driver, settings, folder, la, rejects, batch_size, extract)
        except ExtractError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot read the extract in {folder}: {exc}")
        if report.load.matching_error:
            raise typer.Exit(code=2)


def generate_ssd(
    feeds: Annotated[Path, typer.Argument(help="A synthetic England's feeds (contactpoint generate).")],
    la: Annotated[str, typer.Option("--la", help="The council's ONS code, e.g. E08000035.")],
    out: Annotated[Path | None, typer.Option(help="Where the extract goes (default FEEDS/ssd-<LA>).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 1,
    whole: Annotated[bool, typer.Option("--whole", help="Every child of the feeds, as if this council held them "
                                                        "all (to measure a large council).")] = False,
) -> None:
    """Write a synthetic SSD extract of one council from a synthetic England: its children under its own ids."""
    from loaders.synth import ssd as synth_ssd

    folder = out or feeds / f"ssd-{la}"
    try:
        counts = synth_ssd.write(feeds, folder, la.strip().upper(), seed, whole=whole)
    except FileNotFoundError as exc:
        fail(f"{feeds}: not a synthetic England's feeds ({exc.filename} is missing)")
    console.print(f"Wrote the SSD extract of {la} into {folder}: "
                  + ", ".join(f"{name} {n:,}" for name, n in counts.items()), highlight=False)
