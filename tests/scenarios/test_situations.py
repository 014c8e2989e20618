"""Each situation raises exactly its alerts and pattern flags; shielded variants only for the holding team."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, analytics
from graph.config import GraphSettings
from graph.viewer import Role, Viewer
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD
from tests.scenarios.situations import AS_OF, Expected, build

PURPOSE = {"X-Purpose": "alert inbox"}


@pytest.fixture(scope="module")
def england(driver: Driver, neo4j_settings: GraphSettings) -> dict[str, Expected]:
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    feeds, expected = build()
    feeds.write(driver, db)
    alerts.scan(driver, database=db, as_of=AS_OF)
    analytics.compute(driver, database=db, as_of=AS_OF)
    return expected


def raised(driver: Driver, db: str) -> dict[str, Counter[tuple[str, str]]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert) RETURN a.child_id AS child, a.kind AS kind, a.la_code AS la", database_=db)
    out: dict[str, Counter[tuple[str, str]]] = {}
    for r in records:
        out.setdefault(r["child"], Counter())[(r["kind"], r["la"])] += 1
    return out


def test_each_child_raises_exactly_its_alerts(england: dict[str, Expected], driver: Driver,
                                              neo4j_settings: GraphSettings) -> None:
    got = raised(driver, neo4j_settings.database)
    for child, want in england.items():
        assert got.get(child, Counter()) == Counter(want.alerts), child
    assert set(got) <= set(england)


def test_transfer_in_alert_names_the_move_and_due_date(england: dict[str, Expected], driver: Driver,
                                                       neo4j_settings: GraphSettings) -> None:
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert {child_id: 'X1', kind: 'transfer_in_overdue', la_code: $la}) "
        "RETURN a.from_code AS src, a.to_code AS to, toString(a.moved_on) AS moved, toString(a.due) AS due",
        la=MANCHESTER, database_=neo4j_settings.database)
    assert [r.data() for r in records] == [{"src": LEEDS, "to": MANCHESTER, "moved": "2026-01-05",
                                            "due": "2026-01-26"}]


def test_rescanning_raises_nothing_new(england: dict[str, Expected], driver: Driver,
                                       neo4j_settings: GraphSettings) -> None:
    before = raised(driver, neo4j_settings.database)
    again = alerts.scan(driver, database=neo4j_settings.database, as_of=AS_OF)
    assert again.total_raised == 0 and sum(again.addressed.values()) > 0
    assert raised(driver, neo4j_settings.database) == before


def test_concurrent_scans_raise_each_alert_once(england: dict[str, Expected], driver: Driver,
                                                neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    driver.execute_query("MATCH (a:Alert) DETACH DELETE a", database_=db)
    failures: list[BaseException] = []

    def scan() -> None:
        try:
            alerts.scan(driver, database=db, as_of=AS_OF)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    got = raised(driver, db)
    for child, want in england.items():
        assert got.get(child, Counter()) == Counter(want.alerts), child


def test_pattern_flags_per_child(england: dict[str, Expected], driver: Driver, neo4j_settings: GraphSettings) -> None:
    reviewer = Viewer("u-reviewer", Role.REVIEWER, LEEDS)
    flagged: dict[str, set[str]] = {}
    with driver.session(database=neo4j_settings.database) as session:
        for la in (BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD):
            for row in session.execute_read(lambda tx, la=la: analytics.cases(tx, viewer=reviewer, la_code=la,
                                                                              as_of=AS_OF)):
                flagged[row["id"]] = {p for p, on in row["flags"].items() if on}
    for child, want in england.items():
        if want.studied and want.flags:
            assert flagged.get(child) == want.flags, child
        else:
            assert child not in flagged, child


def test_prevalence_counts_each_child_where_it_lives(england: dict[str, Expected], driver: Driver,
                                                     neo4j_settings: GraphSettings) -> None:
    with driver.session(database=neo4j_settings.database) as session:
        rows = session.execute_read(lambda tx: analytics.counts(tx, day=AS_OF, cohort="all"))
    by_la = {r["la_code"]: r for r in rows}
    assert by_la[BIRMINGHAM]["children"] == sum(1 for e in england.values() if e.lives_in == BIRMINGHAM)
    # X1, X2 and X3 all went through four authorities and now live in Birmingham.
    assert by_la[BIRMINGHAM]["moved_authority"] == 3
    assert by_la[MANCHESTER]["transfer_gap"] == 1  # Q1, a child in need


def inbox(client: Any, tokens: dict[str, dict[str, str]], user: str, **params: Any) -> dict[str, Any]:
    response = client.get("/alerts", headers={**tokens[user], **PURPOSE}, params={"state": "open", **params,
                                                                                  "limit": 200})
    assert response.status_code == 200, response.text
    return response.json()


def test_shielded_childs_alerts_reach_only_the_holding_team(england: dict[str, Expected], api_client: Any,
                                                            demo_tokens: Any) -> None:
    team = inbox(api_client, demo_tokens, "la_admin.leeds")
    assert Counter(a["kind"] for a in team["items"] if a["child_id"] == "X2") == Counter(
        kind for kind, _ in england["X2"].alerts)
    for user in ("safeguarding_lead.leeds", "safeguarding_lead.birmingham", "la_admin.birmingham"):
        body = inbox(api_client, demo_tokens, user)
        assert all(a["child_id"] != "X2" for a in body["items"]), user
    # X3's sibling is shielded by Birmingham: Birmingham's team sees X3's alerts, its leads do not.
    assert {a["kind"] for a in inbox(api_client, demo_tokens, "la_admin.birmingham")["items"]
            if a["child_id"] == "X3"} == {"protected_move", "transfer_in_overdue", "no_school_roll",
                                           "repeat_emergency", "emergency_attendance"}
    lead = inbox(api_client, demo_tokens, "safeguarding_lead.birmingham")
    assert all(a["child_id"] != "X3" for a in lead["items"])
    # Leeds' lead sees X1's alerts (ordinary) and nothing that names where X2 or X3 went.
    leeds_lead = inbox(api_client, demo_tokens, "safeguarding_lead.leeds")
    assert {a["child_id"] for a in leeds_lead["items"]} == {"X1"}
    assert "Wren" not in str(leeds_lead) and "Lark" not in str(leeds_lead)


def test_lead_sees_what_a_move_alert_needs(england: dict[str, Expected], api_client: Any, demo_tokens: Any) -> None:
    body = inbox(api_client, demo_tokens, "safeguarding_lead.birmingham", kind="protected_move")
    [move] = [a for a in body["items"] if a["child_id"] == "X1"]
    assert move["details"] == {"from_code": SHEFFIELD, "from_name": "Sheffield", "to_code": BIRMINGHAM,
                               "to_name": "Birmingham", "moved_on": "2026-10-20", "plans": ["cp_plan"]}
    assert move["state"] == "open" and "Sheffield to Birmingham on 2026-10-20" in move["summary"]


def test_placement_moves_of_a_looked_after_child(england: dict[str, Expected], api_client: Any,
                                                 demo_tokens: Any) -> None:
    response = api_client.get("/children/Y1/moves", headers={**demo_tokens["safeguarding_lead.birmingham"],
                                                             **PURPOSE})
    body = response.json()
    assert body["moves"] == []  # never left Birmingham
    assert [(p["date"], p["between_authorities"]) for p in body["placement_moves"]] == [("2025-12-01", False),
                                                                                        ("2026-06-15", False)]
    x1 = api_client.get("/children/X1/moves", headers={**demo_tokens["safeguarding_lead.birmingham"], **PURPOSE})
    assert [(m["date"], m["from"]["code"], m["to"]["code"], m["protected"]) for m in x1.json()["moves"]] == [
        ("2026-01-05", LEEDS, MANCHESTER, ["cp_plan"]), ("2026-05-11", MANCHESTER, SHEFFIELD, ["cp_plan"]),
        ("2026-10-20", SHEFFIELD, BIRMINGHAM, ["cp_plan"])]
