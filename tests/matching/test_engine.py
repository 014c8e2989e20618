"""resolve, relink and diff on small synthetic sets, the model's storage, and its chart report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from matching import decide, evaluate
from matching import model as matching_model
from matching.engine import diff, relink, resolve
from matching.records import prepare
from tests.matching.conftest import frame, person


def test_relink_of_the_synthetic_sources_finds_the_children(population, trained, con):
    out = relink(trained, records=population.records, con=con)
    assert len(out.links) == len(population.records)
    groups = out.links.set_index("record_key")["child_id"]
    truth = population.truth.set_index("record_key")
    acc = evaluate.scores(groups, truth["child_id"])
    assert acc["pairwise_precision"] >= 0.999
    assert acc["pairwise_recall"] >= 0.95
    assert evaluate.twins_merged(groups, truth["child_id"], truth["multiple_birth"]) == 0
    assert set(out.links["method"]) <= {"exact_nhs", "exact_upn", "model", "new_child"}
    assert (out.links["model_version"] == trained.version).all()
    assert out.links["decided_at"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()


def test_resolve_links_a_batch_to_existing_children_and_makes_new_ones(population, trained, con):
    recs, truth = population.records, population.truth.set_index("record_key")["child_id"]
    # The directory: every child but the last 100 (by id), linked by the truth.
    children = sorted(truth.unique())
    absent = set(children[-100:])
    in_dir = ~truth.reindex(recs["record_key"]).isin(absent).to_numpy()
    rng = np.random.default_rng(0)
    batch_mask = ~in_dir | (rng.random(len(recs)) < 0.05)
    existing = recs[~batch_mask].assign(child_id=lambda f: truth.reindex(f["record_key"]).to_numpy())
    batch = recs[batch_mask]
    out = resolve(trained, existing=existing, new=batch, con=con)
    assert sorted(out.links["record_key"]) == sorted(batch["record_key"])
    linked = out.links[~out.links["new_child"]]
    assert len(linked) > 0
    assert (linked["child_id"].to_numpy() == truth.reindex(linked["record_key"]).to_numpy()).mean() >= 0.999
    # Children new to the directory come back as new groups, one group per child.
    fresh = out.links[out.links["record_key"].map(truth).isin(absent)]
    assert fresh["new_child"].all()
    assert fresh.groupby("child_id")["record_key"].apply(lambda k: truth.reindex(k).nunique()).max() == 1
    assert set(out.new_children["record_key"]) == set(out.links.loc[out.links["new_child"], "record_key"])


def _dir_record(local: str, child: str, **fields) -> dict:
    base = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB")
    base.update(fields)
    return {**person(local, **base), "child_id": child}


def test_resolve_on_hand_made_records(trained, con):
    existing = frame(_dir_record("1", "C1", nhs_number="9434765919"),
                     _dir_record("2", "C1"),
                     _dir_record("3", "C2", given_name="Priya", family_name="Shah", dob="2011-11-30", sex="female",
                                 postcode="B1 1AA"))
    new = frame(person("9", source_id="ed-E08000035", given_name="Olly", family_name="Hughes", dob="2015-04-07",
                       nhs_number="9434765919"),
                person("8", source_id="ed-E08000035", given_name="Zainab", family_name="Okafor", dob="2019-02-02",
                       postcode="M1 1AE"),
                person("3", given_name="Priya", family_name="Shah", dob="2011-11-30", sex="female", postcode="B1 1AB"),
                person("7", source_id="ed-E08000035", dob="2019-02-02"))
    out = resolve(trained, existing=existing, new=new, con=con)
    by_key = out.links.set_index("record_key")
    assert by_key.loc["ed-E08000035|9", "child_id"] == "C1"
    assert by_key.loc["ed-E08000035|9", "method"] == decide.EXACT_NHS
    assert by_key.loc["ed-E08000035|8", "new_child"]
    assert by_key.loc["ed-E08000035|8", "method"] == "new_child"
    # A changed record is matched afresh (its old version set aside) and finds its child again.
    assert by_key.loc["gp-E09000001|3", "child_id"] == "C2"
    assert list(out.rejected["record_key"]) == ["ed-E08000035|7"]


def test_review_pairs_carry_a_field_by_field_waterfall(trained, con):
    # Same name and birthday, a different district, no identifiers: between the thresholds.
    rows = [person("1", given_name="Harriet", family_name="Walsh", dob="2013-08-19", sex="female", postcode="LS6 2AB"),
            person("2", source_id="police-E08000035", given_name="Harriet", family_name="Walsh", dob="2013-08-19",
                   postcode="NE1 4XF")]
    out = relink(trained, records=frame(*rows), con=con, thresholds=decide.Thresholds(link=60.0, review=-40.0))
    assert len(out.review) == 1
    pair = out.review.iloc[0]
    bars = pair["evidence"]
    assert [b["comparison"] for b in bars] == [c["output_column_name"] for c in trained.settings["comparisons"]]
    assert pair["prior_weight"] + sum(b["weight"] for b in bars) == pytest.approx(pair["weight"], abs=1e-6)
    postcode = next(b for b in bars if b["comparison"] == "postcode")
    assert {postcode["value_l"], postcode["value_r"]} == {"LS6 2AB", "NE1 4XF"}
    assert postcode["weight"] < 0


def test_relink_diff_names_merges_and_splits(trained, con):
    a = dict(given_name="Oliver", family_name="Hughes", dob="2015-04-07", sex="male", postcode="LS6 2AB",
             nhs_number="9434765919")
    b = dict(given_name="Priya", family_name="Shah", dob="2011-11-30", sex="female", postcode="B1 1AA")
    rows = [{**person("1", **a), "child_id": "C1"}, {**person("2", **a), "child_id": "C2"},  # one child, two ids
            {**person("3", **b), "child_id": "C3"},
            {**person("4", **{**b, "given_name": "Tom", "sex": "male", "dob": "2001-01-01"}), "child_id": "C3"}]
    out = relink(trained, records=frame(*rows), con=con)
    d = diff(out)
    assert set(d.merges["current_child_id"]) == {"C1", "C2"}
    assert set(d.splits["current_child_id"]) == {"C3"}
    assert d.splits["group"].nunique() == 2


def test_model_save_load_round_trip_and_version(trained, tmp_path):
    path = matching_model.save(trained, tmp_path / "model.json")
    again = matching_model.load(path)
    assert again.version == trained.version and again.settings == trained.settings
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$", trained.version)
    doc = json.loads(path.read_text())
    doc["splink_settings"]["probability_two_random_records_match"] = 0.5
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not match its version"):
        matching_model.load(path)


def test_report_is_one_self_contained_html_file(trained, tmp_path):
    path = matching_model.report(trained, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert trained.version in html
    assert not re.search(r"<script[^>]+src=[\"']https?:", html)
    assert "cdn.jsdelivr" not in html
    assert html.count("vegaEmbed(") == 2
    assert "given_name" in html and "m_probability" in html


def test_prepared_existing_records_are_accepted(trained, con):
    existing = prepare(frame(_dir_record("1", "C1", nhs_number="9434765919")))
    new = frame(person("9", source_id="ed-E08000035", given_name="Oliver", family_name="Hughes",
                       dob="2015-04-07", nhs_number="9434765919"))
    out = resolve(trained, existing=existing, new=new, con=con)
    assert out.links["child_id"].tolist() == ["C1"]


def test_evaluation_counts_pairs_and_bcubed():
    predicted = pd.Series({"a": "1", "b": "1", "c": "1", "d": "2"})
    truth = pd.Series({"a": "x", "b": "x", "c": "y", "d": "y"})
    s = evaluate.scores(predicted, truth)
    assert (s["pairwise_precision"], s["pairwise_recall"]) == (1 / 3, 1 / 2)
    assert s["bcubed_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
