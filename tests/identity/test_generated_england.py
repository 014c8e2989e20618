"""A small England as its sources see it, loaded as the demo loads it: every child comes through matching.

The world is the generator's identity mode (600 children), loaded by the real loader. The model in use is the
one the other identity tests share, trained on 3,000 children: a model trained on these 600 would weigh every
pair about 2.3 higher (its prior is five times larger), so pairs the demo's 20,000-child model leaves for
review would be linked here.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from neo4j import Driver

from graph import children
from graph.config import GraphSettings
from graph.identity import models, review
from graph.viewer import Role, Viewer
from loaders.generate import DEFAULT_AS_OF, generate
from loaders.load import LoadReport, load_dir
from matching import model as matching_model
from tests.identity.conftest import query
from tests.conftest import fresh_db

BIRMINGHAM, LEEDS = "E08000025", "E08000035"
CHILDREN, SEED = 600, 11
pytestmark = pytest.mark.slow  # about 2 minutes on the busy 2-core machine: the shared model is trained first
# The relationships a feed writes through a record (each keeps the record's key in `via`).
VIA = ("LIVED_AT", "CARES_FOR", "ENROLLED_AT", "REGISTERED_WITH", "INVOLVED_WITH", "HAS_PLAN", "ATTENDED")


def _truth(folder: Path) -> dict[str, str]:
    with (folder / "truth.csv").open(newline="", encoding="utf-8") as handle:
        return {r["record_key"]: r["child_id"] for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def loaded(driver: Driver, neo4j_settings: GraphSettings, trained: matching_model.Model,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadReport]:
    db = neo4j_settings.database
    fresh_db(driver, db)
    with driver.session(database=db) as session:
        session.execute_write(models.store_model, model=trained)
    folder = tmp_path_factory.mktemp("england-sources")
    generate(folder, children=CHILDREN, seed=SEED, identity="sources")
    return folder, load_dir(driver, folder, database=db, as_of=DEFAULT_AS_OF)


def test_every_child_came_through_matching(loaded, driver: Driver, neo4j_settings: GraphSettings,
                                           trained: matching_model.Model):
    folder, report = loaded
    db = neo4j_settings.database
    assert report.matching is not None and report.matching.model == trained.version
    assert report.matching.records == len(_truth(folder))
    assert query(driver, db, "MATCH (c:Child) WHERE NOT EXISTS { (c)<-[:IDENTIFIES]-(:SourceRecord) } "
                             "RETURN count(c) AS n") == [{"n": 0}]
    # Matching found the children the sources saw: each child made holds records of one true child, nearly always.
    truth = _truth(folder)
    rows = query(driver, db, "MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child) RETURN x.key AS key, c.id AS id")
    true_children = Counter(len({truth[r["key"]] for r in rows if r["id"] == c}) for c in {r["id"] for r in rows})
    made = sum(true_children.values())
    assert true_children[1] / made >= 0.99
    assert abs(made - len(set(truth.values()))) <= 0.02 * CHILDREN


def test_every_relationship_arrived_through_the_record_of_the_source_that_sent_it(loaded, driver: Driver,
                                                                                    neo4j_settings: GraphSettings):
    _, report = loaded
    db = neo4j_settings.database
    assert report.rejected == 0, report.rejects_path.read_text()[:2000]
    rows = query(driver, db, "MATCH (c:Child)-[r]-() WHERE type(r) IN $types "
                             "OPTIONAL MATCH (x:SourceRecord {key: r.via})-[:IDENTIFIES]->(owner:Child) "
                             "RETURN type(r) AS type, count(r) AS n, count(r.via) AS via, "
                             "count(CASE WHEN owner = c THEN 1 END) AS own", types=list(VIA))
    assert {r["type"] for r in rows} == set(VIA)
    for r in rows:
        assert r["n"] == r["via"] == r["own"], r  # every one via a record, the record of the child it is on


def test_a_card_shows_the_sources_that_know_the_child_and_the_names_they_use(loaded, driver: Driver,
                                                                               neo4j_settings: GraphSettings):
    db = neo4j_settings.database
    [child] = query(driver, db, """
        MATCH (c:Child)<-[:IDENTIFIES]-(x:SourceRecord)-[:FROM]->(s:Source)
        WHERE NOT coalesce(c.shielded, false)
        WITH c, collect(DISTINCT s.name) AS sources, collect(DISTINCT x.given_name) AS names
        WHERE size(sources) >= 3 AND size(names) >= 2
        MATCH (c)-[:HELD_BY]->(la:LocalAuthority)
        RETURN c.id AS id, la.code AS la, sources, names ORDER BY c.id LIMIT 1""")
    with driver.session(database=db) as session:
        card = session.execute_read(lambda tx: children.card(
            tx, viewer=Viewer("p", Role.SAFEGUARDING_LEAD, child["la"]), child_id=child["id"], override=True))
    assert sorted(s["name"] for s in card["known_to"]) == sorted(child["sources"])
    for given in child["names"]:
        assert any(name.startswith(f"{given} ") for name in card["known_names"]), (given, card["known_names"])


def test_the_demo_authorities_data_teams_have_pairs_to_decide(loaded, driver: Driver,
                                                              neo4j_settings: GraphSettings):
    folder, _ = loaded
    truth = _truth(folder)
    items = []
    with driver.session(database=neo4j_settings.database) as session:
        for la in (BIRMINGHAM, LEEDS):
            items += session.execute_read(lambda tx, la=la: review.queue(
                tx, viewer=Viewer("d", Role.DATA_OFFICER, la)))["items"]
    assert items
    # The authorities' hard cases: records of one child that matching could not decide alone.
    assert any(truth[i["record"]["key"]] == truth[i["candidate"]["key"]] for i in items)
