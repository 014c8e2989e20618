"""The lead's multi-agency chronology on the real Neo4j: who may read it, what it holds, what it withholds, the export.

The England is the dashboard tests' (the alert situations and two Birmingham households, one with a shielded
child), scanned for alerts, so the child who went through four authorities has every lane.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, schema
from graph.config import GraphSettings
from graph.lanes import REGISTER_GAP_DAYS, gaps
from tests.conftest import restore_demo_users
from tests.dashboard.world import SHIELDED_SECRETS, feeds
from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD
from tests.scenarios.situations import AS_OF

RESTRICTED_KEYS = {"id", "given_name", "family_name", "former_names", "dob", "gender", "shielded", "holding_team"}
# What a viewer who may not see X3's shielded sibling must never be shown of it.
X3_SIBLING_SECRETS = ("12 Refuge Close", "B29 6BD", "Mo Lark", "X3S")


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    schema.wipe(driver, database=db)
    schema.apply(driver, database=db)
    restore_demo_users(driver, db)
    feeds().write(driver, db)
    alerts.scan(driver, database=db, as_of=AS_OF)


def get(client: Any, tokens: dict[str, dict[str, str]], user: str, child: str, purpose: str = "strategy meeting",
        **params: Any) -> Any:
    return client.get(f"/children/{child}/chronology", headers={**tokens[user], "X-Purpose": purpose}, params=params)


def body(client: Any, tokens: dict[str, dict[str, str]], user: str, child: str) -> dict[str, Any]:
    response = get(client, tokens, user, child)
    assert response.status_code == 200, response.text
    return response.json()


def of(chron: dict[str, Any], lane: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in chron["entries"] if e["lane"] == lane and (kind is None or e["kind"] == kind)]


# -- who may read it ---------------------------------------------------------------------------

MATRIX = [
    ("safeguarding_lead.birmingham", "X1", 200),  # lives in Birmingham now
    ("safeguarding_lead.leeds", "X1", 200),  # Leeds holds its CP plan
    ("la_admin.birmingham", "X1", 200),
    ("la_admin.leeds", "C1", 403),  # no link to Leeds
    ("safeguarding_lead.leeds", "C1", 403),
    ("practitioner.birmingham", "X1", 403),
    ("practitioner.leeds", "X1", 403),
    ("reviewer.birmingham", "X1", 403),
    ("reviewer.leeds", "X1", 403),
    ("auditor.birmingham", "X1", 403),
    ("safeguarding_lead.birmingham", "NOPE", 404),
]


@pytest.mark.parametrize(("user", "child", "status"), MATRIX)
def test_who_may_read_a_chronology(world: None, api_client: Any, demo_tokens: Any, user: str, child: str,
                                   status: int) -> None:
    for fmt in ("json", "html"):
        response = get(api_client, demo_tokens, user, child, format=fmt)
        assert response.status_code == status, (fmt, response.text)
        if status >= 400:
            assert "Nomad" not in response.text and "Bello" not in response.text


def test_a_chronology_needs_a_stated_purpose(world: None, api_client: Any, demo_tokens: Any) -> None:
    response = api_client.get("/children/X1/chronology", headers=demo_tokens["safeguarding_lead.birmingham"])
    assert response.status_code == 400 and "X-Purpose" in response.json()["detail"]


# -- what it holds -----------------------------------------------------------------------------


def test_the_four_authorities_in_one_line(world: None, api_client: Any, demo_tokens: Any) -> None:
    chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "X1")
    assert chron["child"]["given_name"] == "Zara" and chron["hidden"] is False
    lanes = {lane["key"]: lane for lane in chron["lanes"]}
    assert {"homes", "plans", "school", "gp", "emergency", "alerts", "agency:SC-L", "agency:HOU-M", "agency:HOU-S",
            "agency:POL-B"} <= set(lanes)
    assert lanes["agency:HOU-M"]["title"] == "Manchester Housing Options" and lanes["agency:HOU-M"]["kind"] == "housing"
    moves = [(e["date"], e["authority"]["code"]) for e in of(chron, "homes", "moved_authority")]
    assert moves == [("2026-01-05", MANCHESTER), ("2026-05-11", SHEFFIELD), ("2026-10-20", BIRMINGHAM)]
    assert [(e["date"], e["plan"]) for e in of(chron, "plans", "plan_started")] == [("2025-06-02", "cp_plan")]
    visits = of(chron, "emergency", "emergency_attendance")
    # Instants in UTC (19:30 on 10 February is GMT; 21:00 on 1 June is 20:00 UTC), dated on the UK clock.
    assert [(e["date"], e["at"], e["agency"]["name"]) for e in visits] == [
        ("2026-02-10", "2026-02-10T19:30:00Z", "Manchester Royal Emergency"),
        ("2026-06-01", "2026-06-01T20:00:00Z", "Sheffield Northern Emergency"),
        ("2026-07-15", "2026-07-15T17:10:00Z", "Sheffield Northern Emergency")]
    assert [e["hospitals"] for e in visits] == [1, 2, 2] and "injury" in visits[0]["text"]
    [left] = of(chron, "school", "left_roll")
    [gap] = of(chron, "school", "school_gap")
    assert left["date"] == gap["date"] == "2026-01-05" and gap["until"] is None and "On no school roll" in gap["text"]
    assert of(chron, "gp", "gp_gap") == []  # registered with a Leeds GP all along
    ended = of(chron, "agency:HOU-M", "involvement_ended")
    assert [e["date"] for e in ended] == ["2026-05-11"]
    assert not any(e.get("lead") for e in chron["entries"])  # no lead professional anywhere
    raised = {(e["alert"]["kind"], e["alert"]["la_code"]) for e in of(chron, "alerts")}
    assert ("transfer_in_overdue", MANCHESTER) in raised and ("repeat_emergency", BIRMINGHAM) in raised
    assert len(of(chron, "alerts")) == 11  # every alert about the child, to each authority addressed
    keys = [(e["date"], e["at"] or "") for e in chron["entries"]]
    assert keys == sorted(keys)


def test_a_child_never_registered_with_a_gp_has_one_open_gap_from_birth(world: None, api_client: Any,
                                                                        demo_tokens: Any) -> None:
    chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "Y1")
    [gp] = of(chron, "gp", "gp_gap")
    assert gp["date"] == "2011-04-14" and gp["until"] is None
    [school] = of(chron, "school", "school_gap")
    assert school["date"] == "2026-06-15" and school["until"] is None
    assert any(e["lead"] for e in of(chron, "agency:SC-B", "involvement_started"))


def test_gaps_leave_out_a_summer_between_schools() -> None:
    summer = [[date(2018, 9, 3), date(2025, 7, 31)], [date(2025, 9, 1), None]]
    assert gaps(summer, date(2018, 9, 3), date(2026, 10, 31)) == []
    long = [[date(2018, 9, 3), date(2025, 3, 1)], [date(2025, 9, 1), date(2026, 2, 1)]]
    assert gaps(long, date(2018, 9, 3), date(2026, 10, 31)) == [(date(2025, 3, 1), date(2025, 9, 1)),
                                                                 (date(2026, 2, 1), None)]
    moved = [[date(2020, 1, 1), date(2021, 1, 1)], [date(2021, 1, 1) + timedelta(days=REGISTER_GAP_DAYS - 1), None]]
    assert gaps(moved, date(2020, 1, 1), date(2026, 1, 1)) == []
    moved[1][0] = date(2021, 1, 1) + timedelta(days=REGISTER_GAP_DAYS)
    assert gaps(moved, date(2020, 1, 1), date(2026, 1, 1)) == [(date(2021, 1, 1), moved[1][0])]
    assert gaps([], date(2020, 1, 1), date(2026, 1, 1)) == [(date(2020, 1, 1), None)]


def test_a_missing_episode_shows_in_its_own_lane(world: None, api_client: Any, demo_tokens: Any, driver: Driver,
                                                 neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    driver.execute_query("MATCH (c:Child {id: 'X1'}), (la:LocalAuthority {code: $la}) "
                         "CREATE (c)-[:WENT_MISSING {since: date('2026-03-02'), until: date('2026-03-04')}]->(la)",
                         la=MANCHESTER, database_=db)
    try:
        chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "X1")
        assert [(e["kind"], e["date"]) for e in of(chron, "missing")] == [("went_missing", "2026-03-02"),
                                                                          ("returned", "2026-03-04")]
        assert "Manchester" in of(chron, "missing")[0]["text"]
    finally:
        driver.execute_query("MATCH (:Child {id: 'X1'})-[m:WENT_MISSING]->() DELETE m", database_=db)
    assert "missing" not in {lane["key"] for lane in body(api_client, demo_tokens, "safeguarding_lead.birmingham",
                                                            "X1")["lanes"]}


def test_sensitive_services_as_on_the_card(world: None, api_client: Any, demo_tokens: Any) -> None:
    lead = json.dumps(body(api_client, demo_tokens, "safeguarding_lead.birmingham", "C1"))
    team = json.dumps(body(api_client, demo_tokens, "la_admin.birmingham", "C1"))
    assert "Cal Minter" in lead  # rule 5: leads see sensitive services
    assert "Cal Minter" not in team and "Forward Thinking CAMHS" not in team  # no consent recorded
    assert "Paul Oduya" in lead  # an ended involvement is part of the story


# -- what it withholds -------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["safeguarding_lead.birmingham", "safeguarding_lead.leeds", "la_admin.leeds"])
def test_a_shielded_child_is_its_restricted_shape_only(world: None, api_client: Any, demo_tokens: Any,
                                                       user: str) -> None:
    chron = body(api_client, demo_tokens, user, "S1")
    assert chron["hidden"] is True and set(chron["child"]) == RESTRICTED_KEYS
    assert chron["entries"] == [] and chron["lanes"] == [] and chron["periods"] == []
    for secret in SHIELDED_SECRETS:
        assert secret not in json.dumps(chron), secret


def test_the_holding_team_sees_its_shielded_child_in_full(world: None, api_client: Any, demo_tokens: Any) -> None:
    chron = body(api_client, demo_tokens, "la_admin.birmingham", "S1")
    assert chron["hidden"] is False and "Secretwood Academy" in json.dumps(chron)
    assert "1 Hidden Row" in json.dumps(chron)


def test_a_siblings_chronology_withholds_the_shielded_child(world: None, api_client: Any, demo_tokens: Any) -> None:
    chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "A1")
    text = json.dumps(chron)
    assert chron["details_withheld"] is True and "Amelia" in text
    for secret in SHIELDED_SECRETS:
        assert secret not in text, secret
    [home] = of(chron, "homes")
    assert home["authority"] is None and "withheld" in home["text"]
    assert "alerts" not in {lane["key"] for lane in chron["lanes"]}
    assert "1 Hidden Row" in json.dumps(body(api_client, demo_tokens, "la_admin.birmingham", "A1"))


def test_a_siblings_alerts_stay_with_the_holding_team(world: None, api_client: Any, demo_tokens: Any) -> None:
    """X3's sibling is shielded by Birmingham: Leeds' lead reads X3's story without its alerts or the sibling."""
    leeds = body(api_client, demo_tokens, "safeguarding_lead.leeds", "X3")
    assert of(leeds, "alerts") == [] and leeds["details_withheld"] is True
    assert len(of(leeds, "homes", "moved_authority")) == 3  # X3's own homes are not the sibling's
    for secret in X3_SIBLING_SECRETS:
        assert secret not in json.dumps(leeds), secret
    team = body(api_client, demo_tokens, "la_admin.birmingham", "X3")
    assert of(team, "alerts") and team["details_withheld"] is False


def test_break_glass_does_not_open_the_chronology(world: None, api_client: Any, demo_tokens: Any) -> None:
    headers = {**demo_tokens["safeguarding_lead.birmingham"], "X-Purpose": "immediate risk"}
    opened = api_client.post("/children/S1/override", headers=headers, json={"reason": "Police report tonight"})
    assert opened.status_code == 200 and "1 Hidden Row" in opened.text
    chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "S1")
    assert chron["hidden"] is True and chron["entries"] == []


# -- the export ----------------------------------------------------------------------------------


def _events(driver: Driver, db: str, rid: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e {.action, .children, .purpose, .outcome, .role} AS e",
        rid=rid, database_=db)
    return [dict(r["e"]) for r in records]


def test_the_export_is_one_self_contained_printable_file_and_audited(world: None, api_client: Any, demo_tokens: Any,
                                                                     driver: Driver,
                                                                     neo4j_settings: GraphSettings) -> None:
    response = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "X1", purpose="strategy meeting Monday",
                   format="html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert re.search(r'attachment; filename="chronology-X1-\d{4}-\d{2}-\d{2}\.html"',
                     response.headers["content-disposition"])
    page = response.text
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page and "<svg" in page
    for outside in ("http:", "https:", "<script", "<link", "src=", "url(", "@import"):
        assert outside not in page, outside
    for shown in ("Zara Nomad", "Manchester Royal Emergency", "Sheffield Housing Solutions", "Child protection plan",
                  "On no school roll", "OFFICIAL-SENSITIVE", "strategy meeting Monday"):
        assert shown in page, shown
    assert "19:30" in page  # the attendance on the UK clock
    assert _events(driver, neo4j_settings.database, response.headers["x-request-id"]) == [
        {"action": "chronology_export", "children": ["X1"], "purpose": "strategy meeting Monday", "outcome": "ok",
         "role": "safeguarding_lead"}]
    read = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "X1")
    assert [e["action"] for e in _events(driver, neo4j_settings.database, read.headers["x-request-id"])] == [
        "chronology"]


def test_an_export_refused_or_of_a_shielded_child_gives_nothing_away(world: None, api_client: Any, demo_tokens: Any,
                                                                     driver: Driver,
                                                                     neo4j_settings: GraphSettings) -> None:
    page = get(api_client, demo_tokens, "safeguarding_lead.leeds", "S1", format="html")
    assert page.status_code == 200 and "This record is shielded" in page.text
    for secret in SHIELDED_SECRETS:
        assert secret not in page.text, secret
    refused = get(api_client, demo_tokens, "safeguarding_lead.leeds", "C1", format="html")
    assert refused.status_code == 403
    [event] = _events(driver, neo4j_settings.database, refused.headers["x-request-id"])
    assert event["action"] == "chronology_export" and event["outcome"] == "denied"


# -- the network shows every contact --------------------------------------------------------------


def _network(client: Any, tokens: dict[str, dict[str, str]], user: str, child: str) -> dict[str, Any]:
    response = client.get(f"/children/{child}/network", headers={**tokens[user], "X-Purpose": "strategy meeting"})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_network_shows_hospitals_schools_and_gps_with_their_dates(world: None, api_client: Any,
                                                                     demo_tokens: Any) -> None:
    net = _network(api_client, demo_tokens, "safeguarding_lead.birmingham", "X1")
    edges = {(e["type"], e["target"]): e for e in net["edges"] if e["source"] == "child:X1"}
    manchester, sheffield = edges[("attended", "agency:ED-M")], edges[("attended", "agency:ED-S")]
    assert (manchester["count"], manchester["dates"]) == (1, ["2026-02-10T19:30:00Z"])
    assert (sheffield["count"], sheffield["dates"]) == (2, ["2026-06-01T20:00:00Z", "2026-07-15T17:10:00Z"])
    school, gp = edges[("enrolled_at", "agency:SCH-L1")], edges[("registered_with", "agency:GP-L1")]
    assert (school["since"], school["until"], school["current"]) == ("2019-09-02", "2026-01-05", False)
    assert (gp["since"], gp["until"], gp["current"]) == ("2014-03-03", None, True)
    kinds = {n["id"]: n.get("agency_kind") for n in net["nodes"]}
    assert kinds["agency:ED-S"] == "unscheduled_care" and kinds["agency:SCH-L1"] == "school"
    practitioners = {n["label"] for n in net["nodes"] if n["kind"] == "practitioner"}
    assert practitioners == {"Lorna Casey", "Hamid Mansour", "Hattie Sorensen", "Paul Oduya"}


def test_a_hospital_the_shielded_child_attended_is_withheld_from_its_siblings_network(
        world: None, api_client: Any, demo_tokens: Any, driver: Driver, neo4j_settings: GraphSettings) -> None:
    """As schools and practitioners: A1's visits to the hospital its shielded sister S1 also attended are
    withheld (that hospital would point to her), the others are shown; the holding team sees them all."""
    db = neo4j_settings.database
    driver.execute_query(
        "UNWIND [['S1', 'ED-B', '2026-03-01T10:00:00Z'], ['A1', 'ED-B', '2026-04-01T10:00:00Z'], "
        "        ['A1', 'ED-M', '2026-05-01T10:00:00Z']] AS v "
        "MATCH (c:Child {id: v[0]}), (e:Agency {id: v[1]}) "
        "CREATE (c)-[:ATTENDED {at: datetime(v[2]), reason: 'test visit'}]->(e)", database_=db)
    try:
        lead = _network(api_client, demo_tokens, "safeguarding_lead.birmingham", "A1")
        attended = {e["target"] for e in lead["edges"] if e["type"] == "attended"}
        assert attended == {"agency:ED-M"} and "Heartlands Emergency" not in json.dumps(lead)
        story = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "A1")
        assert [e["agency"]["id"] for e in of(story, "emergency")] == ["ED-M"]
        team = _network(api_client, demo_tokens, "la_admin.birmingham", "A1")
        assert {e["target"] for e in team["edges"] if e["type"] == "attended"} == {"agency:ED-B", "agency:ED-M"}
        shielded = _network(api_client, demo_tokens, "safeguarding_lead.leeds", "S1")
        assert shielded["hidden"] is True and shielded["edges"] == []
    finally:
        driver.execute_query("MATCH ()-[v:ATTENDED {reason: 'test visit'}]->() DELETE v", database_=db)
