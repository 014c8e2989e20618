"""Reviewer analytics over HTTP: reviewers only, suppressed counts, pseudonyms, and no identifying value anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from pydantic import ValidationError

from analytics.privacy import SMALL, WITHHELD, pseudonym
from api.config import DEMO_PSEUDONYM_KEY, ApiSettings
from graph import alerts, analytics, schema
from graph.config import GraphSettings
from loaders.load import load_dir
from tests.conftest import restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER
from tests.scenarios.situations import AS_OF, build

pytestmark = pytest.mark.slow  # the module loads a generated England of 1,500 children
HEADERS = {"X-Purpose": "serious case review 2026/14"}
KEY = DEMO_PSEUDONYM_KEY.encode()


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings, small_england: Path, tmp_path_factory: Any) -> set[str]:
    """A generated England of 1,500 children plus the situations; returns every identifying value in it."""
    db = neo4j_settings.database
    schema.wipe(driver, database=db)
    schema.apply(driver, database=db)
    restore_demo_users(driver, db)
    load_dir(driver, small_england, database=db, rejects_path=tmp_path_factory.mktemp("rejects") / "r.csv")
    feeds, _ = build()
    feeds.write(driver, db)
    alerts.scan(driver, database=db, as_of=AS_OF)
    analytics.compute(driver, database=db, as_of=AS_OF)
    records, _, _ = driver.execute_query("""
        MATCH (c:Child) RETURN [c.id, c.given_name, c.family_name, c.given_name + ' ' + c.family_name,
                                c.nhs_number, c.upn, c.la_child_id] + coalesce(c.former_names, []) AS values
        UNION ALL MATCH (k:Carer) RETURN [k.id, k.name, k.phone, k.email] AS values
        UNION ALL MATCH (a:Address) RETURN [a.id, a.line1, a.line2, a.postcode] AS values
        UNION ALL MATCH (p:Practitioner) RETURN [p.id, p.name, p.phone, p.email] AS values
        UNION ALL MATCH (g:Agency) RETURN [g.id, g.name, g.phone, g.email] AS values
        """, database_=db)
    values = {v for r in records for v in r["values"] if isinstance(v, str) and len(v) >= 3}
    # Dates of birth, except those that are also dates the counts were taken on (published by design).
    dobs, _, _ = driver.execute_query("MATCH (c:Child) RETURN DISTINCT toString(c.dob) AS dob", database_=db)
    taken = {d.isoformat() for d in analytics.trend_dates(AS_OF)}
    return values | {r["dob"] for r in dobs if r["dob"] not in taken}


@pytest.fixture(scope="module")
def authority_names(world: set[str], driver: Driver, neo4j_settings: GraphSettings) -> set[str]:
    """Authority names are published (prevalence is by authority); a child called West is not."""
    records, _, _ = driver.execute_query("MATCH (la:LocalAuthority) RETURN la.name AS name",
                                         database_=neo4j_settings.database)
    return {r["name"] for r in records}


def strings(value: Any) -> list[str]:
    """Every key and string value of a JSON document."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else [str(value)]


def get(client: Any, tokens: Any, user: str, path: str, **params: Any) -> Any:
    return client.get(path, headers={**tokens[user], **HEADERS}, params=params)


ROUTES = [("/analytics/prevalence", {}), ("/analytics/trend", {}), ("/analytics/cases", {"la_code": BIRMINGHAM}),
          ("/analytics/network", {"la_code": BIRMINGHAM})]


@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham", "la_admin.birmingham",
                                  "auditor.birmingham"])
@pytest.mark.parametrize(("path", "params"), ROUTES)
def test_only_reviewers(world: set[str], api_client: Any, demo_tokens: Any, user: str, path: str,
                        params: dict[str, str]) -> None:
    response = get(api_client, demo_tokens, user, path, **params)
    assert response.status_code == 403 and "ch-" not in response.text


def test_no_identifying_value_in_any_reviewer_response(world: set[str], authority_names: set[str], api_client: Any,
                                                       demo_tokens: Any) -> None:
    texts = []
    for cohort in analytics.COHORTS:
        texts.append(get(api_client, demo_tokens, "reviewer.leeds", "/analytics/prevalence", cohort=cohort).text)
        texts.append(get(api_client, demo_tokens, "reviewer.leeds", "/analytics/trend", cohort=cohort,
                         la_code=BIRMINGHAM).text)
    for la in (BIRMINGHAM, LEEDS, MANCHESTER):
        listed = get(api_client, demo_tokens, "reviewer.leeds", "/analytics/cases", la_code=la)
        assert listed.status_code == 200
        texts.append(listed.text)
        texts.append(get(api_client, demo_tokens, "reviewer.leeds", "/analytics/network", la_code=la).text)
        for case in listed.json()["cases"][:6]:
            view = get(api_client, demo_tokens, "reviewer.leeds", f"/analytics/cases/{case['case']}", la_code=la)
            assert view.status_code == 200
            assert not re.search(r"\d{4}-\d{2}-\d{2}", view.text)  # months and day counts, no dates
            texts.append(view.text)
    assert len(texts) > 20
    published = [s for text in texts for s in strings(json.loads(text)) if s not in authority_names]
    words = {w for s in published for w in re.split(r"[^A-Za-z0-9'@.+-]+", s)}
    whole = set(published)
    joined = "\0".join(published)  # "v in joined" is "v within one of them", for a value without a NUL
    leaked = sorted(v for v in world if v in whole or v in words or ((" " in v or len(v) >= 8) and v in joined))
    assert not leaked, leaked[:10]


def test_prevalence_is_suppressed_so_nothing_can_be_worked_back(world: set[str], api_client: Any,
                                                               demo_tokens: Any) -> None:
    body = get(api_client, demo_tokens, "reviewer.birmingham", "/analytics/prevalence", cohort="all").json()
    assert body["date"] == AS_OF.isoformat() and len(body["dates"]) == 5
    rows = body["authorities"]
    measures = ["children", *body["patterns"]]
    seen_small = False
    for measure in measures:
        column = [r["children"] if measure == "children" else r["counts"][measure] for r in rows]
        total = body["national"]["children"] if measure == "children" else body["national"]["counts"][measure]
        hidden = [v for v in [*column, total] if isinstance(v, str)]
        assert len(hidden) != 1, measure  # one withheld entry in a column is its total minus the rest
        assert set(hidden) <= {SMALL, WITHHELD}
        assert all(v >= 5 for v in [*column, total] if isinstance(v, int))
        seen_small |= SMALL in hidden
        if not hidden:
            assert sum(column) == total
    assert seen_small
    for r in rows:
        for p, v in r["counts"].items():
            assert (r["per_1000"][p] is None) == (isinstance(v, str) or isinstance(r["children"], str))


def test_trend_uses_the_same_suppressed_tables(world: set[str], api_client: Any, demo_tokens: Any) -> None:
    trend = get(api_client, demo_tokens, "reviewer.birmingham", "/analytics/trend", cohort="all",
                la_code=BIRMINGHAM).json()
    assert [p["date"] for p in trend["points"]] == [d.isoformat() for d in analytics.trend_dates(AS_OF)]
    table = get(api_client, demo_tokens, "reviewer.birmingham", "/analytics/prevalence", cohort="all").json()
    [row] = [r for r in table["authorities"] if r["code"] == BIRMINGHAM]
    assert trend["points"][-1]["counts"] == row["counts"]


def test_case_view_of_the_child_lost_across_four_authorities(world: set[str], api_client: Any,
                                                            demo_tokens: Any, driver: Driver,
                                                            neo4j_settings: GraphSettings) -> None:
    ref = pseudonym(KEY, "child", "X1")
    listed = get(api_client, demo_tokens, "reviewer.leeds", "/analytics/cases", la_code=BIRMINGHAM,
                 pattern=["transfer_gap", "no_lead_professional"]).json()
    assert ref in [c["case"] for c in listed["cases"]]
    response = get(api_client, demo_tokens, "reviewer.leeds", f"/analytics/cases/{ref}", la_code=BIRMINGHAM)
    assert response.status_code == 200
    view = response.json()
    assert view["case"] == ref and view["age_band"] == "11-15"
    assert set(view["patterns"]) == {"moved_authority", "transfer_gap", "no_school_roll", "repeat_emergency",
                                     "no_lead_professional"}
    lanes = {(lane["agency_kind"], lane["authority"]) for lane in view["lanes"] if lane["agency_kind"]}
    assert {("unscheduled_care", MANCHESTER), ("housing", MANCHESTER), ("school", LEEDS)} <= lanes
    assert sum(1 for kind, _ in lanes if kind == "unscheduled_care") == 2
    [residence] = [lane for lane in view["lanes"] if lane["lane"] == "residence"]
    assert [(e["from"], e["to"], e["month"]) for e in residence["events"]] == [
        ("Leeds", "Manchester", "2026-01"), ("Manchester", "Sheffield", "2026-05"), ("Sheffield", "Birmingham", "2026-10")]
    assert residence["events"][1]["day"] - residence["events"][0]["day"] == 126  # 5 January to 11 May
    assert all(re.fullmatch(r"(ch|pr|ag|ca)-[0-9a-f]{20}", n["id"]) for n in view["network"]["nodes"])
    again = get(api_client, demo_tokens, "reviewer.birmingham", f"/analytics/cases/{ref}", la_code=BIRMINGHAM).json()
    assert again == view  # stable pseudonyms
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.action AS action, e.children AS children",
        rid=response.headers["x-request-id"], database_=neo4j_settings.database)
    assert [(r["action"], r["children"]) for r in records] == [("analytics", ["X1"])]


@pytest.mark.parametrize("child", ["X2", "X3", "X3S"])
def test_shielded_children_and_their_households_are_not_cases(world: set[str], api_client: Any, demo_tokens: Any,
                                                              child: str) -> None:
    ref = pseudonym(KEY, "child", child)
    listed = get(api_client, demo_tokens, "reviewer.leeds", "/analytics/cases", la_code=BIRMINGHAM).json()
    assert ref not in json.dumps(listed)
    assert get(api_client, demo_tokens, "reviewer.leeds", f"/analytics/cases/{ref}",
               la_code=BIRMINGHAM).status_code == 404


def test_each_reviewer_request_writes_one_event(world: set[str], api_client: Any, demo_tokens: Any, driver: Driver,
                                                neo4j_settings: GraphSettings) -> None:
    for path, params in ROUTES:
        response = get(api_client, demo_tokens, "reviewer.leeds", path, **params)
        records, _, _ = driver.execute_query(
            "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.action AS action, e.children AS children",
            rid=response.headers["x-request-id"], database_=neo4j_settings.database)
        assert [(r["action"], r["children"]) for r in records] == [("analytics", [])], path


def test_network_report_shape(world: set[str], api_client: Any, demo_tokens: Any) -> None:
    body = get(api_client, demo_tokens, "reviewer.leeds", "/analytics/network", la_code=BIRMINGHAM).json()
    assert body["bridges"] and all(b["kind"] in {"practitioner", "agency"} for b in body["bridges"])
    scores = [b["betweenness"] for b in body["bridges"]]
    assert scores == sorted(scores, reverse=True)
    assert set(body["fragmentation"]["bands"]) == {"none", "some", "high"}


def test_errors_name_the_field(world: set[str], api_client: Any, demo_tokens: Any) -> None:
    for path, params, field in [("/analytics/cases", {"la_code": "Birmingham"}, "la_code"),
                                ("/analytics/cases", {}, "la_code"),
                                ("/analytics/prevalence", {"cohort": "everyone"}, "cohort"),
                                ("/analytics/cases", {"la_code": BIRMINGHAM, "pattern": "gossip"}, "pattern"),
                                ("/analytics/cases/C00000001", {"la_code": BIRMINGHAM}, "case")]:
        response = get(api_client, demo_tokens, "reviewer.leeds", path, **params)
        assert response.status_code == 422 and field in response.json()["detail"], (path, response.text)
    missing = get(api_client, demo_tokens, "reviewer.leeds", "/analytics/prevalence", date="2020-01-01")
    assert missing.status_code == 404 and "date" in missing.json()["detail"]


def test_the_pseudonym_key_is_required_outside_demo_mode() -> None:
    with pytest.raises(ValidationError, match="CP_API_PSEUDONYM_KEY"):
        ApiSettings(jwt_secret="s" * 40)
    with pytest.raises(ValidationError, match="CP_API_PSEUDONYM_KEY"):
        ApiSettings(jwt_secret="s" * 40, pseudonym_key="short")
    assert ApiSettings(jwt_secret="s" * 40, pseudonym_key="p" * 40).pseudonym_key.get_secret_value() == "p" * 40
