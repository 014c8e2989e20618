"""Every emergency attendance of a child on a CP plan or looked after alerts the responsible authority: at once
when the attendance is loaded, and by the scan, once (CP-IS tells the authority of each visit, not the third)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts
from graph.config import GraphSettings
from loaders.load import load_dir
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds

AS_OF = date(2026, 10, 31)
# (child, hospital, as the emergency department's feed gives the time, and the UTC instant the graph keeps)
VISITS = [
    ("E1", "ED-B", "2025-12-20T10:00:00", "2025-12-20T10:00:00Z"),        # before the CP plan began: nothing
    ("E1", "ED-B", "2026-03-01T10:00:00", "2026-03-01T10:00:00Z"),        # on the CP plan
    ("E2", "ED-B", "2026-06-30T23:30:00+01:00", "2026-06-30T22:30:00Z"),  # the last day looked after (UK day)
    ("E2", "ED-B", "2026-07-01T00:30:00+01:00", "2026-06-30T23:30:00Z"),  # 1 July in the UK: the plan had ended
    ("E3", "ED-B", "2026-04-04T12:00:00", "2026-04-04T11:00:00Z"),        # a child in need: not a protecting plan
    ("E4", "ED-L", "2026-05-05T09:15:00", "2026-05-05T08:15:00Z"),        # his sister is shielded by Leeds
    ("ES", "ED-L", "2026-05-06T14:00:00", "2026-05-06T13:00:00Z"),        # shielded by Leeds, looked after by Leeds
    ("E5", "ED-B", "2025-09-01T10:00:00", "2025-09-01T09:00:00Z"),        # on a plan, but over a year before AS_OF
]
# kind|child|instant|authority, as each alert's key.
EXPECTED = {
    f"emergency_attendance|E1|2026-03-01T10:00:00Z|{BIRMINGHAM}",
    f"emergency_attendance|E2|2026-06-30T22:30:00Z|{LEEDS}",
    f"emergency_attendance|E4|2026-05-05T08:15:00Z|{LEEDS}",  # to the holding team, not to Birmingham (his plan)
    f"emergency_attendance|ES|2026-05-06T13:00:00Z|{LEEDS}",
}


def base(driver: Driver, db: str, *, with_visits: bool) -> None:
    """The children and their plans, written through graph.ingest (the visits too, when asked: no alert then)."""
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    f = Feeds()
    f.authorities()
    f.agency("ED-B", "Heartlands Emergency", "unscheduled_care", BIRMINGHAM)
    f.agency("ED-L", "Leeds General Emergency", "unscheduled_care", LEEDS)
    for cid, given, family, dob in [("E1", "Ema", "Ash", date(2015, 1, 11)), ("E2", "Eli", "Birch", date(2012, 2, 12)),
                                    ("E3", "Eve", "Cedar", date(2014, 3, 13)),
                                    ("E4", "Ezra", "Dale", date(2011, 4, 14)),
                                    ("ES", "Esme", "Dale", date(2016, 5, 15)),
                                    ("E5", "Enzo", "Elm", date(2013, 6, 16))]:
        f.child(cid, given, family, dob, BIRMINGHAM)
    f.plan("E1", BIRMINGHAM, "cp_plan", date(2026, 1, 5))
    f.plan("E2", LEEDS, "looked_after", date(2025, 6, 1), date(2026, 6, 30))
    f.plan("E3", BIRMINGHAM, "child_in_need", date(2025, 1, 1))
    f.plan("E4", BIRMINGHAM, "cp_plan", date(2025, 1, 1))
    f.plan("ES", LEEDS, "looked_after", date(2025, 1, 1))
    f.plan("E5", BIRMINGHAM, "cp_plan", date(2024, 1, 1))
    for cid in ("E4", "ES"):
        f.carer("K-DALE", "Dee Dale", cid)
    f.shield("ES", LEEDS, date(2025, 1, 1))
    if with_visits:
        for cid, agency, at, _ in VISITS:
            f.attend(cid, agency, datetime.fromisoformat(at))
    f.write(driver, db)


def write_visits(folder: Path) -> Path:
    lines = ["child_id,agency_id,at,reason"] + [f"{cid},{agency},{at},injury" for cid, agency, at, _ in VISITS]
    (folder / "attendances.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def keys(driver: Driver, db: str) -> set[str]:
    records, _, _ = driver.execute_query("MATCH (a:Alert {kind: 'emergency_attendance'}) RETURN a.key AS key",
                                         database_=db)
    return {r["key"] for r in records}


@pytest.fixture(scope="module")
def loaded(driver: Driver, neo4j_settings: GraphSettings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The visits loaded as `contactpoint load` loads them, and nothing else run (no scan)."""
    db = neo4j_settings.database
    base(driver, db, with_visits=False)
    folder = write_visits(tmp_path_factory.mktemp("visits"))
    report = load_dir(driver, folder, database=db, as_of=AS_OF, only=["attendances"])
    assert report.rejected == 0, (folder / "rejects.csv").read_text()
    return {"folder": folder, "report": report, "keys": keys(driver, db)}


def test_loading_an_attendance_alerts_the_responsible_authority_at_once(loaded: dict[str, Any]) -> None:
    assert loaded["keys"] == EXPECTED
    assert loaded["report"].alerts == len(EXPECTED) and loaded["report"].results[0].alerts == len(EXPECTED)


def test_loading_the_same_visits_again_raises_nothing_new(loaded: dict[str, Any], driver: Driver,
                                                          neo4j_settings: GraphSettings) -> None:
    again = load_dir(driver, loaded["folder"], database=neo4j_settings.database, as_of=AS_OF, only=["attendances"])
    assert again.alerts == 0 and keys(driver, neo4j_settings.database) == EXPECTED


def test_a_scan_after_the_load_finds_the_same_alerts_and_raises_none(loaded: dict[str, Any], driver: Driver,
                                                                     neo4j_settings: GraphSettings) -> None:
    result = alerts.scan(driver, database=neo4j_settings.database, as_of=AS_OF)
    assert result.raised["emergency_attendance"] == 0
    assert result.addressed["emergency_attendance"] == len(EXPECTED)
    assert keys(driver, neo4j_settings.database) == EXPECTED


def test_the_inbox_says_when_and_where(loaded: dict[str, Any], api_client: Any, demo_tokens: Any) -> None:
    def inbox(user: str) -> list[dict[str, Any]]:
        response = api_client.get("/alerts", params={"kind": "emergency_attendance"},
                                  headers={**demo_tokens[user], "X-Purpose": "alerts"})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    [visit] = inbox("safeguarding_lead.birmingham")  # E4's goes to Leeds' team only
    assert visit["child_id"] == "E1"
    assert visit["details"] == {"attended_at": "2026-03-01T10:00:00Z", "hospital": "Heartlands Emergency",
                                "plans": ["cp_plan"]}
    assert visit["summary"] == ("Child E1 (a child protection plan) attended emergency care at Heartlands Emergency "
                                "on 01 March 2026 at 10:00 (UK time).")
    assert {a["child_id"] for a in inbox("safeguarding_lead.leeds")} == {"E2"}
    assert {a["child_id"] for a in inbox("la_admin.leeds")} == {"E2", "E4", "ES"}
    assert inbox("la_admin.birmingham") == inbox("safeguarding_lead.birmingham")


def test_the_scan_alone_raises_the_same_alerts_once(driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    base(driver, db, with_visits=True)  # through graph.ingest alone: no alert until the scan
    assert keys(driver, db) == set()
    first = alerts.scan(driver, database=db, as_of=AS_OF)
    assert first.raised["emergency_attendance"] == len(EXPECTED) and keys(driver, db) == EXPECTED
    again = alerts.scan(driver, database=db, as_of=AS_OF)
    assert again.raised["emergency_attendance"] == 0 and keys(driver, db) == EXPECTED


def test_a_visit_a_year_before_the_scan_date_is_out_of_the_window(driver: Driver,
                                                                  neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    base(driver, db, with_visits=True)
    alerts.scan(driver, database=db, as_of=date(2026, 8, 31))  # 1 September 2025 is within the year before
    assert f"emergency_attendance|E5|2025-09-01T09:00:00Z|{BIRMINGHAM}" in keys(driver, db)
