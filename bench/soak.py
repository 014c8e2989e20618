"""Soak: the reliability suite's load test for as long as you like, against a running API, minute by minute.

Drives the demo API (`make demo`: 20,000 children on http://127.0.0.1:8000) with the same request mix as
tests/reliability/test_load.py (70% contacts cards, 20% searches, 10% networks) from concurrent clients,
and records each minute's requests, errors and p50/p95/p99, and the resident memory of the API and Neo4j
processes, so a slow leak or a latency drift shows. Not part of the tests. Usage:

    .venv/bin/python bench/soak.py --minutes 30 [--clients 50] [--url http://127.0.0.1:8000] [--label demo]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from graph.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the request mix is the reliability suite's own (tests/reliability)
from api_bench import sign_in  # noqa: E402 (bench/, next to this script)
from tests.reliability.traffic import demo_mix, drive, percentiles  # noqa: E402

RESULTS = PROJECT_ROOT / "bench" / "results"
DEMO_FEEDS = PROJECT_ROOT / "var" / "demo" / "england-20000-20100806"
USERS = ("practitioner.birmingham", "practitioner.leeds", "safeguarding_lead.birmingham")
TOKEN_SECONDS = 10 * 60  # sign in again before the 15-minute tokens run out


def _children(feeds: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The children of the feeds the demo loaded, and those Birmingham holds (its lead may open their networks)."""
    with (feeds / "children.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    children = [{"id": r["child_id"], "given_name": r["given_name"], "family_name": r["family_name"], "dob": r["dob"]}
                for r in rows]
    return children, [r["child_id"] for r in rows if r["la_code"] == "E08000025"]


def _rss_mib(pid_file: Path) -> float | None:
    """The resident memory of the process a pid file names, or None if it is not running."""
    try:
        pid = int(pid_file.read_text().strip())
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return None
    kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return None if kib is None else round(kib / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--feeds", type=Path, default=DEMO_FEEDS, help="the feeds the API's database was loaded from")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--label", default="demo")
    parser.add_argument("--api-pid-file", type=Path, default=PROJECT_ROOT / "var" / "run" / "api.pid")
    parser.add_argument("--neo4j-pid-file", type=Path, default=PROJECT_ROOT / ".neo4j" / "run" / "neo4j.pid")
    args = parser.parse_args()

    children, birmingham = _children(args.feeds)
    minutes: list[dict[str, Any]] = []
    latencies: list[float] = []
    errors = 0
    signed_at = 0.0
    with httpx.Client(base_url=args.url, timeout=30) as client:
        for minute in range(1, args.minutes + 1):
            if time.monotonic() - signed_at > TOKEN_SECONDS:
                tokens = {u: sign_in(client, u) for u in USERS}
                signed_at = time.monotonic()
            run = drive(args.url, demo_mix(children, birmingham, tokens), clients=args.clients, seconds=60,
                        seed=minute, timeout=60)
            summary = run.summary()
            failed = len(run.errors())
            errors += failed
            latencies += [o.seconds for o in run.outcomes if o.status]
            row = {"minute": minute, "requests": summary["requests"], "errors": failed, **summary["all"],
                   "api_rss_mib": _rss_mib(args.api_pid_file), "neo4j_rss_mib": _rss_mib(args.neo4j_pid_file),
                   "load_average": [round(x, 2) for x in os.getloadavg()]}
            minutes.append(row)
            print(json.dumps(row), flush=True)
    result = {"label": args.label, "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "url": args.url, "clients": args.clients, "minutes": args.minutes, "children": len(children),
              "requests": sum(m["requests"] for m in minutes), "errors": errors, "all": percentiles(latencies),
              "by_minute": minutes, "note": "client, API (uvicorn) and Neo4j share the same machine"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"soak-{args.label}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['requests']} requests, {errors} errors, p99 {result['all'].get('p99_ms')} ms -> {path}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
