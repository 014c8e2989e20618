"""Misuse: many records opened in a short time are flagged to the user's authority's team; break-glass is reviewable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from api.app import create_app
from api.config import ApiSettings
from graph.credentials import hash_password, new_totp_secret
from graph import users
from graph.config import GraphSettings
from tests.reliability.conftest import BIRMINGHAM, LEEDS, World, mint_tokens

RECORDS, MINUTES = 5, 10  # small thresholds for the test; the defaults are 50 in 60 minutes


@pytest.fixture(scope="module")
def client(rel_settings: GraphSettings, england: World) -> Iterator[TestClient]:
    settings = ApiSettings(demo_mode=True, misuse_records=RECORDS, misuse_minutes=MINUTES)
    with TestClient(create_app(rel_settings, settings)) as test_client:
        yield test_client


def _new_user(driver: Driver, database: str, role: str, la_code: str) -> tuple[str, dict[str, str]]:
    """A user with no history (the other tests' users have opened hundreds of records), and their token."""
    username = f"misuse.{role}.{uuid.uuid4().hex[:8]}"
    with driver.session(database=database) as session:
        user = session.execute_write(lambda tx: users.create_user(
            tx, username=username, name="Watched User", role=role, la_code=la_code,
            password_hash=hash_password("not used for sign-in here"), totp_secret=new_totp_secret()))
    return user.id, mint_tokens(driver, database)[username]


def _open(client: TestClient, headers: dict[str, str], child_ids: list[str]) -> None:
    for child_id in child_ids:
        assert client.get(f"/children/{child_id}", headers={**headers, "X-Purpose": "looking"}).status_code == 200


def _misuse(client: TestClient, headers: dict[str, str], user_id: str) -> list[dict[str, Any]]:
    response = client.get("/alerts", params={"kind": "misuse", "limit": 200},
                          headers={**headers, "X-Purpose": "misuse review"})
    assert response.status_code == 200, response.text
    return [a for a in response.json()["items"] if a["details"]["user_id"] == user_id]


def test_many_records_in_a_short_time_are_flagged_to_the_users_authority(
    client: TestClient, rel_driver: Driver, rel_settings: GraphSettings, england: World
) -> None:
    db = rel_settings.database
    user_id, watched = _new_user(rel_driver, db, "practitioner", LEEDS)
    tokens = mint_tokens(rel_driver, db)
    ids = [c["id"] for c in england.children]
    _open(client, watched, ids[:RECORDS])
    _open(client, watched, ids[:RECORDS] * 3)  # the same records again do not count
    assert _misuse(client, tokens["la_admin.leeds"], user_id) == []

    _open(client, watched, ids[RECORDS:RECORDS + 1])
    _open(client, watched, ids[:1])  # its batch commits after the check of the one before
    [alert] = _misuse(client, tokens["la_admin.leeds"], user_id)
    assert alert["kind"] == "misuse" and alert["state"] == "open" and alert["child_id"] is None
    assert alert["details"]["records"] == RECORDS + 1 and alert["details"]["window_minutes"] == MINUTES
    assert alert["details"]["user_la_code"] == LEEDS and alert["details"]["user_role"] == "practitioner"
    assert f"GET /audit?user_id={user_id}" in alert["summary"]

    _open(client, watched, ids[RECORDS + 1:RECORDS + 8] + ids[:1])  # going on raises no second alert
    assert len(_misuse(client, tokens["la_admin.leeds"], user_id)) == 1
    assert _misuse(client, tokens["safeguarding_lead.leeds"], user_id) == []  # the management team's only
    assert _misuse(client, tokens["la_admin.birmingham"], user_id) == []  # and only the user's own authority's

    team = {**tokens["la_admin.leeds"], "X-Purpose": "misuse review"}
    acked = client.post(f"/alerts/{alert['id']}/acknowledge", headers=team, json={"note": "asked the auditor"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    auditor = tokens["auditor.leeds"]
    trail = client.get("/audit", params={"user_id": user_id, "action": "card", "limit": 500}, headers=auditor).json()
    assert {c for e in trail["events"] for c in e["children"]} == set(ids[:RECORDS + 8])


def test_searches_and_a_few_records_are_not_flagged(client: TestClient, rel_driver: Driver,
                                                    rel_settings: GraphSettings, england: World) -> None:
    db = rel_settings.database
    user_id, watched = _new_user(rel_driver, db, "practitioner", BIRMINGHAM)
    for child in england.children[:20]:
        response = client.get("/children/search", params={"family_name": child["family_name"], "dob": child["dob"]},
                              headers={**watched, "X-Purpose": "looking"})
        assert response.status_code == 200 and response.json()["results"]
    _open(client, watched, [c["id"] for c in england.children[:RECORDS]] * 2)
    assert _misuse(client, mint_tokens(rel_driver, db)["la_admin.birmingham"], user_id) == []


def test_a_team_member_is_not_shown_the_alert_about_themselves(client: TestClient, rel_driver: Driver,
                                                               rel_settings: GraphSettings, england: World) -> None:
    db = rel_settings.database
    user_id, watched = _new_user(rel_driver, db, "la_admin", LEEDS)
    _open(client, watched, [c["id"] for c in england.children[:RECORDS + 2]])
    _open(client, watched, [england.children[0]["id"]])  # its batch commits after the check of the one before
    assert len(_misuse(client, mint_tokens(rel_driver, db)["la_admin.leeds"], user_id)) == 1
    assert _misuse(client, watched, user_id) == []


def test_the_break_glass_log_is_reviewable(client: TestClient, rel_driver: Driver, rel_settings: GraphSettings,
                                           england: World) -> None:
    tokens = mint_tokens(rel_driver, rel_settings.database)
    child = england.birmingham[-1]
    team = {**tokens["la_admin.birmingham"], "X-Purpose": "shielding decision"}
    assert client.post(f"/children/{child}/shield", headers=team, json={"reason": "refuge placement"}).is_success
    lead = {**tokens["safeguarding_lead.leeds"], "X-Purpose": "child at A&E", "X-Request-ID": uuid.uuid4().hex}
    opened = client.post(f"/children/{child}/override", headers=lead, json={"reason": "unconscious child at A&E"})
    assert opened.status_code == 200
    rid = opened.headers["x-request-id"]

    auditor = tokens["auditor.birmingham"]
    log = client.get("/audit", params={"flagged": "true", "limit": 500}, headers=auditor)
    assert log.status_code == 200
    events = log.json()["events"]
    assert events and all(e["flagged"] for e in events)
    [event] = [e for e in events if e["request_id"] == rid]
    assert (event["action"], event["children"], event["la_code"]) == ("override", [child], LEEDS)
    assert "unconscious child at A&E" in event["detail_json"]
    by_action = client.get("/audit", params={"action": "override", "limit": 500}, headers=auditor).json()["events"]
    assert rid in {e["request_id"] for e in by_action}

    inbox = client.get("/alerts", params={"kind": "break_glass"}, headers=team).json()["items"]
    [alert] = [a for a in inbox if a["details"]["request_id"] == rid]
    assert alert["details"]["reason"] == "unconscious child at A&E" and alert["details"]["user_la_code"] == LEEDS
    assert alert["id"] in event["detail_json"]
    for who in ("la_admin.birmingham", "safeguarding_lead.birmingham", "practitioner.birmingham"):
        assert client.get("/audit", params={"flagged": "true"}, headers=tokens[who]).status_code == 403
