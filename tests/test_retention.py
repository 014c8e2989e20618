"""The retention rules on real Neo4j: archived records out of every view but the reviewers' counts of the dates they
cover, destroyed records gone with what only they held and never revived by a stale feed, idempotent, audited."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, analytics, audit, destruction, retention, schema
from graph.cohort import Scope
from graph.config import GraphSettings
from loaders.load import load_dir
from tests.conftest import counts, restore_demo_users
from tests.factories import BIRMINGHAM
from tests.retention_world import ADULT_18TH, AS_OF, DIED_ON, LEAP_18TH, LEFT_HOME_ENDED, world, write_feeds

ACTOR = audit.Actor(user_id="cli:retention-test", role="operator")
PURPOSE = {"X-Purpose": "retention test"}
ROLES = ("practitioner", "safeguarding_lead", "la_admin")
DESTROY_DAY = date(2032, 6, 2)  # six years after R-ADULT was archived, and after R-LEFT's six years ran out


@pytest.fixture()
def feeds(tmp_path: Path) -> Path:
    return write_feeds(world(), tmp_path / "feeds")


@pytest.fixture()
def loaded(empty_db: Driver, neo4j_settings: GraphSettings, feeds: Path) -> Path:
    """The world loaded through the loader, and scanned for alerts in May 2026 (R-ADULT then 17)."""
    db = neo4j_settings.database
    restore_demo_users(empty_db, db)
    report = load_dir(empty_db, feeds, database=db, rejects_path=feeds.parent / "first-rejects.csv")
    assert report.rejected == 0, _rejects(report.rejects_path)
    alerts.scan(empty_db, database=db, as_of=date(2026, 5, 15))
    return feeds


def _retain(driver: Driver, db: str, as_of: date, **kw: Any) -> retention.RetentionReport:
    return retention.run(driver, database=db, scope=Scope(as_of=as_of), actor=ACTOR, **kw)


def _rejects(path: Path | None) -> list[dict[str, str]]:
    assert path is not None
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _one(driver: Driver, db: str, cypher: str, **params: Any) -> Any:
    return driver.execute_query(cypher, params, database_=db).records[0][0]


def _as(api_client: Any, demo_tokens: dict[str, dict[str, str]], role: str) -> dict[str, str]:
    return {**demo_tokens[f"{role}.birmingham"], **PURPOSE}


def _inbox_children(api_client: Any, headers: dict[str, str]) -> set[str]:
    response = api_client.get("/alerts", headers=headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return {a["child_id"] for a in response.json()["items"]}


# -- the rules' dates ----------------------------------------------------------------------------

@pytest.mark.parametrize(("born", "eighteenth"), [
    (date(2008, 6, 1), date(2026, 6, 1)),
    (date(2008, 2, 29), date(2026, 3, 1)),   # a leap-day child turns 18 on 1 March
    (date(2008, 12, 31), date(2026, 12, 31)),
])
def test_the_eighteenth_birthday(born: date, eighteenth: date) -> None:
    assert retention.years_after(born, 18) == eighteenth
    assert retention.born_by(eighteenth) >= born > retention.born_by(date.fromordinal(eighteenth.toordinal() - 1))


def test_the_plan_dates_each_rule_from_the_record(loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    with driver.session(database=neo4j_settings.database) as session:
        todo = session.execute_read(retention.plan, scope=Scope(as_of=AS_OF))
    assert todo.archive == {"R-ADULT": (ADULT_18TH, "age"), "R-DEAD": (DIED_ON, "death"),
                            "R-LEFT": (retention.years_after(LEFT_HOME_ENDED, 3), "left_england"),
                            "R-LEAP": (LEAP_18TH, "age")}
    assert todo.destroy == {}
    with driver.session(database=neo4j_settings.database) as session:
        later = session.execute_read(retention.plan, scope=Scope(as_of=date(2026, 2, 28)))
    assert "R-LEAP" not in later.archive  # not 18 until 1 March


# -- archived: out of every view --------------------------------------------------------------------

def test_an_archived_child_is_invisible_to_every_role_that_may_not_see_it(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings, api_client: Any,
        demo_tokens: dict[str, dict[str, str]]) -> None:
    db = neo4j_settings.database
    search = {"given_name": "Reuben", "family_name": "Ashdown"}
    # Before: every role finds him, the lead and the team see his alert and his place in his sister's network.
    for role in ROLES:
        headers = _as(api_client, demo_tokens, role)
        assert [c["id"] for c in api_client.get("/children/search", params=search, headers=headers).json()["results"]] \
            == ["R-ADULT"], role
        assert api_client.get("/children/R-ADULT", headers=headers).status_code == 200, role
    lead = _as(api_client, demo_tokens, "safeguarding_lead")
    assert "R-ADULT" in _inbox_children(api_client, lead)
    assert "child:R-ADULT" in {n["id"] for n in api_client.get("/children/R-SIB/network", headers=lead).json()["nodes"]}

    report = _retain(driver, db, AS_OF)
    assert report.archived == {"age": 2, "death": 1, "left_england": 1} and report.destroyed == {}

    for role in ROLES:
        headers = _as(api_client, demo_tokens, role)
        found = api_client.get("/children/search", params=search, headers=headers)
        assert found.status_code == 200 and found.json()["results"] == [], role
        by_dob = api_client.get("/children/search", params={"dob": "2008-06-01", "gender": "male"}, headers=headers)
        assert by_dob.json()["results"] == [], role
        by_postcode = api_client.get("/children/search", params={"family_name": "Ashdown", "postcode": "B13 8JP"},
                                     headers=headers)
        assert [c["id"] for c in by_postcode.json()["results"]] == ["R-SIB"], role
        for archived in ("R-ADULT", "R-DEAD", "R-LEFT"):
            assert api_client.get(f"/children/{archived}", headers=headers).status_code == 404, (role, archived)
        if role != "practitioner":
            for path in ("network", "moves", "accesses"):
                assert api_client.get(f"/children/R-ADULT/{path}", headers=headers).status_code == 404, (role, path)
            sister = api_client.get("/children/R-SIB/network", headers=headers).json()
            assert "child:R-ADULT" not in {n["id"] for n in sister["nodes"]}, role
            assert "R-ADULT" not in _inbox_children(api_client, headers), role
    # Scanning again the day his alert was raised raises nothing about the archived record.
    driver.execute_query("MATCH (a:Alert) DETACH DELETE a", database_=db)
    assert alerts.scan(driver, database=db, as_of=date(2026, 5, 15)).total_raised == 0


def test_reviewers_count_an_archived_child_on_the_dates_before_its_archive_day(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    _retain(driver, db, AS_OF)
    driver.execute_query("MATCH (p:PatternCount) DETACH DELETE p", database_=db)
    analytics.compute(driver, database=db, as_of=AS_OF)

    def children_on(day: date) -> int:
        with driver.session(database=db) as session:
            rows = session.execute_read(analytics.counts, day=day, cohort="all")
        return sum(r["children"] for r in rows if r["la_code"] == BIRMINGHAM)

    # R-ADULT (archived on his 18th birthday, 2026-06-01) and R-DEAD (on 2026-08-01) still count before those days;
    # R-LEFT (archived 2025-01-10) counts on none of these dates; R-SIB and R-YOUNG count throughout.
    assert children_on(date(2026, 3, 31)) == 4
    assert children_on(date(2026, 6, 30)) == 3
    assert children_on(date(2026, 9, 30)) == 2
    assert children_on(AS_OF) == 2
    with driver.session(database=db) as session:  # the cohort of his CP plan, in the quarter he was on it
        plans = session.execute_read(analytics.counts, day=date(2026, 3, 31), cohort="cp_plan")
    assert sum(r["children"] for r in plans if r["la_code"] == BIRMINGHAM) == 1


# -- destroyed: gone, with what only it held, and never revived ----------------------------------------

def test_destruction_takes_what_only_the_record_held_and_keeps_what_others_use(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    # Identity resolution's records and review entries, as docs/matching.md lays them out.
    driver.execute_query("""
        MATCH (c:Child {id: 'R-ADULT'}), (s:Child {id: 'R-SIB'})
        CREATE (:SourceRecord {key: 'GP|991', source_id: 'GP', local_id: '991'})-[:IDENTIFIES]->(c)
        CREATE (:SourceRecord {key: 'GP|992', source_id: 'GP', local_id: '992'})-[:IDENTIFIES]->(s)
        CREATE (:MatchReview {id: 'MR-1', child_id: 'R-ADULT', candidate_child_id: 'R-SIB', state: 'open'})
        CREATE (:MergedChild {id: 'R-ADULT-OLD'})-[:MERGED_INTO]->(c)""", database_=db)
    _retain(driver, db, AS_OF)
    report = _retain(driver, db, DESTROY_DAY)
    assert report.destroyed == {"age": 2, "left_england": 1}  # R-ADULT, R-LEAP, R-LEFT; R-DEAD's day is 2032-08-01

    gone = _one(driver, db, "MATCH (c) WHERE c.id IN ['R-ADULT', 'R-LEFT', 'R-LEAP', 'R-ADULT-OLD'] "
                            "AND NOT c:DestroyedChild RETURN count(c)")
    assert gone == 0
    held = {r["id"]: r["labels"] for r in driver.execute_query(
        "MATCH (n) WHERE n.id IN $ids RETURN n.id AS id, labels(n) AS labels",
        ids=["R-SIB", "R-YOUNG", "R-DEAD", "K-SHARED", "K-SOLE", "K-Y", "ADDR-OLD", "ADDR-HOME", "ADDR-L",
             "ADDR-LEAP", "P-SWB", "SCH-B", "MR-1"], database_=db).records}
    assert held == {"R-SIB": ["Child"], "R-YOUNG": ["Child"], "R-DEAD": ["ArchivedChild"], "K-SHARED": ["Carer"],
                    "K-Y": ["Carer"], "ADDR-HOME": ["Address"], "P-SWB": ["Practitioner"], "SCH-B": ["Agency"]}
    sources = sorted(r["key"] for r in driver.execute_query("MATCH (s:SourceRecord) RETURN s.key AS key",
                                                              database_=db).records)
    assert sources == ["GP|992", "directory|R-DEAD", "directory|R-SIB", "directory|R-YOUNG"]  # the directory's own
    assert _one(driver, db, "MATCH (a:Alert {child_id: 'R-ADULT'}) RETURN count(a)") == 0
    assert _one(driver, db, "MATCH (:Carer {id: 'K-SHARED'})-[r:CARES_FOR]->() RETURN count(r)") == 1
    with driver.session(database=db) as session:
        stones = session.execute_read(destruction.tombstones, ids=["R-ADULT", "R-LEFT", "R-ADULT-OLD", "R-SIB"])
    assert stones == {"R-ADULT": {"on": DESTROY_DAY, "rule": "age"}, "R-LEFT": {"on": DESTROY_DAY, "rule": "left_england"},
                      "R-ADULT-OLD": {"on": DESTROY_DAY, "rule": "age"}}
    assert _one(driver, db, "MATCH (t:DestroyedChild {id: 'R-ADULT'}) RETURN t.record_keys") == [
        "GP|991", "directory|R-ADULT"]
    records = {r["key"]: r["child"] for r in driver.execute_query(
        "MATCH (t:DestroyedRecord) RETURN t.key AS key, t.child_id AS child", database_=db).records}
    assert records == {"GP|991": "R-ADULT", "directory|R-ADULT": "R-ADULT", "directory|R-LEFT": "R-LEFT",
                       "directory|R-LEAP": "R-LEAP"}
    stored = _one(driver, db, "MATCH (t:DestroyedChild {id: 'R-ADULT'}) RETURN keys(t)")
    assert set(stored) == {"id", "destroyed_on", "destroyed_at", "rule", "archived_on", "record_keys"}  # no name, no dob


def test_a_stale_feed_never_brings_an_archived_or_destroyed_child_back(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    _retain(driver, db, AS_OF)
    again = load_dir(driver, loaded, database=db, rejects_path=loaded.parent / "archived.csv")
    said = {(r["file"], r["reason"]) for r in _rejects(again.rejects_path)}
    assert ("children.csv", "child R-ADULT was archived on 2026-06-01 under the retention rules (turned 18); "
                            "not loaded") in said
    assert ("residences.csv", "child R-DEAD was archived on 2026-08-01 under the retention rules (died); not loaded") \
        in said
    assert _one(driver, db, "MATCH (c:Child) WHERE c.id IN ['R-ADULT', 'R-DEAD', 'R-LEFT', 'R-LEAP'] RETURN count(c)") == 0

    _retain(driver, db, DESTROY_DAY)
    before = counts(driver, db)
    stale = load_dir(driver, loaded, database=db, rejects_path=loaded.parent / "destroyed.csv")
    rejects = _rejects(stale.rejects_path)
    reason = "child R-ADULT was destroyed on 2032-06-02 under the retention rules (turned 18); not loaded"
    named = [(r["file"], r["line"]) for r in rejects if r["reason"] == reason]
    adult_rows = sum(1 for rows in world().rows.values() for r in rows if r.get("child_id") == "R-ADULT")
    assert len(named) == adult_rows and ("children.csv", "2") in named
    assert _one(driver, db, "MATCH (c) WHERE c.id = 'R-ADULT' AND (c:Child OR c:ArchivedChild) RETURN count(c)") == 0
    assert _one(driver, db, "MATCH (k:Carer {id: 'K-SOLE'}) RETURN count(k)") == 0  # its sole carer is not revived
    after = counts(driver, db)
    unchanged = ("AuditEvent", "Address")
    assert {k: v for k, v in after[0].items() if k not in unchanged} == \
        {k: v for k, v in before[0].items() if k not in unchanged}
    assert {k: v for k, v in after[1].items() if k != "IN"} == {k: v for k, v in before[1].items() if k != "IN"}
    # The addresses feed is keyed by address: his old homes come back as nobody's home, and the next run sweeps them.
    vacant = "MATCH (a:Address) WHERE a.id IN ['ADDR-OLD', 'ADDR-L', 'ADDR-LEAP'] AND NOT EXISTS { ()-[:LIVED_AT]->(a) } "
    assert _one(driver, db, vacant + "RETURN count(a)") == 3
    assert _retain(driver, db, DESTROY_DAY).removed["vacant_addresses"] == 3
    swept = counts(driver, db)
    assert (swept[0]["Address"], swept[1]) == (before[0]["Address"], before[1])


# -- idempotent, dry run, audited ---------------------------------------------------------------

def test_a_second_run_changes_nothing(loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    first = _retain(driver, db, DESTROY_DAY)
    assert first.changed
    before = counts(driver, db)
    second = _retain(driver, db, DESTROY_DAY)
    assert not second.changed and second.archived == {} and second.destroyed == {}
    after = counts(driver, db)
    assert {k: v for k, v in after[0].items() if k != "AuditEvent"} == \
        {k: v for k, v in before[0].items() if k != "AuditEvent"}
    assert after[1] == before[1]


def test_a_dry_run_reports_the_runs_counts_and_changes_nothing(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    # A carer of two records destroyed in different batches (batch=1) goes only when the second one does.
    driver.execute_query("MATCH (a:Child {id: 'R-LEAP'}), (b:Child {id: 'R-LEFT'}) CREATE (k:Carer {id: 'K-BOTH'}) "
                         "CREATE (k)-[:CARES_FOR {since: date('2014-04-04')}]->(a), "
                         "(k)-[:CARES_FOR {since: date('2014-04-04')}]->(b)", database_=db)
    before = counts(driver, db)
    dry = _retain(driver, db, DESTROY_DAY, dry_run=True, batch=1)
    assert counts(driver, db) == before  # audit events included: a dry run records nothing
    real = _retain(driver, db, DESTROY_DAY, batch=1)
    assert (dry.archived, dry.destroyed, dry.removed, dry.exact) == (real.archived, real.destroyed, real.removed, True)
    assert dry.archived == {"age": 2, "death": 1, "left_england": 1}
    assert dry.removed["carers"] == 2 and dry.removed["addresses"] == 3  # K-SOLE, K-BOTH; ADDR-OLD, -L, -LEAP


def test_each_run_is_audited_with_its_counts_and_the_chain_verifies(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    report = _retain(driver, db, DESTROY_DAY)
    records = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.action AS action, e.children AS children, "
        "e.user_id AS user, e.detail_json AS detail ORDER BY e.seq", rid=report.run_id, database_=db).records
    assert [r["action"] for r in records] == ["retention_archive", "retention_destroy", "retention_run"]
    # The archive event named all four; the three destroyed in the same run are redacted from it since.
    assert sorted(records[0]["children"]) == ["R-DEAD"]
    assert sorted(records[1]["children"]) == ["R-ADULT", "R-LEAP", "R-LEFT"]
    assert {r["user"] for r in records} == {ACTOR.user_id}
    summary = json.loads(records[2]["detail"])
    assert summary["archived"] == {"age": 2, "death": 1, "left_england": 1}
    assert summary["destroyed"] == {"age": 2, "left_england": 1} and summary["as_of"] == "2032-06-02"
    assert audit.verify(driver, database=db).ok
    second = _retain(driver, db, DESTROY_DAY)
    rerun = driver.execute_query("MATCH (e:AuditEvent {request_id: $rid}) RETURN e.action AS action",
                                 rid=second.run_id, database_=db).records
    assert [r["action"] for r in rerun] == ["retention_run"]  # a run that finds nothing due still says it ran


def test_destruction_hands_the_child_to_the_trails_redaction(
        loaded: Path, driver: Driver, neo4j_settings: GraphSettings, api_client: Any,
        demo_tokens: dict[str, dict[str, str]]) -> None:
    db = neo4j_settings.database
    api_client.get("/children/R-ADULT", headers=_as(api_client, demo_tokens, "practitioner"))
    report = _retain(driver, db, DESTROY_DAY)
    # The practitioner's look names R-ADULT; the run's archive event names all three children it then destroys.
    assert report.redacted == 1 + 3
    gone = ["R-ADULT", "R-LEAP", "R-LEFT"]
    named = driver.execute_query("MATCH (e:AuditEvent) WHERE any(c IN e.children WHERE c IN $gone) "
                                 "AND e.action <> 'retention_destroy' RETURN count(e) AS n", gone=gone, database_=db)
    assert named.records[0]["n"] == 0  # only the destruction's own event names them, by id, afterwards
    assert audit.verify(driver, database=db).ok


def test_schema_knows_the_new_labels(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    names = {name for name, _, _ in schema.indexes(empty_db, database=neo4j_settings.database)}
    assert {"archived_child_id", "destroyed_child_id", "destroyed_record_key", "archived_child_destroy_on",
            "alert_child_id"} <= names
