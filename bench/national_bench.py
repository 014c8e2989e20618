"""The national bulk load, measured: generation, import, index build, store size and memory, into a home of its own.

Runs `contactpoint bulk-load`'s own code (bulk files region by region, neo4j-admin import into a staging store,
start, schema and indexes) and writes bench/results/national-<label>.json, with the machine's load average before
and after (other work on the same cores slows every step). Usage:

    .venv/bin/python bench/national_bench.py --children 1000000 --home .neo4j/national-1m --port 7695
    CP_SCOPE=targeted .venv/bin/python bench/national_bench.py --children 1000000 --home .neo4j/national-1m-targeted \
        --port 7695 --label 1m-targeted        # targeted mode: only the children at risk (docs/scaling.md)
    .venv/bin/python bench/api_bench.py --label national-1m --home .neo4j/national-1m --port 7695

The DBMS is stopped at the end (--leave-running keeps it up for the API benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from contactpoint import bulk_cli
from graph import local
from graph.config import PROJECT_ROOT, GraphSettings, get_settings

RESULTS = PROJECT_ROOT / "bench" / "results"


def machine() -> dict[str, object]:
    """Cores, memory, Python, and the load average now (other engineers' work shares the machine)."""
    mem_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", help="names the result file (default: the home's folder name)")
    parser.add_argument("--home", type=Path, required=True, help="DBMS home for this store (e.g. .neo4j/national-1m)")
    parser.add_argument("--port", type=int, required=True, help="its Bolt port")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--pagecache", default="6g")
    parser.add_argument("--import-heap", default="2g")
    parser.add_argument("--import-memory", default="4g")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--keep-csv", action="store_true")
    parser.add_argument("--leave-running", action="store_true")
    args = parser.parse_args()

    settings = GraphSettings(home=args.home.resolve(), dist=get_settings().dist_root, bolt_port=args.port,
                             heap=args.heap, pagecache=args.pagecache)
    local.stop(settings)  # the importer needs the store to itself; --overwrite replaces it
    before = machine()
    began = time.monotonic()
    with bulk_cli.Bars() as bars:
        report = bulk_cli.run(settings, children=args.children, seed=args.seed, keep_csv=args.keep_csv,
                              overwrite=True, threads=args.threads, import_heap=args.import_heap,
                              import_memory=args.import_memory, with_demo_users=True, progress=bars, say=bars.say)
    elapsed = time.monotonic() - began
    bulk_cli.print_summary(report)
    if not args.leave_running:
        local.stop(settings)
    label = args.label or args.home.name
    result = {
        "label": label,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine_before": before,
        "machine_after": machine(),
        "neo4j": {"heap": args.heap, "pagecache": args.pagecache},
        "importer": {"heap": args.import_heap, "max_off_heap": args.import_memory, "threads": args.threads},
        "scope": {"mode": settings.scope, "targeted_months": settings.targeted_months if settings.scope == "targeted"
                  else None},
        "end_to_end_seconds": round(elapsed, 1),
        "report": report.as_dict(),
        "command": ("CP_SCOPE=targeted " if settings.scope == "targeted" else "")
                   + f"bench/national_bench.py --children {args.children} --seed {args.seed} --home {args.home} "
                   f"--port {args.port} --heap {args.heap} --pagecache {args.pagecache}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"national-{label.removeprefix('national-')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
