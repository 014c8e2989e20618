"""One instant, however a feed spells it: attendances sent with `Z`, `+00:00`, `+01:00` or no offset, across the
end of British Summer Time, are stored alike and counted alike by the alert scan and the patterns, on the online
path (`contactpoint load`) and on the bulk path (neo4j-admin import); the migration converts what is stored."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from neo4j import Driver

from graph import alerts, analytics, bulk, local, schema
from graph.config import GraphSettings, get_settings
from graph.db import connect
from loaders.bulk import write_parts
from loaders.feeds import FEEDS
from loaders.generate import Part
from loaders.load import load_dir
from tests.conftest import TEST_PORT, fresh_db

BIRMINGHAM = "E08000025"
# Three visits around the end of British Summer Time (01:00 UTC on Sunday 26 October 2025, when 02:00 BST
# became 01:00 GMT): 00:30 BST on the 26th (still the 25th in UTC), 01:30 BST (the first of the two 01:30s)
# and 02:30 GMT. Every spelling below names these three instants.
INSTANTS = ("2025-10-25T23:30:00Z", "2025-10-26T00:30:00Z", "2025-10-26T02:30:00Z")
SPELLINGS = {
    "T-Z": ("2025-10-25T23:30:00Z", "2025-10-26T00:30:00Z", "2025-10-26T02:30:00Z"),
    "T-UTC": ("2025-10-25T23:30:00+00:00", "2025-10-26T00:30:00+00:00", "2025-10-26T02:30:00+00:00"),
    "T-BST": ("2025-10-26T00:30:00+01:00", "2025-10-26T01:30:00+01:00", "2025-10-26T03:30:00+01:00"),
    # No offset: UK wall-clock time; 01:30 happened twice that night and is read as the first (BST).
    "T-LOCAL": ("2025-10-26T00:30:00", "2025-10-26T01:30:00", "2025-10-26T02:30:00"),
    "T-MIXED": ("2025-10-26T00:30:00+01:00", "2025-10-26T01:30:00", "2025-10-26T02:30:00Z"),
}
# The first visit is on UK day 26 October: inside the 12 months up to 25 October 2026, outside those up to the 26th.
INSIDE, OUTSIDE = date(2026, 10, 25), date(2026, 10, 26)
BULK_PORT = TEST_PORT + 11  # test_bulk's own throw-away DBMS runs on +10

remote_only = pytest.mark.skipif(
    bool(os.environ.get("CP_TEST_NEO4J_URI")), reason="tests run against a remote Neo4j (CP_TEST_NEO4J_URI)"
)

STORED = """
MATCH (c:Child)-[v:ATTENDED]->(a:Agency)
WITH c, a, v, v.at IS :: ZONED DATETIME AS zoned
RETURN c.id AS child, a.id AS agency, valueType(v.at) AS type, CASE WHEN zoned THEN v.at.timezone END AS zone,
       toString(v.at) AS at, CASE WHEN zoned THEN v.at.epochMillis END AS millis
ORDER BY child, v.at
"""
RAISED = """
MATCH (a:Alert {kind: 'repeat_emergency'})
RETURN a.child_id AS child, a.key AS key, a.visits AS visits, toString(a.first_at) AS first_at,
       toString(a.last_at) AS last_at
ORDER BY child
"""


def _rows() -> dict[str, list[dict[str, str]]]:
    """The feeds' rows, as text: one authority, two emergency departments, a child per spelling."""
    rows: dict[str, list[dict[str, str]]] = {
        "authorities": [{"code": BIRMINGHAM, "name": "Birmingham", "region": "West Midlands"}],
        "agencies": [{"agency_id": f"ED-{n}", "name": f"Emergency Department {n}", "kind": "unscheduled_care",
                      "la_code": BIRMINGHAM} for n in (1, 2)],
        "children": [], "attendances": [],
    }
    for child, ats in SPELLINGS.items():
        rows["children"].append({"child_id": child, "given_name": "Ada", "family_name": child.title(),
                                 "dob": "2015-05-05", "gender": "female", "la_code": BIRMINGHAM})
        for n, at in enumerate(ats):
            rows["attendances"].append({"child_id": child, "agency_id": f"ED-{n % 2 + 1}", "at": at,
                                        "reason": "injury"})
    return rows


def _write_feeds(folder: Path) -> None:
    """The rows as feed files, as a source would send them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in _rows().items():
        spec = next(s for s in FEEDS if s.name == name)
        with (folder / spec.filename).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=spec.columns)
            writer.writeheader()
            writer.writerows(rows)


def _part() -> Part:
    """The same rows as the generator hands them to the bulk writer: a column of text per feed column."""
    rows = _rows()
    tables = {spec.name: (lambda spec=spec: {c: np.array([r.get(c, "") for r in rows.get(spec.name, [])], dtype=object)
                                              for c in spec.columns})
              for spec in FEEDS}
    return Part("time", len(rows["children"]), tables, None)


def _outcome(driver: Driver, database: str) -> dict[str, Any]:
    """What the graph holds and what the scan and the patterns make of it, as of both dates."""
    stored = [r.data() for r in driver.execute_query(STORED, database_=database).records]
    outcome: dict[str, Any] = {"stored": stored}
    driver.execute_query("MATCH (n:Alert|PatternCount) DETACH DELETE n", database_=database)
    for as_of in (INSIDE, OUTSIDE):
        scanned = alerts.scan(driver, database=database, as_of=as_of)
        patterns = analytics.compute(driver, database=database, as_of=as_of, quarters=0)
        outcome[as_of] = {"raised": scanned.raised["repeat_emergency"],
                          "pattern": patterns.by_pattern["repeat_emergency"]}
    outcome["alerts"] = [r.data() for r in driver.execute_query(RAISED, database_=database).records]
    return outcome


def _check(outcome: dict[str, Any]) -> None:
    children = sorted(SPELLINGS)
    # Every child's three visits fall in the 12 months up to 25 October 2026 (UK days), none in those up to the 26th.
    assert [a["child"] for a in outcome["alerts"]] == children
    assert outcome[INSIDE] == {"raised": len(children), "pattern": len(children)}
    assert outcome[OUTSIDE] == {"raised": 0, "pattern": 0}
    stored = outcome["stored"]
    assert [r["child"] for r in stored] == [c for c in children for _ in INSTANTS]
    for row in stored:
        assert row["type"] == "ZONED DATETIME NOT NULL" and row["zone"] == "Z", row
    assert [r["at"] for r in stored] == list(INSTANTS) * len(children)
    for alert in outcome["alerts"]:
        assert alert["key"] == f"repeat_emergency|{alert['child']}|{INSTANTS[-1]}|{BIRMINGHAM}"
        assert (alert["visits"], alert["first_at"], alert["last_at"]) == (3, INSTANTS[0], INSTANTS[-1])


@pytest.fixture(scope="module")
def online(driver: Driver, neo4j_settings: GraphSettings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The feeds through `contactpoint load`'s path into the test DBMS."""
    folder = tmp_path_factory.mktemp("feeds")
    _write_feeds(folder)
    db = neo4j_settings.database
    fresh_db(driver, db)
    report = load_dir(driver, folder, database=db)
    assert report.rejected == 0 and not any(r.error for r in report.results), (folder / "rejects.csv").read_text()
    return _outcome(driver, db)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The same rows through the bulk writer and neo4j-admin import, on a DBMS of their own."""
    base = tmp_path_factory.mktemp("bulk-time")
    write_parts(base / "csv", [_part()], {"test": "time"})
    settings = GraphSettings(home=base / "neo4j", dist=get_settings().dist_root, bolt_port=BULK_PORT, heap="512m",
                             pagecache="64m")
    bulk.import_store(settings, base / "csv", heap="512m", max_off_heap="256m")
    local.start(settings, timeout=300)
    try:
        with connect(settings) as driver:
            schema.apply(driver, database=settings.database)
            yield _outcome(driver, settings.database)
    finally:
        local.stop(settings, timeout=60)


def test_the_online_path_stores_and_counts_every_spelling_alike(online: dict[str, Any]) -> None:
    _check(online)


@remote_only
@pytest.mark.slow
def test_the_bulk_path_stores_and_counts_every_spelling_alike(imported: dict[str, Any]) -> None:
    _check(imported)


@remote_only
@pytest.mark.slow
def test_both_paths_store_the_same_type_and_instant(online: dict[str, Any], imported: dict[str, Any]) -> None:
    assert imported["stored"] == online["stored"]
    assert imported["alerts"] == online["alerts"]
    assert (imported[INSIDE], imported[OUTSIDE]) == (online[INSIDE], online[OUTSIDE])


def test_a_visit_sent_again_with_another_offset_is_the_same_visit(empty_db: Driver, neo4j_settings: GraphSettings,
                                                                  tmp_path: Path) -> None:
    db = neo4j_settings.database
    for n, at in enumerate(("2025-09-01T10:00:00+01:00", "2025-09-01T09:00:00Z", "2025-09-01T10:00:00")):
        folder = tmp_path / str(n)
        _write_feeds(folder)
        with (folder / "attendances.csv").open("w", encoding="utf-8") as f:
            f.write("child_id,agency_id,at,reason\n" f"T-Z,ED-1,{at},injury\n")
        report = load_dir(empty_db, folder, database=db)
        assert report.rejected == 0, (folder / "rejects.csv").read_text()
    visits = empty_db.execute_query("MATCH (:Child {id: 'T-Z'})-[v:ATTENDED]->() RETURN toString(v.at) AS at",
                                    database_=db).records
    assert [v["at"] for v in visits] == ["2025-09-01T09:00:00Z"]


def test_one_instant_spelt_twice_in_a_file_is_a_duplicate(empty_db: Driver, neo4j_settings: GraphSettings,
                                                          tmp_path: Path) -> None:
    _write_feeds(tmp_path)
    with (tmp_path / "attendances.csv").open("w", encoding="utf-8") as f:
        f.write("child_id,agency_id,at,reason\n"
                "T-Z,ED-1,2025-09-01T10:00:00,injury\n"
                "T-Z,ED-1,2025-09-01T09:00:00Z,fever\n")
    report = load_dir(empty_db, tmp_path, database=neo4j_settings.database)
    attendances = next(r for r in report.results if r.feed == "attendances")
    assert (attendances.loaded, attendances.rejected) == (1, 1)
    assert "duplicate child_id/agency_id/at (first at line 2)" in (tmp_path / "rejects.csv").read_text()


# A store written before instants were kept in UTC: visits as local date-times (the bulk importer's and a feed's
# without an offset) and as date-times with the offset the feed used; an alert the old rule raised on the local
# ones (its fact the crossing visit's local time), raised, acknowledged and seen by a UK server at +01:00.
OLD_STORE = """
CREATE (la:LocalAuthority {code: $la, name: 'Birmingham', region: 'West Midlands'})
CREATE (ed:Agency {id: 'ED-1', name: 'Emergency Department 1', kind: 'unscheduled_care', la_code: $la})-[:IN]->(la)
CREATE (a:Child {id: 'OLD-A', given_name: 'Ada', family_name: 'Old', dob: date('2015-05-05'), shielded: false})
       -[:HELD_BY]->(la)
CREATE (b:Child {id: 'OLD-B', given_name: 'Bea', family_name: 'Old', dob: date('2015-05-05'), shielded: false})
       -[:HELD_BY]->(la)
CREATE (a)-[:ATTENDED {at: localdatetime('2025-10-26T00:30:00'), reason: 'injury'}]->(ed)
CREATE (a)-[:ATTENDED {at: localdatetime('2025-10-26T01:30:00'), reason: 'fever'}]->(ed)
CREATE (a)-[:ATTENDED {at: localdatetime('2025-10-26T02:30:00'), reason: 'rash'}]->(ed)
CREATE (b)-[:ATTENDED {at: localdatetime('2025-09-01T10:00:00'), reason: 'injury'}]->(ed)
CREATE (b)-[:ATTENDED {at: datetime('2025-09-01T10:00:00+01:00'), reason: 'injury'}]->(ed)
CREATE (b)-[:ATTENDED {at: datetime('2025-09-01T09:00:00Z'), reason: 'injury'}]->(ed)
CREATE (b)-[:ATTENDED {at: datetime('2025-03-30T01:30:00+00:00'), reason: 'burn or scald'}]->(ed)
CREATE (:Alert {id: 'old-alert', key: 'repeat_emergency|OLD-A|' + toString(localdatetime('2025-10-26T02:30:00'))
                                      + '|' + $la,
                kind: 'repeat_emergency', state: 'acknowledged', la_code: $la, child_id: 'OLD-A', visits: 3,
                first_at: localdatetime('2025-10-26T00:30:00'), last_at: localdatetime('2025-10-26T02:30:00'),
                hospitals: ['Emergency Department 1'], as_of: date('2026-10-25'), scan_id: 'old',
                raised_at: datetime('2026-10-25T09:00:00+01:00'), acknowledged_at: datetime('2026-10-25T10:00:00+01:00'),
                acknowledged_by: 'someone', note: 'seen'})
MERGE (m:SchemaMeta {id: 'schema'}) SET m.version = 4
"""


def test_the_migration_moves_a_stored_graph_to_utc(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    empty_db.execute_query(OLD_STORE, la=BIRMINGHAM, database_=db)
    assert schema.apply(empty_db, database=db) == [v for v in sorted(schema.MIGRATIONS) if v > 4]
    stored = [r.data() for r in empty_db.execute_query(STORED, database_=db).records]
    assert {(r["type"], r["zone"]) for r in stored} == {("ZONED DATETIME NOT NULL", "Z")}
    assert [(r["child"], r["at"]) for r in stored] == [
        ("OLD-A", "2025-10-25T23:30:00Z"), ("OLD-A", "2025-10-26T00:30:00Z"), ("OLD-A", "2025-10-26T02:30:00Z"),
        # One visit spelt three ways is one visit.
        ("OLD-B", "2025-03-30T01:30:00Z"), ("OLD-B", "2025-09-01T09:00:00Z")]
    alert = empty_db.execute_query(
        "MATCH (a:Alert {id: 'old-alert'}) RETURN a.key AS key, toString(a.first_at) AS first_at, "
        "toString(a.last_at) AS last_at, toString(a.raised_at) AS raised_at, "
        "toString(a.acknowledged_at) AS acknowledged_at", database_=db).records[0].data()
    assert alert == {"key": f"repeat_emergency|OLD-A|2025-10-26T02:30:00Z|{BIRMINGHAM}",
                     "first_at": "2025-10-25T23:30:00Z", "last_at": "2025-10-26T02:30:00Z",
                     "raised_at": "2026-10-25T08:00:00Z", "acknowledged_at": "2026-10-25T09:00:00Z"}
    # The scan finds the migrated alert on the same fact: no second alert for the same visits.
    scanned = alerts.scan(empty_db, database=db, as_of=INSIDE)
    assert (scanned.addressed["repeat_emergency"], scanned.raised["repeat_emergency"]) == (1, 0)
    assert schema.apply(empty_db, database=db) == []


def test_an_audit_search_between_uk_times_without_an_offset_finds_the_events(
        empty_db: Driver, neo4j_settings: GraphSettings, api_client: Any, demo_tokens: Any) -> None:
    from datetime import timedelta

    from graph import audit
    from graph.viewer import Role, Viewer
    from tests.conftest import restore_demo_users

    db = neo4j_settings.database
    restore_demo_users(empty_db, db)
    viewer = Viewer(user_id="u-time", role=Role.PRACTITIONER, la_code=BIRMINGHAM)
    with empty_db.session(database=db) as session:
        event = session.execute_write(lambda tx: audit.append(tx, viewer=viewer, action="card", children=["T-Z"],
                                                              purpose="assessment", request_id="req-time"))
    # The event's time on a UK wall clock, as an auditor would type it: no offset.
    uk = event.at.astimezone(ZoneInfo("Europe/London")).replace(tzinfo=None, microsecond=0)

    def found(since: datetime, until: datetime) -> list[str]:
        response = api_client.get("/audit", headers={**demo_tokens["auditor.birmingham"], "X-Purpose": "time"},
                                  params={"user_id": "u-time", "since": since.isoformat(), "until": until.isoformat()})
        assert response.status_code == 200, response.text
        return [e["request_id"] for e in response.json()["events"]]

    assert found(uk - timedelta(minutes=1), uk + timedelta(minutes=1)) == ["req-time"]
    assert found(uk + timedelta(minutes=1), uk + timedelta(minutes=2)) == []
