"""Subject access and rectification on real Neo4j: the export complete and audited, refused to every other role and
authority, third parties' data handled by the rules; a correction shown on top of what the source sent and kept
through the next feed."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, retention
from graph.identity import merge
from graph.cohort import Scope
from graph.config import GraphSettings
from loaders.load import load_dir
from tests.conftest import restore_demo_users
from tests.retention_world import AS_OF, world, write_feeds
from tests.test_retention import ACTOR

PURPOSE = "subject access request SAR-2026-114"
ROLES = ("practitioner", "safeguarding_lead", "reviewer", "auditor", "ed_clinician", "data_officer", "la_admin")


@pytest.fixture()
def loaded(empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> Path:
    db = neo4j_settings.database
    restore_demo_users(empty_db, db)
    feeds = write_feeds(world(), tmp_path / "feeds")
    assert load_dir(empty_db, feeds, database=db, rejects_path=tmp_path / "rejects.csv").rejected == 0
    alerts.scan(empty_db, database=db, as_of=date(2026, 5, 15))
    return feeds


def _headers(tokens: dict[str, dict[str, str]], user: str, purpose: str = PURPOSE) -> dict[str, str]:
    return {**tokens[user], "X-Purpose": purpose}


def _export(api_client: Any, tokens: dict[str, dict[str, str]], child_id: str, fmt: str = "json",
            user: str = "la_admin.birmingham") -> Any:
    return api_client.get(f"/children/{child_id}/subject-access", params={"format": fmt},
                          headers=_headers(tokens, user))


def _events(driver: Driver, db: str, action: str) -> list[dict[str, Any]]:
    records = driver.execute_query("MATCH (e:AuditEvent {action: $action}) RETURN e {.user_id, .role, .children, "
                                   ".purpose, .outcome, .detail_json} AS e ORDER BY e.seq", action=action,
                                   database_=db).records
    return [dict(r["e"]) for r in records]


# -- subject access ------------------------------------------------------------------------------

def test_the_export_holds_every_section_and_who_looked(loaded: Path, api_client: Any, driver: Driver,
                                                       neo4j_settings: GraphSettings,
                                                       demo_tokens: dict[str, dict[str, str]]) -> None:
    api_client.get("/children/R-ADULT", headers=_headers(demo_tokens, "practitioner.birmingham", "school place"))
    api_client.get("/children/R-ADULT/network", headers=_headers(demo_tokens, "safeguarding_lead.birmingham",
                                                                 "strategy meeting"))
    response = _export(api_client, demo_tokens, "R-ADULT")
    assert response.status_code == 200, response.text
    got = response.json()
    assert {"id": "R-ADULT", "given_name": "Reuben", "family_name": "Ashdown", "dob": "2008-06-01", "gender": "male",
            "status": "active"}.items() <= got["identity"].items()
    assert got["holding_authority"]["name"] == "Birmingham"
    assert [(a["line1"], a["since"], a["until"]) for a in got["addresses"]] == [
        ("3 Old Lane", "2008-06-01", "2015-03-01"), ("14 Elm Road", "2015-03-01", None)]
    assert {(k["name"], k["relationship"]) for k in got["carers"]} == {("Joy Ashdown", "mother"),
                                                                       ("Tunde Ashdown", "father")}
    assert {(r["kind"], r["agency"]) for r in got["registrations"]} == {("enrolled_at", "Bordesley Academy"),
                                                                        ("registered_with", "Edgbaston Surgery")}
    services = {s["agency"]: s for s in got["services"]}
    assert services["Birmingham Children's Trust"]["practitioner"] == "Bea Whitfield"
    assert services["Birmingham Children's Trust"]["lead"] is True
    assert services["Forward Thinking Birmingham"]["sensitive"] is True  # included, marked for review
    assert [(p["kind"], p["since"], p["until"]) for p in got["plans"]] == [("cp_plan", "2025-01-06", "2026-05-01")]
    assert [a["reason"] for a in got["attendances"]] == ["self-harm"] * 3
    # each visit on his CP plan told the authority as it loaded (CP-IS), then the third made a repeat
    assert sorted(a["kind"] for a in got["alerts"]) == ["emergency_attendance"] * 3 + ["repeat_emergency"]
    looks = {(a["role"], a["authority"], a["action"], a["purpose"]) for a in got["accesses"]}
    assert ("practitioner", "Birmingham", "card", "school place") in looks
    assert ("safeguarding_lead", "Birmingham", "network", "strategy meeting") in looks
    assert got["third_party_rules"] and got["corrections"] == []
    # the directory's own record of him (children.csv), as sent; the other sources' are in tests/identity
    assert [(x["kind"], x["local_id"], x["given_name"], x["dob"]) for x in got["sources"]] == [
        ("directory", "R-ADULT", "Reuben", "2008-06-01")]
    assert got["identity"]["merged_ids"] == [] and got["flag_views"] == []


def test_third_parties_are_handled_by_the_rules(loaded: Path, api_client: Any,
                                                demo_tokens: dict[str, dict[str, str]]) -> None:
    api_client.get("/children/R-ADULT", headers=_headers(demo_tokens, "practitioner.birmingham", "school place"))
    got = _export(api_client, demo_tokens, "R-ADULT").json()
    text = json.dumps(got)
    assert "Rosa" not in text and "R-SIB" not in text  # his sister is never named
    assert "07700 900111" not in text and "07700 900222" not in text  # carers' own numbers
    assert "07700 900000" not in text  # a practitioner's direct line (the factories' default)
    assert all(set(a) == {"at", "role", "authority", "agency", "action", "purpose", "outcome", "override",
                                  "flag_view"}
               for a in got["accesses"])  # who looked: role and organisation, never the person
    assert "user_id" not in text and "practitioner.birmingham" not in text


def test_a_shielded_sisters_home_is_withheld_from_her_brothers_export(
        loaded: Path, api_client: Any, driver: Driver, neo4j_settings: GraphSettings,
        demo_tokens: dict[str, dict[str, str]]) -> None:
    db = neo4j_settings.database
    # Leeds's team shields R-SIB (held by Birmingham, shielded by Leeds): Birmingham's team no longer sees her.
    driver.execute_query("MATCH (c:Child {id: 'R-SIB'}), (la:LocalAuthority {code: 'E08000035'}) "
                         "SET c.shielded = true CREATE (c)-[:SHIELDED_BY {since: date(), reason: 'risk'}]->(la)",
                         database_=db)
    got = _export(api_client, demo_tokens, "R-ADULT").json()
    text = json.dumps(got)
    assert "14 Elm Road" not in text and "B13 8JP" not in text and "Joy Ashdown" not in text
    assert {"since": "2015-03-01", "until": None, "withheld": True} in got["addresses"]
    assert "3 Old Lane" in text  # his own past home, shared with no one


def test_an_archived_record_is_exported(loaded: Path, api_client: Any, driver: Driver, neo4j_settings: GraphSettings,
                                        demo_tokens: dict[str, dict[str, str]]) -> None:
    retention.run(driver, database=neo4j_settings.database, scope=Scope(as_of=AS_OF), actor=ACTOR)
    assert api_client.get("/children/R-ADULT", headers=_headers(demo_tokens, "la_admin.birmingham")).status_code == 404
    got = _export(api_client, demo_tokens, "R-ADULT").json()
    assert got["archive"] == {"archived_on": "2026-06-01", "archive_reason": "age", "destroy_on": "2032-06-01"}
    assert got["identity"]["given_name"] == "Reuben" and len(got["addresses"]) == 2


def test_the_readable_document_says_what_the_json_says(loaded: Path, api_client: Any,
                                                       demo_tokens: dict[str, dict[str, str]]) -> None:
    response = _export(api_client, demo_tokens, "R-ADULT", fmt="html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'attachment; filename="subject-access-R-ADULT-' in response.headers["content-disposition"]
    html = response.text
    for expected in ("Reuben Ashdown", "14 Elm Road", "Joy Ashdown", "Bordesley Academy", "Bea Whitfield",
                     "Heartlands Emergency", "Who looked at the record", "What was left out, and why"):
        assert expected in html, expected
    assert "<script" not in html and "http" not in html  # self-contained: nothing fetched, nothing run


def test_the_export_is_audited(loaded: Path, api_client: Any, driver: Driver, neo4j_settings: GraphSettings,
                               demo_tokens: dict[str, dict[str, str]]) -> None:
    _export(api_client, demo_tokens, "R-ADULT", fmt="html")
    events = _events(driver, neo4j_settings.database, "subject_access")
    assert [(e["role"], e["children"], e["purpose"], e["outcome"]) for e in events] == [
        ("la_admin", ["R-ADULT"], PURPOSE, "ok")]
    assert json.loads(events[0]["detail_json"]) == {"format": "html", "archived": False, "sensitive_services": 1}
    again = _export(api_client, demo_tokens, "R-ADULT").json()
    assert ("la_admin", "subject_access", PURPOSE) in {(a["role"], a["action"], a["purpose"]) for a in again["accesses"]}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "la_admin"])
def test_every_other_role_is_refused(role: str, loaded: Path, api_client: Any,
                                     demo_tokens: dict[str, dict[str, str]]) -> None:
    response = _export(api_client, demo_tokens, "R-ADULT", user=f"{role}.birmingham")
    assert response.status_code == 403 and "Reuben" not in response.text


def test_another_authoritys_team_is_refused_and_recorded(loaded: Path, api_client: Any, driver: Driver,
                                                         neo4j_settings: GraphSettings,
                                                         demo_tokens: dict[str, dict[str, str]]) -> None:
    response = _export(api_client, demo_tokens, "R-ADULT", user="la_admin.leeds")
    assert response.status_code == 403 and "Reuben" not in response.text
    assert _export(api_client, demo_tokens, "R-LEAP", user="la_admin.leeds").status_code == 200
    assert _export(api_client, demo_tokens, "R-NOBODY").status_code == 404
    events = _events(driver, neo4j_settings.database, "subject_access")
    assert [(e["children"], e["outcome"]) for e in events] == [(["R-ADULT"], "denied"), (["R-LEAP"], "ok"),
                                                               ([], "not_found")]


def test_a_merged_id_leads_to_the_survivors_export_and_corrections(
        loaded: Path, api_client: Any, driver: Driver, neo4j_settings: GraphSettings,
        demo_tokens: dict[str, dict[str, str]]) -> None:
    """R-YOUNG was R-SIB under another record: once merged, R-YOUNG's export and corrections answer 308 to R-SIB's
    (nothing of either child in the answer), each look recorded naming both ids; the survivor's export lists the
    merged id; another authority's team following the link is still refused."""
    db = neo4j_settings.database
    with driver.session(database=db) as session:
        session.execute_write(merge.merge, merged="R-YOUNG", survivor="R-SIB", reason="one child", by="test")
    asks = (("get", "/subject-access", {"params": {"format": "html"}}), ("get", "/corrections", {}),
            ("post", "/corrections", {"json": {"field": "given_name", "value": "Rosa",
                                               "reason": "birth certificate seen by the team"}}))
    for method, tail, extra in asks:
        moved = getattr(api_client, method)(f"/children/R-YOUNG{tail}", headers=_headers(demo_tokens,
                                            "la_admin.birmingham"), follow_redirects=False, **extra)
        assert moved.status_code == 308, (tail, moved.text)
        assert moved.headers["location"] == f"/children/R-SIB{tail}" + ("?format=html" if tail == "/subject-access"
                                                                          else "")
        assert "Rosa" not in moved.text and "Yusuf" not in moved.text
    assert _count_corrections(driver, db) == 0  # the redirected POST corrected nothing
    events = [e for action in ("subject_access", "corrections", "correct") for e in _events(driver, db, action)]
    assert [(e["children"], e["outcome"]) for e in events] == [
        (["R-YOUNG", "R-SIB"], "ok"), (["R-YOUNG", "R-SIB"], "ok"), (["R-YOUNG", "R-SIB"], "not_found")]
    assert all(json.loads(e["detail_json"])["merged_into"] == "R-SIB" for e in events)
    followed = _export(api_client, demo_tokens, "R-YOUNG")
    assert followed.status_code == 200 and followed.json()["identity"]["id"] == "R-SIB"
    assert followed.json()["identity"]["merged_ids"] == ["R-YOUNG"]
    assert _export(api_client, demo_tokens, "R-YOUNG", user="la_admin.leeds").status_code == 403


def _count_corrections(driver: Driver, db: str) -> int:
    return driver.execute_query("MATCH (n:Correction) RETURN count(n) AS n", database_=db).records[0]["n"]


def test_a_purpose_is_required(loaded: Path, api_client: Any, demo_tokens: dict[str, dict[str, str]]) -> None:
    response = api_client.get("/children/R-ADULT/subject-access", headers=demo_tokens["la_admin.birmingham"])
    assert response.status_code == 400


# -- rectification -------------------------------------------------------------------------------

def _correct(api_client: Any, tokens: dict[str, dict[str, str]], child_id: str, field: str, value: str,
             user: str = "la_admin.birmingham") -> Any:
    return api_client.post(f"/children/{child_id}/corrections", headers=_headers(tokens, user, "rectification"),
                           json={"field": field, "value": value, "reason": "birth certificate seen by the team"})


def _reload_with(feeds: Path, child_id: str, **changes: str) -> Path:
    """The children feed again, one row changed as a source would send it."""
    path = feeds / "children.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["child_id"] == child_id:
            row.update(changes)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return feeds


def test_a_correction_shows_on_top_and_survives_the_next_feed(loaded: Path, api_client: Any, driver: Driver,
                                                              neo4j_settings: GraphSettings,
                                                              demo_tokens: dict[str, dict[str, str]]) -> None:
    db = neo4j_settings.database
    done = _correct(api_client, demo_tokens, "R-SIB", "dob", "2016-02-13")
    assert done.status_code == 201, done.text
    practitioner = _headers(demo_tokens, "practitioner.birmingham", "school place")
    card = api_client.get("/children/R-SIB", headers=practitioner).json()
    assert card["dob"] == "2016-02-13" and card["corrected"] == ["dob"]
    found = api_client.get("/children/search", params={"family_name": "Ashdown", "dob": "2016-02-13"},
                           headers=practitioner).json()["results"]
    assert [c["id"] for c in found] == ["R-SIB"]

    # The same feed again: the source still sends 2016-02-03; the correction stands, nothing is raised.
    load_dir(driver, loaded, database=db, rejects_path=loaded.parent / "r2.csv")
    assert api_client.get("/children/R-SIB", headers=practitioner).json()["dob"] == "2016-02-13"
    listed = api_client.get("/children/R-SIB/corrections", headers=_headers(demo_tokens, "la_admin.birmingham"))
    item = listed.json()["corrections"][0]
    assert (item["value"], item["from_value"], item["source_value"], item["in_conflict"]) == \
        ("2016-02-13", "2016-02-03", "2016-02-03", False)

    # The source sends a third value: the correction still stands; the team is told.
    load_dir(driver, _reload_with(loaded, "R-SIB", dob="2016-02-23"), database=db, rejects_path=loaded.parent / "r3.csv")
    assert api_client.get("/children/R-SIB", headers=practitioner).json()["dob"] == "2016-02-13"
    item = api_client.get("/children/R-SIB/corrections",
                          headers=_headers(demo_tokens, "la_admin.birmingham")).json()["corrections"][0]
    assert (item["source_value"], item["in_conflict"], item["conflict_value"]) == ("2016-02-23", True, "2016-02-23")
    inbox = api_client.get("/alerts", params={"kind": "correction_conflict"},
                           headers=_headers(demo_tokens, "la_admin.birmingham")).json()["items"]
    assert [(a["child_id"], a["details"]["field"]) for a in inbox] == [("R-SIB", "dob")]
    load_dir(driver, loaded, database=db, rejects_path=loaded.parent / "r4.csv")  # the same value again: one alert
    assert driver.execute_query("MATCH (a:Alert {kind: 'correction_conflict'}) RETURN count(a) AS n",
                                database_=db).records[0]["n"] == 1

    # The source catches up with the correction: it agrees, and the conflict is over.
    load_dir(driver, _reload_with(loaded, "R-SIB", dob="2016-02-13"), database=db, rejects_path=loaded.parent / "r5.csv")
    item = api_client.get("/children/R-SIB/corrections",
                          headers=_headers(demo_tokens, "la_admin.birmingham")).json()["corrections"][0]
    assert (item["source_agrees"], item["in_conflict"]) == (True, False)


def test_withdrawing_a_correction_puts_the_sources_value_back(loaded: Path, api_client: Any,
                                                              demo_tokens: dict[str, dict[str, str]]) -> None:
    done = _correct(api_client, demo_tokens, "R-SIB", "given_name", "Rosalind").json()
    admin = _headers(demo_tokens, "la_admin.birmingham")
    assert api_client.get("/children/R-SIB", headers=admin).json()["given_name"] == "Rosalind"
    gone = api_client.request("DELETE", f"/children/R-SIB/corrections/{done['correction_id']}", headers=admin,
                              json={"reason": "entered against the wrong child"})
    assert gone.status_code == 200, gone.text
    card = api_client.get("/children/R-SIB", headers=admin).json()
    assert card["given_name"] == "Rosa" and card["corrected"] == []


def test_rectification_is_for_the_holding_team_only_and_checked(loaded: Path, api_client: Any, driver: Driver,
                                                                neo4j_settings: GraphSettings,
                                                                demo_tokens: dict[str, dict[str, str]]) -> None:
    for role in ("practitioner", "safeguarding_lead", "reviewer", "auditor", "ed_clinician", "data_officer"):
        assert _correct(api_client, demo_tokens, "R-SIB", "given_name", "X", user=f"{role}.birmingham"
                        ).status_code == 403, role
    assert _correct(api_client, demo_tokens, "R-SIB", "given_name", "Xavi", user="la_admin.leeds").status_code == 403
    assert _correct(api_client, demo_tokens, "R-SIB", "dob", "2999-01-01").status_code == 422
    assert _correct(api_client, demo_tokens, "R-SIB", "nhs_number", "12345").status_code == 422
    bad_field = api_client.post("/children/R-SIB/corrections", headers=_headers(demo_tokens, "la_admin.birmingham"),
                                json={"field": "shielded", "value": "false", "reason": "not a correctable field"})
    assert bad_field.status_code == 422
    given = driver.execute_query("MATCH (c:Child {id: 'R-SIB'}) RETURN c.given_name AS g, c.corrected AS k",
                                 database_=neo4j_settings.database).records[0]
    assert (given["g"], given["k"]) == ("Rosa", None)
    events = _events(driver, neo4j_settings.database, "correct")
    assert [e["outcome"] for e in events] == ["denied"]  # Leeds's team; the role checks refuse before the graph
