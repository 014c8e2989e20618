"""Time the full alert scan and the pattern computation on a DBMS that is already loaded.

Point it at any loaded store (for example the one bench/load_bench.py fills: Bolt port 7689). It applies
the schema (migration 3 adds the indexes the scan starts from), deletes the alerts earlier scans raised
and the stored pattern counts (break-glass alerts are kept), then measures:

- the alert scan from nothing (every alert raised), and a re-scan (nothing new: the cost of idempotence);
- the pattern counts for the scan date alone (what a daily scan adds), and for the whole trend
  (the scan date and four quarter ends, what the first scan computes).

Results go to bench/results/alerts-LABEL.json. Usage:

    .venv/bin/python bench/alerts_bench.py --port 7689 --label 1000000 [--as-of 2026-10-31]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from datetime import date, datetime, timezone
from pathlib import Path

from graph import alerts, analytics, schema
from graph.config import PROJECT_ROOT, GraphSettings
from graph.db import connect
from loaders.generate import DEFAULT_AS_OF

RESULTS = PROJECT_ROOT / "bench" / "results"
CLEAR_ALERTS = "MATCH (a:Alert) WHERE a.kind IN $kinds CALL (a) { DELETE a } IN TRANSACTIONS OF 10000 ROWS"
CLEAR_COUNTS = "MATCH (p:PatternCount) DELETE p"
CHILDREN = "MATCH (c:Child) RETURN count(c) AS n"


def _machine() -> dict[str, object]:
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[:3]
    return {"cpus": int(cpu), "memory_gib": round(int(mem) / 1024 / 1024, 1), "python": platform.python_version(),
            "load_average_at_start": [float(x) for x in load]}


def _scan(driver: object, database: str, as_of: date) -> dict[str, object]:
    began = time.perf_counter()
    result = alerts.scan(driver, database=database, as_of=as_of)  # type: ignore[arg-type]
    return {"seconds": round(time.perf_counter() - began, 2),
            "per_rule_seconds": {k: round(v, 2) for k, v in result.seconds.items()},
            "raised": result.raised, "addressed": result.addressed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7689, help="Bolt port on 127.0.0.1 (or give --uri)")
    parser.add_argument("--uri", default=None)
    parser.add_argument("--database", default="neo4j")
    parser.add_argument("--label", required=True, help="names the result file, e.g. the number of children")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    args = parser.parse_args()
    settings = GraphSettings(uri=args.uri or f"bolt://127.0.0.1:{args.port}", database=args.database)
    driver = connect(settings)
    db = settings.database
    machine = _machine()
    try:
        schema.apply(driver, database=db)
        children = driver.execute_query(CHILDREN, database_=db).records[0]["n"]
        with driver.session(database=db) as session:  # CALL IN TRANSACTIONS needs an implicit transaction
            session.run(CLEAR_ALERTS, kinds=list(alerts.SCAN_KINDS)).consume()
        first = _scan(driver, db, args.as_of)
        print(f"alert scan: {first['seconds']} s {first['per_rule_seconds']}; raised {first['raised']}")
        again = _scan(driver, db, args.as_of)
        print(f"re-scan:    {again['seconds']} s (raised {sum(again['raised'].values())})")  # type: ignore[arg-type]
        driver.execute_query(CLEAR_COUNTS, database_=db)
        one = analytics.compute(driver, database=db, as_of=args.as_of, quarters=0)
        print(f"patterns, scan date: {one.seconds:.1f} s for {one.children:,} children: {one.by_pattern}")
        driver.execute_query(CLEAR_COUNTS, database_=db)
        trend = analytics.compute(driver, database=db, as_of=args.as_of)
        print(f"patterns, trend of {len(trend.dates)} dates: {trend.seconds:.1f} s")
    finally:
        driver.close()
    result = {
        "label": args.label, "children": children, "as_of": args.as_of.isoformat(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine,
        "alert_scan": first, "alert_rescan": again,
        "patterns_scan_date": {"seconds": round(one.seconds, 2), "dates": one.dates, "rows": one.rows,
                               "by_pattern": one.by_pattern},
        "patterns_trend": {"seconds": round(trend.seconds, 2), "dates": trend.dates, "rows": trend.rows},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"alerts-{args.label}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
