"""The card and search: the sources that know a child and every name it is known by, and what shielding withholds.

The world: Elizabeth, known to a GP system as "Elizabeth Okafor" and to an emergency department as "Libby
Okafor" (the same NHS number); a
shielded child (Leeds's management team holds it) known to the same GP system and to a police source; and her
unshielded brother, sharing a current carer with her, known to that GP system and to a housing source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import children
from graph.config import GraphSettings
from graph.viewer import Role, Viewer
from loaders.load import load_dir
from tests.identity.conftest import NHS_A, NHS_B, NHS_C, SOURCES, person, query, write_feed

LEEDS, BIRMINGHAM = "E08000035", "E08000025"
RESTRICTED_KEYS = {"id", "given_name", "family_name", "former_names", "known_names", "dob", "gender", "shielded",
                   "holding_team"}
HOME = dict(family_name="Brennan", postcode="LS6 2AB")
# Every role that reaches the card but must not see a shielded child's sources.
BLIND = [Viewer("p", Role.PRACTITIONER, LEEDS), Viewer("l", Role.SAFEGUARDING_LEAD, LEEDS),
         Viewer("a", Role.LA_ADMIN, BIRMINGHAM), Viewer("lb", Role.SAFEGUARDING_LEAD, BIRMINGHAM)]


@pytest.fixture()
def world(identity_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> dict[str, str]:
    db = neo4j_settings.database
    write_feed(tmp_path, "sources", [*SOURCES, {"source_id": "police-leeds", "kind": "police",
                                                "name": "West Yorkshire Police", "la_code": LEEDS},
                                     {"source_id": "housing-leeds", "kind": "housing", "name": "Leeds Housing",
                                      "la_code": LEEDS}])
    write_feed(tmp_path, "person_records", [
        person("1", given_name="Elizabeth", family_name="Okafor", dob="2016-02-03", nhs_number=NHS_A, sex="female"),
        person("E1", source_id="ed-leeds", given_name="Libby", family_name="Okafor", dob="2016-02-03",
               nhs_number=NHS_A),
        person("2", given_name="Sophie", dob="2014-07-02", nhs_number=NHS_B, sex="female", **HOME),
        person("P2", source_id="police-leeds", given_name="Sophie", dob="2014-07-02", nhs_number=NHS_B, **HOME),
        person("3", given_name="Tom", dob="2012-01-09", nhs_number=NHS_C, sex="male", **HOME),
        person("H3", source_id="housing-leeds", given_name="Tom", dob="2012-01-09", nhs_number=NHS_C, **HOME)])
    write_feed(tmp_path, "carers", [
        {"carer_id": "K1", "name": "Grace Brennan", "source_id": "gp-leeds", "local_id": local,
         "relationship": "mother", "parental_responsibility": "true", "since": since}
        for local, since in (("2", "2014-07-02"), ("3", "2012-01-09"))])
    write_feed(tmp_path, "shielding", [{"source_id": "police-leeds", "local_id": "P2", "shielded": "true",
                                        "la_code": LEEDS, "decided_on": "2024-03-01", "reason": "risk"}])
    report = load_dir(identity_db, tmp_path, database=db)
    assert report.rejected == 0, report.rejects_path.read_text()
    ids = {r["key"]: r["id"] for r in query(identity_db, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) "
                                                           "RETURN x.key AS key, c.id AS id")}
    return {"elizabeth": ids["gp-leeds|1"], "sophie": ids["gp-leeds|2"], "tom": ids["gp-leeds|3"]}


def _card(driver: Driver, db: str, viewer: Viewer, child_id: str) -> dict[str, Any]:
    with driver.session(database=db) as session:
        return session.execute_read(lambda tx: children.card(tx, viewer=viewer, child_id=child_id))


def _search(driver: Driver, db: str, viewer: Viewer, **fields: Any) -> list[dict[str, Any]]:
    with driver.session(database=db) as session:
        return session.execute_read(lambda tx: children.search(tx, viewer=viewer, **fields))[0]


def test_the_card_lists_the_sources_that_know_the_child_and_every_name(world, identity_db: Driver,
                                                                        neo4j_settings: GraphSettings):
    card = _card(identity_db, neo4j_settings.database, BLIND[0], world["elizabeth"])
    assert card["known_names"] == ["Elizabeth Okafor", "Libby Okafor"]
    assert card["known_to"] == [{"name": "Leeds General ED", "kind": "emergency_department"},
                                {"name": "Leeds GP systems", "kind": "gp_system"}]


@pytest.mark.parametrize("name", ["Libby", "Elizabeth", "Libbie"])
def test_search_finds_a_child_by_any_name_it_is_known_by(world, identity_db: Driver, neo4j_settings: GraphSettings,
                                                         name: str):
    found = _search(identity_db, neo4j_settings.database, BLIND[0], given_name=name, family_name="Okafor")
    assert [c["id"] for c in found] == [world["elizabeth"]]
    assert found[0]["known_names"] == ["Elizabeth Okafor", "Libby Okafor"]


@pytest.mark.parametrize("viewer", BLIND, ids=lambda v: f"{v.role}-{v.la_code}")
def test_a_shielded_childs_sources_are_never_shown(world, identity_db: Driver, neo4j_settings: GraphSettings,
                                                   viewer: Viewer):
    db = neo4j_settings.database
    card = _card(identity_db, db, viewer, world["sophie"])
    assert set(card) == RESTRICTED_KEYS  # names (all of them) and no sources
    assert card["known_names"] == ["Sophie Brennan"]
    [found] = _search(identity_db, db, viewer, given_name="Sophie", family_name="Brennan")
    assert set(found) == RESTRICTED_KEYS


@pytest.mark.parametrize("viewer", BLIND, ids=lambda v: f"{v.role}-{v.la_code}")
def test_a_siblings_card_withholds_the_sources_that_know_the_shielded_child(world, identity_db: Driver,
                                                                             neo4j_settings: GraphSettings,
                                                                             viewer: Viewer):
    card = _card(identity_db, neo4j_settings.database, viewer, world["tom"])
    assert card["known_to"] == [{"name": "Leeds Housing", "kind": "housing"}]  # not the GP system Sophie is in
    assert card["details_withheld"] is True


def test_the_holding_team_and_a_break_glass_see_the_sources(world, identity_db: Driver,
                                                            neo4j_settings: GraphSettings):
    db = neo4j_settings.database
    team = _card(identity_db, db, Viewer("t", Role.LA_ADMIN, LEEDS), world["sophie"])
    assert [s["name"] for s in team["known_to"]] == ["Leeds GP systems", "West Yorkshire Police"]
    with identity_db.session(database=db) as session:
        glass = session.execute_read(lambda tx: children.card(tx, viewer=BLIND[1], child_id=world["sophie"],
                                                              override=True))
    assert [s["kind"] for s in glass["known_to"]] == ["gp_system", "police"]
