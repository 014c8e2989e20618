"""Triage on the real Neo4j: the inbox grouped by child and ranked by compounding signals, for each role.

The England is the alert situations (tests/scenarios) with three Birmingham children each strong on one kind of
signal: a toddler who attended emergency care seven times, a looked-after child moved out of the authority and
back with no school and no GP (but a lead social worker), and a child in need with four agencies and no lead.
The child who went through four authorities in ten months must still come first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, triage
from graph.config import GraphSettings
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, SHEFFIELD, Feeds
from tests.scenarios.situations import AS_OF, build

PURPOSE = {"X-Purpose": "triaging the inbox"}


def decoys(f: Feeds) -> None:
    """Children whose alerts arrive alone or with one or two other signals."""
    f.agency("HV-B", "Small Heath Health Visiting", "health_visiting", BIRMINGHAM)
    f.agency("YH-B", "Digbeth Youth Hub", "voluntary", BIRMINGHAM)
    f.practitioner("P-YH", "Rio Mensah", "YH-B")
    f.practitioner("P-SW2", "Sol Weaver", "SC-B")
    # D1: seven emergency visits in the year, nothing else.
    f.child("D1", "Ada", "Often", date(2023, 5, 5), BIRMINGHAM)
    f.lives("D1", f.address("ADDR-D1", "3 Ward Street", "B9 4AA", BIRMINGHAM), date(2023, 5, 6))
    f.gp("D1", "GP-B", date(2023, 5, 20))
    for month in (1, 2, 4, 5, 7, 8, 9):
        f.attend("D1", "ED-B", datetime(2026, month, 12, 14, 0), reason="breathing difficulty")
    # D2: looked after, placed in Sheffield for five months, off the school roll since, never with a GP; a lead.
    f.child("D2", "Bo", "Placed", date(2012, 3, 9), BIRMINGHAM, gender="male")
    f.lives("D2", f.address("ADDR-D2-0", "9 Foster Road", "B14 7QQ", BIRMINGHAM), date(2020, 1, 1), date(2026, 2, 2))
    f.lives("D2", f.address("ADDR-D2-1", "2 Placement Way", "S2 4BB", SHEFFIELD), date(2026, 2, 2), date(2026, 7, 1))
    f.lives("D2", f.address("ADDR-D2-2", "11 Return Lane", "B23 5CC", BIRMINGHAM), date(2026, 7, 1))
    f.plan("D2", BIRMINGHAM, "looked_after", date(2024, 1, 10))
    f.school("D2", "SCH-B", date(2016, 9, 5), date(2026, 2, 2))
    f.involve("P-SW2", "D2", "social_care", date(2024, 1, 10), lead=True)
    f.attend("D2", "ED-B", datetime(2026, 3, 1, 23, 0))
    f.attend("D2", "ED-B", datetime(2026, 8, 1, 23, 0))
    # D3: a child in need with four agencies and no lead, three emergency visits at two hospitals.
    f.child("D3", "Cy", "Spread", date(2010, 8, 8), BIRMINGHAM)
    f.lives("D3", f.address("ADDR-D3", "5 Many Row", "B11 1DD", BIRMINGHAM), date(2015, 1, 1))
    f.plan("D3", BIRMINGHAM, "child_in_need", date(2025, 9, 1))
    f.school("D3", "SCH-B", date(2021, 9, 1))
    f.gp("D3", "GP-B", date(2015, 1, 10))
    for who, service in (("P-SWB", "social_care"), ("P-POL", "police"), ("P-YH", "voluntary"), ("P-HS", "housing")):
        f.involve(who, "D3", service, date(2025, 9, 1))
    for agency, at in (("ED-B", datetime(2026, 1, 20, 9, 0)), ("ED-B", datetime(2026, 4, 20, 9, 0)),
                       ("ED-M", datetime(2026, 9, 20, 9, 0))):
        f.attend("D3", agency, at)


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    feeds, _ = build()
    decoys(feeds)
    feeds.write(driver, db)
    alerts.scan(driver, database=db, as_of=AS_OF)


def triaged(client: Any, tokens: dict[str, dict[str, str]], user: str, **params: Any) -> dict[str, Any]:
    response = client.get("/alerts/triage", headers={**tokens[user], **PURPOSE}, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def order(page: dict[str, Any]) -> list[str]:
    return [g["subject"] for g in page["items"]]


def test_the_compound_child_comes_first_and_the_frequent_attender_last(world: None, api_client: Any,
                                                                      demo_tokens: Any) -> None:
    page = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")
    ranked = order(page)
    assert ranked[0] == "X1" and ranked[-1] == "D1" and set(ranked) == {"X1", "Y1", "D1", "D2", "D3"}
    assert ranked.index("D2") < ranked.index("D3")  # four signals and a missed deadline beat three
    assert [g["rank"] for g in page["items"]] == [1, 2, 3, 4, 5] and page["as_of"] == AS_OF.isoformat()
    scores = [g["score"] for g in page["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    assert page["total"] == 5 and page["alerts"] == sum(len(g["alerts"]) for g in page["items"])
    flat = api_client.get("/alerts", headers={**demo_tokens["safeguarding_lead.birmingham"], **PURPOSE},
                          params={"limit": 200}).json()
    assert page["alerts"] == flat["total"] and page["counts"] == flat["counts"]  # the same alerts, grouped


def test_every_point_is_explained(world: None, api_client: Any, demo_tokens: Any) -> None:
    page = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")
    for group in page["items"]:
        assert sum(r["points"] for r in group["reasons"]) == group["score"]
        assert all(r["points"] > 0 and r["why"] for r in group["reasons"])
    x1 = page["items"][0]
    lines = {r["signal"]: r for r in x1["reasons"]}
    assert set(lines) == {"cp_plan", "authorities", "no_lead", "no_school", "emergency", "protected_emergency",
                          "transfer_in_overdue", "compound"}
    # Each of X1's visits while on its Leeds CP plan alerted Leeds (not Birmingham): one signal here, not three.
    assert lines["protected_emergency"]["points"] == triage.PROTECTED_EMERGENCY_POINTS
    assert lines["protected_emergency"]["why"].endswith("(told to another authority)")
    assert lines["compound"]["points"] == 6 * triage.COMPOUND_POINTS  # seven signals
    assert x1["score"] == 40  # docs/alerts.md's worked example, line by line
    assert lines["authorities"]["why"] == ("Lived in 4 authorities in the 12 months: Leeds, Manchester, Sheffield, "
                                           "Birmingham")
    assert lines["authorities"]["points"] == 3 * triage.AUTHORITY_POINTS
    assert lines["emergency"]["why"] == "3 emergency attendances at 2 hospitals in the 12 months"
    assert lines["no_lead"]["why"] == "3 agencies involved now and no lead professional"
    # Birmingham holds none of X1's transfer-in alerts; the missed conference in Manchester still counts here.
    assert "transfer_in_overdue" not in {a["kind"] for a in x1["alerts"]}
    assert x1["child"] == {"id": "X1", "given_name": "Zara", "family_name": "Nomad", "dob": "2014-02-11"}
    d1 = next(g for g in page["items"] if g["subject"] == "D1")
    assert [r["signal"] for r in d1["reasons"]] == ["emergency"]  # seven visits, but on no plan: no CP-IS signal
    assert d1["reasons"][0]["points"] == triage.EMERGENCY_VISIT_CAP  # seven visits, capped


def test_the_first_page_and_the_next(world: None, api_client: Any, demo_tokens: Any) -> None:
    first = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham", limit=2)
    second = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham", limit=2, skip=2)
    assert order(first) + order(second) == order(triaged(api_client, demo_tokens, "safeguarding_lead.birmingham"))[:4]
    assert first["total"] == second["total"] == 5


def test_an_alert_kind_without_a_weight_scores_nothing(world: None, api_client: Any, demo_tokens: Any,
                                                       driver: Driver, neo4j_settings: GraphSettings) -> None:
    """A kind added later (another rule, another role's alert) is grouped and listed, and adds no points."""
    db = neo4j_settings.database
    page = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")
    before = {g["subject"]: g["score"] for g in page["items"]}
    driver.execute_query(
        "CREATE (:Alert {id: randomUUID(), key: 'new_kind|D1|test|' + $la, kind: 'new_kind', state: 'open', "
        "la_code: $la, child_id: 'D1', raised_at: datetime({timezone: 'Z'}), as_of: $as_of})",
        la=BIRMINGHAM, as_of=AS_OF, database_=db)
    try:
        page = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")
        d1 = next(g for g in page["items"] if g["subject"] == "D1")
        assert "new_kind" in {a["kind"] for a in d1["alerts"]} and d1["score"] == before["D1"]
        assert {g["subject"]: g["score"] for g in page["items"]} == before
    finally:
        driver.execute_query("MATCH (a:Alert {kind: 'new_kind'}) DELETE a", database_=db)


def test_score_adds_up_the_signals() -> None:
    facts = {"age": 12, "in_england": True, "plans": ["cp_plan", "child_in_need"],
             "authorities": [[date(2026, 1, 5), "Manchester"], [date(2019, 3, 4), "Leeds"]],
             "involved": [{"agency": "A", "lead": False}, {"agency": "B", "lead": False},
                          {"agency": "C", "lead": False}],
             "enrolled": False, "registered": False, "hospitals": ["H1", "H1", "H2"], "kinds": [], "closed": 5}
    points, lines = triage.score(facts, {"protected_move", "unknown_kind"}, [], AS_OF)
    signals = {r.signal: r.points for r in lines}
    assert signals == {"cp_plan": triage.PLAN_POINTS["cp_plan"], "child_in_need": triage.PLAN_POINTS["child_in_need"],
                       "authorities": triage.AUTHORITY_POINTS, "no_lead": 3 * triage.NO_LEAD_POINTS,
                       "no_school": triage.NO_SCHOOL_POINTS, "no_gp": triage.NO_GP_POINTS,
                       "emergency": 2 * triage.EMERGENCY_VISIT_POINTS + triage.EXTRA_HOSPITAL_POINTS,
                       "closed_alerts": triage.CLOSED_ALERT_CAP * triage.CLOSED_ALERT_POINTS,
                       "compound": 7 * triage.COMPOUND_POINTS}
    assert points == sum(signals.values())
    lead = {**facts, "involved": [*facts["involved"][:2], {"agency": "C", "lead": True}], "age": 17,
            "registered": True, "enrolled": True}
    assert {r.signal for r in triage.score(lead, set(), [], AS_OF)[1]} == {"cp_plan", "child_in_need", "authorities",
                                                                            "emergency", "closed_alerts", "compound"}
    assert triage.score(None, {"misuse"}, [], AS_OF)[0] == triage.KIND_POINTS["misuse"]


# -- roles and shielding -------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["practitioner.birmingham", "reviewer.birmingham", "auditor.birmingham",
                                  "practitioner.leeds"])
def test_only_leads_and_management_teams_triage(world: None, api_client: Any, demo_tokens: Any, user: str) -> None:
    response = api_client.get("/alerts/triage", headers={**demo_tokens[user], **PURPOSE})
    assert response.status_code == 403 and "Nomad" not in response.text


def test_shielded_children_and_their_households_only_for_the_holding_team(world: None, api_client: Any,
                                                                          demo_tokens: Any) -> None:
    leeds_lead = triaged(api_client, demo_tokens, "safeguarding_lead.leeds")
    assert order(leeds_lead) == ["X1"]  # X2 is shielded by Leeds, X3's sibling by Birmingham
    assert "Wren" not in str(leeds_lead) and "Lark" not in str(leeds_lead)
    leeds_team = triaged(api_client, demo_tokens, "la_admin.leeds")
    assert set(order(leeds_team)) == {"X1", "X2"}
    x2 = next(g for g in leeds_team["items"] if g["subject"] == "X2")
    assert x2["child"]["family_name"] == "Wren" and x2["score"] > 0
    assert "X3" not in order(triaged(api_client, demo_tokens, "safeguarding_lead.birmingham"))
    birmingham_team = triaged(api_client, demo_tokens, "la_admin.birmingham")
    assert "X3" in order(birmingham_team)
    # The management team sees the sensitive services only with consent, as on the card: X3 has none either way.
    assert order(birmingham_team)[0] in ("X1", "X3")


def test_the_triage_is_an_audited_read_naming_the_children_on_the_page(world: None, api_client: Any,
                                                                       demo_tokens: Any, driver: Driver,
                                                                       neo4j_settings: GraphSettings) -> None:
    response = api_client.get("/alerts/triage", headers={**demo_tokens["safeguarding_lead.birmingham"], **PURPOSE},
                              params={"limit": 2})
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.action AS action, e.children AS children",
        rid=response.headers["x-request-id"], database_=neo4j_settings.database)
    assert [(r["action"], sorted(r["children"])) for r in records] == [
        ("alerts", sorted(g["subject"] for g in response.json()["items"]))]


def test_earlier_closed_alerts_count(world: None, api_client: Any, demo_tokens: Any) -> None:
    """Closing one of X1's alerts in Birmingham leaves the other open, and one more line (last: it changes state)."""
    headers = {**demo_tokens["safeguarding_lead.birmingham"], **PURPOSE}
    before = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")["items"][0]
    move = next(a for a in before["alerts"] if a["kind"] == "protected_move")
    closing = api_client.post(f"/alerts/{move['id']}/close", headers=headers, json={"note": "conference held"})
    assert closing.status_code == 200
    after = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")["items"][0]
    assert after["subject"] == "X1" and move["id"] not in {a["id"] for a in after["alerts"]}
    closed = next(r for r in after["reasons"] if r["signal"] == "closed_alerts")
    assert closed["points"] == triage.CLOSED_ALERT_POINTS and "1 earlier alert" in closed["why"]
    assert after["score"] == before["score"] + triage.CLOSED_ALERT_POINTS + triage.COMPOUND_POINTS


# -- emergency care of a protected child -----------------------------------------------------------


def test_a_protected_childs_emergency_care_is_one_signal_however_many_alerts(
        world: None, api_client: Any, demo_tokens: Any, driver: Driver, neo4j_settings: GraphSettings) -> None:
    """D2 (looked after by Birmingham) went to emergency care twice: two emergency_attendance alerts in Birmingham's
    inbox. An emergency clinician then looks D2 up (a flag_viewed alert): the line names both kinds and the score
    does not move, since the visits are counted by the emergency line and a look is usually the same visit."""
    db = neo4j_settings.database
    lead = "safeguarding_lead.birmingham"
    before = next(g for g in triaged(api_client, demo_tokens, lead)["items"] if g["subject"] == "D2")
    assert sorted(a["kind"] for a in before["alerts"] if a["kind"] in triage.PROTECTED_EMERGENCY_KINDS) == [
        "emergency_attendance", "emergency_attendance"]
    line = next(r for r in before["reasons"] if r["signal"] == "protected_emergency")
    assert line["points"] == triage.PROTECTED_EMERGENCY_POINTS and line["why"].endswith("(2 attendance alerts)")
    looked = api_client.get("/flags", headers={**demo_tokens["ed_clinician.birmingham"], "X-Purpose": "in resus"},
                            params={"given_name": "Bo", "family_name": "Placed", "dob": "2012-03-09"})
    assert looked.status_code == 200 and looked.json()["results"][0]["flagged"] is True
    try:
        after = next(g for g in triaged(api_client, demo_tokens, lead)["items"] if g["subject"] == "D2")
        assert "flag_viewed" in {a["kind"] for a in after["alerts"]}
        line = next(r for r in after["reasons"] if r["signal"] == "protected_emergency")
        assert line["why"].endswith("(2 attendance alerts, 1 look at the protection flag)")
        assert after["score"] == before["score"]
    finally:
        driver.execute_query("MATCH (a:Alert {kind: 'flag_viewed'}) DELETE a", database_=db)


def test_the_management_teams_own_kinds_are_not_the_childs_signals(
        world: None, api_client: Any, demo_tokens: Any, driver: Driver, neo4j_settings: GraphSettings) -> None:
    """A shield_merged notice (about a record, for the team alone) neither scores on a child nor reaches a lead."""
    db = neo4j_settings.database
    before = {g["subject"]: g["score"] for g in triaged(api_client, demo_tokens, "la_admin.birmingham")["items"]}
    driver.execute_query(
        "CREATE (:Alert {id: randomUUID(), key: 'shield_merged|D3|test|' + $la, kind: 'shield_merged', "
        "state: 'open', la_code: $la, child_id: 'D3', to_code: $la, to_name: 'Birmingham', reason: 'test', "
        "user_id: 'u-test', raised_at: datetime({timezone: 'Z'}), as_of: $as_of})",
        la=BIRMINGHAM, as_of=AS_OF, database_=db)
    try:
        team = triaged(api_client, demo_tokens, "la_admin.birmingham")
        d3 = next(g for g in team["items"] if g["subject"] == "D3")
        assert "shield_merged" in {a["kind"] for a in d3["alerts"]} and d3["score"] == before["D3"]
        lead = triaged(api_client, demo_tokens, "safeguarding_lead.birmingham")
        d3 = next(g for g in lead["items"] if g["subject"] == "D3")
        assert "shield_merged" not in {a["kind"] for a in d3["alerts"]}
    finally:
        driver.execute_query("MATCH (a:Alert {kind: 'shield_merged'}) DELETE a", database_=db)
