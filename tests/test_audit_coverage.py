"""What the trail records besides looks at child data, on real Neo4j: the auditors' own looks, every change to
who may sign in (the CLI, demo users, sign-in, lockout), and a client's request id kept apart from the server's."""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver
from typer.testing import CliRunner

from api.app import create_app
from api.config import ApiSettings
from api.security import issue_token
from graph.credentials import hash_password, totp_code
from contactpoint.common import demo_users
from contactpoint.users_cli import users_app
from graph import audit, users
from graph.config import GraphSettings, get_settings
from graph.viewer import Role, Viewer
from tests.conftest import restore_demo_users

BIRMINGHAM = "E08000025"
PASSWORD = "a long enough password"
WRONG = "not the password at all"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
LOCKOUT_ATTEMPTS = 3
OPERATOR = f"cli:{getpass.getuser()}"  # who `contactpoint users ...` says did it: the operating-system user
AUDITOR = next(u for u in users.DEMO_USERS if u.username == "auditor.birmingham")

# Test-only statements: the trail's events as stored, and everything in it as text.
EVENTS_OF_REQUEST = """
MATCH (e:AuditEvent {request_id: $rid})
RETURN e {.seq, .user_id, .role, .la_code, .action, .children, .about, .purpose, .request_id, .client_request_id,
          .outcome, .flagged, .detail_json} AS event
ORDER BY e.seq
"""
EVENTS_OF_ACTION = """
MATCH (e:AuditEvent {action: $action})
RETURN e {.seq, .user_id, .role, .la_code, .action, .children, .purpose, .request_id, .outcome,
          .detail_json} AS event
ORDER BY e.seq
"""
WHOLE_TRAIL = "MATCH (e:AuditEvent) RETURN collect(properties(e)) AS events"
DELETE_USER = "MATCH (u:User {username: $username}) DETACH DELETE u"


def _of_request(driver: Driver, db: str, rid: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(EVENTS_OF_REQUEST, rid=rid, database_=db)
    return [dict(r["event"]) for r in records]


def _of_action(driver: Driver, db: str, action: str, **detail: Any) -> list[dict[str, Any]]:
    """The events of an action whose detail holds every key and value given."""
    records, _, _ = driver.execute_query(EVENTS_OF_ACTION, action=action, database_=db)
    found = [dict(r["event"]) for r in records]
    return [e for e in found if detail.items() <= json.loads(e["detail_json"]).items()]


def _whole_trail(driver: Driver, db: str) -> str:
    records, _, _ = driver.execute_query(WHOLE_TRAIL, database_=db)
    return json.dumps(records[0]["events"], default=str)


def _unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def _new_user(driver: Driver, db: str, username: str) -> users.UserRecord:
    """A practitioner who may sign in with PASSWORD and SECRET."""
    with driver.session(database=db) as session:
        return session.execute_write(users.create_user, username=username, name="Signing In",
                                     role="practitioner", la_code=BIRMINGHAM, agency_id="AG-1",
                                     password_hash=hash_password(PASSWORD), totp_secret=SECRET)


@pytest.fixture()
def db(neo4j_settings: GraphSettings) -> str:
    return neo4j_settings.database


# -- the auditors are watched too ------------------------------------------------------------------


@pytest.fixture(scope="module")
def looked_at(driver: Driver, neo4j_settings: GraphSettings) -> list[str]:
    """Two children a practitioner looked at, in the trail for the auditor to find."""
    restore_demo_users(driver, neo4j_settings.database)
    children = [_unique("AUDITED") for _ in range(2)]
    viewer = Viewer(user_id="u-looker", role=Role.PRACTITIONER, la_code=BIRMINGHAM, agency_id="AG-1")
    with driver.session(database=neo4j_settings.database) as session:
        for child in children:
            session.execute_write(lambda tx, c=child: audit.append(
                tx, viewer=viewer, action="card", children=[c], purpose="triage", request_id=str(uuid.uuid4())))
    return children


def _audit_get(api_client: Any, demo_tokens: Any, path: str, **params: Any) -> tuple[Any, str]:
    """An auditor's request: the response, and the request id the server gave it."""
    response = api_client.get(path, headers=demo_tokens["auditor.birmingham"], params=params)
    assert response.status_code == 200, response.text
    return response, response.headers["x-request-id"]


def test_an_auditors_search_leaves_an_event_naming_the_auditor_the_filters_and_the_count(
        looked_at: list[str], api_client: Any, demo_tokens: Any, driver: Driver, db: str) -> None:
    response, rid = _audit_get(api_client, demo_tokens, "/audit", child_id=looked_at[0], action="card", limit=50)
    assert [e["children"] for e in response.json()["events"]] == [[looked_at[0]]]
    [event] = _of_request(driver, db, rid)
    assert (event["action"], event["user_id"], event["role"], event["la_code"], event["outcome"]) == (
        "audit_search", AUDITOR.id, "auditor", BIRMINGHAM, "ok")
    # The child asked about is in the filters and `about`, not in `children`: a lead's access log for the child
    # does not show that an auditor is looking into who opened the record (and redacting the child finds it).
    assert (event["children"], event["about"]) == ([], [looked_at[0]])
    assert json.loads(event["detail_json"]) == {
        "filters": {"child_id": looked_at[0], "action": "card"}, "limit": 50, "skip": 0, "returned": 1}


def test_an_auditors_search_names_no_child_it_returned(looked_at: list[str], api_client: Any, demo_tokens: Any,
                                                       driver: Driver, db: str) -> None:
    response, rid = _audit_get(api_client, demo_tokens, "/audit", limit=500)
    returned = response.json()["events"]
    assert set(looked_at) <= {c for e in returned for c in e["children"]}
    [event] = _of_request(driver, db, rid)
    assert event["children"] == [] and not any(child in event["detail_json"] for child in looked_at)
    assert json.loads(event["detail_json"]) == {"filters": {}, "limit": 500, "skip": 0, "returned": len(returned)}


def test_reading_the_break_glass_log_is_audited(looked_at: list[str], api_client: Any, demo_tokens: Any,
                                                driver: Driver, db: str) -> None:
    response, rid = _audit_get(api_client, demo_tokens, "/audit", flagged="true")
    [event] = _of_request(driver, db, rid)
    assert (event["action"], event["user_id"]) == ("audit_search", AUDITOR.id)
    assert json.loads(event["detail_json"]) == {"filters": {"flagged": True}, "limit": 100, "skip": 0,
                                                "returned": len(response.json()["events"])}


def test_verifying_the_chain_is_audited(looked_at: list[str], api_client: Any, demo_tokens: Any,
                                        driver: Driver, db: str) -> None:
    _audit_get(api_client, demo_tokens, "/audit/verify")  # starts a run in the background
    api_client.app.state.verifier.wait(60)
    response, rid = _audit_get(api_client, demo_tokens, "/audit/verify")
    api_client.app.state.verifier.wait(60)
    [event] = _of_request(driver, db, rid)
    assert (event["action"], event["user_id"], event["children"], event["outcome"]) == (
        "audit_verify", AUDITOR.id, [], "ok")
    body, detail = response.json(), json.loads(event["detail_json"])
    assert body["state"] == "idle" and body["ok"] is True
    assert {k: detail[k] for k in ("state", "ok", "events", "head_seq")} == {
        k: body[k] for k in ("state", "ok", "events", "head_seq")}
    # What it answered, never the events themselves.
    assert set(detail) <= {"mode", "state", "ok", "events", "head_seq", "kind", "seq"}


def test_an_auditors_looks_are_in_the_trail_for_the_next_auditor(looked_at: list[str], api_client: Any,
                                                                 demo_tokens: Any) -> None:
    _, rid = _audit_get(api_client, demo_tokens, "/audit", child_id=looked_at[1])
    found = api_client.get("/audit", headers=demo_tokens["auditor.leeds"],
                           params={"user_id": AUDITOR.id, "action": "audit_search"}).json()["events"]
    assert rid in {e["request_id"] for e in found}


# -- every change to who may sign in -----------------------------------------------------------------


@pytest.fixture()
def cli(neo4j_settings: GraphSettings) -> Iterator[tuple[CliRunner, dict[str, str]]]:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": neo4j_settings.user,
           "NEO4J_PASSWORD": neo4j_settings.password.get_secret_value(), "NEO4J_DATABASE": neo4j_settings.database}
    get_settings.cache_clear()
    yield CliRunner(), env
    get_settings.cache_clear()


def test_cli_users_add_and_disable_leave_events_naming_the_operator(
        cli: tuple[CliRunner, dict[str, str]], driver: Driver, db: str) -> None:
    runner, env = cli
    username = _unique("added")
    added = runner.invoke(users_app, ["add", username, "--name", "Added Person", "--role", "practitioner",
                                      "--la", BIRMINGHAM, "--agency", "AG-1", "--password-stdin"],
                          input=f"{PASSWORD}\n", env=env)
    assert added.exit_code == 0, added.output
    with driver.session(database=db) as session:
        login = session.execute_read(users.get_user_for_login, username=username)
    [event] = _of_action(driver, db, "user_add", username=username)
    assert (event["user_id"], event["role"], event["children"], event["outcome"]) == (OPERATOR, "operator", [], "ok")
    assert json.loads(event["detail_json"]) == {"username": username, "user_id": login.id, "role": "practitioner",
                                                "la_code": BIRMINGHAM, "agency_id": "AG-1"}

    disabled = runner.invoke(users_app, ["disable", username], env=env)
    assert disabled.exit_code == 0, disabled.output
    [event] = _of_action(driver, db, "user_disable", username=username)
    assert (event["user_id"], event["role"], event["outcome"]) == (OPERATOR, "operator", "ok")
    assert json.loads(event["detail_json"]) == {"username": username, "user_id": login.id}

    trail = _whole_trail(driver, db)
    assert login.password_hash not in trail and login.totp_secret not in trail and PASSWORD not in trail
    assert audit.verify(driver, database=db).ok


def test_a_refused_cli_change_leaves_no_event(cli: tuple[CliRunner, dict[str, str]], driver: Driver, db: str) -> None:
    """Nothing changed, so nothing to record: a taken username, an unknown user."""
    runner, env = cli
    taken = _unique("taken")
    assert runner.invoke(users_app, ["add", taken, "--name", "T", "--role", "auditor", "--la", BIRMINGHAM,
                                     "--password-stdin"], input=f"{PASSWORD}\n", env=env).exit_code == 0
    again = runner.invoke(users_app, ["add", taken, "--name", "T", "--role", "la_admin", "--la", BIRMINGHAM,
                                      "--password-stdin"], input=f"{PASSWORD}\n", env=env)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert [json.loads(e["detail_json"])["role"] for e in _of_action(driver, db, "user_add", username=taken)] == [
        "auditor"]
    nobody = _unique("nobody")
    assert runner.invoke(users_app, ["disable", nobody], env=env).exit_code == 1
    assert _of_action(driver, db, "user_disable", username=nobody) == []


def test_the_demo_users_created_are_audited(empty_db: Driver, neo4j_settings: GraphSettings, db: str) -> None:
    demo_users(empty_db, neo4j_settings)
    events = _of_action(empty_db, db, "user_add", demo=True)
    assert sorted(json.loads(e["detail_json"])["username"] for e in events) == sorted(
        u.username for u in users.DEMO_USERS)
    assert {(e["user_id"], e["role"]) for e in events} == {(OPERATOR, "operator")}
    by_name = {u.username: u for u in users.DEMO_USERS}
    for event in events:
        detail = json.loads(event["detail_json"])
        demo = by_name[detail["username"]]
        assert detail == {"username": demo.username, "user_id": demo.id, "role": demo.role.value,
                          "la_code": demo.la_code, "agency_id": None, "demo": True}
    demo_users(empty_db, neo4j_settings)  # all there already: nothing created, nothing recorded
    assert len(_of_action(empty_db, db, "user_add")) == len(users.DEMO_USERS)
    trail = _whole_trail(empty_db, db)
    assert not any(u.password_hash in trail or u.totp_secret in trail or u.password in trail
                   for u in users.DEMO_USERS)
    assert audit.verify(empty_db, database=db).ok


@pytest.fixture(scope="module")
def sign_in(neo4j_settings: GraphSettings) -> Iterator[TestClient]:
    """The real app with a short lockout, so a test can reach it."""
    app = create_app(neo4j_settings, ApiSettings(demo_mode=True, lockout_attempts=LOCKOUT_ATTEMPTS))
    with TestClient(app) as client:
        yield client


def _try(client: TestClient, username: str, password: str = PASSWORD, otp: str | None = None) -> tuple[int, str]:
    response = client.post("/auth/token", data={"username": username, "password": password,
                                                "otp": otp or totp_code(SECRET, datetime.now(UTC))})
    return response.status_code, response.headers["x-request-id"]


def _only(driver: Driver, db: str, rid: str) -> tuple[str, str, str, dict[str, Any]]:
    [event] = _of_request(driver, db, rid)
    return event["action"], event["user_id"], event["outcome"], json.loads(event["detail_json"])


def test_every_sign_in_attempt_is_audited(sign_in: TestClient, driver: Driver, db: str) -> None:
    username = _unique("signing")
    user = _new_user(driver, db, username)
    wrong_code = f"{(int(totp_code(SECRET, datetime.now(UTC))) + 1) % 1_000_000:06d}"

    status, rid = _try(sign_in, username, password=WRONG)
    assert status == 401
    assert _only(driver, db, rid) == ("sign_in", user.id, "denied", {"username": username, "reason": "wrong_password"})
    status, rid = _try(sign_in, username, otp=wrong_code)
    assert status == 401
    assert _only(driver, db, rid) == ("sign_in", user.id, "denied", {"username": username, "reason": "wrong_code"})
    status, rid = _try(sign_in, username.upper())  # the form's username is trimmed and lower-cased
    assert status == 200
    assert _only(driver, db, rid) == ("sign_in", user.id, "ok", {"username": username})
    status, rid = _try(sign_in, username)  # the same code again: spent
    assert status == 401
    assert _only(driver, db, rid) == ("sign_in", user.id, "denied", {"username": username, "reason": "wrong_code"})
    trail = _whole_trail(driver, db)
    assert PASSWORD not in trail and WRONG not in trail and SECRET not in trail and "argon2" not in trail
    assert audit.verify(driver, database=db).ok


def test_a_lockout_is_audited_with_the_failure_that_caused_it(sign_in: TestClient, driver: Driver, db: str) -> None:
    username = _unique("locking")
    user = _new_user(driver, db, username)
    rids = [_try(sign_in, username, password=WRONG)[1] for _ in range(LOCKOUT_ATTEMPTS)]
    for rid in rids[:-1]:
        assert _only(driver, db, rid) == ("sign_in", user.id, "denied",
                                          {"username": username, "reason": "wrong_password"})
    locking = _of_request(driver, db, rids[-1])
    assert [(e["action"], e["user_id"], e["outcome"]) for e in locking] == [
        ("sign_in", user.id, "denied"), ("user_lock", user.id, "ok")]
    assert json.loads(locking[1]["detail_json"]) == {"username": username, "failures": LOCKOUT_ATTEMPTS,
                                                     "minutes": 15}
    status, rid = _try(sign_in, username)  # the right password and code, while locked
    assert status == 401
    assert _only(driver, db, rid) == ("sign_in", user.id, "denied", {"username": username, "reason": "locked"})


def test_a_disabled_user_and_an_unknown_name_are_audited(sign_in: TestClient, driver: Driver, db: str) -> None:
    username = _unique("leaving")
    user = _new_user(driver, db, username)
    with driver.session(database=db) as session:
        session.execute_write(users.disable_user, username=username)
    status, rid = _try(sign_in, username)
    assert status == 401
    assert _only(driver, db, rid) == ("sign_in", user.id, "denied", {"username": username, "reason": "disabled"})

    unknown = _unique("nobody")
    status, rid = _try(sign_in, unknown)
    assert status == 401
    [event] = _of_request(driver, db, rid)
    assert (event["action"], event["user_id"], event["role"], event["outcome"]) == (
        "sign_in", "unknown", "", "denied")
    assert json.loads(event["detail_json"]) == {"username": unknown, "reason": "unknown_user"}
    # What was typed as a username is kept only if it could be one: a password typed there is not.
    status, rid = _try(sign_in, "My Secret Pa$$word!")
    assert json.loads(_of_request(driver, db, rid)[0]["detail_json"]) == {"username": None,
                                                                          "reason": "unknown_user"}
    assert "Pa$$word" not in _whole_trail(driver, db)


# -- request ids -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searcher(driver: Driver, neo4j_settings: GraphSettings) -> dict[str, str]:
    """A practitioner's bearer header, and the purpose every child route needs."""
    user = _new_user(driver, neo4j_settings.database, _unique("searcher"))
    token, _ = issue_token(ApiSettings(demo_mode=True), user.viewer())
    return {"Authorization": f"Bearer {token}", "X-Purpose": "request id test"}


def _search(api_client: Any, headers: dict[str, str | bytes]) -> Any:
    raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
    response = api_client.get("/children/search", headers=raw,
                              params={"given_name": "Nobody", "family_name": "Atall"})
    assert response.status_code == 200, response.text
    return response


def test_a_clients_request_id_never_becomes_the_trails(searcher: dict[str, str], api_client: Any, driver: Driver,
                                                        db: str) -> None:
    first = _search(api_client, {**searcher, "X-Request-ID": "attacker-chosen"})
    second = _search(api_client, {**searcher, "X-Request-ID": "attacker-chosen"})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert "attacker-chosen" not in ids and ids[0] != ids[1]
    assert all(str(uuid.UUID(rid)) == rid for rid in ids)  # the server's own
    for rid in ids:
        [event] = _of_request(driver, db, rid)
        assert (event["action"], event["request_id"], event["client_request_id"]) == (
            "search", rid, "attacker-chosen")
    assert _of_request(driver, db, "attacker-chosen") == []


@pytest.mark.parametrize("supplied", ["x" * 65, b"caf\xe9", "tab\there", " "], ids=["long", "latin-1", "tab", "blank"])
def test_a_clients_request_id_that_is_not_short_printable_ascii_is_dropped(
        searcher: dict[str, str], api_client: Any, driver: Driver, db: str, supplied: str | bytes) -> None:
    response = _search(api_client, {**searcher, "X-Request-ID": supplied})
    rid = response.headers["x-request-id"]
    assert str(uuid.UUID(rid)) == rid
    [event] = _of_request(driver, db, rid)
    assert event["client_request_id"] is None


def test_a_clients_request_id_of_64_printable_characters_is_kept(searcher: dict[str, str], api_client: Any,
                                                                 driver: Driver, db: str) -> None:
    supplied = "client:" + "x" * 50 + "-1 2~ok"
    assert len(supplied) == 64
    rid = _search(api_client, {**searcher, "X-Request-ID": supplied}).headers["x-request-id"]
    [event] = _of_request(driver, db, rid)
    assert event["client_request_id"] == supplied
