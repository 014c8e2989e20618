"""The loader: idempotent upserts, rejects with file/line/reason, and a killed load resumed."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from neo4j import Driver

from graph import schema
from graph.config import PROJECT_ROOT, GraphSettings
from loaders.load import FeedError, load_dir
from tests.conftest import counts


def _write(folder: Path, name: str, header: str, *rows: str) -> None:
    (folder / f"{name}.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def tiny_feeds(tmp_path: Path) -> Path:
    """A hand-written set of feeds with known good and bad rows."""
    _write(tmp_path, "authorities", "code,name,region,team_phone,team_email",
           "E08000025,Birmingham,West Midlands,0121 496 0000,team@birmingham.example",
           "E08000035,Leeds,Yorkshire and The Humber,0113 496 0000,team@leeds.example")
    _write(tmp_path, "agencies", "agency_id,name,kind,phone,email,la_code",
           "G1,Hillside Primary,school,0121 496 0001,,E08000025",
           "G2,Oak Surgery,gp_practice,0121 496 0002,,E08000025",
           "G3,Nowhere School,school,,,E09999999",       # line 4: not a valid code
           "G4,Ghost School,school,,,E06000999")         # line 5: unknown authority
    _write(tmp_path, "children", "child_id,given_name,family_name,former_names,dob,gender,la_code",
           "C1,Amelia,Okafor,Amelia Brennan,2015-03-02,female,E08000025",
           "C2,Noah,\"O'Neill, Jr\",,2012-11-30,male,E08000025",
           "C3,Zed,Future,,2999-01-01,male,E08000025",      # line 4: dob in the future
           "C1,Amelia,Again,,2015-03-02,female,E08000025")  # line 5: duplicate id
    _write(tmp_path, "school_enrolments", "child_id,agency_id,since,until",
           "C1,G1,2020-09-01,",
           "C9,G1,2020-09-01,",          # line 3: unknown child
           "C2,G2,2020-09-01,",          # line 4: a GP practice is not a school
           "C2,G1,2021-09-01,2020-01-01")  # line 5: until before since
    return tmp_path


def test_rejects_name_file_line_and_reason(empty_db: Driver, neo4j_settings: GraphSettings, tiny_feeds: Path) -> None:
    report = load_dir(empty_db, tiny_feeds, database=neo4j_settings.database)
    by_feed = {r.feed: r for r in report.results}
    assert (by_feed["agencies"].loaded, by_feed["agencies"].rejected) == (2, 2)
    assert (by_feed["children"].loaded, by_feed["children"].rejected) == (2, 2)
    assert (by_feed["school_enrolments"].loaded, by_feed["school_enrolments"].rejected) == (1, 3)
    rejected = {(r["file"], int(r["line"])): r["reason"] for r in _rejects(report.rejects_path)}
    assert set(rejected) == {("agencies.csv", 4), ("agencies.csv", 5), ("children.csv", 4), ("children.csv", 5),
                             ("school_enrolments.csv", 3), ("school_enrolments.csv", 4),
                             ("school_enrolments.csv", 5)}
    assert rejected[("agencies.csv", 4)].startswith("la_code:")
    assert "unknown local authority 'E06000999'" in rejected[("agencies.csv", 5)]
    assert "dob" in rejected[("children.csv", 4)] and "future" in rejected[("children.csv", 4)]
    assert "duplicate child_id (first at line 2)" in rejected[("children.csv", 5)]
    assert "unknown child 'C9'" in rejected[("school_enrolments.csv", 3)]
    assert "is a gp_practice, not a school" in rejected[("school_enrolments.csv", 4)]
    assert "until is before since" in rejected[("school_enrolments.csv", 5)]
    records, _, _ = empty_db.execute_query(
        "MATCH (c:Child {id: 'C2'}) RETURN c.family_name AS name", database_=neo4j_settings.database
    )
    assert records[0]["name"] == "O'Neill, Jr"  # quoted commas and apostrophes survive


def test_bad_header_rejects_the_file_and_the_load_goes_on(
    empty_db: Driver, neo4j_settings: GraphSettings, tiny_feeds: Path
) -> None:
    _write(tiny_feeds, "children", "child_id,given_name,surname,dob,gender,la_code",
           "C1,Amelia,Okafor,2015-03-02,female,E08000025")
    report = load_dir(empty_db, tiny_feeds, database=neo4j_settings.database)
    by_feed = {r.feed: r for r in report.results}
    assert by_feed["children"].error is not None
    assert "unknown columns surname" in by_feed["children"].error
    assert "missing required columns family_name" in by_feed["children"].error
    assert by_feed["agencies"].loaded == 2


def test_missing_folder_is_a_clear_error(empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="no such folder"):
        load_dir(empty_db, tmp_path / "nope", database=neo4j_settings.database)
    with pytest.raises(FeedError, match="no feed files found"):
        load_dir(empty_db, tmp_path, database=neo4j_settings.database)


@pytest.mark.slow
def test_loading_twice_changes_nothing(empty_db: Driver, neo4j_settings: GraphSettings, small_england: Path,
                                       tmp_path: Path) -> None:
    db = neo4j_settings.database
    first = load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "r1.csv")
    assert first.rejected == 0, _rejects(tmp_path / "r1.csv")[:5]
    after_first = counts(empty_db, db)
    assert after_first[0]["Child"] == 1500
    second = load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "r2.csv")
    assert second.rejected == 0
    assert counts(empty_db, db) == after_first
    assert second.loaded == first.loaded


def _cli_env(settings: GraphSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(NEO4J_URI=settings.bolt_uri, NEO4J_USER=settings.user,
               NEO4J_PASSWORD=settings.password.get_secret_value(), NEO4J_DATABASE=settings.database)
    return env


@pytest.mark.slow
def test_killed_load_run_again_matches_a_clean_load(
    empty_db: Driver, neo4j_settings: GraphSettings, small_england: Path, tmp_path: Path
) -> None:
    db = neo4j_settings.database
    load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "clean.csv")
    clean = counts(empty_db, db)
    feeds = tmp_path / "feeds"
    shutil.copytree(small_england, feeds)

    schema.wipe(empty_db, database=db)
    schema.apply(empty_db, database=db)
    command = [sys.executable, "-m", "contactpoint", "load", str(feeds), "--batch-size", "200", "--no-scan"]
    proc = subprocess.Popen(command, env=_cli_env(neo4j_settings), cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once it is partway through
        nodes, rels = counts(empty_db, db)
        if rels.get("LIVED_AT", 0) > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = counts(empty_db, db)
    assert partial != clean, "the load finished before it could be killed; make the feeds bigger"

    done = subprocess.run(command, env=_cli_env(neo4j_settings), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert counts(empty_db, db) == clean


def test_cli_says_clearly_when_neo4j_is_unreachable(tmp_path: Path) -> None:
    env = dict(os.environ, NEO4J_URI="bolt://127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", "contactpoint", "db", "status"], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Neo4j is not reachable at bolt://127.0.0.1:1" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_names_a_missing_feed_folder(neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "contactpoint", "load", str(tmp_path / "missing")],
                          env=_cli_env(neo4j_settings), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "no such folder of feeds" in done.stderr and "Traceback" not in done.stderr


def test_a_changed_authority_replaces_the_old_link(
    empty_db: Driver, neo4j_settings: GraphSettings, tiny_feeds: Path
) -> None:
    db = neo4j_settings.database
    load_dir(empty_db, tiny_feeds, database=db)
    _write(tiny_feeds, "children", "child_id,given_name,family_name,dob,gender,la_code",
           "C1,Amelia,Okafor,2015-03-02,female,E08000035")
    load_dir(empty_db, tiny_feeds, database=db, only=["children"])
    records, _, _ = empty_db.execute_query(
        "MATCH (:Child {id: 'C1'})-[:HELD_BY]->(la) RETURN collect(la.code) AS codes", database_=db
    )
    assert records[0]["codes"] == ["E08000035"]
