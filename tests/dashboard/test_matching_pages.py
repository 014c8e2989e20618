"""The data team's pages in AppTest against the real API: the review queue, its waterfall, accept and reject,
merge and undo; a shielded child's pair only for the holding team. (Other roles are refused these pages by
test_pages.py::test_a_page_stops_for_a_role_it_is_not_for, which covers every page and role.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from neo4j import Driver

from graph.config import GraphSettings
from tests.dashboard import apptest
from tests.dashboard.conftest import auth_state
from tests.factories import BIRMINGHAM

pytestmark = [pytest.mark.usefixtures("dash_world", "dashboard_env"), pytest.mark.slow]

EVIDENCE = {"prior": -9.5, "comparisons": [
    {"comparison": "given_name", "value_l": "oliver", "value_r": "oliver", "level": "exact", "weight": 7.0},
    {"comparison": "family_name", "value_l": "hughes", "value_r": "hughes", "level": "exact", "weight": 6.0},
    {"comparison": "dob", "value_l": "2015-04-07", "value_r": "2015-07-04", "level": "day and month swapped",
     "weight": 1.0},
    {"comparison": "postcode", "value_l": "B13 8JP", "value_r": "B1 1AA", "level": "else", "weight": -1.5}]}
# Two children from two Birmingham sources that may be one (Oliver), and a pair one of whose children is
# Sophie (S1), shielded by Birmingham.
WORLD = """
MERGE (la:LocalAuthority {code: $la})
CREATE (gp:Source {id: 'gp-b', kind: 'gp_system', name: 'Birmingham GP systems', la_code: $la}),
       (cc:Source {id: 'council-b', kind: 'council_case_system', name: 'Birmingham social care', la_code: $la})
CREATE (o1:Child {id: 'OH1', given_name: 'Oliver', family_name: 'Hughes', dob: date('2015-04-07'), gender: 'male',
                  shielded: false, status: 'active'})-[:HELD_BY]->(la),
       (o2:Child {id: 'OH2', given_name: 'Oliver', family_name: 'Hughes', dob: date('2015-07-04'), gender: 'male',
                  shielded: false, status: 'active'})-[:HELD_BY]->(la)
CREATE (r1:SourceRecord {key: 'gp-b|1', source_id: 'gp-b', local_id: '1', given_name: 'Oliver',
                         family_name: 'Hughes', dob: date('2015-04-07'), sex: 'male', postcode: 'B13 8JP',
                         match_state: 'matched'})-[:FROM]->(gp),
       (r2:SourceRecord {key: 'council-b|7', source_id: 'council-b', local_id: '7', given_name: 'Oliver',
                         family_name: 'Hughes', dob: date('2015-07-04'), sex: 'male', postcode: 'B1 1AA',
                         match_state: 'matched'})-[:FROM]->(cc),
       (r3:SourceRecord {key: 'council-b|8', source_id: 'council-b', local_id: '8', given_name: 'Sophie',
                         family_name: 'Okafor', dob: date('2016-07-02'), sex: 'female', match_state: 'matched'})
         -[:FROM]->(cc),
       (r4:SourceRecord {key: 'gp-b|9', source_id: 'gp-b', local_id: '9', given_name: 'Sofie',
                         family_name: 'Okafor', dob: date('2016-07-02'), sex: 'female', match_state: 'matched'})
         -[:FROM]->(gp)
CREATE (r1)-[:IDENTIFIES {method: 'new'}]->(o1), (r2)-[:IDENTIFIES {method: 'new'}]->(o2)
WITH la, r3, r4
MATCH (s1:Child {id: 'S1'})
CREATE (r3)-[:IDENTIFIES {method: 'new'}]->(s1)
CREATE (so:Child {id: 'SO2', given_name: 'Sofie', family_name: 'Okafor', dob: date('2016-07-02'),
                  gender: 'female', shielded: false, status: 'active'})-[:HELD_BY]->(la)
CREATE (r4)-[:IDENTIFIES {method: 'new'}]->(so)
CREATE (:MatchReview {id: '00000000-0000-4000-8000-00000000000a', key: 'council-b|7||gp-b|1', state: 'open',
                      record_key: 'council-b|7', candidate_key: 'gp-b|1', weight: 3.0, probability: 0.889,
                      reason: 'between the thresholds', evidence_json: $evidence, la_codes: [$la],
                      created_at: datetime()}),
       (:MatchReview {id: '00000000-0000-4000-8000-00000000000b', key: 'council-b|8||gp-b|9', state: 'open',
                      record_key: 'council-b|8', candidate_key: 'gp-b|9', weight: 4.0, probability: 0.94,
                      reason: 'between the thresholds', evidence_json: '{}', la_codes: [$la], created_at: datetime()})
"""
OLIVER_PAIR, SOPHIE_PAIR = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


@pytest.fixture(scope="module")
def pairs(dash_world: None, driver: Driver, neo4j_settings: GraphSettings) -> None:
    driver.execute_query(WORLD, la=BIRMINGHAM, evidence=json.dumps(EVIDENCE), database_=neo4j_settings.database)


@pytest.fixture(scope="module")
def auth(pairs: None, dashboard_env: str, demo_tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    return {name.split(".")[0]: auth_state(dashboard_env, headers) for name, headers in demo_tokens.items()
            if name.endswith(".birmingham")}


def test_a_data_officer_sees_the_pair_its_comparison_and_waterfall(auth: dict[str, Any]) -> None:
    at = apptest.page("matching", auth["data_officer"])
    assert not at.error, [e.value for e in at.error]
    pick = apptest.by_label(at.selectbox, "Open a pair")
    assert len(pick.options) == 1 and "Oliver Hughes" in pick.options[0]  # Sophie's pair is not for them
    text = apptest.texts(at)
    for expected in ("Birmingham GP systems", "Birmingham social care", "04 Jul 2015", "07 Apr 2015", "B13 8JP", "OH1",
                     "OH2", "withheld"):
        assert expected in text, expected
    [chart] = at.get("plotly_chart")
    assert '"waterfall"' in chart.proto.spec and "Date of birth" in chart.proto.spec
    # The council's record gives Sophie's home (B1 1AA, where a shielded child lives): withheld everywhere.
    assert "B1 1AA" not in text and "B1 1AA" not in chart.proto.spec


def test_the_holding_team_also_sees_the_shielded_childs_pair(auth: dict[str, Any]) -> None:
    at = apptest.page("matching", auth["la_admin"])
    options = apptest.by_label(at.selectbox, "Open a pair").options
    assert len(options) == 2 and any("Sophie Okafor" in o for o in options)


def test_a_decision_needs_a_reason_then_accept_merges(auth: dict[str, Any]) -> None:
    at = apptest.page("matching", auth["data_officer"])
    next(b for b in at.button if b.label == "Accept: one child (merge)").click().run()
    assert "Give the reason" in at.warning[0].value
    apptest.by_label(at.text_area, "Reason (recorded)").input("Same child: the council swapped day and month")
    next(b for b in at.button if b.label == "Accept: one child (merge)").click().run()
    assert "was merged into" in at.success[0].value
    assert "No open pairs" in apptest.texts(at)
    # The merged id still opens a card: the survivor's.
    card = apptest.page("card", auth["practitioner"], **{"in.child": {"id": "OH2", "purpose": "after a merge"}})
    assert "OH1" in apptest.texts(card) and not card.error


def test_merge_and_undo_on_the_records_page(auth: dict[str, Any], driver: Driver,
                                            neo4j_settings: GraphSettings) -> None:
    at = apptest.page("records", auth["data_officer"])
    apptest.by_label(at.text_input, "Directory ID that stays").input("OH1")
    apptest.by_label(at.text_input, "Directory ID merged into it").input("S1")
    at.text_area(key="w.merge.reason").input("a shielded record is not a data officer's to merge")
    next(b for b in at.button if b.label == "Merge").click().run()
    assert "Not available to you" in at.error[0].value and "shielded" in at.error[0].value
    apptest.by_label(at.text_input, "Merged directory ID").input("OH2")
    at.text_area(key="w.unmerge.reason").input("The review decision was wrong")
    next(b for b in at.button if b.label == "Undo the merge").click().run()
    assert "is a child of its own again" in at.success[0].value
    rows, _, _ = driver.execute_query("MATCH (c:Child {id: 'OH2'})<-[:IDENTIFIES]-(x) RETURN x.key AS key",
                                      database_=neo4j_settings.database)
    assert [r["key"] for r in rows] == ["council-b|7"]
