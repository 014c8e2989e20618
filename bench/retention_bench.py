"""The daily retention run, measured on a store the national benchmark left (a dry run, then the run, then again).

Starts the DBMS of the given home, applies the retention rules as of a date in the store's own scope (CP_SCOPE),
and writes bench/results/retention-<label>.json with each pass's seconds and counts and the machine's load average.
The run changes the store (that is what it is for): use a benchmark home. Usage:

    .venv/bin/python bench/retention_bench.py --home .neo4j/national-1m-full --port 7695 --as-of 2026-12-04
    CP_SCOPE=targeted .venv/bin/python bench/retention_bench.py --home .neo4j/national-1m-targeted --port 7695 \\
        --as-of 2026-12-04

The DBMS is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

from graph import audit, local, retention
from graph.cohort import Scope
from graph.config import PROJECT_ROOT, GraphSettings, get_settings
from graph.db import connect

RESULTS = PROJECT_ROOT / "bench" / "results"


def machine() -> dict[str, object]:
    """Cores, memory, Python, and the load average now (other engineers' work shares the machine)."""
    mem_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--label", help="names the result file (default: the home's folder name)")
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--pagecache", default="2g")
    args = parser.parse_args()

    settings = GraphSettings(home=args.home.resolve(), dist=get_settings().dist_root, bolt_port=args.port,
                             heap=args.heap, pagecache=args.pagecache)
    scope = Scope.of(settings, args.as_of)
    actor = audit.Actor(user_id="cli:retention-bench", role="operator")
    before = machine()
    local.start(settings, timeout=900)
    driver = connect(settings)
    passes = {}
    try:
        for name, dry in (("dry_run", True), ("run", False), ("again", False)):
            report = retention.run(driver, database=settings.database, scope=scope, actor=actor, dry_run=dry)
            passes[name] = {**asdict(report), "as_of": report.as_of.isoformat(), "seconds": round(report.seconds, 2)}
            print(f"{name}: {report.seconds:.1f} s, archived {report.archived}, destroyed {report.destroyed}, "
                  f"removed {report.removed}")
    finally:
        driver.close()
        local.stop(settings)
    label = args.label or args.home.name
    result = {"label": label, "when": datetime.now(UTC).isoformat(timespec="seconds"), "machine_before": before,
              "machine_after": machine(), "scope": {"mode": scope.mode, "months": scope.months},
              "passes": passes,
              "command": ("CP_SCOPE=targeted " if scope.targeted else "") + f"bench/retention_bench.py --home "
                         f"{args.home} --port {args.port} --as-of {args.as_of.isoformat()}"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"retention-{label.removeprefix('national-')}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
