"""Practitioners record their own involvement ("I am working with this child") and end it; a safeguarding lead
chooses the lead professional. Each shows on the card at once, is audited, and a later feed does not erase it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import users
from graph.config import GraphSettings
from graph.credentials import hash_password, totp_code
from graph.instants import uk_today
from loaders.load import load_dir
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds

D = date(2020, 1, 1)
PASSWORD = "involvement test password"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# Practitioners who sign in for these tests: a school nurse and a CAMHS worker, each with their agency.
PEOPLE = {"nina.nurse": ("Nina Nurse", "SCH-A"), "cal.camhs": ("Cal Camhs", "CAMHS-B")}


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings, api_client: Any) -> dict[str, Any]:
    """Amelia (a Birmingham CP plan, a lead social worker), a shielded child, a Leeds child; two signed-in
    practitioners of Birmingham agencies."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    f = Feeds()
    f.authorities()
    for aid, name, kind, la in [("SCH-A", "Alder School", "school", BIRMINGHAM),
                                ("SC-B", "Birmingham Children's Services", "social_care", BIRMINGHAM),
                                ("CAMHS-B", "Birmingham CAMHS", "camhs", BIRMINGHAM),
                                ("SCH-L", "Larch School", "school", LEEDS)]:
        f.agency(aid, name, kind, la)
    f.practitioner("P-SW", "Sam Worker", "SC-B")
    f.practitioner("P-OT", "Olu Therapist", "CAMHS-B")
    f.child("A", "Amelia", "Okafor", date(2014, 5, 1), BIRMINGHAM)
    f.child("S", "Sophie", "Shield", date(2016, 7, 2), BIRMINGHAM)
    f.child("L", "Liam", "Leeds", date(2013, 3, 3), LEEDS)
    f.school("L", "SCH-L", D)
    f.involve("P-SW", "A", "social_care", D, lead=True)
    f.plan("A", BIRMINGHAM, "cp_plan", D)
    f.shield("S", BIRMINGHAM, D)
    f.write(driver, db)
    digest = hash_password(PASSWORD)
    people: dict[str, Any] = {}
    with driver.session(database=db) as session:
        for username, (name, agency) in PEOPLE.items():
            user = session.execute_write(users.create_user, username=username, name=name, role="practitioner",
                                         la_code=BIRMINGHAM, password_hash=digest, totp_secret=SECRET,
                                         agency_id=agency)
            people[username] = user
    for username, user in people.items():
        response = api_client.post("/auth/token", data={"username": username, "password": PASSWORD,
                                                         "otp": totp_code(SECRET, datetime.now(UTC))})
        assert response.status_code == 200, response.text
        people[username] = {"id": user.id, "practitioner": "U-" + user.id,
                            "headers": {"Authorization": f"Bearer {response.json()['access_token']}"}}
    return people


def call(client: Any, headers: dict[str, str], method: str, path: str, body: dict[str, Any] | None = None,
         purpose: str = "working with the child") -> Any:
    return client.request(method, path, json=body, headers={**headers, "X-Purpose": purpose})


def card(client: Any, headers: dict[str, str], child: str = "A") -> dict[str, Any]:
    response = call(client, headers, "GET", f"/children/{child}")
    assert response.status_code == 200, response.text
    return response.json()


def services(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["practitioner"]["id"], s["service"]): s for s in body["services"]}


def last_event(driver: Driver, db: str, action: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {action: $action}) RETURN e.user_id AS user, e.children AS children, "
        "e.outcome AS outcome, e.purpose AS purpose, e.detail_json AS detail ORDER BY e.seq DESC LIMIT 1",
        action=action, database_=db)
    row = records[0].data()
    return {**row, "detail": json.loads(row["detail"])}


def involvements(driver: Driver, db: str, practitioner: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (:Practitioner {id: $p})-[i:INVOLVED_WITH]->(c:Child) RETURN c.id AS child, i.service AS service, "
        "i.since AS since, i.until AS until, i.lead AS lead, i.source AS source, i.recorded_by AS recorded_by, "
        "i.consent AS consent ORDER BY i.service, i.since", p=practitioner, database_=db)
    return [r.data() for r in records]


# -- "I am working with this child" ----------------------------------------------------------------

def test_a_practitioner_records_their_involvement_and_every_card_shows_it_at_once(
        world: dict[str, Any], api_client: Any, demo_tokens: Any, driver: Driver,
        neo4j_settings: GraphSettings) -> None:
    nina = world["nina.nurse"]
    response = call(api_client, nina["headers"], "POST", "/children/A/involvements",
                    {"service": "school_nursing", "since": "2026-09-01", "job_title": "School nurse",
                     "phone": "07700 900888"})
    assert response.status_code == 201, response.text
    assert response.json()["involvement"] == {
        "service": "school_nursing", "since": "2026-09-01", "until": None, "lead": False, "sensitive": False,
        "consent": False, "source": "self", "recorded_by": nina["id"], "practitioner_id": nina["practitioner"]}
    mine = services(card(api_client, nina["headers"]))[(nina["practitioner"], "school_nursing")]
    assert mine["practitioner"] == {"id": nina["practitioner"], "name": "Nina Nurse", "job_title": "School nurse",
                                    "phone": "07700 900888", "email": None}
    assert mine["agency"]["id"] == "SCH-A" and mine["since"] == "2026-09-01"
    assert mine["mine"] is True and mine["self_recorded"] is True and mine["lead"] is False
    other = demo_tokens["practitioner.birmingham"]
    theirs = services(card(api_client, other))[(nina["practitioner"], "school_nursing")]
    assert theirs["mine"] is False and theirs["self_recorded"] is True
    event = last_event(driver, neo4j_settings.database, "involvement_add")
    assert (event["user"], event["children"], event["outcome"], event["purpose"]) == (
        nina["id"], ["A"], "ok", "working with the child")
    assert event["detail"] == {"service": "school_nursing", "since": "2026-09-01", "sensitive": False,
                               "consent": False}


def test_the_same_involvement_is_not_recorded_twice(world: dict[str, Any], api_client: Any, driver: Driver,
                                                    neo4j_settings: GraphSettings) -> None:
    nina = world["nina.nurse"]
    response = call(api_client, nina["headers"], "POST", "/children/A/involvements", {"service": "school_nursing"})
    assert response.status_code == 409 and "since 2026-09-01" in response.json()["detail"]
    assert [i["since"].iso_format() for i in involvements(driver, neo4j_settings.database, nina["practitioner"])
            if i["service"] == "school_nursing"] == ["2026-09-01"]
    event = last_event(driver, neo4j_settings.database, "involvement_add")
    assert (event["outcome"], event["detail"]["refused"]) == ("denied", "already_recorded")


def test_a_sensitive_service_shows_only_with_consent_or_to_leads(world: dict[str, Any], api_client: Any,
                                                                 demo_tokens: Any) -> None:
    cal, nina = world["cal.camhs"], world["nina.nurse"]
    # CAMHS is sensitive by the agency's kind, whatever the body says.
    assert call(api_client, cal["headers"], "POST", "/children/A/involvements",
                {"service": "mental_health"}).status_code == 201
    assert call(api_client, nina["headers"], "POST", "/children/A/involvements",
                {"service": "sexual_health", "sensitive": True, "consent": True}).status_code == 201
    practitioner = services(card(api_client, demo_tokens["practitioner.birmingham"]))
    lead = services(card(api_client, demo_tokens["safeguarding_lead.birmingham"]))
    assert (cal["practitioner"], "mental_health") not in practitioner
    assert (cal["practitioner"], "mental_health") in lead
    assert (nina["practitioner"], "sexual_health") in practitioner


def test_nothing_is_recorded_for_a_shielded_or_unknown_child(world: dict[str, Any], api_client: Any, driver: Driver,
                                                             neo4j_settings: GraphSettings) -> None:
    nina = world["nina.nurse"]
    response = call(api_client, nina["headers"], "POST", "/children/S/involvements", {"service": "school_nursing"})
    assert response.status_code == 403 and "holding authority" in response.json()["detail"]
    assert "S" not in {i["child"] for i in involvements(driver, neo4j_settings.database, nina["practitioner"])}
    event = last_event(driver, neo4j_settings.database, "involvement_add")
    assert (event["children"], event["outcome"]) == (["S"], "denied")
    response = call(api_client, nina["headers"], "POST", "/children/NOPE/involvements", {"service": "school_nursing"})
    assert response.status_code == 404
    assert last_event(driver, neo4j_settings.database, "involvement_add")["outcome"] == "not_found"


@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham"])
def test_an_account_with_no_agency_is_told_what_is_missing(world: dict[str, Any], api_client: Any,
                                                           demo_tokens: Any, user: str) -> None:
    response = call(api_client, demo_tokens[user], "POST", "/children/A/involvements", {"service": "social_care"})
    assert response.status_code == 403 and "names no agency" in response.json()["detail"]


@pytest.mark.parametrize(("user", "method", "path", "body"), [
    (user, "POST", "/children/A/involvements", {"service": "social_care"})
    for user in ("la_admin.birmingham", "reviewer.birmingham", "auditor.birmingham", "ed_clinician.birmingham")
] + [
    (user, "POST", "/children/A/involvements/end", {"service": "social_care"})
    for user in ("la_admin.birmingham", "reviewer.birmingham", "auditor.birmingham", "ed_clinician.birmingham")
] + [
    (user, "PUT", "/children/A/lead", {"practitioner_id": "P-SW", "service": "social_care"})
    for user in ("practitioner.birmingham", "la_admin.birmingham", "reviewer.birmingham", "auditor.birmingham",
                 "ed_clinician.birmingham")
])
def test_other_roles_may_not(world: dict[str, Any], api_client: Any, demo_tokens: Any, user: str, method: str,
                             path: str, body: dict[str, str]) -> None:
    assert call(api_client, demo_tokens[user], method, path, body).status_code == 403


@pytest.mark.parametrize(("body", "says"), [
    ({"service": "school_nursing", "since": (uk_today() + timedelta(days=1)).isoformat()}, "future"),
    ({"service": "School Nursing!"}, "service"),
    ({"service": "school_nursing", "colour": "red"}, "colour"),
    ({"service": "school_nursing", "phone": "call me"}, "phone"),
    ({}, "service"),
])
def test_what_is_recorded_is_checked(world: dict[str, Any], api_client: Any, body: dict[str, Any], says: str) -> None:
    response = call(api_client, world["nina.nurse"]["headers"], "POST", "/children/A/involvements", body)
    assert response.status_code == 422 and says in response.text


# -- the lead professional -------------------------------------------------------------------------

def test_a_lead_changes_the_lead_professional_one_at_a_time(world: dict[str, Any], api_client: Any,
                                                            demo_tokens: Any, driver: Driver,
                                                            neo4j_settings: GraphSettings) -> None:
    nina, lead = world["nina.nurse"], demo_tokens["safeguarding_lead.birmingham"]
    response = call(api_client, lead, "PUT", "/children/A/lead",
                    {"practitioner_id": nina["practitioner"], "service": "school_nursing"})
    assert response.status_code == 200, response.text
    assert response.json()["previous"] == [{"practitioner_id": "P-SW", "service": "social_care",
                                            "since": "2020-01-01"}]
    leads = [k for k, s in services(card(api_client, demo_tokens["practitioner.birmingham"])).items() if s["lead"]]
    assert leads == [(nina["practitioner"], "school_nursing")]
    event = last_event(driver, neo4j_settings.database, "lead_change")
    assert (event["children"], event["outcome"]) == (["A"], "ok")
    assert event["detail"] == {"practitioner_id": nina["practitioner"], "service": "school_nursing",
                               "previous": [{"practitioner_id": "P-SW", "service": "social_care",
                                             "since": "2020-01-01"}]}


def test_only_a_current_involvement_of_a_linked_child_becomes_lead(world: dict[str, Any], api_client: Any,
                                                                   demo_tokens: Any) -> None:
    lead = demo_tokens["safeguarding_lead.birmingham"]
    wrong = call(api_client, lead, "PUT", "/children/A/lead", {"practitioner_id": "P-SW", "service": "police"})
    assert wrong.status_code == 422 and "no current involvement" in wrong.json()["detail"]
    elsewhere = call(api_client, demo_tokens["safeguarding_lead.leeds"], "PUT", "/children/A/lead",
                     {"practitioner_id": "P-SW", "service": "social_care"})
    assert elsewhere.status_code == 403 and "no current or past link" in elsewhere.json()["detail"]
    shielded = call(api_client, lead, "PUT", "/children/S/lead", {"practitioner_id": "P-SW", "service": "social_care"})
    assert shielded.status_code == 403
    leads = [k for k, s in services(card(api_client, lead)).items() if s["lead"]]
    assert leads == [(world["nina.nurse"]["practitioner"], "school_nursing")]  # unchanged by the refusals


# -- a later feed ---------------------------------------------------------------------------------

def test_a_later_feed_does_not_erase_what_was_recorded_here(world: dict[str, Any], api_client: Any, demo_tokens: Any,
                                                            driver: Driver, neo4j_settings: GraphSettings,
                                                            tmp_path: Path) -> None:
    db, nina = neo4j_settings.database, world["nina.nurse"]
    rows = [
        # Nina's own involvement, as some other system saw it: ended, with consent. It changes nothing of hers.
        f"{nina['practitioner']},A,school_nursing,2026-09-01,2026-10-01,false,false,true",
        # The social worker as the lead again (the case system's view): the lead chosen here stands.
        "P-SW,A,social_care,2020-01-01,,true,false,false",
        # A new involvement: written as any other.
        "P-OT,A,camhs,2026-10-05,,false,true,false",
    ]
    (tmp_path / "involvements.csv").write_text(
        "practitioner_id,child_id,service,since,until,lead,sensitive,consent\n" + "\n".join(rows) + "\n",
        encoding="utf-8")
    report = load_dir(driver, tmp_path, database=db, only=["involvements"])
    assert (report.loaded, report.rejected, report.kept) == (3, 0, 2)
    [kept] = [i for i in involvements(driver, db, nina["practitioner"]) if i["service"] == "school_nursing"]
    assert (kept["until"], kept["source"], kept["recorded_by"], kept["consent"], kept["lead"]) == (
        None, "self", nina["id"], False, True)
    lead_card = services(card(api_client, demo_tokens["safeguarding_lead.birmingham"]))
    assert [k for k, s in lead_card.items() if s["lead"]] == [(nina["practitioner"], "school_nursing")]
    assert ("P-OT", "camhs") in lead_card


# -- ending it ------------------------------------------------------------------------------------

def test_a_practitioner_ends_their_involvement(world: dict[str, Any], api_client: Any, demo_tokens: Any,
                                               driver: Driver, neo4j_settings: GraphSettings) -> None:
    nina = world["nina.nurse"]
    early = call(api_client, nina["headers"], "POST", "/children/A/involvements/end",
                 {"service": "sexual_health", "until": "2026-01-01"})
    assert early.status_code == 422 and "before the involvement began" in early.json()["detail"]
    response = call(api_client, nina["headers"], "POST", "/children/A/involvements/end", {"service": "school_nursing"})
    assert response.status_code == 200, response.text
    assert response.json()["involvement"]["until"] == uk_today().isoformat()
    other = demo_tokens["practitioner.birmingham"]
    assert (nina["practitioner"], "school_nursing") not in services(card(api_client, other))
    event = last_event(driver, neo4j_settings.database, "involvement_end")
    assert (event["user"], event["children"], event["outcome"]) == (nina["id"], ["A"], "ok")
    assert event["detail"] == {"service": "school_nursing", "until": uk_today().isoformat()}
    again = call(api_client, nina["headers"], "POST", "/children/A/involvements/end", {"service": "school_nursing"})
    assert again.status_code == 404
    assert last_event(driver, neo4j_settings.database, "involvement_end")["outcome"] == "not_found"


def test_a_practitioner_ends_only_their_own(world: dict[str, Any], api_client: Any, driver: Driver,
                                            neo4j_settings: GraphSettings) -> None:
    cal = world["cal.camhs"]
    response = call(api_client, cal["headers"], "POST", "/children/A/involvements/end", {"service": "sexual_health"})
    assert response.status_code == 404  # Nina's, not Cal's
    [hers] = [i for i in involvements(driver, neo4j_settings.database, world["nina.nurse"]["practitioner"])
              if i["service"] == "sexual_health"]
    assert hers["until"] is None
