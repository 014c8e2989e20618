"""Page logic for the emergency-department clinician's flag page, and the card's own actions: "I am working with
this child" and choosing the lead professional (AppTest against the real API on the real test Neo4j)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from neo4j import Driver

from graph import users
from graph.config import GraphSettings
from graph.credentials import hash_password, totp_code
from tests.dashboard import apptest
from tests.dashboard.conftest import auth_state
from tests.dashboard.world import SHIELDED_SECRETS

pytestmark = pytest.mark.usefixtures("dash_world", "dashboard_env")
PURPOSE = "planning a home visit"
WORKER, WORKER_PASSWORD, WORKER_SECRET = "dash.worker", "dashboard worker test password", "KRSXG5CTMVRXEZLUKRSXG5CT"


@pytest.fixture(scope="module")
def auth(dashboard_env: str, demo_tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """The dashboard's session state for each Birmingham demo user."""
    return {name.split(".")[0]: auth_state(dashboard_env, headers) for name, headers in demo_tokens.items()
            if name.endswith(".birmingham")}


@pytest.fixture(scope="module")
def worker(dashboard_env: str, driver: Driver, neo4j_settings: GraphSettings) -> dict[str, Any]:
    """A practitioner of Bordesley Academy, signed in (the demo practitioner works for no agency here)."""
    with driver.session(database=neo4j_settings.database) as session:
        session.execute_write(users.create_user, username=WORKER, name="Wren Worker", role="practitioner",
                              la_code="E08000025", password_hash=hash_password(WORKER_PASSWORD),
                              totp_secret=WORKER_SECRET, agency_id="SCH-B")
    response = httpx.post(f"{dashboard_env}/auth/token", timeout=30, data={
        "username": WORKER, "password": WORKER_PASSWORD, "otp": totp_code(WORKER_SECRET, datetime.now(UTC))})
    response.raise_for_status()
    return auth_state(dashboard_env, {"Authorization": f"Bearer {response.json()['access_token']}"})


def child(child_id: str, purpose: str = PURPOSE) -> dict[str, Any]:
    return {"in.child": {"id": child_id, "purpose": purpose}}


def button(at: Any, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


# -- the emergency-department clinician ------------------------------------------------------------

def look(at: Any, given: str, family: str, dob: str) -> Any:
    apptest.by_label(at.text_input, "Given name").input(given)
    apptest.by_label(at.text_input, "Family name").input(family)
    apptest.by_label(at.date_input, "Date of birth").set_value(datetime.fromisoformat(dob).date())
    return button(at, "Check the flag").click().run()


def test_the_clinician_sees_the_flag_and_whom_to_call(auth: dict[str, Any]) -> None:
    at = look(apptest.page("flag", auth["ed_clinician"]), "Zara", "Nomad", "2014-02-11")
    text = apptest.texts(at)
    assert "Zara Nomad" in text and "Child protection plan" in text and "(current)" in text
    assert "Leeds" in text and "team@leeds.example" in text and "has been told" in text
    for elsewhere in ("Court", "Yasmin", "Larchfield", "Kirkgate", "Lorna Casey", "B5 4TR"):
        assert elsewhere not in text, elsewhere


def test_a_shielded_child_shows_the_clinician_its_holding_team_only(auth: dict[str, Any]) -> None:
    text = apptest.texts(look(apptest.page("flag", auth["ed_clinician"]), "Sophie", "Okafor", "2016-07-02"))
    assert "This record is shielded" in text and "team@birmingham.example" in text
    for secret in SHIELDED_SECRETS:
        assert secret not in text, secret


def test_no_flag_is_said_plainly(auth: dict[str, Any]) -> None:
    text = apptest.texts(look(apptest.page("flag", auth["ed_clinician"]), "Amara", "Bello", "2015-04-12"))
    assert "No child protection plan or looked-after status" in text and "Bea Whitfield" not in text


def test_the_flag_page_says_what_it_needs_before_asking(auth: dict[str, Any]) -> None:
    at = apptest.page("flag", auth["ed_clinician"])
    apptest.by_label(at.text_input, "Given name").input("Zara")
    button(at, "Check the flag").click().run()
    assert "NHS number, or their given name, family name and date of birth" in at.warning[0].value
    assert "Nomad" not in apptest.texts(at)


# -- "I am working with this child" and the lead professional ---------------------------------------

def test_a_practitioner_records_and_ends_their_involvement_on_the_card(worker: dict[str, Any]) -> None:
    at = apptest.page("card", worker, **child("C2"))
    assert "Wren Worker" not in apptest.texts(at)
    apptest.by_label(at.selectbox, "Service").set_value("school_nursing")
    apptest.by_label(at.text_input, "Your phone").input("07700 900999")
    button(at, "Record my involvement").click().run()
    text = apptest.texts(at)
    assert "Your involvement is recorded" in text and "Wren Worker" in text and "recorded by the practitioner" in text
    assert "You are working with this child: **School nursing**" in text
    button(at, "End it").click().run()
    text = apptest.texts(at)
    assert "has ended" in text and "Wren Worker" not in text


def test_an_account_without_an_agency_is_told_why_nothing_was_recorded(auth: dict[str, Any]) -> None:
    at = apptest.page("card", auth["practitioner"], **child("C2"))
    button(at, "Record my involvement").click().run()
    assert "names no agency" in at.error[0].value


def test_only_leads_choose_the_lead_professional(auth: dict[str, Any]) -> None:
    for role in ("practitioner", "la_admin"):
        at = apptest.page("card", auth[role], **child("C1"))
        assert "Set as lead professional" not in {b.label for b in at.button}, role


def test_a_lead_chooses_the_lead_professional_on_the_card(auth: dict[str, Any]) -> None:
    # Kemi (C2), not Zara (X1): the chronology and triage pages' tests need X1 with no lead, as its story has.
    at = apptest.page("card", auth["safeguarding_lead"], **child("C2"))
    assert "No lead professional is recorded" in apptest.texts(at)
    pick = apptest.by_label(at.selectbox, "Lead professional")
    assert any("Hana Visser" in option for option in pick.options)
    pick.set_value(("P-HV", "health_visiting"))
    button(at, "Set as lead professional").click().run()
    text = apptest.texts(at)
    assert "Hana Visser is now the lead professional" in text and "Lead professional: Hana Visser" in text
