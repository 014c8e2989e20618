"""Schemathesis over the OpenAPI schema, signed in as each role: no request ever gets a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo4j import Driver

from api.app import create_app
from api.config import ApiSettings
from graph.config import GraphSettings
from tests.conftest import restore_demo_users

ROLES = ("practitioner.birmingham", "safeguarding_lead.leeds", "la_admin.birmingham", "auditor.leeds",
         "reviewer.birmingham", None)


@pytest.mark.slow
def test_no_server_errors(demo_tokens: dict[str, dict[str, str]], driver: Driver,
                          neo4j_settings: GraphSettings) -> None:
    restore_demo_users(driver, neo4j_settings.database)
    # An app of its own: schemathesis runs the app's lifespan around its calls, which would close
    # the driver of the session's shared test client.
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(neo4j_settings, ApiSettings(demo_mode=True)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=st.one_of([op.as_strategy() for op in operations]), user=st.sampled_from(ROLES),
           purpose=st.sampled_from(["schema fuzzing", None]))
    def run(case: Any, user: str | None, purpose: str | None) -> None:
        headers = dict(case.headers or {})
        if user is not None:
            headers.update(demo_tokens[user])
        if purpose is not None:
            headers["X-Purpose"] = purpose
        case.headers = headers
        response = case.call()
        assert response.status_code < 500, f"{user}: {case.method} {case.formatted_path} -> {response.text[:300]}"
        if response.status_code >= 400:
            content_type = response.headers.get("content-type") or [""]
            assert content_type[0].startswith("application/problem+json"), response.text[:200]

    run()
