"""GET /auth/me and GET /users on the real Neo4j: who you are; your authority's users for its management team only."""

from __future__ import annotations

from typing import Any

import pytest
from neo4j import Driver

from graph.credentials import hash_password
from graph import users
from graph.config import GraphSettings
from tests.conftest import restore_demo_users

BIRMINGHAM, LEEDS = "E08000025", "E08000035"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CREDENTIAL_MARKERS = ("argon2", "password", "totp", SECRET, "failed_attempts", "hash")


@pytest.fixture(scope="module", autouse=True)
def extra_users(driver: Driver, neo4j_settings: GraphSettings) -> None:
    """The demo users (an earlier module may have wiped them), a disabled Birmingham user and a Leeds-only user."""
    db = neo4j_settings.database
    restore_demo_users(driver, db)
    digest = hash_password("a long enough password")
    with driver.session(database=db) as session:
        for username, la in (("gone.birmingham", BIRMINGHAM), ("only.leeds", LEEDS)):
            session.execute_write(lambda tx, u=username: tx.run("MATCH (x:User {username: $u}) DETACH DELETE x",
                                                                u=u).consume())
            session.execute_write(users.create_user, username=username, name=f"Name of {username}",
                                  role="practitioner", la_code=la, password_hash=digest, totp_secret=SECRET)
        session.execute_write(users.disable_user, username="gone.birmingham")


@pytest.mark.parametrize("username", ["practitioner.birmingham", "safeguarding_lead.leeds", "reviewer.birmingham",
                                      "la_admin.leeds", "auditor.birmingham"])
def test_me_says_who_the_token_belongs_to(api_client: Any, demo_tokens: Any, username: str) -> None:
    response = api_client.get("/auth/me", headers=demo_tokens[username])
    assert response.status_code == 200, response.text
    body = response.json()
    role, city = username.split(".")
    assert (body["username"], body["role"]) == (username, role)
    assert body["la_code"] == (BIRMINGHAM if city == "birmingham" else LEEDS)
    assert set(body) == {"username", "name", "role", "la_code", "authority", "agency_id", "agency"}
    assert not any(marker in response.text.lower() for marker in CREDENTIAL_MARKERS)


def test_me_without_a_valid_token_is_401_problem(api_client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = api_client.get("/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json" and response.json()["detail"]


def test_admin_lists_their_own_authoritys_users_without_credentials(extra_users: None, api_client: Any,
                                                                    demo_tokens: Any) -> None:
    response = api_client.get("/users", headers=demo_tokens["la_admin.birmingham"])
    assert response.status_code == 200, response.text
    body = response.json()
    listed = {u["username"]: u for u in body["users"]}
    assert body["la_code"] == BIRMINGHAM and all(u["la_code"] == BIRMINGHAM for u in body["users"])
    assert {u.username for u in users.DEMO_USERS if u.la_code == BIRMINGHAM} <= set(listed)
    assert "only.leeds" not in listed and not any(name.endswith(".leeds") for name in listed)
    assert listed["gone.birmingham"]["disabled"] is True and listed["la_admin.birmingham"]["disabled"] is False
    assert set(listed["la_admin.birmingham"]) == {"username", "name", "role", "la_code", "agency_id", "agency",
                                                   "disabled", "locked"}
    assert not any(marker in response.text.lower() for marker in CREDENTIAL_MARKERS)
    leeds = api_client.get("/users", headers=demo_tokens["la_admin.leeds"]).json()
    assert "only.leeds" in {u["username"] for u in leeds["users"]} and "gone.birmingham" not in str(leeds)


@pytest.mark.parametrize("username", ["practitioner.birmingham", "safeguarding_lead.birmingham",
                                      "reviewer.birmingham", "auditor.birmingham"])
def test_users_is_for_the_management_team_only(extra_users: None, api_client: Any, demo_tokens: Any,
                                               username: str) -> None:
    response = api_client.get("/users", headers=demo_tokens[username])
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "username" not in response.text


def test_users_without_a_token_is_401(api_client: Any) -> None:
    assert api_client.get("/users").status_code == 401
