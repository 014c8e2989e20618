"""Carers end: an ended CARES_FOR no longer makes a household for the shielding rules; carers.csv periods."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts
from graph.config import GraphSettings
from loaders.load import load_dir
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds

AS_OF = date(2026, 6, 1)
PARTED = date(2024, 3, 1)


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> str:
    """S, shielded by Birmingham, lives with carer K-NOW. W is cared for by K-NOW too. E and S were both
    cared for by K-OLD until S left in 2024. Each lives at an address of its own, on a Leeds plan, no GP."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    f = Feeds()
    f.authorities()
    f.agency("SCH-E", "Elm School", "school", LEEDS)
    for cid, given, born, postcode in [("S", "Sky", date(2015, 2, 2), "B1 1AA"), ("W", "Wren", date(2013, 3, 3),
                                       "LS2 2AA"), ("E", "Ezra", date(2012, 4, 4), "LS3 3AA")]:
        f.child(cid, given, "Carerson", born, LEEDS)
        f.lives(cid, f.address(f"AD-{cid}", f"{given} House", postcode, BIRMINGHAM if cid == "S" else LEEDS),
                date(2024, 3, 1))
        f.plan(cid, LEEDS, "child_in_need", date(2025, 1, 1))
    f.carer("K-NOW", "Nora Now", "S", phone="07700 900611")
    f.carer("K-NOW", "Nora Now", "W", phone="07700 900611")
    f.carer("K-OLD", "Olga Old", "S", phone="07700 900622", until=PARTED)
    f.carer("K-OLD", "Olga Old", "E", phone="07700 900622")
    f.school("E", "SCH-E", date(2017, 9, 1))
    f.shield("S", BIRMINGHAM, PARTED)
    f.write(driver, db)
    return db


def _card(client: Any, tokens: Any, user: str, child_id: str) -> dict[str, Any]:
    response = client.get(f"/children/{child_id}", headers={**tokens[user], "X-Purpose": "visit"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("user", ["practitioner.leeds", "safeguarding_lead.leeds", "la_admin.leeds"])
def test_a_sibling_sharing_only_an_ended_carer_shows_its_own_data(world: str, api_client: Any, demo_tokens: Any,
                                                                  user: str) -> None:
    card = _card(api_client, demo_tokens, user, "E")
    assert card["details_withheld"] is False
    assert card["address"]["postcode"] == "LS3 3AA"
    assert [c["name"] for c in card["carers"]] == ["Olga Old"]
    assert card["school"]["name"] == "Elm School"


@pytest.mark.parametrize("user", ["practitioner.leeds", "safeguarding_lead.leeds", "la_admin.leeds"])
def test_a_sibling_sharing_a_current_carer_still_has_details_withheld(world: str, api_client: Any,
                                                                      demo_tokens: Any, user: str) -> None:
    card = _card(api_client, demo_tokens, user, "W")
    assert card["details_withheld"] is True
    assert card["carers"] == []
    assert "Nora" not in json.dumps(card) and "900611" not in json.dumps(card)


def test_an_ended_carer_is_not_on_the_card_of_the_child_it_no_longer_cares_for(
        world: str, api_client: Any, demo_tokens: Any) -> None:
    card = _card(api_client, demo_tokens, "la_admin.birmingham", "S")  # the holding team sees S in full
    assert [c["name"] for c in card["carers"]] == ["Nora Now"]


def test_the_network_follows_current_carers_only(world: str, api_client: Any, demo_tokens: Any) -> None:
    headers = {**demo_tokens["safeguarding_lead.leeds"], "X-Purpose": "strategy meeting"}
    network = api_client.get("/children/E/network", headers=headers, params={"depth": 2}).json()
    assert {n["id"] for n in network["nodes"]} >= {"child:E", "carer:K-OLD"}
    assert "child:S" not in {n["id"] for n in network["nodes"]}
    hidden = api_client.get("/children/W/network", headers=headers, params={"depth": 2}).json()
    assert "carer:K-NOW" not in {n["id"] for n in hidden["nodes"]}


def test_alerts_of_a_child_sharing_only_an_ended_carer_go_to_its_own_authorities(
        world: str, driver: Driver) -> None:
    driver.execute_query("MATCH (a:Alert) DETACH DELETE a", database_=world)
    alerts.scan(driver, database=world, as_of=AS_OF)
    records, _, _ = driver.execute_query(
        "MATCH (a:Alert {kind: 'no_gp'}) RETURN a.child_id AS child, collect(a.la_code) AS to", database_=world)
    addressed = {r["child"]: r["to"] for r in records}
    assert addressed == {"E": [LEEDS], "W": [BIRMINGHAM], "S": [BIRMINGHAM]}


# -- carers.csv ---------------------------------------------------------------------------------

CARERS = "carer_id,name,phone,email,child_id,relationship,parental_responsibility,since,until"


def _write(folder: Path, name: str, header: str, *rows: str) -> None:
    (folder / f"{name}.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _links(driver: Driver, db: str) -> list[tuple[str, str, str | None, str | None]]:
    records, _, _ = driver.execute_query(
        "MATCH (k:Carer)-[x:CARES_FOR]->(c:Child) RETURN k.id AS k, c.id AS c, toString(x.since) AS since, "
        "toString(x.until) AS until ORDER BY k, c, since", database_=db)
    return [(r["k"], r["c"], r["since"], r["until"]) for r in records]


def _rejects(path: Path) -> dict[int, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {int(r["line"]): r["reason"] for r in csv.DictReader(handle)}


def test_carers_feed_periods_are_keyed_on_since_and_reload_changes_nothing(
        empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    _write(tmp_path, "authorities", "code,name,region", f"{LEEDS},Leeds,Yorkshire and The Humber")
    _write(tmp_path, "children", "child_id,given_name,family_name,dob,gender,la_code",
           f"C1,Ada,Carer,2014-01-01,female,{LEEDS}")
    _write(tmp_path, "carers", CARERS,
           "K1,Kim,,,C1,mother,true,2014-01-01,2020-05-01",   # ended
           "K1,Kim,,,C1,mother,true,2023-02-01,",             # back again, current
           "K2,Lee,,,C1,foster_carer,false,2020-05-01,",
           "K3,Max,,,C1,father,true,2019-01-01,2018-01-01",   # line 5: ends before it starts
           "K2,Lee,,,C1,foster_carer,false,2020-05-01,")      # line 6: the same period again
    first = load_dir(empty_db, tmp_path, database=db, rejects_path=tmp_path / "r1.csv")
    assert first.rejected == 2
    reasons = _rejects(tmp_path / "r1.csv")
    assert "until is before since" in reasons[5]
    assert "duplicate carer_id/child_id/since (first at line 4)" in reasons[6]
    expected = [("K1", "C1", "2014-01-01", "2020-05-01"), ("K1", "C1", "2023-02-01", None),
                ("K2", "C1", "2020-05-01", None)]
    assert _links(empty_db, db) == expected
    load_dir(empty_db, tmp_path, database=db, rejects_path=tmp_path / "r2.csv")
    assert _links(empty_db, db) == expected


def test_a_carers_feed_without_periods_is_refused_by_name(empty_db: Driver, neo4j_settings: GraphSettings,
                                                          tmp_path: Path) -> None:
    _write(tmp_path, "authorities", "code,name,region", f"{LEEDS},Leeds,Yorkshire and The Humber")
    _write(tmp_path, "carers", "carer_id,name,child_id,relationship,parental_responsibility",
           "K1,Kim,C1,mother,true")
    report = load_dir(empty_db, tmp_path, database=neo4j_settings.database)
    error = next(r.error for r in report.results if r.feed == "carers")
    assert error is not None and "missing required columns since" in error


def test_a_link_loaded_before_carers_had_periods_is_dated_by_the_first_dated_row(
        empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    _write(tmp_path, "authorities", "code,name,region", f"{LEEDS},Leeds,Yorkshire and The Humber")
    _write(tmp_path, "children", "child_id,given_name,family_name,dob,gender,la_code",
           f"C1,Ada,Carer,2014-01-01,female,{LEEDS}")
    load_dir(empty_db, tmp_path, database=db)
    empty_db.execute_query("MATCH (c:Child {id: 'C1'}) MERGE (k:Carer {id: 'K1'}) SET k.name = 'Kim' "
                           "MERGE (k)-[:CARES_FOR {relationship: 'mother', parental_responsibility: true}]->(c)",
                           database_=db)
    _write(tmp_path, "carers", CARERS, "K1,Kim,,,C1,mother,true,2014-01-01,2021-07-01")
    load_dir(empty_db, tmp_path, database=db, only=["carers"])
    assert _links(empty_db, db) == [("K1", "C1", "2014-01-01", "2021-07-01")]
