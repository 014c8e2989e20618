"""A dead database gives 503 with Retry-After and a clear message; the API recovers without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from graph.config import GraphSettings
from tests.tcp_proxy import Relay

pytestmark = pytest.mark.slow  # waits out connection timeouts while Neo4j is cut off


@pytest.fixture()
def relay(neo4j_settings: GraphSettings) -> Iterator[Relay]:
    if neo4j_settings.uri and not neo4j_settings.uri.startswith("bolt://127.0.0.1"):
        pytest.skip("needs the local test DBMS")
    relay = Relay(neo4j_settings.bolt_port)
    relay.restore()
    yield relay
    relay.cut()


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "not reachable" in body["detail"]
    assert "Traceback" not in response.text and "neo4j" not in response.text.lower()


def test_unreachable_database_is_503_with_retry_after(neo4j_settings: GraphSettings) -> None:
    dead = neo4j_settings.model_copy(update={"uri": "bolt://127.0.0.1:1"})
    with TestClient(create_app(dead, ApiSettings(demo_mode=True))) as client:
        _assert_503(client.get("/ready"))
        _assert_503(client.post("/auth/token", data={"username": "a", "password": "b", "otp": "123456"}))
        assert client.get("/health").status_code == 200


def test_api_recovers_when_the_database_returns(neo4j_settings: GraphSettings, relay: Relay,
                                                demo_tokens: dict[str, dict[str, str]]) -> None:
    via_relay = neo4j_settings.model_copy(update={"uri": f"bolt://127.0.0.1:{relay.port}"})
    headers = {**demo_tokens["auditor.birmingham"]}
    with TestClient(create_app(via_relay, ApiSettings(demo_mode=True))) as client:
        assert client.get("/ready").status_code == 200
        assert client.get("/audit", headers=headers).status_code == 200
        relay.cut()
        _assert_503(client.get("/ready"))
        _assert_503(client.get("/audit", headers=headers))
        relay.restore()
        deadline = time.monotonic() + 10
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the API did not recover within 10 s of the database returning"
            time.sleep(0.2)
        assert client.get("/audit", headers=headers).status_code == 200


def test_a_look_the_audit_trail_cannot_record_is_503_and_shows_nothing(
    neo4j_settings: GraphSettings, demo_tokens: dict[str, dict[str, str]],
) -> None:
    """Without its audit event no child data goes out: a writer that cannot commit (here, closed) is a 503 with
    Retry-After and a clear message, never a 500 nor the card."""
    headers = {**demo_tokens["practitioner.birmingham"], "X-Purpose": "outage test"}
    with TestClient(create_app(neo4j_settings, ApiSettings(demo_mode=True))) as client:
        assert client.get("/children/search", headers=headers,
                          params={"family_name": "Nobody", "gender": "female"}).status_code == 200
        client.app.state.audit.close()
        response = client.get("/children/search", headers=headers, params={"family_name": "Nobody", "gender": "female"})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert response.headers["content-type"] == "application/problem+json"
        assert "audit trail could not record" in response.json()["detail"]
        assert "results" not in response.json() and "Traceback" not in response.text
