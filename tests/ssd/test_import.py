"""The SSD import on a real Neo4j: every table mapped, re-import, what ended, bad rows, other councils untouched."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from neo4j import Driver

from analytics import reports
from graph import analytics
from graph.config import GraphSettings
from graph.viewer import Role, Viewer
from loaders.ssd.importer import SsdReport
from tests.factories import LEEDS, MANCHESTER
from tests.ssd import extract
from tests.ssd.conftest import query, rejects, run, snapshot

SRC = f"ssd-{LEEDS}"


@pytest.fixture(scope="module")
def leeds(ssd_db: Driver, neo4j_settings: GraphSettings, tmp_path_factory: pytest.TempPathFactory) -> SsdReport:
    """Leeds's extract as a SystemC export might write it: pipe-delimited, a BOM, dd/mm/yyyy dates with times."""
    folder = extract.write(tmp_path_factory.mktemp("leeds"), extract.tables(), delimiter="|", bom=True,
                           uk_dates=True)
    return run(ssd_db, neo4j_settings, folder, LEEDS)


def _child(driver: Driver, settings: GraphSettings, person: str) -> str:
    [row] = query(driver, settings, "MATCH (:SourceRecord {key: $k})-[:IDENTIFIES]->(c:Child) RETURN c.id AS id",
                  k=f"{SRC}|{person}")
    return row["id"]


def test_every_table_is_mapped(leeds: SsdReport, ssd_db: Driver, neo4j_settings: GraphSettings):
    s = neo4j_settings
    assert leeds.load.rejected == 0, rejects(leeds.load.rejects_path)
    assert leeds.ignored == ["ssd_contacts"] and leeds.adults == 1
    [source] = query(ssd_db, s, "MATCH (s:Source {id: $id}) RETURN s.kind AS kind, s.la_code AS la", id=SRC)
    assert source == {"kind": "council_case_system", "la": LEEDS}
    records = query(ssd_db, s, "MATCH (x:SourceRecord)-[:FROM]->(:Source {id: $id}) RETURN x.local_id AS id, "
                               "x.nhs_number AS nhs, x.upn AS upn, x.sex AS sex, x.postcode AS postcode "
                               "ORDER BY id", id=SRC)
    assert records == [  # the mother is an adult: a carer, not a record; postcodes are the current address's
        {"id": "P1", "nhs": extract.NHS_OLIVER, "upn": extract.UPN_OLIVER, "sex": "male", "postcode": "LS1 1AA"},
        {"id": "P2", "nhs": None, "upn": extract.FORMER_UPN_PRIYA, "sex": "female", "postcode": "LS1 4AP"},
        {"id": "P3", "nhs": None, "upn": None, "sex": "male", "postcode": None},
        {"id": "P4", "nhs": None, "upn": None, "sex": "female", "postcode": "LS9 8AB"},
    ]
    oliver, priya, jack, ruby = (_child(ssd_db, s, p) for p in ("P1", "P2", "P3", "P4"))
    assert len({oliver, priya, jack, ruby}) == 4

    lived = query(ssd_db, s, "MATCH (c:Child {id: $c})-[l:LIVED_AT]->(a:Address) RETURN a.postcode AS pc, "
                             "a.line1 AS line1, l.since AS since, l.until AS until, l.via AS via ORDER BY since", c=oliver)
    assert [(r["pc"], r["line1"], r["until"]) for r in lived] == [
        ("LS6 2AB", "not recorded", date(2020, 1, 31)), ("LS1 1AA", "12 Park Row", None)]
    assert {r["via"] for r in lived} == {f"{SRC}|P1"}
    moves = query(ssd_db, s, "MATCH (:Child {id: $c})-[l:LIVED_AT]->(a:Address) RETURN a.postcode AS pc, "
                             "a.line1 AS line1, l.until AS until ORDER BY l.since", c=ruby)
    assert moves == [{"pc": "LS9 8AB", "line1": "not recorded", "until": date(2023, 5, 1)},
                     {"pc": "LS8 1AA", "line1": "Placement: foster care", "until": date(2023, 11, 1)},
                     {"pc": "BD1 1AA", "line1": "Placement: childrens home", "until": None}]

    workers = query(ssd_db, s, "MATCH (p:Practitioner)-[:WORKS_FOR]->(a:Agency)-[:IN]->(:LocalAuthority {code: $la}) "
                               "RETURN p.name AS name, p.job_title AS title, a.name AS team, a.kind AS kind "
                               "ORDER BY name", la=LEEDS)
    assert workers == [
        {"name": "Amy Clarke", "title": "Social Worker", "team": "Leeds children's social care: Assessment East",
         "kind": "social_care"},
        {"name": "Ben Ode", "title": "Senior Practitioner", "team": "Leeds children's social care: Children in Care",
         "kind": "social_care"},
        {"name": "Cara Dunn", "title": "not recorded", "team": "Leeds children's social care", "kind": "social_care"},
    ]
    involved = query(ssd_db, s, "MATCH (p:Practitioner)-[i:INVOLVED_WITH]->(c:Child) RETURN p.name AS who, c.id AS "
                                "child, i.service AS service, i.until AS until ORDER BY who")
    assert involved == [{"who": "Amy Clarke", "child": oliver, "service": "social_care", "until": None},
                        {"who": "Ben Ode", "child": ruby, "service": "social_care", "until": date(2024, 2, 1)},
                        {"who": "Cara Dunn", "child": priya, "service": "social_care", "until": None}]

    plans = query(ssd_db, s, "MATCH (c:Child)-[h:HAS_PLAN]->(la:LocalAuthority) RETURN c.id AS child, h.kind AS kind, "
                             "h.since AS since, h.until AS until, h.category AS category, h.other_authority AS other, "
                             "la.code AS la ORDER BY child, since")
    expected = [
        (oliver, "cp_plan", date(2024, 2, 15), None, "emotional_abuse", None),
        (priya, "cp_plan", date(2022, 1, 1), date(2022, 12, 1), "physical_abuse", True),
        (priya, "child_in_need", date(2024, 3, 1), None, "family_acute_stress", None),
        (jack, "child_in_need", date(2023, 6, 1), date(2023, 9, 1), "family_dysfunction", None),  # episode, no plan
        (ruby, "looked_after", date(2023, 5, 1), None, "accommodated", None),  # two episodes, one period of care
    ]
    got = [(p["child"], p["kind"], p["since"], p["until"], p["category"], p["other"]) for p in plans]
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert {p["la"] for p in plans} == {LEEDS}

    carers = query(ssd_db, s, "MATCH (k:Carer)-[x:CARES_FOR]->(c:Child) RETURN k.name AS name, c.id AS child, "
                              "x.relationship AS rel, x.parental_responsibility AS pr, x.since AS since")
    assert sorted((r["name"], r["child"], r["rel"], r["pr"], r["since"]) for r in carers) == sorted([
        ("Sarah Hughes", oliver, "mother", True, date(2015, 4, 7)),
        ("Sarah Hughes", jack, "mother", True, date(2018, 6, 1)),
        ("Family F1 (Leeds records)", oliver, "household", False, date(2015, 4, 7)),
        ("Family F1 (Leeds records)", jack, "household", False, date(2018, 6, 1)),
    ])  # Priya's family has no other child: nothing to link
    missing = query(ssd_db, s, "MATCH (c:Child)-[m:WENT_MISSING]->(la) RETURN c.id AS child, m.kind AS kind, "
                               "m.since AS since, m.until AS until, m.return_interview_offered AS offered, "
                               "m.return_interview_accepted AS accepted, la.code AS la")
    assert missing == [{"child": ruby, "kind": "missing", "since": date(2024, 3, 1), "until": date(2024, 3, 2),
                        "offered": True, "accepted": False, "la": LEEDS}]


def test_missing_episodes_are_on_the_reviewers_chronology(leeds: SsdReport, ssd_db: Driver,
                                                          neo4j_settings: GraphSettings):
    ruby = _child(ssd_db, neo4j_settings, "P4")
    reviewer = Viewer("reviewer.leeds", Role.REVIEWER, LEEDS)
    with ssd_db.session(database=neo4j_settings.database) as session:
        raw = session.execute_read(analytics.case, viewer=reviewer, la_code=LEEDS, child_id=ruby,
                                   as_of=date(2024, 6, 1))
    [lane] = [lane for lane in reports.case_view(raw, ruby, b"k" * 32)["lanes"] if lane["lane"] == "missing"]
    assert [(e["event"], e["month"], e["authority"]) for e in lane["events"]] == [
        ("went_missing", "2024-03", "Leeds"), ("returned", "2024-03", "Leeds")]


def test_reimporting_the_same_extract_changes_nothing(leeds: SsdReport, ssd_db: Driver,
                                                      neo4j_settings: GraphSettings, tmp_path: Path):
    before = snapshot(ssd_db, neo4j_settings)
    again = run(ssd_db, neo4j_settings, extract.write(tmp_path, extract.tables()), LEEDS)  # comma, ISO: same data
    assert again.load.rejected == 0
    assert snapshot(ssd_db, neo4j_settings) == before


def test_a_newer_extract_ends_what_ended_and_adds_what_is_new(leeds: SsdReport, ssd_db: Driver,
                                                              neo4j_settings: GraphSettings, tmp_path: Path):
    s = neo4j_settings
    data = extract.tables()
    data["ssd_involvements"][0]["invo_involvement_end_date"] = date(2025, 1, 31)
    data["ssd_cp_plans"][0]["cppl_cp_plan_end_date"] = date(2025, 2, 1)
    data["ssd_address"][1]["addr_address_end_date"] = date(2025, 3, 1)
    data["ssd_address"].append(dict(addr_table_id="A6", addr_person_id="P1", addr_address_postcode="LS2 9JT",
                                    addr_address_start_date=date(2025, 3, 1)))
    data["ssd_cla_episodes"][1]["clae_cla_episode_ceased_date"] = date(2025, 4, 1)
    data["ssd_cla_placement"][1]["clap_cla_placement_end_date"] = date(2025, 4, 1)
    report = run(ssd_db, s, extract.write(tmp_path, data), LEEDS)
    assert report.load.rejected == 0
    oliver, ruby = _child(ssd_db, s, "P1"), _child(ssd_db, s, "P4")
    assert query(ssd_db, s, "MATCH (:Practitioner)-[i:INVOLVED_WITH]->(:Child {id: $c}) RETURN i.until AS until",
                 c=oliver) == [{"until": date(2025, 1, 31)}]
    assert query(ssd_db, s, "MATCH (:Child {id: $c})-[h:HAS_PLAN]->() RETURN h.kind AS kind, h.until AS until",
                 c=oliver) == [{"kind": "cp_plan", "until": date(2025, 2, 1)}]
    assert query(ssd_db, s, "MATCH (:Child {id: $c})-[h:HAS_PLAN]->() RETURN h.until AS until",
                 c=ruby) == [{"until": date(2025, 4, 1)}]
    homes = query(ssd_db, s, "MATCH (:Child {id: $c})-[l:LIVED_AT]->(a) RETURN a.postcode AS pc, l.until AS until "
                             "ORDER BY l.since", c=oliver)
    assert homes == [{"pc": "LS6 2AB", "until": date(2020, 1, 31)}, {"pc": "LS1 1AA", "until": date(2025, 3, 1)},
                     {"pc": "LS2 9JT", "until": None}]
    assert query(ssd_db, s, "MATCH (x:SourceRecord)-[:FROM]->(:Source {id: $id}) RETURN count(x) AS n",
                 id=SRC) == [{"n": 4}]


def test_bad_codes_dates_and_people_reject_their_row_only(leeds: SsdReport, ssd_db: Driver,
                                                          neo4j_settings: GraphSettings, tmp_path: Path):
    s = neo4j_settings
    data = extract.tables()
    data["ssd_person"] += [  # lines 7 and 8
        dict(pers_person_id="P8", pers_forename="Zed", pers_surname="Quinn", pers_sex="X", pers_dob=date(2016, 1, 1)),
        dict(pers_person_id="P9", pers_forename="Yan", pers_surname="Ray", pers_sex="M", pers_dob="31/02/2016"),
        dict(pers_person_id="P10", pers_forename="Al", pers_surname="Fry", pers_sex="M", pers_dob=date(2099, 1, 1)),
    ]
    data["ssd_cp_plans"][0]["cppl_cp_plan_latest_category"] = "ABC"  # line 2
    data["ssd_cla_placement"][1]["clap_cla_placement_type"] = "Q9"  # line 3
    data["ssd_legal_status"][1]["lega_legal_status"] = "Z9"  # line 3
    data["ssd_cin_episodes"][0]["cine_cin_primary_need_code"] = "N12"  # line 2
    data["ssd_involvements"] += [
        dict(invo_professional_id="W1", invo_person_id="M1", invo_involvement_start_date=date(2024, 1, 1)),  # 5
        dict(invo_professional_id="W1", invo_person_id="P9", invo_involvement_start_date=date(2024, 1, 1)),  # 6
        dict(invo_professional_id="W1", invo_person_id="P2", invo_involvement_start_date="2024-13-01"),  # 7
        dict(invo_professional_id="W1", invo_person_id="P10", invo_involvement_start_date=date(2024, 1, 1)),  # 8
    ]
    data["ssd_missing"][0]["miss_missing_episode_type"] = "Gone"  # line 2
    data["ssd_linked_identifiers"][0]["link_identifier_value"] = "12345"  # line 2
    report = run(ssd_db, s, extract.write(tmp_path, data), LEEDS)
    bad = rejects(report.load.rejects_path)
    assert set(bad) == {("ssd_person.csv", 7), ("ssd_person.csv", 8), ("ssd_person.csv", 9), ("ssd_cp_plans.csv", 2),
                        ("ssd_cla_placement.csv", 3), ("ssd_legal_status.csv", 3), ("ssd_cin_episodes.csv", 2),
                        ("ssd_involvements.csv", 5), ("ssd_involvements.csv", 6), ("ssd_involvements.csv", 7),
                        ("ssd_involvements.csv", 8),
                        ("ssd_missing.csv", 2), ("ssd_linked_identifiers.csv", 2)}
    assert bad[("ssd_person.csv", 7)] == "pers_sex: unknown sex code 'X'"
    assert "pers_dob: not a date: '31/02/2016'" in bad[("ssd_person.csv", 8)]
    assert bad[("ssd_cp_plans.csv", 2)] == "cppl_cp_plan_latest_category: unknown CP category code 'ABC'"
    assert bad[("ssd_cla_placement.csv", 3)] == "clap_cla_placement_type: unknown placement type code 'Q9'"
    assert bad[("ssd_legal_status.csv", 3)] == "lega_legal_status: unknown legal status code 'Z9'"
    assert bad[("ssd_cin_episodes.csv", 2)] == "cine_cin_primary_need_code: unknown CIN need code 'N12'"
    assert "person M1 is an adult" in bad[("ssd_involvements.csv", 5)]
    assert "person P9 was rejected in ssd_person.csv" in bad[("ssd_involvements.csv", 6)]
    assert "invo_involvement_start_date: not a date: '2024-13-01'" in bad[("ssd_involvements.csv", 7)]
    assert bad[("ssd_person.csv", 9)].startswith("pers_dob: ")  # the feed's own rule, named by its SSD column
    assert "date is in the future" in bad[("ssd_person.csv", 9)]
    assert "person P10 was rejected in ssd_person.csv" in bad[("ssd_involvements.csv", 8)]
    assert "unknown missing episode type code 'Gone'" in bad[("ssd_missing.csv", 2)]
    assert "an NHS number is 10 digits" in bad[("ssd_linked_identifiers.csv", 2)]
    # nothing valid lost: the rest of each table loaded, the rejected rows wrote nothing
    assert query(ssd_db, s, "MATCH (x:SourceRecord)-[:FROM]->(:Source {id: $id}) RETURN count(x) AS n",
                 id=SRC) == [{"n": 4}]
    assert query(ssd_db, s, "MATCH (:Practitioner)-[i:INVOLVED_WITH]->() RETURN count(i) AS n") == [{"n": 3}]


def test_another_councils_import_leaves_leeds_untouched(leeds: SsdReport, ssd_db: Driver,
                                                        neo4j_settings: GraphSettings, tmp_path: Path):
    s = neo4j_settings
    before = snapshot(ssd_db, s, SRC)
    data = extract.tables()  # Manchester's system uses the same person ids for other children, and knows Oliver
    for row in data["ssd_person"]:
        row["pers_forename"] = {"Oliver": "Oliver"}.get(row["pers_forename"], row["pers_forename"] + "a")
    data["ssd_cp_plans"][0]["cppl_cp_plan_end_date"] = date(2024, 6, 1)
    data["ssd_cp_plans"][0]["cppl_cp_plan_start_date"] = date(2024, 2, 15)
    report = run(ssd_db, s, extract.write(tmp_path, data), MANCHESTER)
    assert report.load.rejected == 0
    assert snapshot(ssd_db, s, SRC) == before  # every Leeds record and relationship as it was
    [mine] = query(ssd_db, s, "MATCH (:SourceRecord {key: $k})-[:IDENTIFIES]->(c:Child)-[h:HAS_PLAN]->(la) "
                              "WHERE h.kind = 'cp_plan' AND la.code = $m RETURN la.code AS la, h.until AS until",
                   k=f"ssd-{MANCHESTER}|P1", m=MANCHESTER)
    assert mine == {"la": MANCHESTER, "until": date(2024, 6, 1)}
    assert query(ssd_db, s, "MATCH ()-[h:HAS_PLAN]->(:LocalAuthority {code: $la}) WHERE h.until = $day "
                            "RETURN count(h) AS n", la=LEEDS, day=date(2024, 6, 1)) == [{"n": 0}]
    ids = query(ssd_db, s, "MATCH (p:Practitioner) RETURN p.id AS id")
    assert all(r["id"].startswith((f"ssd-{LEEDS}:", f"ssd-{MANCHESTER}:")) for r in ids)
