"""Users on the real Neo4j: accounts, lockout, TOTP replay, the /auth/token route, role checks, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from neo4j import Driver
from typer.testing import CliRunner

from api import auth
from api.config import ApiSettings
from api.deps import CurrentViewer, require_roles
from graph.credentials import hash_password, totp_code, totp_step, verify_password
from contactpoint.users_cli import users_app
from graph import users
from graph.config import GraphSettings, get_settings
from graph.viewer import Role, Viewer

BIRMINGHAM, LEEDS = "E08000025", "E08000035"
PASSWORD = "a long enough password"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
REFUSED = {"detail": "Invalid username, password or code"}
LOCKOUT_ATTEMPTS = 3


def _write(driver: Driver, settings: GraphSettings, fn: Any, **kwargs: Any) -> Any:
    with driver.session(database=settings.database) as session:
        return session.execute_write(fn, **kwargs)


def _read(driver: Driver, settings: GraphSettings, fn: Any, **kwargs: Any) -> Any:
    with driver.session(database=settings.database) as session:
        return session.execute_read(fn, **kwargs)


def _add(driver: Driver, settings: GraphSettings, username: str, role: Role = Role.PRACTITIONER,
         la_code: str = BIRMINGHAM, agency_id: str | None = "AG-1", password_hash: str | None = None) -> users.UserRecord:
    return _write(driver, settings, users.create_user, username=username, name=f"Name of {username}",
                  role=role, la_code=la_code, agency_id=agency_id,
                  password_hash=password_hash or _PASSWORD_HASH, totp_secret=SECRET)


_PASSWORD_HASH = hash_password(PASSWORD)


# -- graph/users.py ----------------------------------------------------------------------------


def test_create_get_and_list_never_return_credentials(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    made = _add(empty_db, neo4j_settings, "jo.bloggs")
    _add(empty_db, neo4j_settings, "sam.leeds", role=Role.AUDITOR, la_code=LEEDS, agency_id=None)
    assert (made.username, made.role, made.la_code, made.agency_id, made.disabled) == (
        "jo.bloggs", Role.PRACTITIONER, BIRMINGHAM, "AG-1", False)
    public = {f.name for f in fields(users.UserRecord)}
    assert not {"password_hash", "totp_secret", "totp_last_step"} & public
    assert _read(empty_db, neo4j_settings, users.get_user, user_id=made.id) == made
    everyone = _read(empty_db, neo4j_settings, users.list_users)
    assert [u.username for u in everyone] == ["jo.bloggs", "sam.leeds"]
    assert all(type(u) is users.UserRecord for u in everyone)
    assert [u.username for u in _read(empty_db, neo4j_settings, users.list_users, la_code=LEEDS)] == ["sam.leeds"]
    login = _read(empty_db, neo4j_settings, users.get_user_for_login, username=" Jo.Bloggs ")
    assert (login.id, login.totp_secret, login.totp_last_step) == (made.id, SECRET, None)
    assert verify_password(login.password_hash, PASSWORD)
    assert "argon2" not in repr(login) and SECRET not in repr(login)
    assert _read(empty_db, neo4j_settings, users.get_user, user_id="nobody") is None
    assert _read(empty_db, neo4j_settings, users.get_user_for_login, username="nobody") is None


def test_duplicate_username_is_refused(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _add(empty_db, neo4j_settings, "jo.bloggs")
    with pytest.raises(users.UserExists, match="jo.bloggs"):
        _add(empty_db, neo4j_settings, "jo.bloggs", role=Role.AUDITOR)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("role", "superuser", "not one of"), ("la_code", "E07000001", "ONS code"), ("la_code", "W06000015", "ONS code"),
    ("username", "Jo Bloggs", "username"), ("name", "  ", "name"),
])
def test_invalid_fields_are_refused(empty_db: Driver, neo4j_settings: GraphSettings, field: str, value: str,
                                    message: str) -> None:
    args = {"username": "jo.bloggs", "name": "Jo", "role": "practitioner", "la_code": BIRMINGHAM, field: value}
    with pytest.raises(ValueError, match=message):
        _write(empty_db, neo4j_settings, users.create_user, **args, password_hash=_PASSWORD_HASH, totp_secret=SECRET)


def _fail_once(driver: Driver, settings: GraphSettings, user_id: str, at: datetime) -> bool:
    return _write(driver, settings, users.record_failure, user_id=user_id, attempts_allowed=3, lock_minutes=15, now=at)


def _login_state(driver: Driver, settings: GraphSettings, username: str) -> users.LoginRecord:
    return _read(driver, settings, users.get_user_for_login, username=username)


def test_lockout_after_n_failures_and_unlock_after_the_window(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    start = datetime.now(UTC) - timedelta(minutes=20)
    assert [_fail_once(empty_db, neo4j_settings, user.id, start) for _ in range(3)] == [False, False, True]
    state = _login_state(empty_db, neo4j_settings, "jo.bloggs")
    assert state.locked_until == start + timedelta(minutes=15)
    assert state.locked(start + timedelta(minutes=14)) and not state.locked(datetime.now(UTC))
    # Guessing during the lock neither counts nor extends it.
    assert not _fail_once(empty_db, neo4j_settings, user.id, start + timedelta(minutes=1))
    state = _login_state(empty_db, neo4j_settings, "jo.bloggs")
    assert (state.failed_attempts, state.locked_until) == (0, start + timedelta(minutes=15))
    # A success refused during the lock, accepted after it, and it clears the lock.
    step = totp_step(start)
    assert not _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=step,
                      now=start + timedelta(minutes=5))
    assert _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=step)
    state = _login_state(empty_db, neo4j_settings, "jo.bloggs")
    assert (state.locked_until, state.failed_attempts, state.totp_last_step) == (None, 0, step)


def test_success_clears_the_failure_count(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    now = datetime.now(UTC)
    _fail_once(empty_db, neo4j_settings, user.id, now)
    _fail_once(empty_db, neo4j_settings, user.id, now)
    assert _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=totp_step(now))
    assert not _fail_once(empty_db, neo4j_settings, user.id, now)
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").failed_attempts == 1


def test_concurrent_failures_are_all_counted(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")

    def fail(_: int) -> bool:
        return _write(empty_db, neo4j_settings, users.record_failure, user_id=user.id, attempts_allowed=1000,
                      lock_minutes=15)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fail, range(40)))
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").failed_attempts == 40


def test_a_totp_step_is_spent_once_even_concurrently(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    step = totp_step(datetime.now(UTC))

    def succeed(_: int) -> bool:
        return _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=step)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(succeed, range(16))) == [False] * 15 + [True]
    assert not _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=step - 1)


def test_success_can_store_a_fresh_hash(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    fresh = hash_password(PASSWORD)
    assert _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=1, password_hash=fresh)
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").password_hash == fresh


def test_disable(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    assert _write(empty_db, neo4j_settings, users.disable_user, username="jo.bloggs").disabled
    assert _read(empty_db, neo4j_settings, users.get_user, user_id=user.id).disabled
    assert not _write(empty_db, neo4j_settings, users.record_success, user_id=user.id, totp_step=1)
    with pytest.raises(users.UserNotFound):
        _write(empty_db, neo4j_settings, users.disable_user, username="nobody")


def test_demo_users(empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    assert len(users.DEMO_USERS) == 2 * len(Role) == 14
    assert {(d.role, d.la_code) for d in users.DEMO_USERS} == {(r, la) for r in Role for la in (BIRMINGHAM, LEEDS)}
    for demo in users.DEMO_USERS:
        assert len(demo.password) >= 12 and verify_password(demo.password_hash, demo.password)
        assert demo.password not in repr(demo)
    agency = {"practitioner.birmingham": "AG-BHAM-1"}
    assert _write(empty_db, neo4j_settings, users.ensure_demo_users, agency_for=agency) == [
        d.username for d in users.DEMO_USERS]
    assert _write(empty_db, neo4j_settings, users.ensure_demo_users,
                  agency_for={"practitioner.leeds": "AG-LEEDS-1"}) == []
    listed = {u.username: u for u in _read(empty_db, neo4j_settings, users.list_users)}
    assert set(listed) == {d.username for d in users.DEMO_USERS}
    assert listed["practitioner.birmingham"].agency_id == "AG-BHAM-1"
    assert listed["practitioner.leeds"].agency_id == "AG-LEEDS-1"
    assert listed["auditor.leeds"].agency_id is None
    assert {u.id for u in listed.values()} == {d.id for d in users.DEMO_USERS}
    with pytest.raises(ValueError, match="not demo users"):
        _write(empty_db, neo4j_settings, users.ensure_demo_users, agency_for={"someone.else": "AG-1"})


# -- POST /auth/token and the viewer dependency ------------------------------------------------


@pytest.fixture()
def client(empty_db: Driver, neo4j_settings: GraphSettings) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(auth.router)
    app.state.driver = empty_db
    app.state.graph_settings = neo4j_settings
    app.state.api_settings = ApiSettings(demo_mode=True, lockout_attempts=LOCKOUT_ATTEMPTS)

    @app.get("/me")
    def me(viewer: CurrentViewer) -> dict[str, Any]:
        return viewer.params()

    @app.get("/admin")
    def admin(viewer: Viewer = Depends(require_roles(Role.LA_ADMIN, Role.SAFEGUARDING_LEAD))) -> dict[str, str]:
        return {"user_id": viewer.user_id}

    with TestClient(app) as test_client:
        yield test_client


def _code(offset_steps: int = 0) -> str:
    return totp_code(SECRET, datetime.now(UTC) + timedelta(seconds=30 * offset_steps))


def _token_request(client: TestClient, username: str, password: str = PASSWORD, otp: str | None = None) -> Any:
    return client.post("/auth/token", data={"username": username, "password": password,
                                            "otp": otp if otp is not None else _code()})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused(response: Any) -> bool:
    return (response.status_code == 401 and response.json() == REFUSED
            and response.headers.get("www-authenticate") == "Bearer")


def test_login_gives_a_token_the_viewer_dependency_accepts(
        client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs")
    response = _token_request(client, "jo.bloggs")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 15 * 60)
    assert response.headers["cache-control"] == "no-store"
    me = client.get("/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"user_id": user.id, "role": "practitioner", "la_code": BIRMINGHAM, "agency_id": "AG-1"}


def test_every_refusal_looks_the_same(client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _add(empty_db, neo4j_settings, "jo.bloggs")
    wrong_code = f"{(int(_code()) + 1) % 1_000_000:06d}"
    assert _refused(_token_request(client, "jo.bloggs", password="the wrong password"))
    assert _refused(_token_request(client, "jo.bloggs", otp=wrong_code))
    assert _refused(_token_request(client, "nobody.here"))
    assert _token_request(client, "jo.bloggs").status_code == 200
    assert _refused(_token_request(client, "jo.bloggs"))  # the same code again: replay
    assert _refused(_token_request(client, "jo.bloggs", otp=_code(-1)))  # an older step is spent too


def test_missing_code_is_a_validation_error(client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _add(empty_db, neo4j_settings, "jo.bloggs")
    response = client.post("/auth/token", data={"username": "jo.bloggs", "password": PASSWORD})
    assert response.status_code == 422


def test_locked_account_is_refused_even_with_the_right_credentials(
        client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _add(empty_db, neo4j_settings, "jo.bloggs")
    for _ in range(LOCKOUT_ATTEMPTS):
        assert _refused(_token_request(client, "jo.bloggs", password="the wrong password"))
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").locked(datetime.now(UTC))
    assert _refused(_token_request(client, "jo.bloggs"))
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").totp_last_step is None


def test_disabled_user_cannot_sign_in_and_loses_their_token(
        client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _add(empty_db, neo4j_settings, "jo.bloggs")
    token = _token_request(client, "jo.bloggs").json()["access_token"]
    assert client.get("/me", headers=_bearer(token)).status_code == 200
    _write(empty_db, neo4j_settings, users.disable_user, username="jo.bloggs")
    refused = client.get("/me", headers=_bearer(token))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert _refused(_token_request(client, "jo.bloggs", otp=_code(1)))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic am86cHc="}])
def test_no_or_bad_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/me", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", list(Role))
def test_require_roles(client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings, role: Role) -> None:
    user = _add(empty_db, neo4j_settings, "jo.bloggs", role=role)
    token = _token_request(client, "jo.bloggs").json()["access_token"]
    response = client.get("/admin", headers=_bearer(token))
    if role in (Role.LA_ADMIN, Role.SAFEGUARDING_LEAD):
        assert response.status_code == 200 and response.json() == {"user_id": user.id}
    else:
        assert response.status_code == 403


def test_demo_user_signs_in(client: TestClient, empty_db: Driver, neo4j_settings: GraphSettings) -> None:
    _write(empty_db, neo4j_settings, users.ensure_demo_users)
    demo = next(d for d in users.DEMO_USERS if d.username == "la_admin.leeds")
    response = _token_request(client, demo.username, password=demo.password,
                              otp=totp_code(demo.totp_secret, datetime.now(UTC)))
    assert response.status_code == 200
    me = client.get("/me", headers=_bearer(response.json()["access_token"])).json()
    assert (me["user_id"], me["role"], me["la_code"]) == (demo.id, "la_admin", LEEDS)


# -- contactpoint users ... --------------------------------------------------------------------


@pytest.fixture()
def cli(empty_db: Driver, neo4j_settings: GraphSettings) -> Iterator[tuple[CliRunner, dict[str, str]]]:
    env = {"NEO4J_URI": neo4j_settings.bolt_uri, "NEO4J_USER": neo4j_settings.user,
           "NEO4J_PASSWORD": neo4j_settings.password.get_secret_value(), "NEO4J_DATABASE": neo4j_settings.database}
    get_settings.cache_clear()
    yield CliRunner(), env
    get_settings.cache_clear()


def test_cli_add_list_disable(cli: tuple[CliRunner, dict[str, str]], empty_db: Driver,
                              neo4j_settings: GraphSettings) -> None:
    runner, env = cli
    args = ["add", "jo.bloggs", "--name", "Jo Bloggs", "--role", "practitioner", "--la", BIRMINGHAM, "--agency", "AG-1"]
    added = runner.invoke(users_app, [*args, "--password-stdin"], input=f"{PASSWORD}\n", env=env)
    assert added.exit_code == 0, added.output
    login = _login_state(empty_db, neo4j_settings, "jo.bloggs")
    assert verify_password(login.password_hash, PASSWORD)
    assert login.totp_secret in added.stdout
    assert f"otpauth://totp/ContactPoint%3Ajo.bloggs?secret={login.totp_secret}" in added.stdout

    prompted = runner.invoke(users_app, ["add", "sam.admin", "--name", "Sam", "--role", "la_admin", "--la", LEEDS],
                             input=f"{PASSWORD}\n{PASSWORD}\n", env=env)
    assert prompted.exit_code == 0, prompted.output

    listed = runner.invoke(users_app, ["list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "jo.bloggs" in listed.stdout and "sam.admin" in listed.stdout
    assert "argon2" not in listed.stdout and login.totp_secret not in listed.stdout
    only_leeds = runner.invoke(users_app, ["list", "--la", LEEDS], env=env)
    assert "sam.admin" in only_leeds.stdout and "jo.bloggs" not in only_leeds.stdout

    disabled = runner.invoke(users_app, ["disable", "jo.bloggs"], env=env)
    assert disabled.exit_code == 0
    assert _login_state(empty_db, neo4j_settings, "jo.bloggs").disabled
    assert "disabled" in runner.invoke(users_app, ["list", "--la", BIRMINGHAM], env=env).stdout


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add", "jo.bloggs", "--name", "Jo", "--role", "practitioner", "--la", BIRMINGHAM, "--password-stdin"],
     "short\n", "at least 12 characters"),
    (["add", "jo.bloggs", "--name", "Jo", "--role", "practitioner", "--la", "E99", "--password-stdin"],
     f"{PASSWORD}\n", "ONS code"),
    (["add", "taken.name", "--name", "Jo", "--role", "auditor", "--la", BIRMINGHAM, "--password-stdin"],
     f"{PASSWORD}\n", "already exists"),
    (["disable", "nobody"], "", "no user 'nobody'"),
])
def test_cli_errors_are_one_line(cli: tuple[CliRunner, dict[str, str]], empty_db: Driver,
                                 neo4j_settings: GraphSettings, args: list[str], stdin: str, message: str) -> None:
    runner, env = cli
    _add(empty_db, neo4j_settings, "taken.name")
    result = runner.invoke(users_app, args, input=stdin, env=env)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_says_when_neo4j_is_not_there(cli: tuple[CliRunner, dict[str, str]]) -> None:
    runner, env = cli
    result = runner.invoke(users_app, ["list"], env={**env, "NEO4J_URI": "bolt://127.0.0.1:1"})
    assert result.exit_code == 1
    assert "not reachable" in result.stderr
