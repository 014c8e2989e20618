"""The alert inbox over HTTP: who sees which alerts, acknowledging and closing, audit, break-glass, dates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from neo4j import Driver

from graph import alerts
from graph.config import GraphSettings
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER
from tests.scenarios.situations import AS_OF, build

PURPOSE = {"X-Purpose": "alert inbox"}


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    feeds, _ = build()
    feeds.write(driver, db)


@pytest.fixture()
def scanned(world: None, driver: Driver, neo4j_settings: GraphSettings) -> Iterator[None]:
    """Every test starts from the alerts of one scan as of AS_OF, all open."""
    driver.execute_query("MATCH (a:Alert) DETACH DELETE a", database_=neo4j_settings.database)
    alerts.scan(driver, database=neo4j_settings.database, as_of=AS_OF)
    yield


def call(client: Any, tokens: Any, user: str, method: str, path: str, **kwargs: Any) -> Any:
    return client.request(method, path, headers={**tokens[user], **PURPOSE}, **kwargs)


def first(client: Any, tokens: Any, user: str, **params: Any) -> dict[str, Any]:
    return call(client, tokens, user, "GET", "/alerts", params=params).json()["items"][0]


def events(driver: Driver, db: str, **where: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent) WHERE e.action = $action RETURN e.user_id AS user, e.children AS children, "
        "e.outcome AS outcome, e.detail_json AS detail ORDER BY e.seq", database_=db, **where)
    return [r.data() for r in records]


@pytest.mark.parametrize(("user", "status"), [
    ("practitioner.birmingham", 403), ("reviewer.birmingham", 403), ("auditor.birmingham", 403),
    ("ed_clinician.birmingham", 403), ("safeguarding_lead.birmingham", 200), ("la_admin.birmingham", 200),
])
def test_who_has_an_inbox(scanned: None, api_client: Any, demo_tokens: Any, user: str, status: int) -> None:
    response = call(api_client, demo_tokens, user, "GET", "/alerts")
    assert response.status_code == status, response.text
    if status == 403:
        assert "X1" not in response.text and "Nomad" not in response.text


def test_inbox_lists_only_the_viewers_authority(scanned: None, api_client: Any, demo_tokens: Any) -> None:
    body = call(api_client, demo_tokens, "safeguarding_lead.birmingham", "GET", "/alerts").json()
    assert body["items"] and all(a["la_code"] == BIRMINGHAM for a in body["items"])
    assert body["counts"] == {"open": body["total"], "acknowledged": 0, "closed": 0}
    assert {a["kind"] for a in body["items"]} == {"protected_move", "repeat_emergency", "no_school_roll", "no_gp",
                                                  "emergency_attendance"}
    page = call(api_client, demo_tokens, "safeguarding_lead.birmingham", "GET", "/alerts",
                params={"limit": 1, "skip": 1}).json()
    assert page["items"] == body["items"][1:2] and page["total"] == body["total"]


def test_acknowledge_then_close_with_audit(scanned: None, api_client: Any, demo_tokens: Any, driver: Driver,
                                           neo4j_settings: GraphSettings) -> None:
    user = "safeguarding_lead.birmingham"
    alert = first(api_client, demo_tokens, user, kind="no_gp")
    missing = call(api_client, demo_tokens, user, "POST", f"/alerts/{alert['id']}/acknowledge", json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "note"
    done = call(api_client, demo_tokens, user, "POST", f"/alerts/{alert['id']}/acknowledge",
                json={"note": "GP registration requested with Edgbaston Surgery"})
    assert done.status_code == 200
    body = done.json()
    assert body["state"] == "acknowledged" and body["acknowledged"]["note"].startswith("GP registration")
    again = call(api_client, demo_tokens, user, "POST", f"/alerts/{alert['id']}/acknowledge", json={"note": "x"})
    assert again.status_code == 409
    closed = call(api_client, demo_tokens, "la_admin.birmingham", "POST", f"/alerts/{alert['id']}/close", json={})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert call(api_client, demo_tokens, user, "POST", f"/alerts/{alert['id']}/close", json={}).status_code == 409
    listed = call(api_client, demo_tokens, user, "GET", "/alerts", params={"state": "closed"}).json()
    assert [a["id"] for a in listed["items"]] == [alert["id"]] and listed["counts"]["closed"] == 1
    db = neo4j_settings.database
    acks = [e for e in events(driver, db, action="alert_acknowledge") if alert["id"] in e["detail"]]
    assert [(e["children"], e["outcome"]) for e in acks] == [(["Y1"], "ok"), (["Y1"], "denied")]
    closes = [e for e in events(driver, db, action="alert_close") if alert["id"] in e["detail"]]
    assert [e["outcome"] for e in closes] == ["ok", "denied"]


def test_another_authoritys_alert_is_not_found(scanned: None, api_client: Any, demo_tokens: Any) -> None:
    alert = first(api_client, demo_tokens, "safeguarding_lead.birmingham")
    for user in ("safeguarding_lead.leeds", "la_admin.leeds"):
        for action, body in (("acknowledge", {"note": "mine now"}), ("close", {})):
            response = call(api_client, demo_tokens, user, "POST", f"/alerts/{alert['id']}/{action}", json=body)
            assert response.status_code == 404, response.text
            assert alert["child_id"] not in response.text
    unknown = call(api_client, demo_tokens, "la_admin.leeds", "POST",
                   "/alerts/00000000-0000-0000-0000-000000000000/close", json={})
    assert unknown.status_code == 404 and unknown.json()["detail"] == response.json()["detail"]
    bad = call(api_client, demo_tokens, "la_admin.leeds", "POST", "/alerts/not-an-id/close", json={})
    assert bad.status_code == 422 and "alert_id" in bad.json()["detail"]


def test_a_lead_cannot_act_on_the_holding_teams_alert(scanned: None, api_client: Any, demo_tokens: Any) -> None:
    listed = call(api_client, demo_tokens, "la_admin.leeds", "GET", "/alerts", params={"kind": "transfer_in_overdue"})
    [shielded] = [a for a in listed.json()["items"] if a["child_id"] == "X2"]
    response = call(api_client, demo_tokens, "safeguarding_lead.leeds", "POST",
                    f"/alerts/{shielded['id']}/acknowledge", json={"note": "seen"})
    assert response.status_code == 404


def test_listing_is_audited_with_the_children_shown(scanned: None, api_client: Any, demo_tokens: Any,
                                                    driver: Driver, neo4j_settings: GraphSettings) -> None:
    before = len(events(driver, neo4j_settings.database, action="alerts"))
    body = call(api_client, demo_tokens, "safeguarding_lead.leeds", "GET", "/alerts").json()
    after = events(driver, neo4j_settings.database, action="alerts")
    assert len(after) == before + 1
    assert after[-1]["children"] == sorted({a["child_id"] for a in body["items"]}) == ["X1"]


def test_purpose_and_filters_are_checked(scanned: None, api_client: Any, demo_tokens: Any) -> None:
    headers = demo_tokens["safeguarding_lead.leeds"]
    assert api_client.get("/alerts", headers=headers).status_code == 400
    bad = api_client.get("/alerts", headers={**headers, **PURPOSE}, params={"state": "snoozed"})
    assert bad.status_code == 422 and "state" in bad.json()["detail"]
    bad = api_client.get("/alerts", headers={**headers, **PURPOSE}, params={"kind": "gossip"})
    assert bad.status_code == 422 and "kind" in bad.json()["detail"]


def test_break_glass_reaches_the_holding_teams_inbox(scanned: None, api_client: Any, demo_tokens: Any) -> None:
    opened = api_client.post("/children/X3S/override", json={"reason": "found at the emergency department"},
                             headers={**demo_tokens["safeguarding_lead.leeds"], "X-Purpose": "child at A&E"})
    assert opened.status_code == 200
    team = call(api_client, demo_tokens, "la_admin.birmingham", "GET", "/alerts", params={"kind": "break_glass"})
    [item] = team.json()["items"]
    assert item["child_id"] == "X3S" and item["details"]["user_la_code"] == LEEDS
    assert "by override: found at the emergency department" in item["summary"]
    lead = call(api_client, demo_tokens, "safeguarding_lead.birmingham", "GET", "/alerts",
                params={"kind": "break_glass"})
    assert lead.json()["items"] == []


def test_transfer_in_is_overdue_the_day_after_the_fifteenth_working_day(world: None, driver: Driver,
                                                                       neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database

    def overdue(day: date) -> list[str]:
        driver.execute_query("MATCH (a:Alert) DETACH DELETE a", database_=db)
        alerts.scan(driver, database=db, as_of=day)
        records, _, _ = driver.execute_query(
            "MATCH (a:Alert {kind: 'transfer_in_overdue', child_id: 'X1'}) RETURN a.la_code AS la ORDER BY la",
            database_=db)
        return [r["la"] for r in records]

    assert overdue(date(2026, 1, 26)) == []  # the 15th working day after Monday 5 January
    assert overdue(date(2026, 1, 27)) == sorted([LEEDS, MANCHESTER])
