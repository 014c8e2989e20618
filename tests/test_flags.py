"""The emergency-department clinician (as CP-IS): the flag's minimal view per case, nothing else, and the alert a
look raises for the responsible authority."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from neo4j import Driver

from graph import users
from graph.config import GraphSettings
from graph.instants import uk_today
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds
from tests.test_api import RESTRICTED_KEYS

ED = "ed_clinician.birmingham"
PURPOSE = "child in the emergency department"
VISIBLE_KEYS = {"id", "given_name", "family_name", "dob", "shielded", "flagged", "protection"}
PLAN_KEYS = {"kind", "current", "ended_on", "responsible"}
TEAM_KEYS = {"code", "name", "team_phone", "team_email"}
SHIELDED_KEYS = {"id", "given_name", "family_name", "dob", "shielded", "holding_team"}
# What the flag never shows: addresses, postcodes, carers, schools, GPs, practitioners and their phones.
SECRETS = ("Flag Street", "B9 9FF", "Carol Flint", "900601", "Flagstone", "Fenwick", "Fay Worker", "900777",
           "Secret Lane", "B8 8SS", "Sam Stone", "900602", "social_care", "child_in_need", "gender")
NHS = {"F1": "9000000001", "F2": "9000000002", "F3": "9000000003", "F4": "9000000004", "FS": "9000000005",
       "FH": "9000000006"}


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> date:
    """Children on a current CP plan, looked after until 60 days ago, off a plan for over a year, never on one;
    a shielded child on a plan and its unshielded brother on a Leeds plan. The ED clinician works at Heartlands."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    today = uk_today()
    f = Feeds()
    f.authorities()
    for aid, name, kind in [("ED-B", "Heartlands Emergency", "unscheduled_care"),
                            ("SCH-F", "Flagstone School", "school"), ("GP-F", "Fenwick Surgery", "gp_practice"), ("SC-F", "Fenwick Social Work", "social_care")]:
        f.agency(aid, name, kind, BIRMINGHAM)
    f.practitioner("P-F", "Fay Worker", "SC-F", phone="07700 900777")
    for cid, given, family, dob, la in [("F1", "Ffion", "Flint", date(2015, 3, 3), BIRMINGHAM),
                                        ("F2", "Gus", "Gale", date(2014, 4, 4), LEEDS),
                                        ("F3", "Hal", "Hope", date(2013, 5, 5), BIRMINGHAM),
                                        ("F4", "Ivy", "Inch", date(2016, 6, 6), BIRMINGHAM),
                                        ("FS", "Sia", "Stone", date(2017, 7, 7), BIRMINGHAM),
                                        ("FH", "Theo", "Stone", date(2012, 8, 8), BIRMINGHAM)]:
        f.child(cid, given, family, dob, la)
        f.rows["children"][-1]["nhs_number"] = NHS[cid]
    f.lives("F1", f.address("ADDR-F1", "7 Flag Street", "B9 9FF", BIRMINGHAM), date(2016, 1, 1))
    f.carer("K-F1", "Carol Flint", "F1", phone="07700 900601")
    f.school("F1", "SCH-F", date(2020, 9, 1))
    f.gp("F1", "GP-F", date(2015, 4, 1))
    f.involve("P-F", "F1", "social_care", date(2025, 1, 6), lead=True)
    f.plan("F1", BIRMINGHAM, "cp_plan", date(2025, 1, 6))
    f.plan("F2", LEEDS, "looked_after", date(2022, 2, 2), today - timedelta(days=60))
    f.plan("F3", BIRMINGHAM, "cp_plan", date(2020, 1, 1), today - timedelta(days=400))
    f.plan("F3", BIRMINGHAM, "child_in_need", today - timedelta(days=399))
    secret = f.address("ADDR-FS", "9 Secret Lane", "B8 8SS", BIRMINGHAM)
    for cid in ("FS", "FH"):
        f.lives(cid, secret, date(2018, 1, 1))
        f.carer("K-FS", "Sam Stone", cid, phone="07700 900602")
    f.plan("FS", BIRMINGHAM, "cp_plan", date(2024, 3, 3))
    f.plan("FH", LEEDS, "cp_plan", date(2024, 3, 3))
    f.shield("FS", BIRMINGHAM, date(2024, 3, 3))
    f.write(driver, db)
    with driver.session(database=db) as session:
        session.execute_write(lambda tx: users.ensure_demo_users(tx, agency_for={ED: "ED-B"}))
    return today


def look(client: Any, tokens: dict[str, dict[str, str]], user: str = ED, purpose: str | None = PURPOSE,
         **params: Any) -> Any:
    headers = dict(tokens[user]) | ({"X-Purpose": purpose} if purpose else {})
    return client.get("/flags", headers=headers, params=params)


def flags_of(client: Any, tokens: dict[str, dict[str, str]], **params: Any) -> list[dict[str, Any]]:
    response = look(client, tokens, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"results", "truncated"} and body["truncated"] is False
    for secret in SECRETS:
        assert secret not in response.text, secret
    return body["results"]


def alerts_of(driver: Driver, db: str, child_id: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert {kind: 'flag_viewed', child_id: $c}) RETURN a.la_code AS la, a.user_id AS user, "
        "a.user_agency AS agency, a.plans AS plans, a.request_id AS request ORDER BY a.raised_at",
        c=child_id, database_=db)
    return [r.data() for r in records]


# -- the minimal view, per case ------------------------------------------------------------------

def test_a_current_plan_shows_the_flag_the_authority_and_its_team_only(world: date, api_client: Any,
                                                                       demo_tokens: Any) -> None:
    [flag] = flags_of(api_client, demo_tokens, nhs_number=NHS["F1"])
    assert set(flag) == VISIBLE_KEYS
    assert (flag["id"], flag["given_name"], flag["family_name"], flag["dob"]) == ("F1", "Ffion", "Flint", "2015-03-03")
    assert flag["shielded"] is False and flag["flagged"] is True
    [plan] = flag["protection"]
    assert set(plan) == PLAN_KEYS and set(plan["responsible"]) == TEAM_KEYS
    assert (plan["kind"], plan["current"], plan["ended_on"]) == ("cp_plan", True, None)
    assert plan["responsible"]["code"] == BIRMINGHAM and plan["responsible"]["team_email"] == "team@birmingham.example"


def test_a_plan_ended_within_twelve_months_still_flags(world: date, api_client: Any, demo_tokens: Any) -> None:
    [flag] = flags_of(api_client, demo_tokens, given_name="Gus", family_name="Gale", dob="2014-04-04")
    assert set(flag) == VISIBLE_KEYS and flag["flagged"] is True
    assert flag["protection"] == [{"kind": "looked_after", "current": False,
                                   "ended_on": (world - timedelta(days=60)).isoformat(),
                                   "responsible": flag["protection"][0]["responsible"]}]
    assert flag["protection"][0]["responsible"]["code"] == LEEDS


@pytest.mark.parametrize("child", ["F3", "F4"])  # off a CP plan for over a year (a child in need now); never on one
def test_no_flag_without_a_protecting_plan_in_the_last_twelve_months(world: date, api_client: Any, demo_tokens: Any,
                                                                     child: str) -> None:
    [flag] = flags_of(api_client, demo_tokens, nhs_number=NHS[child])
    assert set(flag) == VISIBLE_KEYS
    assert flag["flagged"] is False and flag["protection"] == []


def test_a_shielded_child_shows_only_its_holding_team(world: date, api_client: Any, demo_tokens: Any) -> None:
    # Rule 2: the NHS number is not a visible field of a shielded record, so it never finds one.
    assert flags_of(api_client, demo_tokens, nhs_number=NHS["FS"]) == []
    [flag] = flags_of(api_client, demo_tokens, given_name="sia", family_name="STONE", dob="2017-07-07")
    assert set(flag) == SHIELDED_KEYS and SHIELDED_KEYS <= RESTRICTED_KEYS
    assert flag["shielded"] is True and flag["holding_team"]["code"] == BIRMINGHAM
    assert set(flag["holding_team"]) == TEAM_KEYS


def test_a_shielded_childs_brother_shows_his_own_flag_and_nothing_of_her(world: date, api_client: Any,
                                                                        demo_tokens: Any) -> None:
    [flag] = flags_of(api_client, demo_tokens, nhs_number=NHS["FH"])  # SECRETS: no address or carer
    assert set(flag) == VISIBLE_KEYS and flag["flagged"] is True
    assert "Sia" not in json.dumps(flag) and "FS" not in json.dumps(flag)
    assert [(p["kind"], p["current"], p["responsible"]["code"]) for p in flag["protection"]] == [
        ("cp_plan", True, LEEDS)]


def test_names_match_exactly_whatever_the_case(world: date, api_client: Any, demo_tokens: Any) -> None:
    assert [f["id"] for f in flags_of(api_client, demo_tokens, given_name="FFION", family_name="flint",
                                      dob="2015-03-03")] == ["F1"]
    assert flags_of(api_client, demo_tokens, given_name="Ffio", family_name="Flint", dob="2015-03-03") == []
    assert flags_of(api_client, demo_tokens, given_name="Ffion", family_name="Flint", dob="2015-03-04") == []


@pytest.mark.parametrize(("params", "status", "says"), [
    ({"nhs_number": NHS["F1"], "given_name": "Ffion"}, 422, "not both"),
    ({"given_name": "Ffion", "family_name": "Flint"}, 422, "all of given_name, family_name and dob"),
    ({}, 422, "nhs_number"),
    ({"nhs_number": "90000 0001"}, 422, "nhs_number"),
    ({"nhs_number": "900000000' OR 1=1"}, 422, "nhs_number"),
])
def test_a_lookup_needs_an_nhs_number_or_names_and_date_of_birth(world: date, api_client: Any, demo_tokens: Any,
                                                                  params: dict[str, str], status: int,
                                                                  says: str) -> None:
    response = look(api_client, demo_tokens, **params)
    assert response.status_code == status and says in response.text, response.text


def test_a_lookup_states_its_purpose(world: date, api_client: Any, demo_tokens: Any) -> None:
    assert look(api_client, demo_tokens, purpose=None, nhs_number=NHS["F1"]).status_code == 400


# -- deny by default -------------------------------------------------------------------------------

# The routes an emergency-department clinician may use; every other one of the API refuses them.
ED_ROUTES = {("get", "/flags"), ("get", "/auth/me"), ("get", "/health"), ("get", "/ready"), ("post", "/auth/token")}
PATH_VALUES = {"child_id": "F1", "alert_id": str(uuid.uuid4()), "case": "c0ffee", "correction_id": str(uuid.uuid4()),
               "review_id": str(uuid.uuid4())}


def test_the_ed_clinician_is_refused_every_other_route(world: date, api_client: Any, demo_tokens: Any) -> None:
    refused = []
    for path, methods in api_client.app.openapi()["paths"].items():
        for method in methods:
            if (method, path) in ED_ROUTES:
                continue
            url = path.format(**{k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in path})
            response = api_client.request(method.upper(), url, json={},
                                          headers={**demo_tokens[ED], "X-Purpose": PURPOSE})
            assert response.status_code == 403, (method, path, response.text)
            assert "Ffion" not in response.text and "Flint" not in response.text
            refused.append((method, path))
    assert {("get", "/children/{child_id}"), ("get", "/children/search"), ("get", "/children/{child_id}/network"),
            ("get", "/children/{child_id}/moves"), ("get", "/children/{child_id}/accesses"), ("get", "/alerts"),
            ("get", "/analytics/prevalence"), ("get", "/audit"), ("post", "/children/{child_id}/involvements"),
            ("get", "/children/{child_id}/chronology"), ("get", "/alerts/triage"), ("get", "/identity/reviews"),
            } <= set(refused)


@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham", "la_admin.birmingham",
                                  "reviewer.birmingham", "auditor.birmingham"])
def test_no_other_role_reads_the_flag(world: date, api_client: Any, demo_tokens: Any, user: str) -> None:
    response = look(api_client, demo_tokens, user=user, nhs_number=NHS["F1"])
    assert response.status_code == 403 and "Flint" not in response.text


# -- the responsible authority is told ----------------------------------------------------------

def test_each_look_at_a_flag_tells_the_responsible_authority(world: date, api_client: Any, demo_tokens: Any,
                                                             driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    before = alerts_of(driver, db, "F1")
    flags_of(api_client, demo_tokens, nhs_number=NHS["F1"])
    flags_of(api_client, demo_tokens, nhs_number=NHS["F1"])
    new = alerts_of(driver, db, "F1")[len(before):]
    ed_user = next(u for u in users.DEMO_USERS if u.username == ED)
    assert [(a["la"], a["user"], a["agency"], a["plans"]) for a in new] == [
        (BIRMINGHAM, ed_user.id, "Heartlands Emergency", ["cp_plan"])] * 2
    assert new[0]["request"] != new[1]["request"]  # one alert per look
    inbox = api_client.get("/alerts", params={"kind": "flag_viewed"},
                           headers={**demo_tokens["safeguarding_lead.birmingham"], "X-Purpose": "alerts"}).json()
    mine = [a for a in inbox["items"] if a["child_id"] == "F1"]
    assert len(mine) == len(before) + 2
    assert mine[0]["details"]["user_agency"] == "Heartlands Emergency"
    assert "Heartlands Emergency viewed the protection flag of child F1" in mine[0]["summary"]
    leeds = api_client.get("/alerts", params={"kind": "flag_viewed"},
                           headers={**demo_tokens["safeguarding_lead.leeds"], "X-Purpose": "alerts"}).json()
    assert all(a["child_id"] != "F1" for a in leeds["items"])


def test_a_plan_ended_within_the_year_tells_its_authority(world: date, api_client: Any, demo_tokens: Any,
                                                          driver: Driver, neo4j_settings: GraphSettings) -> None:
    flags_of(api_client, demo_tokens, nhs_number=NHS["F2"])
    assert {a["la"] for a in alerts_of(driver, neo4j_settings.database, "F2")} == {LEEDS}


@pytest.mark.parametrize("child", ["F3", "F4"])
def test_no_alert_when_nothing_flags(world: date, api_client: Any, demo_tokens: Any, driver: Driver,
                                     neo4j_settings: GraphSettings, child: str) -> None:
    flags_of(api_client, demo_tokens, nhs_number=NHS[child])
    assert alerts_of(driver, neo4j_settings.database, child) == []


def test_a_shielded_households_looks_are_told_to_the_holding_team_only(world: date, api_client: Any,
                                                                       demo_tokens: Any, driver: Driver,
                                                                       neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    flags_of(api_client, demo_tokens, given_name="Sia", family_name="Stone", dob="2017-07-07")
    flags_of(api_client, demo_tokens, nhs_number=NHS["FH"])  # his plan is Leeds', but his sister's team hears
    assert {a["la"] for a in alerts_of(driver, db, "FS")} == {BIRMINGHAM}
    assert {a["la"] for a in alerts_of(driver, db, "FH")} == {BIRMINGHAM}

    def seen(user: str) -> set[str]:
        body = api_client.get("/alerts", params={"kind": "flag_viewed"},
                              headers={**demo_tokens[user], "X-Purpose": "alerts"}).json()
        return {a["child_id"] for a in body["items"]}

    assert {"FS", "FH"} <= seen("la_admin.birmingham")
    assert not {"FS", "FH"} & (seen("safeguarding_lead.birmingham") | seen("safeguarding_lead.leeds")
                               | seen("la_admin.leeds"))


def test_every_look_is_audited(world: date, api_client: Any, demo_tokens: Any, driver: Driver,
                               neo4j_settings: GraphSettings) -> None:
    flags_of(api_client, demo_tokens, nhs_number=NHS["F1"])
    flags_of(api_client, demo_tokens, nhs_number="9999999999")
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {action: 'flag'}) RETURN e.role AS role, e.children AS children, e.purpose AS purpose, "
        "e.outcome AS outcome, e.detail_json AS detail ORDER BY e.seq DESC LIMIT 2",
        database_=neo4j_settings.database)
    missing, found = [r.data() for r in records]
    assert (found["role"], found["children"], found["purpose"], found["outcome"]) == (
        "ed_clinician", ["F1"], PURPOSE, "ok")
    assert json.loads(found["detail"]) == {"by": "nhs_number", "alerts": 1}
    assert (missing["children"], missing["outcome"]) == ([], "not_found")
    assert "9999999999" not in missing["detail"]
