"""Accuracy and speed of identity matching on synthetic sources; results in bench/results/match-<N>.json.

    python bench/match_bench.py --children 100000
    python bench/match_bench.py --children 1000000 --threads 2 --memory 8GB

Stages, each timed: generate the children's sources, prepare, train (u by sampling, m by EM), the first
load as a full relink of all but a held-out daily batch, then the daily batch through ``resolve``
against everything already linked. Accuracy against the truth: pairwise and B-cubed precision/recall
of automatic links, then with the review queue worked (a reviewer deciding each pair correctly),
records sent to review, twins merged, guard refusals.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loaders.synth import sources  # noqa: E402
from matching import evaluate, records  # noqa: E402
from matching import model as matching_model  # noqa: E402
from matching.decide import Thresholds  # noqa: E402
from matching.engine import relink, resolve  # noqa: E402

DAILY_BATCH = 50_000


def _peak_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def _accuracy(groups: pd.Series, review: pd.DataFrame, truth: pd.DataFrame, refusals: pd.DataFrame) -> dict:
    t = truth.set_index("record_key")
    auto = evaluate.scores(groups, t["child_id"])
    worked = evaluate.after_review(groups, review, t["child_id"])
    reviewed = evaluate.scores(worked, t["child_id"])
    in_review = pd.unique(pd.concat([review["record_key"], review["candidate_key"]])) if len(review) else []
    return {
        "records": len(groups),
        "automatic": auto,
        "after_review": reviewed,
        "review_pairs": len(review),
        "records_in_review": len(in_review),
        "review_share_of_records": len(in_review) / max(len(groups), 1),
        "review_pairs_truly_same": int((t["child_id"].reindex(review["record_key"]).to_numpy()
                                        == t["child_id"].reindex(review["candidate_key"]).to_numpy()).sum())
        if len(review) else 0,
        "twins_merged_automatic": evaluate.twins_merged(groups, t["child_id"], t["multiple_birth"]),
        "twins_merged_after_review": evaluate.twins_merged(worked, t["child_id"], t["multiple_birth"]),
        "guard_refusals": refusals["reason"].value_counts().to_dict() if len(refusals) else {},
    }


def run(children: int, seed: int, threads: int, memory: str, thresholds: Thresholds, work: Path) -> dict:
    times: dict[str, float] = {}
    t = time.perf_counter()
    built = sources.build(children, seed)
    times["generate_sources"] = time.perf_counter() - t
    recs, truth = built.records, built.truth
    print(f"{len(recs):,} records from {children:,} children in {times['generate_sources']:.0f} s", flush=True)

    t = time.perf_counter()
    prepared = records.prepare(recs)
    times["prepare"] = time.perf_counter() - t
    con = matching_model.connect(threads=threads, memory_limit=memory, temp_dir=str(work / "duckdb-tmp"))
    t = time.perf_counter()
    model = matching_model.train(prepared.records, con=con)
    times["train"] = time.perf_counter() - t
    matching_model.save(model, work / f"match-model-{children}.json")
    matching_model.report(model, work / f"match-model-{children}.html")
    print(f"trained {model.version} in {times['train']:.0f} s", flush=True)
    del prepared

    rng = np.random.default_rng(seed)
    batch_size = min(DAILY_BATCH, len(recs) // 20)
    held = np.zeros(len(recs), dtype=bool)
    held[rng.choice(len(recs), batch_size, replace=False)] = True
    first, daily = recs[~held].reset_index(drop=True), recs[held].reset_index(drop=True)

    con = matching_model.connect(threads=threads, memory_limit=memory, temp_dir=str(work / "duckdb-tmp"))
    t = time.perf_counter()
    initial = relink(model, records=first, thresholds=thresholds, con=con)
    times["initial_load_relink"] = time.perf_counter() - t
    con.close()
    print(f"first load: {len(first):,} records linked in {times['initial_load_relink']:.0f} s", flush=True)
    groups = initial.links.set_index("record_key")["child_id"]
    first_acc = _accuracy(groups, initial.review, truth, initial.refusals)

    existing = first.merge(initial.links[["record_key", "child_id"]], on="record_key")
    # The directory keeps its records prepared (normalised), so the daily batch does not prepare them again.
    t = time.perf_counter()
    existing = records.prepare(existing)
    times["prepare_directory"] = time.perf_counter() - t
    con = matching_model.connect(threads=threads, memory_limit=memory, temp_dir=str(work / "duckdb-tmp"))
    t = time.perf_counter()
    day = resolve(model, existing=existing, new=daily, thresholds=thresholds, con=con)
    times["daily_batch_resolve"] = time.perf_counter() - t
    con.close()
    print(f"daily batch: {len(daily):,} records matched in {times['daily_batch_resolve']:.0f} s", flush=True)
    all_groups = pd.concat([groups, day.links.set_index("record_key")["child_id"]])
    review_all = pd.concat([initial.review, day.review], ignore_index=True)
    daily_acc = _accuracy(all_groups, review_all, truth, day.refusals)
    daily_acc["batch_records"] = len(daily)
    daily_acc["batch_new_children"] = int(day.links["new_child"].sum())
    daily_acc["batch_review_pairs"] = len(day.review)
    return {
        "children": children, "records": len(recs), "seed": seed,
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "duckdb_threads": threads, "duckdb_memory_limit": memory},
        "model_version": model.version,
        "thresholds": {"link": thresholds.link, "review": thresholds.review},
        "seconds": {k: round(v, 1) for k, v in times.items()},
        # Linking end to end: the records arrive (generating them is not part of it), are prepared, the
        # model is trained on them and every record is linked.
        "end_to_end_seconds": round(sum(times[k] for k in ("prepare", "train", "initial_load_relink")), 1),
        "peak_rss_gib": _peak_gib(),
        "first_load": first_acc,
        "after_daily_batch": daily_acc,
        "records_per_child": round(len(recs) / children, 2),
        "source_kinds": recs["source_kind"].value_counts().to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, action="append", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="8GB")
    parser.add_argument("--link", type=float, default=Thresholds().link)
    parser.add_argument("--review", type=float, default=Thresholds().review)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    work = ROOT / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    for n in args.children:
        result = run(n, args.seed, args.threads, args.memory, Thresholds(link=args.link, review=args.review), work)
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"match-{n}.json"
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: result[k] for k in ("seconds", "peak_rss_gib")}), flush=True)
        for stage in ("first_load", "after_daily_batch"):
            acc = result[stage]
            print(stage, {k: round(acc["automatic"][k], 5) for k in ("pairwise_precision", "pairwise_recall")},
                  "after review", {k: round(acc["after_review"][k], 5) for k in ("pairwise_precision", "pairwise_recall")},
                  "review share", round(acc["review_share_of_records"], 4), "twins merged",
                  acc["twins_merged_automatic"], flush=True)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
