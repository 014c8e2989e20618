"""Identity in the graph, end to end: person records loaded and matched, a daily batch, and the card's cost.

On a local DBMS of its own (.neo4j/identity-bench, Bolt 7901), wiped first. For N children:

1. (unless --no-directory) the synthetic England of N children is generated and loaded as today's feeds
   (children.csv makes the directory's own record of each child); the contacts card's p95 is measured;
2. the same children as their sources see them (loaders/synth/sources.py: about 2.75 records a child), all
   but a held-out 5% (at most 50,000), go through the loader as `contactpoint load` runs it: sources.csv,
   person_records.csv (validated, upserted), then the matching run (the model trained first, as on a first
   load); the assignment is scored against the truth; the card's p95 is measured again on the same children;
3. a daily batch: the held-out records (new) and changed versions of 1% of the loaded ones (a new
   postcode) through the loader again, matched against the whole directory.

Usage:
    .venv/bin/python bench/identity_bench.py --children 100000 [--no-directory]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from neo4j import READ_ACCESS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import percentiles, timed  # noqa: E402

from graph import children, local, schema  # noqa: E402
from graph.config import PROJECT_ROOT, GraphSettings  # noqa: E402
from graph.db import connect  # noqa: E402
from graph.identity import models, run  # noqa: E402
from graph.viewer import Role, Viewer  # noqa: E402
from loaders.generate import generate  # noqa: E402
from loaders.load import load_dir  # noqa: E402
from loaders.synth import sources  # noqa: E402
from matching import evaluate  # noqa: E402

RESULTS = PROJECT_ROOT / "bench" / "results"
WORK = PROJECT_ROOT / "bench" / "work"
BATCH_SHARE, BATCH_MAX, CHANGED_SHARE = 0.05, 50_000, 0.01
VIEWER = Viewer("bench", Role.PRACTITIONER, "E08000025")
SAMPLE = """
MATCH (c:Child {shielded: false})
WHERE EXISTS { (c)<-[:IDENTIFIES]-(:SourceRecord) }
RETURN c.id AS id ORDER BY c.id LIMIT 50000
"""
ASSIGNMENT = "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) WHERE x.source_id <> 'directory' " \
             "RETURN x.key AS record_key, c.id AS child_id"


def _card_p95(driver: Any, database: str, ids: list[str]) -> dict[str, float]:
    """The card as the API reads it (graph.children.card in a read session), without HTTP and the audit event."""
    def card(child_id: str) -> None:
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            children.card(session, viewer=VIEWER, child_id=child_id)
    timed(card, ids[:50])
    timed(card, ids)  # every sampled card in the page cache, as in bench/api_bench.py
    return percentiles(timed(card, ids))


def _scores(driver: Any, database: str, truth: pd.DataFrame) -> dict[str, Any]:
    got = pd.DataFrame([dict(r) for r in driver.execute_query(ASSIGNMENT, database_=database).records])
    groups = got.set_index("record_key")["child_id"]
    true = truth.set_index("record_key").reindex(groups.index)
    out = {k: round(v, 5) for k, v in evaluate.scores(groups, true["child_id"]).items()}
    out["twins_merged"] = int(evaluate.twins_merged(groups, true["child_id"], true["multiple_birth"]))
    out["records"] = len(groups)
    if "directory_child" in true:  # records joined to the directory's own child, as the truth says
        out["joined_true_directory_child"] = round(float((groups == true["child_id"]).mean()), 5)
    return out


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)


def _feed(records: pd.DataFrame) -> pd.DataFrame:
    """person_records.csv rows from the synthetic records (the feed's columns)."""
    return records[["source_id", "local_id", "given_name", "family_name", "other_names", "dob", "sex", "postcode",
                    "nhs_number", "upn", "council_person_id"]]


def _matcher(driver: Any, database: str, timings: dict[str, float], threads: int):
    def match() -> run.RunSummary:
        began = time.perf_counter()
        models.current_or_train(driver, database=database, threads=threads)
        timings["train_seconds"] = round(time.perf_counter() - began, 1)
        return run.match_pending(driver, database=database, threads=threads)
    return match


def _load(driver: Any, database: str, folder: Path, threads: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    began = time.perf_counter()
    report = load_dir(driver, folder, database=database, matcher=_matcher(driver, database, timings, threads))
    total = time.perf_counter() - began
    summary = report.matching
    return {"seconds": round(total, 1),
            "feeds": {r.feed: {"rows": r.read, "loaded": r.loaded, "rejected": r.rejected,
                               "seconds": round(r.seconds, 1)} for r in report.results},
            "matching": summary.counts() | {"seconds": summary.seconds} if summary else None,
            "model_trained_now": bool(summary and summary.trained),
            **timings, "matching_error": report.matching_error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-directory", action="store_true", help="records only: no directory-keyed England first")
    parser.add_argument("--port", type=int, default=7901)
    parser.add_argument("--heap", default="3g")
    parser.add_argument("--pagecache", default="3g")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cards", type=int, default=500)
    args = parser.parse_args()
    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", home=PROJECT_ROOT / ".neo4j" / "identity-bench",
                             dist=PROJECT_ROOT / ".neo4j" / "dist", bolt_port=args.port, heap=args.heap,
                             pagecache=args.pagecache)
    db = settings.database
    work = WORK / f"identity-{args.children}-{args.seed}"
    shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"children": args.children, "seed": args.seed, "directory_first": not args.no_directory,
                              "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "neo4j": {"heap": args.heap, "pagecache": args.pagecache}, "duckdb_threads": args.threads,
                              "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    local.start(settings, timeout=300)
    driver = connect(settings)
    try:
        schema.wipe(driver, database=db)
        schema.apply(driver, database=db)
        ids: list[str] = []
        if not args.no_directory:
            began = time.perf_counter()
            generate(work / "england", children=args.children, seed=args.seed)
            report = load_dir(driver, work / "england", database=db)
            result["directory_load_seconds"] = round(time.perf_counter() - began, 1)
            sample = [r["id"] for r in driver.execute_query(SAMPLE, database_=db).records]
            ids = random.Random(1).sample(sample, min(args.cards, len(sample)))
            result["card_before"] = _card_p95(driver, db, ids)
            print("card before", result["card_before"], flush=True)

        began = time.perf_counter()
        built = sources.build(args.children, args.seed)
        result["sources_seconds"] = round(time.perf_counter() - began, 1)
        records, truth = built.records, built.truth
        rng = np.random.default_rng(args.seed)
        held = rng.random(len(records)) < min(BATCH_SHARE, BATCH_MAX / len(records))
        _write(work / "records", "sources", built.sources)
        _write(work / "records", "person_records", _feed(records[~held]))
        result["link"] = _load(driver, db, work / "records", args.threads)
        print("link", result["link"], flush=True)
        truth = truth.assign(**({} if args.no_directory else {"directory_child": True}))
        result["link"]["accuracy"] = _scores(driver, db, truth)
        print("accuracy", result["link"]["accuracy"], flush=True)
        if not ids:
            sample = [r["id"] for r in driver.execute_query(SAMPLE, database_=db).records]
            ids = random.Random(1).sample(sample, min(args.cards, len(sample)))
        result["card_after"] = _card_p95(driver, db, ids)
        print("card after", result["card_after"], flush=True)

        loaded = records[~held]
        changed = loaded.sample(n=int(len(loaded) * CHANGED_SHARE), random_state=args.seed)
        changed = changed.assign(postcode=loaded["postcode"].sample(n=len(changed), random_state=args.seed + 1)
                                 .to_numpy())
        batch = pd.concat([records[held], changed], ignore_index=True)
        _write(work / "batch", "person_records", _feed(batch))
        result["daily_batch"] = {"new_records": int(held.sum()), "changed_records": len(changed),
                                 **_load(driver, db, work / "batch", args.threads)}
        result["daily_batch"]["accuracy"] = _scores(driver, db, truth)
        print("daily batch", result["daily_batch"], flush=True)
        result["nodes"] = schema.status(driver, database=db).nodes
    finally:
        driver.close()
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-records-only" if args.no_directory else ""
    path = RESULTS / f"identity-{args.children}{suffix}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
