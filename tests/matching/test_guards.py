"""Guards: each test builds pairs the model scores high and checks the guard keeps the children apart.

Each would fail with its guard removed: the pairs are above the link threshold, so without the guard
they are joined.
"""

from __future__ import annotations

import pandas as pd
import pytest

from matching import decide
from matching.records import prepare
from tests.matching.conftest import frame, person

T = decide.Thresholds(link=10.0, review=4.0)
NHS_A, NHS_B = "9434765919", "9000000009"  # both pass Modulus 11


def _cluster(rows: list[dict], pairs: list[tuple[str, str, float]], thresholds=T):
    prepared = prepare(frame(*rows)).records
    scored = pd.DataFrame([(f"gp-E09000001|{a}", f"gp-E09000001|{b}", w) for a, b, w in pairs],
                          columns=["key_l", "key_r", "weight"])
    r = decide.Records.of(prepared)
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), thresholds)
    return r, out


def _together(r, out, a: str, b: str) -> bool:
    return out.root[r.index[f"gp-E09000001|{a}"]] == out.root[r.index[f"gp-E09000001|{b}"]]


def _child(local: str, given: str, **more) -> dict:
    base = dict(given_name=given, family_name="Smith", dob="2015-06-01", sex="female", postcode="B1 1AA")
    base.update(more)
    return person(local, **base)


def test_the_test_nhs_numbers_are_valid():
    from matching.records import nhs_number_valid
    assert nhs_number_valid(NHS_A) and nhs_number_valid(NHS_B)


def test_two_records_with_different_valid_nhs_numbers_are_never_linked():
    r, out = _cluster([_child("1", "Amy", nhs_number=NHS_A), _child("2", "Amy", nhs_number=NHS_B)],
                      [("1", "2", 40.0)])
    assert not _together(r, out, "1", "2")
    assert [reason for *_, reason in out.refusals] == [decide.NHS_CONFLICT]


def test_different_nhs_numbers_are_not_linked_through_a_third_record():
    rows = [_child("1", "Amy", nhs_number=NHS_A), _child("2", "Amy"), _child("3", "Amy", nhs_number=NHS_B)]
    r, out = _cluster(rows, [("1", "2", 30.0), ("2", "3", 25.0)])
    assert _together(r, out, "1", "2")
    assert not _together(r, out, "2", "3") and not _together(r, out, "1", "3")
    assert decide.NHS_CONFLICT in [reason for *_, reason in out.refusals]


def test_strongest_pair_wins_when_a_record_could_join_either():
    rows = [_child("1", "Amy", nhs_number=NHS_A), _child("2", "Amy"), _child("3", "Amy", nhs_number=NHS_B)]
    r, out = _cluster(rows, [("1", "2", 15.0), ("2", "3", 25.0)])
    assert _together(r, out, "2", "3") and not _together(r, out, "1", "2")


def test_different_permanent_upns_are_never_linked_but_temporary_ones_may_be():
    permanent = [_child("1", "Amy", upn="B801200005001"), _child("2", "Amy", upn="Q207000016049")]
    from matching.records import upn_valid
    assert upn_valid("B801200005001")
    if not upn_valid("Q207000016049"):
        permanent[1]["upn"] = "P207000016049"
    r, out = _cluster(permanent, [("1", "2", 40.0)])
    assert not _together(r, out, "1", "2")
    body = "80120000500A"
    total = sum(int(c) * w for c, w in zip(body[:11], range(2, 13)))
    temporary = "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + body
    r, out = _cluster([_child("1", "Amy", upn="B801200005001"), _child("2", "Amy", upn=temporary)],
                      [("1", "2", 40.0)])
    assert _together(r, out, "1", "2")


def test_an_exact_upn_never_joins_records_whose_nhs_numbers_differ():
    rows = [_child("1", "Amy", nhs_number=NHS_A, upn="B801200005001"),
            _child("2", "Amy", nhs_number=NHS_B, upn="B801200005001")]
    r, out = _cluster(rows, [])
    assert not _together(r, out, "1", "2")


@pytest.mark.parametrize("a,b", [("Ava", "Eva"), ("Oliver", "Olivia"), ("Jack", "Harry")])
def test_twins_stay_two_children_even_with_a_high_weight(a, b):
    r, out = _cluster([_child("1", a), _child("2", b)], [("1", "2", 25.0)])
    assert not _together(r, out, "1", "2")
    assert [reason for *_, reason in out.refusals] == [decide.TWINS]
    assert out.review == []  # a model pair between twins is not a question for the data team


def test_twins_are_not_merged_through_a_record_without_a_given_name():
    rows = [_child("1", "Ava"), _child("2", "Eva"), _child("3", "")]
    r, out = _cluster(rows, [("1", "3", 20.0), ("2", "3", 19.0)])
    assert _together(r, out, "1", "3")
    assert not _together(r, out, "2", "3") and not _together(r, out, "1", "2")


@pytest.mark.parametrize("a,b", [("William", "Bill"), ("John", "Jon"), ("Alexander", "Alex"), ("Olivia", "Oilvia")])
def test_a_nickname_or_a_slip_is_the_same_child(a, b):
    r, out = _cluster([_child("1", a), _child("2", b)], [("1", "2", 25.0)])
    assert _together(r, out, "1", "2")


def test_same_birthday_in_another_family_and_home_is_not_a_twin_case():
    rows = [_child("1", "Ava"), _child("2", "Eva", family_name="Jones", postcode="M1 1AA")]
    r, out = _cluster(rows, [("1", "2", 25.0)])
    assert _together(r, out, "1", "2")


def test_same_nhs_number_links_whatever_the_model_weight():
    r, out = _cluster([_child("1", "Amy", nhs_number=NHS_A), _child("2", "Amelia", nhs_number=NHS_A)], [])
    assert _together(r, out, "1", "2")
    assert out.joined_by[r.index["gp-E09000001|2"]][1] == decide.EXACT_NHS


def test_same_nhs_number_on_possible_twins_goes_to_a_person():
    r, out = _cluster([_child("1", "Ava", nhs_number=NHS_A), _child("2", "Eva", nhs_number=NHS_A)], [])
    assert not _together(r, out, "1", "2")
    assert [why for *_, why in out.review] == [decide.TWINS]


def test_thresholds_split_link_review_and_nothing():
    rows = [_child("1", "Amy"), _child("2", "Amy"), _child("3", "Bea", family_name="Cole", dob="2014-01-01"),
            _child("4", "Cat", family_name="Dunn", dob="2013-01-01"), _child("5", "Di", family_name="Eve")]
    r, out = _cluster(rows, [("1", "2", 10.0), ("2", "3", 9.99), ("3", "4", 4.0), ("4", "5", 3.99)])
    assert _together(r, out, "1", "2")
    assert not _together(r, out, "2", "3") and not _together(r, out, "3", "4")
    reviewed = {frozenset((r.keys[i], r.keys[j])) for i, j, _, _ in out.review}
    key = "gp-E09000001|{}".format
    assert reviewed == {frozenset((key(2), key(3))), frozenset((key(3), key(4)))}


def test_review_threshold_above_link_threshold_is_refused():
    with pytest.raises(ValueError, match="must not exceed"):
        decide.Thresholds(link=5.0, review=6.0)


def test_two_children_already_in_the_directory_are_never_merged_automatically():
    rows = [_child("1", "Amy", child_id="C1"), _child("2", "Amy", child_id="C2"), _child("3", "Amy")]
    prepared = prepare(frame(*rows)).records
    r = decide.Records.of(prepared)
    scored = pd.DataFrame([("gp-E09000001|3", "gp-E09000001|1", 30.0), ("gp-E09000001|3", "gp-E09000001|2", 29.0)],
                          columns=["key_l", "key_r", "weight"])
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), T)
    assert out.root[0] != out.root[1]
    assert out.root[2] == out.root[0]
    assert [why for *_, why in out.review] == [decide.TWO_CHILDREN]
