"""The API on the real Neo4j: who may see what (role x route), stated purpose, errors, audit completeness."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from neo4j import Driver

from graph import schema
from graph.config import GraphSettings
from tests.conftest import fresh_db, restore_demo_users
from tests.factories import BIRMINGHAM, LEEDS, Feeds

D = date(2020, 1, 1)
RESTRICTED_KEYS = {"id", "given_name", "family_name", "former_names", "known_names", "dob", "gender", "shielded",
                   "holding_team"}


@pytest.fixture(scope="module")
def world(driver: Driver, neo4j_settings: GraphSettings) -> dict[str, str]:
    """A Birmingham household with a shielded child, a Leeds child, and a child who moved Leeds -> Birmingham."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    restore_demo_users(driver, db)
    f = Feeds()
    f.authorities()
    for aid, name, kind, la in [("SCH-A", "Alder School", "school", BIRMINGHAM),
                                ("SCH-S", "Secretwood Academy", "school", BIRMINGHAM),
                                ("GP-B", "Birch Surgery", "gp_practice", BIRMINGHAM),
                                ("SC-B", "Birmingham Children's Services", "social_care", BIRMINGHAM),
                                ("CAMHS-B", "Birmingham CAMHS", "camhs", BIRMINGHAM),
                                ("SH-B", "Clinic Nine", "sexual_health", BIRMINGHAM),
                                ("CAMHS-S", "Quiet Clinic", "camhs", BIRMINGHAM),
                                ("SCH-L", "Larch School", "school", LEEDS)]:
        f.agency(aid, name, kind, la)
    f.practitioner("P-SW", "Sam Worker", "SC-B")
    f.practitioner("P-CAMHS", "Cara Minder", "CAMHS-B")
    f.practitioner("P-SH", "Shona Health", "SH-B")
    f.practitioner("P-S", "Hidden Helper", "CAMHS-S", phone="07700 900999")
    f.child("A", "Amelia", "Okafor", date(2014, 5, 1), BIRMINGHAM)
    f.child("S", "Sophie", "Okafor", date(2016, 7, 2), BIRMINGHAM)
    f.child("L", "Liam", "Leeds", date(2013, 3, 3), LEEDS, gender="male")
    f.child("M", "Maya", "Mover", date(2015, 9, 9), BIRMINGHAM)
    f.address("ADDR-B1", "1 Hidden Row", "B1 1AA", BIRMINGHAM)
    f.address("ADDR-L1", "2 Leeds Lane", "LS1 1AA", LEEDS)
    f.address("ADDR-B3", "3 New Street", "B2 4QA", BIRMINGHAM)
    f.lives("A", "ADDR-B1", D)
    f.lives("S", "ADDR-B1", D)
    f.lives("L", "ADDR-L1", D)
    f.lives("M", "ADDR-L1", D, date(2025, 1, 1))
    f.lives("M", "ADDR-B3", date(2025, 1, 1))
    f.carer("K-MUM", "Grace Okafor", "A", phone="07700 900555")
    f.carer("K-MUM", "Grace Okafor", "S", phone="07700 900555")
    f.carer("K-GRAN", "Nana Adeyemi", "A")
    f.school("A", "SCH-A", D)
    f.school("S", "SCH-S", D)
    f.school("L", "SCH-L", D)
    f.gp("A", "GP-B", D)
    f.involve("P-SW", "A", "social_care", D, lead=True)
    f.involve("P-CAMHS", "A", "camhs", D, sensitive=True, consent=False)
    f.involve("P-SH", "A", "sexual_health", D, sensitive=True, consent=True)
    f.involve("P-S", "S", "camhs", D, sensitive=True, consent=True)
    f.plan("A", BIRMINGHAM, "cp_plan", D)
    f.shield("S", BIRMINGHAM, D)
    f.write(driver, db)
    return {"A": "A", "S": "S", "L": "L", "M": "M"}


def get(client: Any, tokens: dict[str, dict[str, str]], user: str, path: str, purpose: str | None = "testing",
        **params: Any) -> Any:
    headers = dict(tokens[user])
    if purpose is not None:
        headers["X-Purpose"] = purpose
    return client.get(path, headers=headers, params=params)


def events(driver: Driver, db: str) -> int:
    records, _, _ = driver.execute_query("MATCH (e:AuditEvent) RETURN count(e) AS n", database_=db)
    return records[0]["n"]


# -- role x route ------------------------------------------------------------------------------

MATRIX = [
    # (user, path, expected status)
    ("practitioner.birmingham", "/children/A", 200),
    ("practitioner.leeds", "/children/A", 200),
    ("safeguarding_lead.birmingham", "/children/A", 200),
    ("la_admin.leeds", "/children/A", 200),
    ("reviewer.birmingham", "/children/A", 403),
    ("auditor.birmingham", "/children/A", 403),
    ("practitioner.birmingham", "/children/A/network", 403),
    ("safeguarding_lead.birmingham", "/children/A/network", 200),
    ("safeguarding_lead.leeds", "/children/A/network", 403),
    ("la_admin.birmingham", "/children/A/network", 200),
    ("reviewer.birmingham", "/children/A/network", 403),
    ("auditor.birmingham", "/children/A/network", 403),
    ("safeguarding_lead.leeds", "/children/M/network", 200),
    ("safeguarding_lead.birmingham", "/children/L/network", 403),
    ("practitioner.birmingham", "/children/M/moves", 403),
    ("safeguarding_lead.birmingham", "/children/M/moves", 200),
    ("safeguarding_lead.leeds", "/children/M/moves", 200),
    ("safeguarding_lead.birmingham", "/children/L/moves", 403),
    ("reviewer.leeds", "/children/M/moves", 403),
    ("safeguarding_lead.birmingham", "/children/A/accesses", 200),
    ("la_admin.birmingham", "/children/A/accesses", 200),
    ("practitioner.birmingham", "/children/A/accesses", 403),
    ("auditor.birmingham", "/children/A/accesses", 403),
    ("safeguarding_lead.birmingham", "/children/S/accesses", 403),
    ("la_admin.birmingham", "/children/S/accesses", 200),
    ("la_admin.leeds", "/children/S/accesses", 403),
    ("practitioner.birmingham", "/children/NOPE", 404),
    ("auditor.birmingham", "/audit", 200),
    ("practitioner.birmingham", "/audit", 403),
    ("safeguarding_lead.birmingham", "/audit", 403),
    ("la_admin.birmingham", "/audit", 403),
    ("reviewer.birmingham", "/audit", 403),
    ("auditor.leeds", "/audit/verify", 200),
    ("la_admin.leeds", "/audit/verify", 403),
    # The emergency-department clinician has the flag alone (tests/test_flags.py asks every route).
    ("ed_clinician.birmingham", "/children/A", 403),
    ("ed_clinician.birmingham", "/children/A/network", 403),
    ("ed_clinician.birmingham", "/children/M/moves", 403),
    ("ed_clinician.birmingham", "/children/A/accesses", 403),
    ("ed_clinician.leeds", "/audit", 403),
]


@pytest.mark.parametrize(("user", "path", "status"), MATRIX)
def test_role_route_matrix(world: dict[str, str], api_client: Any, demo_tokens: Any,
                           user: str, path: str, status: int) -> None:
    response = get(api_client, demo_tokens, user, path)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == status and body["detail"]
        assert "Okafor" not in response.text and "Hidden" not in response.text


def test_search_requires_a_role_that_may_search(world: dict[str, str], api_client: Any, demo_tokens: Any) -> None:
    for user in ("reviewer.birmingham", "auditor.leeds"):
        response = get(api_client, demo_tokens, user, "/children/search", given_name="Amelia", family_name="Okafor")
        assert response.status_code == 403


# -- shielding: the withheld shape --------------------------------------------------------------

@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham", "la_admin.leeds",
                                  "practitioner.leeds"])
def test_shielded_card_is_exactly_the_restricted_shape(world: dict[str, str], api_client: Any, demo_tokens: Any,
                                                       user: str) -> None:
    body = get(api_client, demo_tokens, user, "/children/S").json()
    assert set(body) == RESTRICTED_KEYS
    assert body["shielded"] is True and body["holding_team"]["code"] == BIRMINGHAM
    for secret in ("Hidden Row", "B1 1AA", "Secretwood", "Hidden Helper", "Quiet Clinic", "Grace", "900999"):
        assert secret not in json.dumps(body)


def test_holding_authority_team_sees_the_shielded_record(world: dict[str, str], api_client: Any,
                                                         demo_tokens: Any) -> None:
    body = get(api_client, demo_tokens, "la_admin.birmingham", "/children/S").json()
    assert body["address"]["postcode"] == "B1 1AA"
    assert body["school"]["name"] == "Secretwood Academy"
    assert [c["name"] for c in body["carers"]] == ["Grace Okafor"]


@pytest.mark.parametrize("user", ["practitioner.birmingham", "safeguarding_lead.birmingham", "la_admin.leeds"])
def test_a_siblings_card_withholds_what_leads_to_the_shielded_child(world: dict[str, str], api_client: Any,
                                                                    demo_tokens: Any, user: str) -> None:
    body = get(api_client, demo_tokens, user, "/children/A").json()
    text = json.dumps(body)
    assert body["address"] == {"withheld": True}
    assert body["details_withheld"] is True
    assert [c["name"] for c in body["carers"]] == ["Nana Adeyemi"]  # the shared carer is withheld
    for secret in ("Hidden Row", "B1 1AA", "Grace", "900555", "Secretwood", "Hidden Helper", "Quiet Clinic",
                   "Sophie"):
        assert secret not in text
    assert body["school"]["name"] == "Alder School"


def test_sensitive_services_need_consent_unless_lead(world: dict[str, str], api_client: Any,
                                                     demo_tokens: Any) -> None:
    seen = {u: {s["service"] for s in get(api_client, demo_tokens, u, "/children/A").json()["services"]}
            for u in ("practitioner.birmingham", "la_admin.birmingham", "safeguarding_lead.birmingham")}
    assert seen["practitioner.birmingham"] == {"social_care", "sexual_health"}
    assert seen["la_admin.birmingham"] == {"social_care", "sexual_health"}
    assert seen["safeguarding_lead.birmingham"] == {"social_care", "sexual_health", "camhs"}


def test_shielded_child_is_not_in_anyones_network(world: dict[str, str], api_client: Any, demo_tokens: Any) -> None:
    body = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "/children/A/network", depth=2).json()
    ids = {n["id"] for n in body["nodes"]}
    assert "child:S" not in ids and "carer:K-MUM" not in ids and "practitioner:P-S" not in ids
    assert "agency:SCH-S" not in ids and "agency:CAMHS-S" not in ids
    assert {"child:A", "carer:K-GRAN", "practitioner:P-SW", "agency:SCH-A"} <= ids
    lead = [e for e in body["edges"] if e.get("lead")]
    assert [e["source"] for e in lead] == ["practitioner:P-SW"]


def test_search_never_finds_a_shielded_child_by_a_hidden_field(world: dict[str, str], api_client: Any,
                                                               demo_tokens: Any) -> None:
    by_postcode = get(api_client, demo_tokens, "practitioner.birmingham", "/children/search",
                      family_name="Okafor", postcode="B1 1AA").json()
    assert by_postcode == {"results": [], "truncated": False}  # A lives at the protected address too
    by_name = get(api_client, demo_tokens, "practitioner.birmingham", "/children/search",
                  given_name="Sophie", family_name="Okafor").json()
    assert [set(r) for r in by_name["results"]] == [RESTRICTED_KEYS]
    fuzzy = get(api_client, demo_tokens, "practitioner.leeds", "/children/search",
                given_name="Amelai", family_name="Okafr").json()
    assert [r["id"] for r in fuzzy["results"]] == ["A"]


def test_moves_between_authorities(world: dict[str, str], api_client: Any, demo_tokens: Any) -> None:
    body = get(api_client, demo_tokens, "safeguarding_lead.leeds", "/children/M/moves").json()
    assert [(m["from"]["code"], m["to"]["code"], m["date"]) for m in body["moves"]] == [
        (LEEDS, BIRMINGHAM, "2025-01-01")]
    shielded = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "/children/S/moves").json()
    assert shielded["residences"] == [] and shielded["moves"] == [] and set(shielded["child"]) == RESTRICTED_KEYS


def test_a_siblings_moves_withhold_the_shielded_home_and_its_coordinates(world: dict[str, str], api_client: Any,
                                                                        demo_tokens: Any) -> None:
    # The lead of the authority the household lives in: the only role that may see A's moves but not S.
    residences = get(api_client, demo_tokens, "safeguarding_lead.birmingham", "/children/A/moves").json()["residences"]
    withheld = [r for r in residences if r["withheld"]]
    assert withheld, residences  # A lives at the shielded sister's address
    for r in withheld:  # the map's coordinates point at the home as well as a postcode does
        assert (r["authority"], r["postcode"], r["easting"], r["northing"]) == (None, None, None, None)


# -- stated purpose, errors ---------------------------------------------------------------------

def test_child_data_needs_a_stated_purpose(world: dict[str, str], api_client: Any, demo_tokens: Any,
                                           driver: Driver, neo4j_settings: GraphSettings) -> None:
    before = events(driver, neo4j_settings.database)
    response = get(api_client, demo_tokens, "practitioner.birmingham", "/children/A", purpose=None)
    assert response.status_code == 400 and "X-Purpose" in response.json()["detail"]
    assert events(driver, neo4j_settings.database) == before


def test_422_names_the_bad_field(world: dict[str, str], api_client: Any, demo_tokens: Any) -> None:
    response = get(api_client, demo_tokens, "practitioner.birmingham", "/children/search", dob="31-12-2015",
                   family_name="Okafor")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.dob"
    too_few = get(api_client, demo_tokens, "practitioner.birmingham", "/children/search", family_name="Okafor")
    assert too_few.status_code == 422 and "at least two" in too_few.json()["detail"]


def test_no_token_or_a_bad_token_is_401(world: dict[str, str], api_client: Any) -> None:
    assert api_client.get("/children/A", headers={"X-Purpose": "x"}).status_code == 401
    forged = api_client.get("/children/A", headers={"X-Purpose": "x", "Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"


def test_every_response_has_security_headers(api_client: Any) -> None:
    response = api_client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]


def _refused_for_size(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-request-id"]


def test_oversized_bodies_and_addresses_are_refused(api_client: Any) -> None:
    big = "x" * (20 * 1024)
    _refused_for_size(api_client.post("/auth/token", content=f"username={big}",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"}), 413)
    # Chunked, with no Content-Length to check up front: refused once the bytes read pass the limit.
    chunks = (f"username={big}".encode()[i:i + 1024] for i in range(0, len(big) + 9, 1024))
    _refused_for_size(api_client.post("/auth/token", content=chunks,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"}), 413)
    _refused_for_size(api_client.get("/children/search", params={"given_name": "a" * 5000}), 414)
    small = api_client.post("/auth/token", data={"username": "nobody", "password": "x", "otp": "123456"})
    assert small.status_code == 401  # under the limit, the request goes on as usual


INJECTIONS = ["' OR 1=1 //", "\") MATCH (n) DETACH DELETE n //", "*:*", "a) OR (b", "Robert'); DROP", "$viewer",
              "\\u0027", "}]->(x) RETURN x //", "name~0.1^99"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_data_not_code(world: dict[str, str], api_client: Any, demo_tokens: Any,
                                             driver: Driver, neo4j_settings: GraphSettings, text: str) -> None:
    nodes_before = schema.status(driver, database=neo4j_settings.database).nodes
    for params in ({"given_name": text, "family_name": "Okafor"}, {"family_name": text, "dob": "2016-07-02"},
                   {"postcode": text, "given_name": "Sophie"}):
        response = get(api_client, demo_tokens, "practitioner.birmingham", "/children/search", **params)
        assert response.status_code in (200, 422), response.text
        assert "Hidden Row" not in response.text
        if response.status_code == 200:
            assert all(set(r) == RESTRICTED_KEYS for r in response.json()["results"] if r["shielded"])
    for path in (f"/children/{text}", f"/children/{text}/network"):
        assert get(api_client, demo_tokens, "safeguarding_lead.birmingham", path).status_code in (404, 422)
    after = schema.status(driver, database=neo4j_settings.database).nodes
    assert {k: v for k, v in after.items() if k != "AuditEvent"} == \
        {k: v for k, v in nodes_before.items() if k != "AuditEvent"}


# -- audit ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "path", "params"), [
    ("practitioner.birmingham", "/children/A", {}),
    ("practitioner.birmingham", "/children/S", {}),
    ("practitioner.leeds", "/children/search", {"given_name": "Liam", "family_name": "Leeds"}),
    ("safeguarding_lead.birmingham", "/children/A/network", {}),
    ("safeguarding_lead.birmingham", "/children/M/moves", {}),
    ("la_admin.birmingham", "/children/S/accesses", {}),
])
def test_each_child_data_response_has_exactly_one_event(world: dict[str, str], api_client: Any, demo_tokens: Any,
                                                        driver: Driver, neo4j_settings: GraphSettings,
                                                        user: str, path: str, params: dict[str, str]) -> None:
    db = neo4j_settings.database
    before = events(driver, db)
    response = get(api_client, demo_tokens, user, path, purpose="case conference", **params)
    assert response.status_code == 200
    assert events(driver, db) == before + 1
    rid = response.headers["x-request-id"]
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.purpose AS purpose, e.role AS role, e.children AS children",
        rid=rid, database_=db)
    assert len(records) == 1
    assert records[0]["purpose"] == "case conference" and records[0]["role"] == user.split(".")[0]


# What happens in the database to a user after their token was issued (test-only statements).
CHANGES = {
    "disabled": "MATCH (u:User {id: $id}) SET u.disabled = true",
    "another role": "MATCH (u:User {id: $id}) SET u.role = 'practitioner'",
    "another authority": "MATCH (u:User {id: $id}) SET u.la_code = 'E08000035'",
    "another agency": "MATCH (u:User {id: $id}) SET u.agency_id = 'SCH-A'",
    "deleted": "MATCH (u:User {id: $id}) DETACH DELETE u",
}
AUDITED_ROUTES = [("/children/A", {}), ("/children/A/network", {}), ("/children/M/moves", {}),
                  ("/children/A/accesses", {}), ("/children/search", {"given_name": "Amelia", "family_name": "Okafor"})]


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_user_changed_after_sign_in_gets_no_child_data(world: dict[str, str], api_client: Any, driver: Driver,
                                                         neo4j_settings: GraphSettings, change: str) -> None:
    """The hot routes trust the token until the audit commit, which re-checks the user and refuses."""
    from api.config import ApiSettings
    from api.security import issue_token
    from graph import users

    db = neo4j_settings.database
    with driver.session(database=db) as session:
        user = session.execute_write(lambda tx: users.create_user(
            tx, username=f"lead.{change.replace(' ', '-')}", name="A Lead", role="safeguarding_lead",
            la_code=BIRMINGHAM, agency_id="SC-B", password_hash="unused", totp_secret="JBSWY3DPEHPK3PXP"))
    token, _ = issue_token(ApiSettings(demo_mode=True), user.viewer())
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "testing"}
    for path, params in AUDITED_ROUTES:
        assert api_client.get(path, headers=headers, params=params).status_code == 200, path
    driver.execute_query(CHANGES[change], id=user.id, database_=db)
    for path, params in AUDITED_ROUTES:
        response = api_client.get(path, headers=headers, params=params)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Amelia" not in response.text and "Maya" not in response.text
        records, _, _ = driver.execute_query(
            "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.outcome AS outcome, e.children AS children, "
            "e.detail_json AS detail", rid=response.headers["x-request-id"], database_=db)
        [event] = records
        assert (event["outcome"], event["children"]) == ("denied", [])
        assert "disabled or changed after sign-in" in event["detail"]


def test_break_glass_is_flagged_and_alerts_the_holding_team(world: dict[str, str], api_client: Any,
                                                            demo_tokens: Any, driver: Driver,
                                                            neo4j_settings: GraphSettings) -> None:
    db = neo4j_settings.database
    headers = {**demo_tokens["safeguarding_lead.leeds"], "X-Purpose": "child found at A&E"}
    refused = api_client.post("/children/S/override", headers={**demo_tokens["practitioner.leeds"],
                                                               "X-Purpose": "x"}, json={"reason": "curious"})
    assert refused.status_code == 403
    response = api_client.post("/children/S/override", headers=headers, json={"reason": "injured child at A&E"})
    assert response.status_code == 200
    body = response.json()
    assert body["card"]["address"]["postcode"] == "B1 1AA" and "investigated" in body["warning"]
    records, _, _ = driver.execute_query(
        "MATCH (e:AuditEvent {request_id: $rid}) RETURN e.flagged AS flagged", rid=response.headers["x-request-id"],
        database_=db)
    assert [r["flagged"] for r in records] == [True]
    alerts, _, _ = driver.execute_query(
        "MATCH (a:Alert {kind: 'break_glass', child_id: 'S'}) RETURN a.la_code AS la, a.user_la_code AS by",
        database_=db)
    assert [(a["la"], a["by"]) for a in alerts] == [(BIRMINGHAM, LEEDS)]
    again = get(api_client, demo_tokens, "safeguarding_lead.leeds", "/children/S").json()
    assert set(again) == RESTRICTED_KEYS  # one request only


def test_only_the_holding_team_shields_and_unshields(world: dict[str, str], api_client: Any,
                                                     demo_tokens: Any) -> None:
    body = {"reason": "domestic abuse refuge"}
    other = {**demo_tokens["la_admin.leeds"], "X-Purpose": "shielding decision"}
    own = {**demo_tokens["la_admin.birmingham"], "X-Purpose": "shielding decision"}
    assert api_client.post("/children/M/shield", headers=other, json=body).status_code == 403
    assert api_client.post("/children/M/shield", headers=own, json=body).status_code == 200
    assert set(get(api_client, demo_tokens, "practitioner.leeds", "/children/M").json()) == RESTRICTED_KEYS
    assert api_client.request("DELETE", "/children/M/shield", headers=other, json=body).status_code == 403
    assert api_client.request("DELETE", "/children/M/shield", headers=own, json=body).status_code == 200
    assert "address" in get(api_client, demo_tokens, "practitioner.leeds", "/children/M").json()


def test_audit_trail_verifies_after_all_that(world: dict[str, str], api_client: Any, demo_tokens: Any) -> None:
    auditor = demo_tokens["auditor.birmingham"]
    api_client.app.state.verifier.wait(60)  # a run the route matrix started
    assert api_client.post("/audit/verify", headers=auditor, params={"full": "true"}).status_code == 202
    api_client.app.state.verifier.wait(60)
    body = api_client.get("/audit/verify", headers=auditor).json()
    api_client.app.state.verifier.wait(60)
    assert (body["ok"], body["mode"], body["from_seq"]) == (True, "full", 0) and body["events"] > 10


def test_audit_search_refuses_offsets_neo4j_cannot_store(world: dict[str, str], api_client: Any,
                                                         demo_tokens: Any) -> None:
    headers = demo_tokens["auditor.birmingham"]
    for bad in ("2020-01-01T00:00:00+23:59", "2020-01-01T00:00:00-19:00"):
        response = api_client.get("/audit", headers=headers, params={"since": bad, "until": bad})
        assert response.status_code == 422 and "since" in response.json()["detail"], response.text
    assert api_client.get("/audit", headers=headers, params={"since": "2020-01-01T00:00:00+18:00"}).status_code == 200
