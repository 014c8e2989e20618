"""The child's story in the dashboard (AppTest, real API, real Neo4j): chronology, triaged inbox, every contact."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard import apptest
from tests.dashboard.conftest import auth_state
from tests.dashboard.world import SHIELDED_SECRETS

pytestmark = pytest.mark.usefixtures("dash_world", "dashboard_env")
PURPOSE = "strategy meeting preparation"


@pytest.fixture(scope="module")
def auth(dashboard_env: str, demo_tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """The dashboard's session state for each demo user, keyed like 'safeguarding_lead.birmingham'."""
    return {name: auth_state(dashboard_env, headers) for name, headers in demo_tokens.items()}


def child(child_id: str, purpose: str = PURPOSE) -> dict[str, Any]:
    return {"in.child": {"id": child_id, "purpose": purpose}}


def test_the_lead_reads_the_four_authorities_in_one_line(auth: dict[str, Any]) -> None:
    at = apptest.page("chronology", auth["safeguarding_lead.birmingham"], **child("X1"))
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Authorities lived in"] == "4" and metrics["Emergency visits"] == "3"
    assert metrics["Lead professional"] == "none" and metrics["Open gaps"] == "1"
    [chart] = at.get("plotly_chart")
    assert '"Emergency care"' in chart.proto.spec and '"Manchester Housing Options"' in chart.proto.spec
    table = at.dataframe[0].value  # the last two years, at first
    assert table["what"][0] == "Child protection plan started (Leeds responsible)"
    apptest.by_label(at.radio, "Period").set_value("Whole record").run()
    table = at.dataframe[0].value
    assert list(table["what"][:2]) == ["Registered with Kirkgate Surgery", "Living at 1 Nomad Court, LS1 1AA (Leeds)"]
    assert any("Sheffield Northern Emergency" in w for w in table["what"])
    assert any(w.startswith("Alert to Manchester (open)") for w in table["what"])
    lanes = apptest.by_label(at.multiselect, "Lanes")
    lanes.set_value(["Emergency care"]).run()
    assert set(at.dataframe[0].value["lane"]) == {"Emergency care"} and len(at.dataframe[0].value) == 3


def test_the_export_is_fetched_only_when_asked(auth: dict[str, Any], driver: Any, neo4j_settings: Any) -> None:
    def exports() -> int:
        records, _, _ = driver.execute_query("MATCH (e:AuditEvent {action: 'chronology_export'}) RETURN count(e) AS n",
                                             database_=neo4j_settings.database)
        return records[0]["n"]

    before = exports()
    at = apptest.page("chronology", auth["safeguarding_lead.birmingham"], **child("X1"))
    assert not at.download_button and exports() == before
    next(b for b in at.button if b.label == "Prepare the export for a meeting").click().run()
    [download] = at.download_button
    assert download.label == "Download the chronology (HTML, printable)" and exports() == before + 1


def test_a_shielded_child_has_no_chronology_and_a_sibling_keeps_the_secret(auth: dict[str, Any]) -> None:
    at = apptest.page("chronology", auth["safeguarding_lead.birmingham"], **child("S1"))
    text = apptest.texts(at)
    assert "This record is shielded" in text and not at.get("plotly_chart") and not at.dataframe
    sibling = apptest.page("chronology", auth["safeguarding_lead.birmingham"], **child("A1"))
    apptest.by_label(sibling.radio, "Period").set_value("Whole record").run()
    text = apptest.texts(sibling) + sibling.dataframe[0].value.to_string()
    assert "withheld to protect another member of this household" in text
    for secret in SHIELDED_SECRETS:
        assert secret not in text, secret
    team = apptest.page("chronology", auth["la_admin.birmingham"], **child("S1"))
    apptest.by_label(team.radio, "Period").set_value("Whole record").run()
    assert "1 Hidden Row" in team.dataframe[0].value.to_string()


def test_the_card_and_the_network_lead_to_the_chronology(auth: dict[str, Any]) -> None:
    card = apptest.page("card", auth["safeguarding_lead.birmingham"], **child("X1"))
    assert "Chronology" in {b.label for b in card.button}
    network = apptest.page("network", auth["safeguarding_lead.birmingham"], **child("X1"))
    assert "Chronology of this child" in {b.label for b in network.button}
    practitioner = apptest.page("card", auth["practitioner.birmingham"], **child("X1"))
    assert "Chronology" not in {b.label for b in practitioner.button}


def test_the_network_shows_hospitals_schools_and_gps_with_their_dates(auth: dict[str, Any]) -> None:
    at = apptest.page("network", auth["safeguarding_lead.birmingham"], **child("X1"))
    kinds = apptest.by_label(at.multiselect, "Agency kinds")
    assert {"Emergency care", "School", "GP practice", "Housing"} <= set(kinds.options)
    pick = apptest.by_label(at.selectbox, "Or choose someone in the network")
    pick.select_index(pick.options.index("Sheffield Northern Emergency")).run()
    text = apptest.texts(at)
    assert "attended 2 times: 01 Jun 2026 21:00, 15 Jul 2026 18:10" in text  # on the UK clock
    options = apptest.by_label(at.selectbox, "Or choose someone in the network").options
    assert "Kirkgate Surgery" in options and "Larchfield Primary" not in options  # current only: left in January
    apptest.by_label(at.radio, "Involvement").set_value("Current and ended").run()
    pick = apptest.by_label(at.selectbox, "Or choose someone in the network")
    pick.select_index(pick.options.index("Larchfield Primary")).run()
    assert "on the roll from 02 Sep 2019 to 05 Jan 2026" in apptest.texts(at)


def test_the_triaged_inbox_puts_the_compound_child_first_with_its_reasons(auth: dict[str, Any]) -> None:
    at = apptest.page("alerts", auth["safeguarding_lead.birmingham"])
    text = apptest.texts(at)
    assert "1. Zara Nomad" in text and "Lived in 4 authorities in the 12 months" in text
    assert "3 agencies involved now and no lead professional" in text
    assert {"Chronology", "Open child", "Acknowledge", "Close"} <= {b.label for b in at.button}
    apptest.by_label(at.radio, "Show").set_value("flat").run()
    assert "Lived in 4 authorities" not in apptest.texts(at) and "1. Zara Nomad" not in apptest.texts(at)


def test_the_management_team_triages_its_shielded_childrens_alerts(auth: dict[str, Any]) -> None:
    lead = apptest.texts(apptest.page("alerts", auth["safeguarding_lead.leeds"]))
    team = apptest.texts(apptest.page("alerts", auth["la_admin.leeds"]))
    assert "Zara Wren" in team and "Zara Wren" not in lead and "Zara Nomad" in lead
