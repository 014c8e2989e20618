"""`contactpoint match`: generate synthetic sources, train and chart the matching model, relink, bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from contactpoint.common import console, fail

match_app = typer.Typer(help="Identity matching: one child from many sources (see docs/matching.md).",
                        no_args_is_help=True)
MODEL_PATH = Path("var") / "matching" / "model.json"


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


@match_app.command("model")
def model_cmd(records: Annotated[Path | None, typer.Option(help="person_records.csv to train on.")] = None,
              train: Annotated[bool, typer.Option("--train", help="Train on the records and save the model.")] = False,
              report: Annotated[Path | None, typer.Option("--report", help="Write the model's charts (one offline HTML file).")] = None,
              path: Annotated[Path, typer.Option(help="Where the model is kept.")] = MODEL_PATH,
              threads: Annotated[int, typer.Option(min=1)] = 2) -> None:
    """Train the model (u by random sampling, m by EM), store it with a version; chart its match weights."""
    from matching import model as matching_model
    from matching.records import prepare

    if not train and report is None:
        fail("say --train, --report FILE or both")
    if train:
        if records is None:
            fail("--train needs --records person_records.csv")
        prepared = prepare(_records(records))
        model = matching_model.train(prepared.records, con=matching_model.connect(threads=threads))
        matching_model.save(model, path)
        console.print(f"Model {model.version} trained on {model.trained_on:,} records, saved to {path}")
    if report is not None:
        try:
            model = matching_model.load(path)
        except (OSError, ValueError) as exc:
            fail(f"cannot read the model: {exc}")
        matching_model.report(model, report)
        console.print(f"Charts of model {model.version} written to {report} (opens offline)")


@match_app.command("relink")
def relink_cmd(records: Annotated[Path, typer.Argument(help="person_records.csv with the current child_id column.")],
               apply: Annotated[bool, typer.Option("--apply", help="Write the new assignment (default: only print).")] = False,
               out: Annotated[Path, typer.Option(help="Where --apply writes record_key,child_id.")] = Path("relinked.csv"),
               path: Annotated[Path, typer.Option(help="The model.")] = MODEL_PATH) -> None:
    """Relink everything with the current model: print the merges and splits it would make; apply on request."""
    from matching import model as matching_model
    from matching.engine import diff, relink

    model = matching_model.load(path)
    frame = _records(records)
    if "child_id" not in frame:
        frame["child_id"] = ""
    result = relink(model, records=frame)
    changes = diff(result)
    console.print(f"Model {model.version}: {changes.merges['group'].nunique():,} merges, "
                  f"{changes.splits['current_child_id'].nunique():,} splits, {changes.unchanged_children:,} children "
                  f"unchanged, {len(result.review):,} pairs for review, {len(result.refusals):,} refused by a guard")
    for group, rows in list(changes.merges.groupby("group"))[:20]:
        console.print(f"  merge {', '.join(sorted(set(rows['current_child_id'])))} -> {group}")
    for child, rows in list(changes.splits.groupby("current_child_id"))[:20]:
        console.print(f"  split {child} into {rows['group'].nunique()} children")
    if apply:
        result.links[["record_key", "child_id"]].to_csv(out, index=False)
        console.print(f"Applied: {len(result.links):,} records written to {out}")
    else:
        console.print("Nothing applied (say --apply).")


@match_app.command("bench")
def bench_cmd(children: Annotated[int, typer.Option(min=1000)] = 100_000) -> None:
    """Run bench/match_bench.py (accuracy and speed); results in bench/results/."""
    script = Path(__file__).resolve().parent.parent / "bench" / "match_bench.py"
    raise typer.Exit(subprocess.call([sys.executable, str(script), "--children", str(children)]))
