"""`contactpoint match`: synthetic sources, the matching run, the model kept in the graph, relink, bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from contactpoint.common import console, database, fail

match_app = typer.Typer(help="Identity matching: one child from many sources (see docs/matching.md).",
                        no_args_is_help=True)


@match_app.callback()
def match_main() -> None:
    """Identity matching: one child from many sources."""


@match_app.command("sources")
def sources_cmd(out: Annotated[Path, typer.Argument(help="Folder for sources.csv, person_records.csv, truth.csv.")],
                children: Annotated[int, typer.Option(min=1)] = 20_000,
                seed: Annotated[int, typer.Option(min=0)] = 1) -> None:
    """Write each synthetic child as one to five sources see it, with the truth alongside."""
    from loaders.synth import sources

    counts = sources.write(out, children, seed)
    console.print(", ".join(f"{name}: {rows:,} rows" for name, rows in counts.items()))


def _records(path: Path):
    import pandas as pd

    if not path.is_file():
        fail(f"{path}: no such file (write one with `contactpoint match sources`)")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def print_run(summary) -> None:
    """One matching run's counts (graph.identity.run.RunSummary)."""
    if not summary.run_id:
        console.print("Matching: no person records waiting.")
        return
    trained = " (trained on this load's records first)" if summary.trained else ""
    console.print(f"Matching with model {summary.model}{trained}: {summary.records:,} records in {summary.seconds:.1f} s; "
                  f"{summary.linked:,} joined a child already known, {summary.new_children:,} new children "
                  f"({summary.in_new_children:,} records), {summary.review:,} pairs for review, "
                  f"{summary.guarded:,} pairs kept apart by a guard, {summary.rejected:,} refused, "
                  f"{summary.moved:,} moved, {summary.merged:,} children merged", highlight=False)


def print_population(driver, settings, la_codes: dict[str, str]) -> None:
    """How the loaded children came through matching, and each named authority's review queue (the demo's)."""
    from graph.identity import store

    with driver.session(database=settings.database) as session:
        counts = session.execute_read(store.population, la_codes=list(la_codes))
    linked = counts["records"] - counts["children"]
    console.print(f"{counts['records']:,} person records identify {counts['children']:,} children, each made by "
                  f"matching: {linked:,} records were linked automatically to another record of the same child "
                  f"({counts['joined']:,} children known to two or more sources); {counts['review']:,} pairs "
                  "wait for review.", highlight=False)
    for code, name in la_codes.items():
        console.print(f"  {name} ({code}): {counts['review_by_la'].get(code, 0):,} pairs in its data team's review "
                      "queue", highlight=False)


def run_matching(driver, settings, threads: int = 2, chunk: int | None = None):
    """Match the pending person records with progress lines; returns the run's summary."""
    from graph.identity import run

    kw = {"chunk": chunk} if chunk else {}
    return run.match_pending(driver, database=settings.database, threads=threads,
                             progress=lambda message: console.print(f"  {message}", style="dim", highlight=False), **kw)


@match_app.command("run")
def run_cmd(threads: Annotated[int, typer.Option(min=1, help="DuckDB threads.")] = 2,
            chunk: Annotated[int | None, typer.Option(min=1, help="Pending records matched in one go.")] = None) -> None:
    """Match the person records waiting in the graph (new or changed since they were last matched)."""
    from graph.config import get_settings
    from graph.identity.models import MatchError

    settings = get_settings()
    with database(settings) as driver:
        try:
            print_run(run_matching(driver, settings, threads, chunk))
        except MatchError as exc:
            fail(str(exc))


@match_app.command("model")
def model_cmd(train: Annotated[bool, typer.Option("--train", help="Train on the loaded population (or on --records) "
                                                                   "and store it as the model in use.")] = False,
              records: Annotated[Path | None, typer.Option(help="Train on this person_records.csv instead.")] = None,
              import_: Annotated[Path | None, typer.Option("--import", help="Store a saved model as the one in use.")] = None,
              export: Annotated[Path | None, typer.Option("--export", help="Write the model in use to a file.")] = None,
              report: Annotated[Path | None, typer.Option("--report", help="Write the model's charts (one offline HTML file).")] = None,
              threads: Annotated[int, typer.Option(min=1)] = 2) -> None:
    """The matching model kept in the graph: train it (u by random sampling, m by EM), import, export, chart it."""
    from graph.config import get_settings
    from graph.identity import models
    from matching import model as matching_model
    from matching.records import prepare

    if not (train or import_ or export or report):
        fail("say --train, --import FILE, --export FILE or --report FILE")
    if records is not None and not train:
        fail("--records is the population for --train")
    settings = get_settings()
    with database(settings) as driver, driver.session(database=settings.database) as session:
        if import_ is not None:
            try:
                model = matching_model.load(import_)
            except (OSError, ValueError) as exc:
                fail(f"cannot read the model: {exc}")
            session.execute_write(models.store_model, model=model)
            console.print(f"Model {model.version} stored in the graph as the one in use")
        if train:
            try:
                if records is not None:
                    prepared = prepare(_records(records))
                    model = matching_model.train(prepared.records, con=matching_model.connect(threads=threads))
                    session.execute_write(models.store_model, model=model)
                else:
                    model = models.train(driver, database=settings.database, threads=threads)
            except models.MatchError as exc:
                fail(str(exc))
            console.print(f"Model {model.version} trained on {model.trained_on:,} records, stored in the graph as the "
                          "one in use (retrain after a big change of population, then `contactpoint match relink`)")
        model = session.execute_read(models.stored)
        if model is None and (export or report):
            fail("no matching model is stored yet (`contactpoint match model --train`)")
        if export is not None:
            matching_model.save(model, export)
            console.print(f"Model {model.version} written to {export}")
        if report is not None:
            matching_model.report(model, report)
            console.print(f"Charts of model {model.version} written to {report} (opens offline)")


@match_app.command("relink")
def relink_cmd(apply: Annotated[bool, typer.Option("--apply", help="Make the merges and splits (default: only print).")] = False,
               threads: Annotated[int, typer.Option(min=1)] = 2) -> None:
    """Relink every matched record with the model in use: print the merges and splits it would make; apply on request."""
    from graph.config import get_settings
    from graph.identity import relink
    from graph.identity.models import MatchError

    settings = get_settings()
    with database(settings) as driver:
        try:
            planned = relink.plan(driver, database=settings.database, threads=threads)
        except MatchError as exc:
            fail(str(exc))
        changes, result = planned.diff, planned.resolution
        console.print(f"Model {planned.model.version}: {changes.merges['group'].nunique():,} merges, "
                      f"{changes.splits['current_child_id'].nunique():,} splits ({planned.moves:,} records would "
                      f"identify another child), {changes.unchanged_children:,} children unchanged, "
                      f"{len(result.review):,} pairs for review, {len(result.refusals):,} refused by a guard",
                      highlight=False)
        for group, rows in list(changes.merges.groupby("group"))[:20]:
            console.print(f"  merge {', '.join(sorted(set(rows['current_child_id'])))} -> "
                          f"{planned.targets.get(group, group)}", highlight=False)
        for child, rows in list(changes.splits.groupby("current_child_id"))[:20]:
            console.print(f"  split {child} into {rows['group'].nunique()} children", highlight=False)
        if apply:
            summary = relink.apply(driver, database=settings.database, planned=planned)
            console.print(f"Applied: {summary.moved:,} records moved, {summary.new_children:,} new children, "
                          f"{summary.merged:,} children merged (run {summary.run_id})", highlight=False)
        else:
            console.print("Nothing applied (say --apply).")


@match_app.command("bench")
def bench_cmd(children: Annotated[int, typer.Option(min=1000)] = 100_000) -> None:
    """Run bench/match_bench.py (accuracy and speed); results in bench/results/."""
    script = Path(__file__).resolve().parent.parent / "bench" / "match_bench.py"
    raise typer.Exit(subprocess.call([sys.executable, str(script), "--children", str(children)]))
