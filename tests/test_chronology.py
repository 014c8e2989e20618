"""The lead's multi-agency chronology on the real Neo4j: who may read it, what it holds, what it withholds, the export.

The England is the dashboard tests' (the alert situations and two Birmingham households, one with a shielded
child), scanned for alerts, so the child who went through four authorities has every lane.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, schema, users
from graph.config import GraphSettings
from graph.credentials import hash_password, totp_code
from graph.identity import merge
from graph.lanes import REGISTER_GAP_DAYS, gaps
from tests.conftest import restore_demo_users
from tests.dashboard.world import SHIELDED_SECRETS, feeds
from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD, Feeds
from tests.scenarios.situations import AS_OF

RESTRICTED_KEYS = {"id", "given_name", "family_name", "former_names", "known_names", "dob", "gender", "shielded",
                   "holding_team"}
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
    # Emergency clinicians see the flag alone, the data team the review queue alone (docs/access.md).
    ("ed_clinician.birmingham", "X1", 403),
    ("ed_clinician.leeds", "X1", 403),
    ("data_officer.birmingham", "X1", 403),
    ("data_officer.leeds", "X1", 403),
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
            assert "Zara" not in response.text and "Emergency" not in response.text


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
    # Every alert about the child, to each authority addressed: the scan's eleven, and one per emergency visit to
    # Leeds, which holds the CP plan (CP-IS: the responsible authority hears of each attendance at once).
    assert len(of(chron, "alerts")) == 14
    told = [e for e in of(chron, "alerts") if e["alert"]["kind"] == "emergency_attendance"]
    assert [e["alert"]["la_code"] for e in told] == [LEEDS] * 3
    assert all("attended emergency care at" in e["text"] for e in told)
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


# -- what practitioners record themselves ----------------------------------------------------------


def test_an_involvement_a_practitioner_recorded_starts_and_ends_in_its_agencys_lane(
        world: None, api_client: Any, demo_tokens: Any, driver: Driver, neo4j_settings: GraphSettings) -> None:
    """A health visitor says "I am working with Kemi" on the card, a lead makes her the lead professional, and she
    ends it: the chronology shows all three in Small Heath Health Visiting's lane, marked as recorded by her."""
    db = neo4j_settings.database
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with driver.session(database=db) as session:
        nell = session.execute_write(users.create_user, username="nell.visitor", name="Nell Visitor",
                                     role="practitioner", la_code=BIRMINGHAM,
                                     password_hash=hash_password("chronology test password"), totp_secret=secret,
                                     agency_id="HV-B")
    signed = api_client.post("/auth/token", data={"username": "nell.visitor", "password": "chronology test password",
                                                   "otp": totp_code(secret, datetime.now(UTC))})
    assert signed.status_code == 200, signed.text
    mine = {"Authorization": f"Bearer {signed.json()['access_token']}", "X-Purpose": "new birth visit"}
    lead = {**demo_tokens["safeguarding_lead.birmingham"], "X-Purpose": "choosing the lead professional"}
    service = {"service": "health_visiting"}
    added = api_client.post("/children/C2/involvements", headers=mine, json={**service, "since": "2026-09-01"})
    assert added.status_code == 201, added.text
    chosen = api_client.put("/children/C2/lead", headers=lead, json={"practitioner_id": f"U-{nell.id}", **service})
    assert chosen.status_code == 200, chosen.text
    ended = api_client.post("/children/C2/involvements/end", headers=mine, json=service)
    assert ended.status_code == 200, ended.text

    chron = body(api_client, demo_tokens, "safeguarding_lead.birmingham", "C2")
    lane = [e for e in of(chron, "agency:HV-B") if e["practitioner"]["name"] == "Nell Visitor"]
    # Both later ones are today: the ending a date, the choice an instant (a day's dated entries come first).
    kinds = {e["kind"]: e for e in lane}
    assert [e["kind"] for e in lane][0] == "involvement_started" and len(lane) == 3
    assert set(kinds) == {"involvement_started", "lead_chosen", "involvement_ended"}
    assert all(e["self_recorded"] is True for e in lane)
    started = kinds["involvement_started"]
    assert started["date"] == "2026-09-01" and "(recorded by the practitioner)" in started["text"]
    assert "(ended by the practitioner)" in kinds["involvement_ended"]["text"]
    assert "chosen as lead professional" in kinds["lead_chosen"]["text"] and kinds["lead_chosen"]["at"] is not None
    fed = [e for e in of(chron, "agency:HV-B") if e["practitioner"]["name"] == "Hana Visser"]
    assert fed and not any(e["self_recorded"] for e in fed)  # the feed's involvement is not marked
    page = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "C2", format="html").text
    assert "Nell Visitor" in page and "recorded by the practitioner" in page


# -- a merged directory id -------------------------------------------------------------------------


def test_a_merged_id_leads_to_its_survivors_chronology_and_nothing_of_another_child(
        world: None, api_client: Any, demo_tokens: Any, driver: Driver, neo4j_settings: GraphSettings) -> None:
    """M2 was M1 under another record: once merged, M2's chronology (and export, and network) answers 308 to M1's,
    which holds both records' facts and M2's alert, and nothing of M3 (their sister); unmerged, M1's holds M2's no
    more."""
    db = neo4j_settings.database
    f = Feeds()
    f.authorities()
    f.agency("SCH-M1", "Maple Primary", "school", BIRMINGHAM)
    f.agency("SCH-M2", "Rowan Primary", "school", BIRMINGHAM)
    f.agency("SCH-M3", "Hawthorn Secondary", "school", BIRMINGHAM)
    for child, given, dob in (("M1", "Mira", date(2016, 2, 2)), ("M2", "Mira", date(2016, 2, 2)),
                              ("M3", "Tansy", date(2012, 8, 8))):
        f.child(child, given, "Quince", dob, BIRMINGHAM)
        f.carer("K-QUINCE", "Ola Quince", child, phone="07700 900777")
        f.school(child, f"SCH-{child}", date(2021, 9, 1) if child != "M2" else date(2020, 9, 1),
                 until=date(2021, 7, 20) if child == "M2" else None)
    f.plan("M2", BIRMINGHAM, "cp_plan", date(2026, 1, 5))
    f.attend("M2", "ED-B", datetime(2026, 3, 3, 12, 0), reason="scald")
    f.attend("M3", "ED-M", datetime(2026, 4, 4, 12, 0), reason="sprain")
    f.write(driver, db)
    with driver.session(database=db) as session:
        session.execute_write(alerts.scan_children, ids=["M1", "M2", "M3"], as_of=AS_OF, scan_id="chronology-test")
        session.execute_write(merge.merge, merged="M2", survivor="M1", reason="the same child", by="test")
    lead = {**demo_tokens["safeguarding_lead.birmingham"], "X-Purpose": "strategy meeting"}
    try:
        for tail, params in (("/chronology", {}), ("/chronology", {"format": "html"}), ("/network", {})):
            moved = api_client.get(f"/children/M2{tail}", headers=lead, params=params, follow_redirects=False)
            assert moved.status_code == 308, (tail, moved.text)
            assert moved.headers["location"] == f"/children/M1{tail}" + ("?format=html" if params else "")
            assert "Maple" not in moved.text and "Rowan" not in moved.text
        [event] = _events(driver, db, moved.headers["x-request-id"])
        assert event["children"] == ["M2", "M1"] and event["outcome"] == "ok"
        chron = api_client.get("/children/M2/chronology", headers=lead).json()  # followed
        assert chron["child"]["id"] == "M1"
        text = json.dumps(chron)
        assert "Maple Primary" in text and "Rowan Primary" in text and "scald" in text  # both records: one child
        assert "Hawthorn Secondary" not in text and "sprain" not in text and "Tansy" not in text  # not the sister's
        [told] = [e["alert"] for e in of(chron, "alerts") if e["alert"]["kind"] == "emergency_attendance"]
        assert told["la_code"] == BIRMINGHAM
        with driver.session(database=db) as session:
            session.execute_write(merge.unmerge, merged="M2")
        after = json.dumps(body(api_client, demo_tokens, "safeguarding_lead.birmingham", "M1"))
        assert "Maple Primary" in after and "Rowan Primary" not in after and "scald" not in after
        assert "Rowan Primary" in json.dumps(body(api_client, demo_tokens, "safeguarding_lead.birmingham", "M2"))
    finally:
        driver.execute_query("MATCH (n) WHERE n.id IN ['M1', 'M2', 'M3', 'K-QUINCE', 'SCH-M1', 'SCH-M2', 'SCH-M3'] "
                             "OR (n:Alert AND n.child_id IN ['M1', 'M2', 'M3']) DETACH DELETE n", database_=db)
