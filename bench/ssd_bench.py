"""A large council's SSD extract imported, then imported again (the weekly re-run), timed.

On a local DBMS of its own (.neo4j/ssd-bench, Bolt 7861 by default), wiped first. A synthetic England of N
children is generated and every child of it written as one council's SSD extract (loaders/synth/ssd.py,
--whole: their workers, addresses, referrals, plans, periods of care, placements, mothers, families and
missing episodes over the generator's history), then imported as `contactpoint import ssd` does: the
council's source registered, person records validated and loaded, matched against the directory (which holds
the England's children first, from its children.csv; the model trained first, as on a first load), and every
relationship table loaded. The same extract is then imported again: nothing may change.

Usage:
    nice -n 15 .venv/bin/python bench/ssd_bench.py --children 30000 [--port 7861] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from graph import local, schema
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect
from graph.identity import run
from loaders.generate import generate
from loaders.load import load_dir
from loaders.ssd.importer import SsdReport, import_ssd
from loaders.synth import ssd as synth_ssd

RESULTS = PROJECT_ROOT / "bench" / "results"
WORK = PROJECT_ROOT / "bench" / "work"
LA = "E08000025"  # Birmingham, the largest council


def _steps(report: SsdReport) -> list[dict[str, Any]]:
    return [{"step": r.feed, "read": r.read, "loaded": r.loaded, "rejected": r.rejected,
             "seconds": round(r.seconds, 2)} for r in report.load.results]


def _import(driver: Any, folder: Path, database: str, threads: int) -> tuple[SsdReport, float]:
    began = time.perf_counter()
    report = import_ssd(driver, folder, la_code=LA, database=database, rejects_path=folder.parent / "rejects.csv",
                        matcher=lambda: run.match_pending(driver, database=database, threads=threads))
    return report, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=20100806)
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="1g")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads for the matching")
    parser.add_argument("--keep", action="store_true", help="leave the DBMS running afterwards")
    args = parser.parse_args()
    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", home=PROJECT_ROOT / ".neo4j" / "ssd-bench",
                             dist=PROJECT_ROOT / ".neo4j" / "dist", bolt_port=args.port, heap=args.heap,
                             pagecache=args.pagecache)
    work = WORK / f"ssd-{args.children}"
    england, extract = work / "england", work / "extract"
    result: dict[str, Any] = {"bench": "ssd", "children": args.children, "seed": args.seed, "la_code": LA,
                              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                              "neo4j": {"heap": args.heap, "pagecache": args.pagecache},
                              "duckdb_threads": args.threads}
    if not (england / "manifest.json").is_file():
        shutil.rmtree(england, ignore_errors=True)
        began = time.perf_counter()
        generate(england, children=args.children, seed=args.seed)
        result["generate_england_seconds"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    result["extract_rows"] = synth_ssd.write(england, extract, LA, args.seed, whole=True)
    result["write_extract_seconds"] = round(time.perf_counter() - began, 1)
    local.start(settings, timeout=300)
    driver = connect(settings)
    db = settings.database
    try:
        schema.wipe(driver, database=db)
        schema.apply(driver, database=db)
        began = time.perf_counter()  # the directory as it stands: the England's children, one record each
        directory = load_dir(driver, england, database=db, only=["authorities", "children"],
                             rejects_path=work / "directory-rejects.csv")
        result["directory"] = {"seconds": round(time.perf_counter() - began, 1), "loaded": directory.loaded,
                               "rejected": directory.rejected}
        first, seconds = _import(driver, extract, db, args.threads)
        result["first_import"] = {"seconds": round(seconds, 1), "rejected": first.load.rejected,
                                  "loaded": first.load.loaded, "adults": first.adults,
                                  "matching": vars(first.load.matching) if first.load.matching else None,
                                  "steps": _steps(first)}
        before = schema.status(driver, database=db)
        again, seconds = _import(driver, extract, db, args.threads)
        after = schema.status(driver, database=db)
        result["reimport"] = {"seconds": round(seconds, 1), "rejected": again.load.rejected,
                              "unchanged_counts": (before.nodes, before.relationships) == (after.nodes,
                                                                                           after.relationships),
                              "steps": _steps(again)}
        result["nodes"], result["relationships"] = after.nodes, after.relationships
    finally:
        driver.close()
        if not args.keep:
            local.stop(settings)
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ssd-{args.children}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("children", "first_import", "reimport")}, indent=2, default=str))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
