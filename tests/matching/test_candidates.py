"""What the graph relies on: blocking keys that find exactly the model's candidate pairs, the population's
name frequencies kept with the model, and pairs a person said are two children kept apart."""

from __future__ import annotations

import pandas as pd
from splink import DuckDBAPI

from matching import decide
from matching import model as matching_model
from matching.engine import resolve
from matching.records import BLOCKING_KEYS, blocking_keys, prepare
from tests.matching.conftest import frame, person


def _pairs_sharing_a_key(prepared: pd.DataFrame) -> set[tuple[str, str]]:
    keys = blocking_keys(prepared).assign(record_key=prepared["record_key"].to_numpy())
    pairs: set[tuple[str, str]] = set()
    for name in BLOCKING_KEYS:
        has = keys[keys[name].notna()][["record_key", name]]
        joined = has.merge(has, on=name)
        joined = joined[joined["record_key_x"] < joined["record_key_y"]]
        pairs |= set(zip(joined["record_key_x"], joined["record_key_y"]))
    return pairs


def test_blocking_keys_find_exactly_the_pairs_the_model_blocks_on(population, trained, con):
    prepared = prepare(population.records.head(4000)).records
    link = matching_model.linker(prepared, trained, DuckDBAPI(con), name="blocking_check")
    predictions = link.inference.predict(warning_mode="never")
    splink = con.execute(f"SELECT record_key_l, record_key_r FROM {predictions.physical_name}").fetchall()
    blocked = {tuple(sorted(p)) for p in splink}
    assert len(blocked) > 1000
    assert _pairs_sharing_a_key(prepared) == blocked


def test_a_record_missing_a_part_has_no_key_for_that_rule():
    prepared = prepare(frame(person("1", given_name="Amy", family_name="Cole", dob="2015-06-01"))).records
    keys = blocking_keys(prepared).iloc[0]
    assert keys["bk_dob_given"] == "2015-06-01|amy" and keys["bk_name_year"] == "amy|cole|2015"
    assert keys["bk_nhs"] is None and keys["bk_dob_district"] is None and keys["bk_given_postcode"] is None


def test_the_trained_model_keeps_the_populations_name_frequencies(population, trained):
    freq = trained.meta["term_frequencies"]
    assert set(freq) == {"given", "family"}
    prepared = prepare(population.records).records
    assert freq["given"]["total"] == prepared["given"].notna().sum()
    common = prepared["family"].value_counts().index[0]
    assert freq["family"]["counts"][common] == prepared["family"].value_counts().iloc[0]


def test_a_batch_against_its_candidates_alone_is_weighed_as_against_the_population(population, trained, con):
    # One new record and, as the directory, only the records that share its names: with the candidates' own
    # frequencies its name would look common and the exact match would count for little.
    base = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")
    existing = frame(*[{**person(str(i), **{**base, "dob": f"2015-04-{i + 10:02d}"}), "child_id": f"C{i}"}
                       for i in range(8)],
                     {**person("99", **base), "child_id": "C99"})
    new = frame(person("1", source_id="ed-E08000035", **base))
    local = resolve(trained, existing=existing, new=new, con=con)
    whole = resolve(trained, existing=existing, new=new, con=matching_model.connect(threads=1, memory_limit="1GB"),
                    population_tf=True)
    w_local = local.links.iloc[0]["weight"]
    w_whole = whole.links.iloc[0]["weight"]
    assert whole.links.iloc[0]["child_id"] == "C99"
    assert w_whole > w_local + 2


def test_a_pair_a_person_said_are_two_children_is_never_joined_nor_proposed_again():
    rows = [person("1", given_name="Amy", family_name="Cole", dob="2015-06-01", postcode="B1 1AA"),
            person("2", given_name="Amy", family_name="Cole", dob="2015-06-01", postcode="B1 1AA"),
            person("3", given_name="Amy", family_name="Cole", dob="2015-06-01")]
    prepared = prepare(frame(*rows)).records
    k = [f"gp-E09000001|{i}" for i in "123"]
    scored = pd.DataFrame([(k[0], k[1], 30.0), (k[1], k[2], 28.0), (k[0], k[2], 4.0)],
                          columns=["key_l", "key_r", "weight"])
    r = decide.Records.of(prepared)
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), decide.Thresholds(), cannot_link=[(k[0], k[2])])
    assert out.root[0] == out.root[1] != out.root[2]  # 3 is kept from 1, also through 2
    assert decide.NOT_SAME in [reason for *_, reason in out.refusals]
    assert out.review == []
    without = decide.cluster(r, scored, decide.exact_pairs(prepared), decide.Thresholds())
    assert without.root[0] == without.root[1] == without.root[2]
