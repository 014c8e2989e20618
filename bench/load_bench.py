"""Generate and load synthetic Englands of given sizes; write timings and counts to bench/results/.

Runs on a local DBMS of its own (.neo4j/bench, Bolt port 7689), wiped before each size, so the demo's
data is never touched. Usage:

    .venv/bin/python bench/load_bench.py --children 100000 --children 1000000
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from graph import local, schema
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect
from loaders.generate import generate
from loaders.load import load_dir

RESULTS = PROJECT_ROOT / "bench" / "results"
WORK = PROJECT_ROOT / "bench" / "work"


def _machine() -> dict[str, object]:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"cpus": int(cpu), "memory_gib": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version()}


def run(children: int, seed: int, settings: GraphSettings, keep_feeds: bool) -> dict[str, object]:
    """One size: generate, wipe, schema, load; every stage timed."""
    out = WORK / f"england-{children}-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    stage_rows = generate(out, children=children, seed=seed)
    generate_s = time.perf_counter() - started
    feed_bytes = sum(p.stat().st_size for p in out.glob("*.csv"))

    driver = connect(settings)
    try:
        began = time.perf_counter()
        schema.wipe(driver, database=settings.database)
        wipe_s = time.perf_counter() - began
        began = time.perf_counter()
        schema.apply(driver, database=settings.database)
        schema_s = time.perf_counter() - began
        began = time.perf_counter()
        report = load_dir(driver, out, database=settings.database, rejects_path=out / "rejects.csv")
        load_s = time.perf_counter() - began
        began = time.perf_counter()
        driver.execute_query("CALL db.awaitIndexes(3600)", database_=settings.database)
        index_s = time.perf_counter() - began
        state = schema.status(driver, database=settings.database)
    finally:
        driver.close()
    if not keep_feeds:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "children": children,
        "seed": seed,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "neo4j": {"heap": settings.heap, "pagecache": settings.pagecache},
        "generate": {"seconds": round(generate_s, 1), "rows": stage_rows, "bytes": feed_bytes},
        "wipe_seconds": round(wipe_s, 1),
        "schema_seconds": round(schema_s, 1),
        "load": {
            "seconds": round(load_s, 1),
            "rows_loaded": report.loaded,
            "rows_rejected": report.rejected,
            "feeds": [
                {"feed": r.feed, "rows": r.read, "loaded": r.loaded, "rejected": r.rejected,
                 "seconds": round(r.seconds, 1), "rows_per_second": round(r.rows_per_second)}
                for r in report.results
            ],
        },
        "await_indexes_seconds": round(index_s, 1),
        "end_to_end_seconds": round(generate_s + schema_s + load_s + index_s, 1),
        "nodes": state.nodes,
        "relationships": state.relationships,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, action="append", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--heap", default="4g")
    parser.add_argument("--pagecache", default="8g")
    parser.add_argument("--port", type=int, default=7689)
    parser.add_argument("--keep-feeds", action="store_true")
    args = parser.parse_args()
    settings = GraphSettings(uri=f"bolt://127.0.0.1:{args.port}", home=PROJECT_ROOT / ".neo4j" / "bench", dist=PROJECT_ROOT / ".neo4j" / "dist",
                             bolt_port=args.port, heap=args.heap, pagecache=args.pagecache)
    local.stop(settings)  # restart so the memory settings above apply
    local.start(settings, timeout=300)
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        for children in args.children:
            result = run(children, args.seed, settings, args.keep_feeds)
            path = RESULTS / f"load-{children}.json"
            path.write_text(json.dumps(result, indent=2, default=str) + "\n")
            print(f"{children:>10,} children: generate {result['generate']['seconds']} s, "
                  f"load {result['load']['seconds']} s, end to end {result['end_to_end_seconds']} s -> {path}")
    finally:
        local.stop(settings)


if __name__ == "__main__":
    main()
