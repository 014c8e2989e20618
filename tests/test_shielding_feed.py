"""Shielding decisions from shielding.csv: the same locked, audited change as the API's, and never a stale one."""

from __future__ import annotations

import csv
import json
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import schema, shielding
from graph.config import GraphSettings
from graph.viewer import Role, Viewer
from loaders.load import load_dir
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds

TEAM = "la_admin.birmingham"
HEADER = "child_id,shielded,la_code,decided_on,reason"


def _feed(folder: Path, *rows: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shielding.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return folder


def _load(driver: Driver, db: str, folder: Path) -> dict[int, str]:
    """Load the folder's shielding.csv; the rejected lines with their reasons."""
    report = load_dir(driver, folder, database=db)
    with report.rejects_path.open(newline="", encoding="utf-8") as handle:
        return {int(r["line"]): r["reason"] for r in csv.DictReader(handle) if r["file"] == "shielding.csv"}


def _state(driver: Driver, db: str, child_id: str) -> tuple[bool, list[str]]:
    records, _, _ = driver.execute_query(
        "MATCH (c:Child {id: $id}) RETURN c.shielded AS shielded, "
        "COLLECT { MATCH (c)-[:SHIELDED_BY]->(la) RETURN la.code } AS by", id=child_id, database_=db)
    return records[0]["shielded"], records[0]["by"]


def _feed_events(driver: Driver, db: str, child_id: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent) WHERE e.user_id = 'feed:shielding' AND $id IN e.children "
        "RETURN e.action AS action, e.outcome AS outcome, e.role AS role, e.la_code AS la_code, "
        "e.detail_json AS detail ORDER BY e.seq", id=child_id, database_=db)
    return [{**r.data(), "detail": json.loads(r["detail"])} for r in records]


def _db_today(driver: Driver, db: str) -> date:
    """Today as the database dates the API's decisions."""
    records, _, _ = driver.execute_query("RETURN date() AS today", database_=db)
    return records[0]["today"].to_native()


@pytest.fixture()
def household(driver: Driver, neo4j_settings: GraphSettings) -> str:
    """Birmingham children: C1..C4 unshielded, each at its own address, and the users who manage them."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    f = Feeds()
    f.authorities()
    for n in range(1, 5):
        f.child(f"C{n}", "Ada", f"Stale{n}", date(2015, 1, n), BIRMINGHAM)
        f.lives(f"C{n}", f.address(f"AD{n}", f"{n} Quiet Road", f"B{n} 1AA", BIRMINGHAM), date(2016, 1, 1))
    f.write(driver, db)
    return db


def _api(client: Any, tokens: Any, method: str, child_id: str) -> Any:
    headers = {**tokens[TEAM], "X-Purpose": "shielding decision"}
    return client.request(method, f"/children/{child_id}/shield", headers=headers,
                          json={"reason": "management team decision"})


def test_a_stale_extract_does_not_lift_a_shield_set_through_the_api(
        household: str, driver: Driver, api_client: Any, demo_tokens: Any, tmp_path: Path) -> None:
    today = _db_today(driver, household)
    day_before = today - timedelta(days=1)
    assert _api(api_client, demo_tokens, "POST", "C1").status_code == 200  # decided today, day D+1
    rejected = _load(driver, household, _feed(tmp_path, f"C1,false,{BIRMINGHAM},{day_before},review"))
    assert _state(driver, household, "C1") == (True, [BIRMINGHAM])
    assert rejected == {2: f"decided_on {day_before} is older than the decision already recorded on {today}"}
    card = api_client.get("/children/C1", headers={**demo_tokens["practitioner.birmingham"], "X-Purpose": "visit"})
    assert card.json()["shielded"] is True and "address" not in card.json()


def test_a_stale_extract_does_not_reset_a_shield_lifted_through_the_api(
        household: str, driver: Driver, api_client: Any, demo_tokens: Any, tmp_path: Path) -> None:
    today = _db_today(driver, household)
    earlier, day_before = today - timedelta(days=9), today - timedelta(days=1)
    assert _load(driver, household, _feed(tmp_path / "a", f"C2,true,{BIRMINGHAM},{earlier},risk")) == {}
    assert _state(driver, household, "C2") == (True, [BIRMINGHAM])
    assert _api(api_client, demo_tokens, "DELETE", "C2").status_code == 200  # lifted today, day D+1
    rejected = _load(driver, household, _feed(tmp_path / "b", f"C2,true,{BIRMINGHAM},{day_before},risk"))
    assert _state(driver, household, "C2") == (False, [])
    assert rejected == {2: f"decided_on {day_before} is older than the decision already recorded on {today}"}


def test_each_feed_decision_is_audited_as_the_apis_are(household: str, driver: Driver, api_client: Any,
                                                       demo_tokens: Any, tmp_path: Path) -> None:
    on = date(2025, 3, 1)
    rejected = _load(driver, household, _feed(tmp_path, f"C3,true,{BIRMINGHAM},{on},refuge",
                                              f"C3,false,{BIRMINGHAM},{on - timedelta(days=1)},old review",
                                              f"C3,false,{BIRMINGHAM},{on + timedelta(days=30)},review"))
    assert rejected == {3: f"decided_on {on - timedelta(days=1)} is older than the decision already recorded on {on}"}
    assert _state(driver, household, "C3") == (False, [])
    events = _feed_events(driver, household, "C3")
    assert [(e["action"], e["outcome"], e["role"], e["la_code"]) for e in events] == [
        ("shield", "ok", "la_admin", BIRMINGHAM), ("unshield", "denied", "la_admin", BIRMINGHAM),
        ("unshield", "ok", "la_admin", BIRMINGHAM)]
    assert [(e["detail"]["file"], e["detail"]["line"], e["detail"]["decided_on"]) for e in events] == [
        ("shielding.csv", 2, "2025-03-01"), ("shielding.csv", 3, "2025-02-28"), ("shielding.csv", 4, "2025-03-31")]
    assert events[1]["detail"]["refused"] == rejected[3]
    auditor = demo_tokens["auditor.birmingham"]
    api_client.app.state.verifier.wait(60)
    assert api_client.post("/audit/verify", headers=auditor, params={"full": "true"}).status_code == 202
    api_client.app.state.verifier.wait(60)  # verification runs in the background
    verified = api_client.get("/audit/verify", headers=auditor).json()
    api_client.app.state.verifier.wait(60)
    assert (verified["ok"], verified["mode"]) == (True, "full")


def test_the_same_file_loaded_again_changes_and_audits_nothing(household: str, driver: Driver,
                                                               tmp_path: Path) -> None:
    folder = _feed(tmp_path, f"C3,true,{BIRMINGHAM},2025-03-01,refuge", f"C4,false,{BIRMINGHAM},2025-03-01,review")
    assert _load(driver, household, folder) == {}
    before = _feed_events(driver, household, "C3") + _feed_events(driver, household, "C4")
    assert len(before) == 2
    assert _load(driver, household, folder) == {}
    assert _feed_events(driver, household, "C3") + _feed_events(driver, household, "C4") == before
    assert _state(driver, household, "C3") == (True, [BIRMINGHAM])


def test_on_the_same_date_the_shield_stands(household: str, driver: Driver, api_client: Any, demo_tokens: Any,
                                            tmp_path: Path) -> None:
    today = _db_today(driver, household)
    assert _api(api_client, demo_tokens, "POST", "C1").status_code == 200
    assert _api(api_client, demo_tokens, "DELETE", "C2").status_code == 403  # nothing to lift yet
    assert _load(driver, household, _feed(tmp_path / "a", f"C2,true,{BIRMINGHAM},{today},risk")) == {}
    assert _api(api_client, demo_tokens, "DELETE", "C2").status_code == 200  # lifted the same day
    rejected = _load(driver, household, _feed(tmp_path / "b", f"C1,false,{BIRMINGHAM},{today},review",
                                              f"C2,true,{BIRMINGHAM},{today},risk"))
    assert rejected == {2: f"decided_on {today} is the day the record was shielded; on the same day the shield "
                           "stands (send a later decision to lift it)"}
    assert _state(driver, household, "C1") == (True, [BIRMINGHAM])
    assert _state(driver, household, "C2") == (True, [BIRMINGHAM])


def test_only_the_shielding_authority_changes_a_shielded_record(household: str, driver: Driver,
                                                                tmp_path: Path) -> None:
    assert _load(driver, household, _feed(tmp_path / "a", f"C3,true,{LEEDS},2025-01-01,refuge")) == {}
    assert _state(driver, household, "C3") == (True, [LEEDS])  # the row names the authority that holds it
    rejected = _load(driver, household, _feed(tmp_path / "b", f"C3,false,{BIRMINGHAM},2025-06-01,review",
                                              f"C3,true,{BIRMINGHAM},2025-06-02,take over"))
    reason = (f"la_code {BIRMINGHAM}: the record is shielded by {LEEDS}; only that authority's management team "
              "can change the decision")
    assert rejected == {2: reason, 3: reason}
    assert _state(driver, household, "C3") == (True, [LEEDS])


def test_unknown_children_and_authorities_are_rejected_by_name(household: str, driver: Driver,
                                                               tmp_path: Path) -> None:
    rejected = _load(driver, household, _feed(tmp_path, "NOPE,true,E08000025,2025-01-01,refuge",
                                              "C1,true,E06000999,2025-01-01,refuge"))
    assert rejected == {2: "child_id: unknown child 'NOPE'", 3: "la_code: unknown local authority 'E06000999'"}
    assert _state(driver, household, "C1") == (False, [])


@pytest.mark.slow
def test_a_feed_decision_waits_for_an_api_change_in_progress(household: str, driver: Driver,
                                                             tmp_path: Path) -> None:
    """The feed locks the child before it reads the decision, so it decides on what the API committed."""
    team = Viewer(user_id="team-member", role=Role.LA_ADMIN, la_code=BIRMINGHAM)
    yesterday = _db_today(driver, household) - timedelta(days=1)
    folder = _feed(tmp_path, f"C4,false,{BIRMINGHAM},{yesterday},review")
    result: dict[str, dict[int, str]] = {}
    with driver.session(database=household) as session, session.begin_transaction() as tx:
        assert shielding.decide(tx, viewer=team, child_id="C4", shield=True, reason="refuge") == "ok"
        loader = threading.Thread(target=lambda: result.update(rejected=_load(driver, household, folder)))
        loader.start()
        loader.join(timeout=3)
        assert loader.is_alive()  # held on the child's lock
        tx.commit()
    loader.join(timeout=60)
    assert _state(driver, household, "C4") == (True, [BIRMINGHAM])
    assert list(result["rejected"]) == [2] and "is older than the decision already recorded" in result["rejected"][2]


def test_a_shield_made_before_decisions_were_dated_is_dated_by_the_migration(household: str, driver: Driver,
                                                                             tmp_path: Path) -> None:
    assert _load(driver, household, _feed(tmp_path / "a", f"C1,true,{BIRMINGHAM},2025-05-05,refuge")) == {}
    driver.execute_query("MATCH (c:Child) REMOVE c.shield_decided_on WITH count(*) AS n "
                         "MATCH (m:SchemaMeta {id: 'schema'}) SET m.version = 4", database_=household)
    assert schema.apply(driver, database=household) == [v for v in sorted(schema.MIGRATIONS) if v > 4]
    rejected = _load(driver, household, _feed(tmp_path / "b", f"C1,false,{BIRMINGHAM},2025-05-04,review"))
    assert rejected == {2: "decided_on 2025-05-04 is older than the decision already recorded on 2025-05-05"}
