"""Hostile requests on a real API process: stateful fuzzing, oversized input, bad tokens, brute force, headers."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from neo4j import Driver
from pydantic import SecretStr

from api.app import SECURITY_HEADERS, create_app
from api.config import ApiSettings
from api.security import issue_token
from graph.credentials import hash_password, new_totp_secret, totp_code
from graph import users
from graph.config import GraphSettings
from graph.viewer import Role, Viewer
from tests.reliability.conftest import ApiServer, World, mint_tokens

# The roles whose starting operations (the inbox, the case list, the trail) lead somewhere.
ROLES = ("safeguarding_lead.birmingham", "la_admin.birmingham", "auditor.leeds", "reviewer.birmingham")


@pytest.fixture(scope="module")
def api(rel_settings: GraphSettings, england: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with ApiServer(rel_settings, tmp_path_factory.mktemp("api") / "api.log") as server:
        yield server


def assert_enveloped(response: Any) -> None:
    """The security headers and a request id on a response, and problem+json on every error."""
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name.lower()) == value, (response.status_code, name)
    assert headers.get("x-request-id")
    if response.status_code >= 400:
        assert headers["content-type"].startswith("application/problem+json"), response.status_code


# -- a stateful schemathesis run -----------------------------------------------------------------


def test_stateful_fuzzing_gets_no_server_error(api: ApiServer, rel_driver: Driver, rel_settings: GraphSettings,
                                               england: World) -> None:
    """Schemathesis follows the schema's links (inbox -> acknowledge, close, the child's record; search -> ...)."""
    tokens = mint_tokens(rel_driver, rel_settings.database)
    team = {**tokens["la_admin.birmingham"], "X-Purpose": "set up"}
    for child in england.birmingham[20:23]:  # open alerts in the team's inbox, about children it may open
        assert httpx.post(f"{api.url}/children/{child}/shield", headers=team, json={"reason": "set up"}).is_success
        assert httpx.post(f"{api.url}/children/{child}/override", json={"reason": "set up glass"}, headers={
            **tokens["safeguarding_lead.leeds"], "X-Purpose": "set up"}).is_success
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    seen: dict[str, set[tuple[str, int]]] = {}
    for role in ROLES:
        class Machine(schema.as_state_machine()):  # type: ignore[misc]
            def before_call(self, case: Any) -> None:
                case.headers = {**(case.headers or {}), **tokens[role], "X-Purpose": "stateful fuzzing"}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                seen.setdefault(role, set()).add((case.operation.label, response.status_code))
                assert response.status_code < 500, f"{role}: {case.method} {case.formatted_path} -> " \
                                                   f"{response.status_code} {response.text[:300]}"
                assert_enveloped(response)

        Machine.run(settings=settings(max_examples=8, stateful_step_count=8, deadline=None,
                                      phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
    reached = {op for answers in seen.values() for op, status in answers if status == 200 and "{" in op}
    assert reached, "no link led to a record: the run never left the starting operations"


# -- oversized input -----------------------------------------------------------------------------


def _raw(api: ApiServer, request: bytes) -> bytes:
    """Send bytes as they are and read the answer (httpx would refuse to send some of these)."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
    return answer


def test_oversized_bodies_and_parameters_are_refused(api: ApiServer, rel_driver: Driver, rel_settings: GraphSettings,
                                                     england: World) -> None:
    tokens = mint_tokens(rel_driver, rel_settings.database)
    lead = {**tokens["safeguarding_lead.birmingham"], "X-Purpose": "size test"}
    child = england.birmingham[0]
    with httpx.Client(base_url=api.url, timeout=30) as client:
        big = client.post(f"/children/{child}/override", headers=lead, json={"reason": "x" * 20_000})
        assert big.status_code == 413
        chunked = client.post(f"/children/{child}/override", headers={**lead, "Content-Type": "application/json"},
                              content=iter([b'{"reason": "', b"x" * 10_000, b"y" * 10_000, b'"}']))
        assert chunked.status_code == 413
        deep = client.post(f"/children/{child}/override", headers={**lead, "Content-Type": "application/json"},
                           content=b"[" * 8000 + b"]" * 8000)
        assert deep.status_code in (400, 422)
        long = client.get("/children/search", headers=lead, params={"given_name": "a" * 5000, "family_name": "b"})
        assert long.status_code == 414
        many = client.get("/children/search?" + "&".join(["given_name=Amelia"] * 300), headers=lead)
        assert many.status_code in (414, 422)
        wide = client.get(f"/children/{'C' * 65}", headers=lead)
        assert wide.status_code == 422
        for response in (big, chunked, deep, long, many, wide):
            assert_enveloped(response)
        assert "x" * 100 not in big.text
    claimed = _raw(api, (f"POST /children/{child}/override HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 1000000000000\r\n\r\n").encode())
    assert claimed.startswith(b"HTTP/1.1 413")
    header = _raw(api, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 200_000 + b"\r\n\r\n")
    assert header.startswith(b"HTTP/1.1 431"), header[:80]
    assert b"x-content-type-options: nosniff" in header.lower()
    assert httpx.get(f"{api.url}/health").status_code == 200  # and the server goes on serving


# -- tokens --------------------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(good: str, viewer: Viewer) -> dict[str, str]:
    settings_ = ApiSettings(demo_mode=True)
    now = datetime.now(timezone.utc)
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    unsigned = {**claims, "role": "la_admin"}
    other_key = ApiSettings(demo_mode=True, jwt_secret=SecretStr("a-different-signing-key-of-enough-length-01"))
    key = settings_.jwt_secret.get_secret_value()
    return {
        "expired": issue_token(settings_, viewer, now=now - timedelta(minutes=settings_.token_minutes + 1))[0],
        "forged": f"{header}.{_b64({**claims, 'role': 'la_admin'})}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(unsigned)}.",
        "alg none, library-made": jwt.encode(unsigned, key=None, algorithm="none"),
        "wrong key": issue_token(other_key, viewer, now=now)[0],
        "other algorithm": jwt.encode({**claims}, key + "-" * 40, algorithm="HS512"),
        "other audience": jwt.encode({**claims, "aud": "someone-else"}, key, algorithm="HS256"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key, algorithm="HS256"),
        "unknown user": issue_token(settings_, Viewer("no-such-user", Role.LA_ADMIN, viewer.la_code), now=now)[0],
        "garbage": "abc.def.ghi",
    }


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_expired_forged_unsigned_and_wrong_key_tokens_are_refused(api: ApiServer, rel_driver: Driver,
                                                                  rel_settings: GraphSettings, england: World) -> None:
    with rel_driver.session(database=rel_settings.database) as session:
        user = session.execute_read(lambda tx: users.get_user_for_login(tx, username="practitioner.birmingham"))
    good = mint_tokens(rel_driver, rel_settings.database)["practitioner.birmingham"]["Authorization"][7:]
    child = england.children[0]["id"]
    with httpx.Client(base_url=api.url, timeout=30) as client:
        assert client.get(f"/children/{child}", headers={"Authorization": f"Bearer {good}", "X-Purpose": "t"}
                          ).status_code == 200
        for name, token in _bad_tokens(good, user.viewer()).items():
            for path in (f"/children/{child}", f"/children/{child}/network", "/audit", "/alerts"):
                response = client.get(path, headers={"Authorization": f"Bearer {token}", "X-Purpose": "t"})
                assert response.status_code == 401, (name, path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert "given_name" not in response.text and "events" not in response.json()
                assert_enveloped(response)


# -- brute force ---------------------------------------------------------------------------------


def test_brute_force_sign_in_is_locked_out(api: ApiServer, rel_driver: Driver, rel_settings: GraphSettings) -> None:
    secret, password = new_totp_secret(), "the right password, at last"
    username = f"target.{datetime.now().strftime('%H%M%S%f')}"
    with rel_driver.session(database=rel_settings.database) as session:
        session.execute_write(lambda tx: users.create_user(
            tx, username=username, name="Brute Force Target", role="practitioner", la_code=users.LEEDS,
            password_hash=hash_password(password), totp_secret=secret))

    def attempt(guess: str) -> httpx.Response:
        code = totp_code(secret, datetime.now(timezone.utc))
        return httpx.post(f"{api.url}/auth/token", data={"username": username, "password": guess, "otp": code},
                          timeout=60)

    with ThreadPoolExecutor(8) as pool:  # guesses in parallel are all counted
        wrong = list(pool.map(attempt, [f"guess number {i}" for i in range(8)]))
    assert all(r.status_code == 401 for r in wrong)
    refused = attempt(password)
    assert refused.status_code == 401, "the right password got in during the lockout"
    assert refused.json()["detail"] == wrong[0].json()["detail"]  # a locked account looks like a wrong guess
    nobody = httpx.post(f"{api.url}/auth/token", data={"username": "no.such.user", "password": "x" * 12,
                                                       "otp": "123456"}, timeout=60)
    assert nobody.status_code == 401 and nobody.json()["detail"] == refused.json()["detail"]
    with rel_driver.session(database=rel_settings.database) as session:
        locked = session.execute_read(lambda tx: users.get_user_for_login(tx, username=username))
    assert locked.locked(datetime.now(timezone.utc))
    for response in (*wrong, refused, nobody):
        assert_enveloped(response)


# -- security headers on every response ----------------------------------------------------------


def test_security_headers_on_every_kind_of_response(api: ApiServer, rel_driver: Driver, rel_settings: GraphSettings,
                                                    england: World) -> None:
    tokens = mint_tokens(rel_driver, rel_settings.database)
    practitioner = {**tokens["practitioner.birmingham"], "X-Purpose": "headers"}
    child = england.children[0]["id"]
    seen: dict[int, str] = {}
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for method, path, headers, body in [
            ("GET", "/health", {}, None), ("GET", "/ready", {}, None), ("GET", "/openapi.json", {}, None),
            ("GET", f"/children/{child}", practitioner, None),
            ("GET", f"/children/{child}", tokens["practitioner.birmingham"], None),  # 400: no purpose
            ("GET", f"/children/{child}", {"X-Purpose": "headers"}, None),  # 401
            ("GET", "/audit", practitioner, None),  # 403
            ("GET", "/children/NO-SUCH-CHILD", practitioner, None), ("GET", "/no/such/route", {}, None),  # 404
            ("PUT", "/health", {}, None),  # 405
            ("POST", f"/children/{child}/override", practitioner, b"x" * 20_000),  # 413
            ("GET", "/children/search?given_name=" + "a" * 5000, practitioner, None),  # 414
            ("GET", "/children/search?given_name=1", practitioner, None),  # 422
            ("GET", "/health", {"X-Big": "h" * 20_000}, None),  # 431
        ]:
            response = client.request(method, path, headers=headers, content=body)
            assert_enveloped(response)
            seen[response.status_code] = path
    assert set(seen) == {200, 400, 401, 403, 404, 405, 413, 414, 422, 431}, seen


def test_an_unexpected_error_is_a_500_with_the_headers(rel_settings: GraphSettings, tmp_path: Path) -> None:
    app = create_app(rel_settings, ApiSettings(demo_mode=True))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("an internal detail that must not leave the API")

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert_enveloped(response)
    assert "internal detail" not in response.text and "Traceback" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]
