"""Targeted mode on real Neo4j: only the cohort is stored (others counted as out of scope, not rejected), a child who
leaves the cohort is destroyed N months later, the bulk path stores the same cohort, and the main API paths work in
both modes."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts, analytics, retention, users
from graph.cohort import Scope, months_before
from graph.config import GraphSettings
from loaders.bulk import MANIFEST, write_bulk
from loaders.generate import DEFAULT_AS_OF, generate
from loaders.load import load_dir
from tests.conftest import restore_demo_users
from tests.factories import BIRMINGHAM, Feeds
from tests.retention_world import write_feeds
from tests.test_retention import ACTOR

TARGETED = Scope("targeted", 12, DEFAULT_AS_OF)
STATEMENT_IDS = {
    "Child": "MATCH (n:Child) RETURN collect(n.id) AS ids",
    "Carer": "MATCH (n:Carer) RETURN collect(n.id) AS ids",
    "Address": "MATCH (n:Address) RETURN collect(n.id) AS ids",
}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _ids(driver: Driver, db: str, label: str) -> set[str]:
    return set(driver.execute_query(STATEMENT_IDS[label], database_=db).records[0]["ids"])


def _expected_cohort(feeds: Path, as_of: date, months: int) -> set[str]:
    """The cohort read straight off plans.csv: a CP plan, looked after or child in need, current or ended on or
    after the day `months` months before `as_of`."""
    cutoff = months_before(as_of, months).isoformat()
    return {p["child_id"] for p in _csv(feeds / "plans.csv")
            if p["kind"] in ("cp_plan", "looked_after", "child_in_need") and p["since"] <= as_of.isoformat()
            and (not p["until"] or p["until"] >= cutoff)}


def test_only_the_cohort_is_stored_and_the_rest_is_counted_out_of_scope(
        empty_db: Driver, neo4j_settings: GraphSettings, small_england: Path, tmp_path: Path) -> None:
    db = neo4j_settings.database
    cohort = _expected_cohort(small_england, DEFAULT_AS_OF, 12)
    children = _csv(small_england / "children.csv")
    assert 0 < len(cohort) < len(children) / 5
    report = load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "r.csv", scope=TARGETED)
    by_feed = {r.feed: r for r in report.results}
    assert by_feed["children"].loaded == len(cohort) and by_feed["children"].rejected == 0
    assert by_feed["children"].out_of_scope == len(children) - len(cohort)
    assert _ids(empty_db, db, "Child") == cohort
    # Every feed about children: what is not in the cohort is out of scope, never a reject.
    assert report.rejected == 0 and all(r.read == r.loaded + r.out_of_scope for r in report.results)
    homes = _csv(small_england / "residences.csv")
    assert _ids(empty_db, db, "Address") == {h["address_id"] for h in homes if h["child_id"] in cohort}
    carers = _csv(small_england / "carers.csv")
    assert _ids(empty_db, db, "Carer") == {k["carer_id"] for k in carers if k["child_id"] in cohort}
    assert by_feed["plans"].out_of_scope == sum(1 for p in _csv(small_england / "plans.csv")
                                               if p["child_id"] not in cohort)
    # The same folder in full mode stores every child.
    full = load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "f.csv")
    assert full.out_of_scope == 0 and len(_ids(empty_db, db, "Child")) == len(children)


def _plan_world(until: date | None) -> Feeds:
    f = Feeds()
    f.authorities()
    f.child("T-1", "Tia", "Morrow", date(2015, 5, 5), BIRMINGHAM)
    f.child("T-2", "Teo", "Morrow", date(2017, 7, 7), BIRMINGHAM)  # never on a cohort plan
    f.address("T-HOME", "1 Tide Street", "B12 9QQ", BIRMINGHAM)
    f.lives("T-1", "T-HOME", date(2015, 5, 5))
    f.lives("T-2", "T-HOME", date(2017, 7, 7))
    f.carer("T-K", "Tam Morrow", "T-1")
    f.carer("T-K", "Tam Morrow", "T-2")
    f.plan("T-1", BIRMINGHAM, "cp_plan", date(2024, 3, 1), until)
    f.plan("T-2", BIRMINGHAM, "early_help", date(2024, 3, 1))  # early help does not bring a child in
    return f


def test_a_child_who_leaves_the_cohort_is_destroyed_n_months_later(
        empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    ended = date(2025, 12, 1)
    feeds = write_feeds(_plan_world(until=ended), tmp_path / "feeds")
    report = load_dir(empty_db, feeds, database=db, scope=Scope("targeted", 12, date(2026, 1, 10)))
    assert _ids(empty_db, db, "Child") == {"T-1"} and report.out_of_scope == 4  # T-2's row, home, carer, plan

    def run(day: date, mode: str = "targeted") -> retention.RetentionReport:
        return retention.run(empty_db, database=db, scope=Scope(mode, 12, day), actor=ACTOR)  # type: ignore[arg-type]

    assert run(date(2026, 12, 1)).destroyed == {}  # twelve months after the plan ended: still in
    assert run(date(2026, 12, 2), mode="full").destroyed == {}  # full mode keeps every child
    done = run(date(2026, 12, 2))
    assert done.destroyed == {"cohort": 1} and done.removed["carers"] == 1 and done.removed["addresses"] == 1
    assert _ids(empty_db, db, "Child") == set()
    stone = empty_db.execute_query("MATCH (t:DestroyedChild {id: 'T-1'}) RETURN t.rule AS rule",
                                   database_=db).records[0]["rule"]
    assert stone == "cohort"

    # A stale feed: out of scope, not a reject, not stored.
    stale = load_dir(empty_db, feeds, database=db, rejects_path=tmp_path / "stale.csv",
                     scope=Scope("targeted", 12, date(2026, 12, 2)))
    assert stale.rejected == 0 and stale.readmitted == 0 and _ids(empty_db, db, "Child") == set()
    # At risk again: a new plan brings the child back, said so in the load's counts.
    again = write_feeds(_plan_world(until=None), tmp_path / "again")
    back = load_dir(empty_db, again, database=db, rejects_path=tmp_path / "again.csv",
                    scope=Scope("targeted", 12, date(2026, 12, 2)))
    assert back.readmitted == 1 and _ids(empty_db, db, "Child") == {"T-1"}
    assert empty_db.execute_query("MATCH (t:DestroyedChild {id: 'T-1'}) RETURN count(t) AS n",
                                  database_=db).records[0]["n"] == 0


def test_the_bulk_path_stores_the_same_cohort(empty_db: Driver, neo4j_settings: GraphSettings, tmp_path: Path) -> None:
    db = neo4j_settings.database
    feeds, out = tmp_path / "feeds", tmp_path / "bulk"
    generate(feeds, children=1200, seed=11, by_region=True)
    online = load_dir(empty_db, feeds, database=db, rejects_path=tmp_path / "r.csv", scope=TARGETED)
    rows = write_bulk(out, children=1200, seed=11, scope=Scope("targeted", 12))
    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["scope"], manifest["targeted_months"]) == ("targeted", 12)
    for label, file in [("Child", "children.csv"), ("Carer", "carers.csv"), ("Address", "addresses.csv")]:
        assert {r[f"id:ID({label})"] for r in _csv(out / file)} == _ids(empty_db, db, label), label
    by_feed = {r.feed: r for r in online.results}
    assert manifest["out_of_scope"]["children"] == by_feed["children"].out_of_scope
    online_rels = {r["type"]: r["n"] for r in empty_db.execute_query(
        "MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n", database_=db).records}
    for file, rel in [("lived_at.csv", "LIVED_AT"), ("cares_for.csv", "CARES_FOR"), ("has_plan.csv", "HAS_PLAN"),
                      ("involved_with.csv", "INVOLVED_WITH"), ("attended.csv", "ATTENDED"), ("held_by.csv", "HELD_BY")]:
        assert rows[file] == online_rels.get(rel, 0), file


# -- the main paths in both modes ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "targeted"])
def test_the_main_api_paths_work_in_both_modes(mode: str, empty_db: Driver, neo4j_settings: GraphSettings,
                                               small_england: Path, tmp_path: Path, api_client: Any) -> None:
    from api.config import ApiSettings
    from api.security import issue_token

    db = neo4j_settings.database
    restore_demo_users(empty_db, db)
    load_dir(empty_db, small_england, database=db, rejects_path=tmp_path / "r.csv",
             scope=Scope(mode, 12, DEFAULT_AS_OF))  # type: ignore[arg-type]
    cohort = _expected_cohort(small_england, DEFAULT_AS_OF, 12)
    retention.run(empty_db, database=db, scope=Scope(mode, 12, DEFAULT_AS_OF), actor=ACTOR)  # type: ignore[arg-type]
    alerts.scan(empty_db, database=db, as_of=DEFAULT_AS_OF)
    analytics.compute(empty_db, database=db, as_of=DEFAULT_AS_OF, quarters=1)
    # A child on a CP plan now (in every mode's directory), and its holding authority's people.
    child = empty_db.execute_query(
        "MATCH (c:Child)-[h:HAS_PLAN {kind: 'cp_plan'}]->() WHERE h.until IS NULL AND NOT c.shielded "
        "MATCH (c)-[:HELD_BY]->(la) RETURN c {.id, .given_name, .family_name, .dob} AS c, la.code AS la "
        "ORDER BY c.id LIMIT 1", database_=db).records[0]
    held = {r["id"] for r in empty_db.execute_query("MATCH (c:Child) RETURN c.id AS id", database_=db).records}
    assert (held <= cohort) if mode == "targeted" else (cohort < held)

    def headers(role: str) -> dict[str, str]:
        with empty_db.session(database=db) as session:
            user = session.execute_write(lambda tx: users.create_user(
                tx, username=f"{role}.{mode}.{child['la'].lower()}", name="A User", role=role, la_code=child["la"],
                password_hash="unused", totp_secret="JBSWY3DPEHPK3PXP"))
        token, _ = issue_token(ApiSettings(demo_mode=True), user.viewer())
        return {"Authorization": f"Bearer {token}", "X-Purpose": f"both modes ({mode})"}

    practitioner, lead, team, reviewer = (headers(r) for r in ("practitioner", "safeguarding_lead", "la_admin",
                                                                  "reviewer"))
    c = child["c"]
    found = api_client.get("/children/search", headers=practitioner,
                           params={"given_name": c["given_name"], "family_name": c["family_name"],
                                   "dob": c["dob"].iso_format()})
    assert found.status_code == 200 and c["id"] in [x["id"] for x in found.json()["results"]]
    assert api_client.get(f"/children/{c['id']}", headers=practitioner).json()["plans"]
    for path in ("network", "moves", "accesses"):
        assert api_client.get(f"/children/{c['id']}/{path}", headers=lead).status_code == 200, path
    inbox = api_client.get("/alerts", headers=lead)
    assert inbox.status_code == 200 and {a["child_id"] for a in inbox.json()["items"]} <= held
    assert api_client.get(f"/children/{c['id']}/subject-access", headers=team).status_code == 200
    assert api_client.get("/analytics/prevalence", headers=reviewer).status_code == 200
    assert api_client.get("/users", headers=team).status_code == 200
