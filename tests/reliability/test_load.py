"""Load: 50 concurrent clients for 60 s on the generator's England with zero errors; the latencies written down."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from neo4j import Driver

from graph.config import PROJECT_ROOT, GraphSettings
from tests.reliability.conftest import ApiServer, World, mint_tokens
from tests.reliability.traffic import demo_mix, drive

CLIENTS, SECONDS = 50, 60
# Where the figures go (git-ignored); docs/performance.md quotes a run.
RESULTS = Path(os.environ.get("CP_RELIABILITY_RESULTS", PROJECT_ROOT / "var" / "results" / "reliability-load.json"))


def test_50_clients_for_60_seconds_without_an_error(rel_settings: GraphSettings, rel_driver: Driver, england: World,
                                                    tmp_path: Path) -> None:
    tokens = mint_tokens(rel_driver, rel_settings.database)
    mix = demo_mix(england.children, england.birmingham, tokens)
    with ApiServer(rel_settings, tmp_path / "api.log") as api:
        drive(api.url, mix, clients=CLIENTS, seconds=3, seed=2)  # warm the pools and the page cache
        load_before = os.getloadavg()
        run = drive(api.url, mix, clients=CLIENTS, seconds=SECONDS, timeout=60)
        load_after = os.getloadavg()
    summary = run.summary()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "clients": CLIENTS, "seconds": SECONDS,
        "data": f"generator England, {len(england.children)} unshielded children of 1,500, demo users",
        "mix": "70% contacts card, 20% search by name (practitioners), 10% network (safeguarding lead)",
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": load_after},
        **summary}, indent=2) + "\n")
    print(f"\n{CLIENTS} clients x {SECONDS} s: {summary['requests']} requests, {summary['requests_per_second']}/s, "
          f"p50 {summary['all']['p50_ms']} ms, p99 {summary['all']['p99_ms']} ms -> {RESULTS}")
    errors = run.errors()
    assert not errors, f"{len(errors)} errors, e.g. {errors[:3]}\n{(tmp_path / 'api.log').read_text()[-2000:]}"
    assert summary["requests"] > CLIENTS * 10
