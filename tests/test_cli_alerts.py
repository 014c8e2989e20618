"""`contactpoint load` scans for alerts after a load; `contactpoint alerts scan` says what it raised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from neo4j import Driver

from graph.config import PROJECT_ROOT, GraphSettings
from loaders.generate import generate


def _run(settings: GraphSettings | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if settings is not None:
        env["NEO4J_URI"] = settings.bolt_uri
    return subprocess.run([sys.executable, "-m", "contactpoint", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_bad_scan_date_is_one_clear_line() -> None:
    for value, words in (("31/10/2026", "not a date"), ("1900-01-01", "outside")):
        done = _run(None, "alerts", "scan", "--as-of", value)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "--as-of" in done.stderr and words in done.stderr


@pytest.mark.slow
def test_load_then_scan_and_rescan(empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    generate(tmp_path, children=400, seed=11)
    loaded = _run(neo4j_settings, "load", str(tmp_path), "--as-of", "2026-10-31")
    assert loaded.returncode == 0, loaded.stderr
    assert "scanning for alerts as of 2026-10-31" in loaded.stdout
    assert "Alerts as of 2026-10-31" in loaded.stdout and "Pattern counts for reviewers" in loaded.stdout
    records, _, _ = empty_db.execute_query("MATCH (a:Alert) RETURN count(a) AS n", database_=neo4j_settings.database)
    raised = records[0]["n"]
    assert raised > 0
    again = _run(neo4j_settings, "alerts", "scan", "--as-of", "2026-10-31", "--no-patterns")
    assert again.returncode == 0, again.stderr
    assert "0 new alerts" in again.stdout and "Pattern counts" not in again.stdout
    records, _, _ = empty_db.execute_query("MATCH (a:Alert) RETURN count(a) AS n", database_=neo4j_settings.database)
    assert records[0]["n"] == raised
    skipped = _run(neo4j_settings, "load", str(tmp_path), "--no-scan")
    assert skipped.returncode == 0 and "alert scan skipped" in skipped.stdout and "Alerts as of" not in skipped.stdout
