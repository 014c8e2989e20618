"""Page logic in AppTest against the real API (uvicorn) on the real test Neo4j: what each role sees and does."""

from __future__ import annotations

import time
from typing import Any

import pytest
from neo4j import Driver

from dashboard import nav, roles
from graph.config import GraphSettings
from tests.dashboard import apptest
from tests.dashboard.conftest import FORM_PASSWORD, FORM_SECRET, auth_state, fresh_code
from tests.dashboard.world import SHIELDED_SECRETS

# Every page of every role in Streamlit's AppTest: minutes, so outside `make test-fast`.
pytestmark = [pytest.mark.usefixtures("dash_world", "dashboard_env"), pytest.mark.slow]
PURPOSE = "planning a home visit"


@pytest.fixture(scope="module")
def auth(dashboard_env: str, demo_tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """The dashboard's session state for each Birmingham demo user (tokens signed in once for the suite)."""
    return {name.split(".")[0]: auth_state(dashboard_env, headers) for name, headers in demo_tokens.items()
            if name.endswith(".birmingham")}


def child(child_id: str, purpose: str = PURPOSE) -> dict[str, Any]:
    return {"in.child": {"id": child_id, "purpose": purpose}}


# -- every page re-checks the role -------------------------------------------------------------

REFUSED = [(spec.key, role) for spec in nav.PAGES for role in roles.Role if role not in spec.roles]


@pytest.mark.parametrize(("key", "role"), REFUSED)
def test_a_page_stops_for_a_role_it_is_not_for(key: str, role: str) -> None:
    auth = {"token": "not-used", "expires_at": time.time() + 600,
            "user": {"username": "someone", "name": "Someone", "role": role, "la_code": "E08000025"}}
    at = apptest.page(key, auth, **child("C1"))
    assert [e.value for e in at.error] and "not available to you" in at.error[0].value
    assert not at.title and not at.table and not at.dataframe  # stopped before asking the API anything


def test_a_page_stops_for_nobody_signed_in() -> None:
    at = apptest.page("card", None, **child("C1"))
    assert "not available to you" in at.error[0].value and not at.title


# -- practitioner ------------------------------------------------------------------------------


def test_search_says_the_rules_before_asking(auth: dict[str, Any]) -> None:
    at = apptest.page("search", auth["practitioner"])
    apptest.by_label(at.text_input, "Given name").input("Amara")
    apptest.by_label(at.text_input, "Why are you looking?").input(PURPOSE)
    at.button[0].click().run()
    assert "at least two" in at.warning[0].value
    assert "Amara" not in apptest.texts(at).replace("Amara", "", 1)


def test_practitioner_finds_a_child_by_a_misspelt_name(auth: dict[str, Any]) -> None:
    at = apptest.page("search", auth["practitioner"])
    apptest.by_label(at.text_input, "Given name").input("Amarra")
    apptest.by_label(at.text_input, "Family name").input("Bello")
    apptest.by_label(at.text_input, "Why are you looking?").input(PURPOSE)
    at.button[0].click().run()
    text = apptest.texts(at)
    assert "Amara Bello" in text and "B13 8JP" in text
    assert at.session_state["in.search"]["purpose"] == PURPOSE


def test_the_record_opens_only_after_a_purpose_is_stated(auth: dict[str, Any]) -> None:
    at = apptest.page("card", auth["practitioner"], **{"in.child": {"id": "C1", "suggested": ""}})
    assert "State why you are opening this record" in apptest.texts(at) and "data" not in at.session_state
    apptest.by_label(at.text_input, "Why are you opening this record?").input(PURPOSE)
    at.button[0].click().run()
    assert "Lead professional: Bea Whitfield" in apptest.texts(at)


def test_contacts_card_for_a_practitioner(auth: dict[str, Any]) -> None:
    text = apptest.texts(apptest.page("card", auth["practitioner"], **child("C1")))
    for expected in ("Amara Bello", "Lead professional: Bea Whitfield", "Bordesley Academy", "Edgbaston Surgery",
                     "Joy Bello", "Tunde Bello", "Rio Mensah", "14 Elm Road", "Child in need"):
        assert expected in text, expected
    assert "Cal Minter" not in text  # CAMHS without consent: not for practitioners (rule 5)
    assert "Paul Oduya" not in text  # ended involvement: not on the card


def test_a_shielded_record_shows_only_its_holding_team(auth: dict[str, Any]) -> None:
    at = apptest.page("card", auth["practitioner"], **child("S1"))
    text = apptest.texts(at)
    assert "This record is shielded" in text and "Birmingham" in text and "team@birmingham.example" in text
    for secret in SHIELDED_SECRETS:
        assert secret not in text, secret
    assert not at.expander  # no break-glass for practitioners


def test_a_sibling_card_withholds_the_shielded_childs_home(auth: dict[str, Any]) -> None:
    text = apptest.texts(apptest.page("card", auth["practitioner"], **child("A1")))
    assert "Amelia Okafor" in text and "withheld to protect" in text
    for secret in SHIELDED_SECRETS:
        assert secret not in text, secret


# -- safeguarding lead -------------------------------------------------------------------------


def test_lead_sees_the_sensitive_service_and_next_steps(auth: dict[str, Any]) -> None:
    at = apptest.page("card", auth["safeguarding_lead"], **child("C1"))
    assert "Cal Minter" in apptest.texts(at)
    assert {b.label for b in at.button} >= {"Involvement network", "Moves and map", "Record accesses"}


def test_network_expands_to_a_sibling(auth: dict[str, Any]) -> None:
    at = apptest.page("network", auth["safeguarding_lead"], **child("C1"))
    assert at.get("plotly_chart") and not at.error
    pick = apptest.by_label(at.selectbox, "Or choose someone in the network")
    assert "Hana Visser" not in pick.options
    pick.select_index(pick.options.index("Kemi Bello")).run()
    assert at.session_state["in.network"]["expanded"] == ["C2"]
    assert "Hana Visser" in apptest.by_label(at.selectbox, "Or choose someone in the network").options


def test_network_filters_by_kind_and_by_ended_involvement(auth: dict[str, Any]) -> None:
    at = apptest.page("network", auth["safeguarding_lead"], **child("C1"))
    apptest.by_label(at.radio, "Involvement").set_value("Ended only").run()
    options = apptest.by_label(at.selectbox, "Or choose someone in the network").options
    assert "Paul Oduya" in options and "Bea Whitfield" not in options
    apptest.by_label(at.radio, "Involvement").set_value("Current only").run()
    kinds = apptest.by_label(at.multiselect, "Agency kinds")
    kinds.set_value([k for k in kinds.value if k != "CAMHS (mental health)"]).run()
    options = apptest.by_label(at.selectbox, "Or choose someone in the network").options
    assert "Bea Whitfield" in options and "Cal Minter" not in options and "Paul Oduya" not in options


def test_moves_of_a_child_across_four_authorities(auth: dict[str, Any]) -> None:
    at = apptest.page("moves", auth["safeguarding_lead"], **child("X1"))
    text = apptest.texts(at)
    assert "Leeds → Manchester" in text and "Sheffield → Birmingham" in text and "Child protection plan" in text
    timeline, grid = at.get("plotly_chart")  # the timeline (homes and plans) and the map
    assert '"Plans"' in timeline.proto.spec and '"Child protection plan"' in timeline.proto.spec
    assert "429900" in grid.proto.spec and "mapbox" not in grid.proto.spec and "tile" not in grid.proto.spec


def test_alerts_acknowledge_needs_a_note_then_close(auth: dict[str, Any]) -> None:
    # In the list of every alert, one kind: the child who went through four authorities keeps its alerts open.
    at = apptest.page("alerts", auth["safeguarding_lead"], **{"in.alerts": {"view": "flat", "state": "open",
                                                                           "kind": "no_school_roll", "skip": 0,
                                                                           "purpose": "inbox"}})
    before = {m.label: m.value for m in at.metric}
    assert int(before["Open"]) > 0
    ack = next(b for b in at.button if b.label == "Acknowledge")
    ack.click().run()
    assert "before acknowledging" in at.warning[0].value
    apptest.by_label(at.text_input, "What is being done").input("Transfer-in conference booked")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert "Alert acknowledged" in at.success[0].value
    after = {m.label: m.value for m in at.metric}
    assert (int(after["Open"]), int(after["Acknowledged"])) == (int(before["Open"]) - 1,
                                                                 int(before["Acknowledged"]) + 1)


def test_break_glass_opens_once_with_a_warning_and_tells_the_holding_team(auth: dict[str, Any]) -> None:
    at = apptest.page("card", auth["safeguarding_lead"], **child("S1"))
    assert "This record is shielded" in apptest.texts(at) and "1 Hidden Row" not in apptest.texts(at)
    apptest.by_label(at.text_area, "Reason for the override").input("Police report of immediate risk tonight")
    apptest.by_label(at.checkbox, "I understand this override will be investigated").check()
    next(b for b in at.button if b.label == "Open shielded record").click().run()
    text = apptest.texts(at)
    assert "will be investigated" in text and "1 Hidden Row" in text
    inbox = apptest.page("alerts", auth["la_admin"], **{"in.alerts": {"state": "open", "kind": "break_glass",
                                                                       "skip": 0, "purpose": "inbox"}})
    assert "opened shielded record S1 by override: Police report of immediate risk tonight" in apptest.texts(inbox)


def test_last_accesses_list_who_looked(auth: dict[str, Any]) -> None:
    apptest.page("card", auth["practitioner"], **child("C1", "checking the accesses list"))
    text = apptest.texts(apptest.page("accesses", auth["safeguarding_lead"], **child("C1")))
    assert "checking the accesses list" in text and "practitioner" in text


# -- LA management team ------------------------------------------------------------------------


def test_admin_shields_and_unshields(auth: dict[str, Any]) -> None:
    at = apptest.page("shielding", auth["la_admin"], **child("C2"))
    apptest.by_label(at.text_area, "Reason (recorded)").input("Risk from an estranged parent")
    apptest.by_label(at.checkbox, "Shield this record").check()
    next(b for b in at.button if b.label == "Shield record").click().run()
    assert "now shielded" in at.success[0].value
    seen = apptest.texts(apptest.page("card", auth["practitioner"], **child("C2", "after shielding")))
    assert "This record is shielded" in seen and "14 Elm Road" not in seen
    apptest.by_label(at.text_area, "Reason (recorded)").input("Risk has passed, reviewed")
    apptest.by_label(at.checkbox, "Lift the shield").check()
    next(b for b in at.button if b.label == "Lift shield").click().run()
    assert "no longer shielded" in at.success[0].value


def test_admin_exports_what_is_held_about_a_child(auth: dict[str, Any]) -> None:
    at = apptest.page("subject_access", auth["la_admin"], **child("C1", "subject access request SAR-7"))
    apptest.by_label(at.radio, "Format").set_value("json").run()
    next(b for b in at.button if b.label == "Prepare the export").click().run()
    text = apptest.texts(at)
    assert "Amara Bello" in text and "looks at the record" in text and not at.error
    assert at.get("download_button")
    apptest.by_label(at.radio, "Format").set_value("html").run()
    next(b for b in at.button if b.label == "Prepare the export").click().run()
    assert "readable document is ready" in apptest.texts(at) and at.get("download_button")


def test_admin_corrects_a_field_and_practitioners_see_it(auth: dict[str, Any]) -> None:
    at = apptest.page("corrections", auth["la_admin"], **child("C2", "rectification request"))
    assert "No corrections of this record" in apptest.texts(at)
    apptest.by_label(at.selectbox, "Field").set_value("given_name")
    apptest.by_label(at.text_input, "Corrected value").input("Kwabena")
    apptest.by_label(at.text_area, "Reason (recorded)").input("Birth certificate seen by the team")
    next(b for b in at.button if b.label == "Correct the record").click().run()
    assert "corrected to Kwabena" in at.success[0].value
    card = apptest.texts(apptest.page("card", auth["practitioner"], **child("C2", "after the correction")))
    assert "Kwabena" in card
    apptest.by_label(at.text_input, "Reason (recorded)").input("Entered against the wrong child")
    next(b for b in at.button if b.label == "Withdraw").click().run()
    assert "was withdrawn" in at.success[0].value
    assert "Kwabena" not in apptest.texts(apptest.page("card", auth["practitioner"], **child("C2", "after withdrawal")))


def test_admin_lists_only_their_authoritys_users(auth: dict[str, Any]) -> None:
    text = apptest.texts(apptest.page("users", auth["la_admin"]))
    assert "practitioner.birmingham" in text and "dash.signin" in text
    assert ".leeds" not in text and "argon2" not in text


# -- auditor and reviewer ----------------------------------------------------------------------


def test_auditor_searches_by_child_and_verifies_the_chain(auth: dict[str, Any]) -> None:
    at = apptest.page("audit", auth["auditor"])
    apptest.by_label(at.text_input, "Child directory ID").input("C1")
    at.button[0].click().run()
    events = at.dataframe[0].value
    assert len(events) and set(events["action"]) >= {"card"} and all("C1" in c for c in events["children"])
    at = apptest.page("verify", auth["auditor"])
    at.button[0].click().run()
    assert "Chain intact" in at.success[0].value


def test_reviewer_sees_suppressed_patterns_and_a_case(auth: dict[str, Any]) -> None:
    text = apptest.texts(apptest.page("patterns", auth["reviewer"]))
    assert "<5" in text and "Many agencies, no lead professional" in text
    at = apptest.page("cases", auth["reviewer"])
    case = apptest.by_label(at.selectbox, "Open a case")
    assert len(case.options) > 1
    case.select_index(1).run()
    text = apptest.texts(at)
    assert "Chronology by agency" in text and "Bello" not in text and "Nomad" not in text
    assert "Fragmentation" in apptest.texts(apptest.page("measures", auth["reviewer"]))


# -- sign-in, sign-out, and an ended session ---------------------------------------------------


def sign_in(at: Any, driver: Driver, settings: GraphSettings, username: str, code: str | None = None) -> Any:
    apptest.by_label(at.text_input, "Username").input(username)
    apptest.by_label(at.text_input, "Password").input(FORM_PASSWORD)
    apptest.by_label(at.text_input, "Authenticator code").input(
        code or fresh_code(driver, settings.database, username, FORM_SECRET))
    return at.button[0].click().run()


def test_sign_in_builds_the_pages_of_the_role_and_sign_out_forgets(driver: Driver,
                                                                    neo4j_settings: GraphSettings) -> None:
    at = apptest.app()
    assert at.title[0].value == "ContactPoint graph explorer"
    sign_in(at, driver, neo4j_settings, "dash.signin", code="000000")
    assert "not accepted" in at.error[0].value and "auth" not in at.session_state
    sign_in(at, driver, neo4j_settings, "dash.signin")
    assert at.session_state["auth"]["user"]["role"] == "practitioner"
    assert at.title[0].value == "Find a child"
    at.session_state["in.search"] = {"given_name": "Amara", "family_name": "Bello", "dob": "", "gender": "",
                                     "postcode": "", "purpose": PURPOSE}
    at.run()
    assert "Amara Bello" in apptest.texts(at)
    at.button(key="sign-out").click().run()
    assert "auth" not in at.session_state and "data" not in at.session_state and "in.search" not in at.session_state
    assert at.title[0].value == "ContactPoint graph explorer"


def test_an_ended_session_returns_to_the_same_place(auth: dict[str, Any], driver: Driver,
                                                    neo4j_settings: GraphSettings) -> None:
    expired = {**auth["practitioner"], "token": "stale-token",  # no longer accepted by the API
               "user": {**auth["practitioner"]["user"], "username": "dash.restore"}}
    at = apptest.app(auth=expired, **{"in.search": {"given_name": "Amara", "family_name": "Bello", "dob": "",
                                                    "gender": "", "postcode": "", "purpose": PURPOSE}})
    assert "Your session ended" in apptest.texts(at) and "auth" not in at.session_state
    assert "Amara Bello" not in apptest.texts(at)
    sign_in(at, driver, neo4j_settings, "dash.restore")
    assert at.title[0].value == "Find a child" and "Amara Bello" in apptest.texts(at)


def test_signing_in_again_returns_to_the_card_of_the_same_child(driver: Driver,
                                                                neo4j_settings: GraphSettings) -> None:
    at = apptest.app(return_to={"username": "dash.back", "page": "card"}, **{"in.child": {"id": "C1",
                                                                                         "purpose": PURPOSE}})
    sign_in(at, driver, neo4j_settings, "dash.back")
    assert at.title[0].value == "Contacts card" and "Lead professional: Bea Whitfield" in apptest.texts(at)


def test_another_user_signing_in_does_not_inherit_the_place(driver: Driver, neo4j_settings: GraphSettings) -> None:
    at = apptest.app(return_to={"username": "dash.back", "page": "card"},
                     **{"in.child": {"id": "C1", "purpose": PURPOSE}})
    sign_in(at, driver, neo4j_settings, "dash.other")
    assert at.title[0].value == "Find a child" and "in.child" not in at.session_state
