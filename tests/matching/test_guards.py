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


def _key(local: str) -> str:
    """Each record from a source of its own (the one-source guard has tests of its own)."""
    return f"gp-{local}|{local}"


def _cluster(rows: list[dict], pairs: list[tuple[str, str, float]], thresholds=T):
    prepared = prepare(frame(*rows)).records
    scored = pd.DataFrame([(_key(a), _key(b), w) for a, b, w in pairs], columns=["key_l", "key_r", "weight"])
    r = decide.Records.of(prepared)
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), thresholds)
    return r, out


def _together(r, out, a: str, b: str) -> bool:
    return out.root[r.index[_key(a)]] == out.root[r.index[_key(b)]]


def _child(local: str, given: str, source: str | None = None, **more) -> dict:
    base = dict(given_name=given, family_name="Smith", dob="2015-06-01", sex="female", postcode="B1 1AA")
    base.update(more)
    return person(local, source_id=source or _key(local).split("|")[0], **base)


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
    assert out.joined_by[r.index[_key("2")]][1] == decide.EXACT_NHS


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
    assert reviewed == {frozenset((_key("2"), _key("3"))), frozenset((_key("3"), _key("4")))}


def test_review_threshold_above_link_threshold_is_refused():
    with pytest.raises(ValueError, match="must not exceed"):
        decide.Thresholds(link=5.0, review=6.0)


def test_two_children_already_in_the_directory_are_never_merged_automatically():
    rows = [_child("1", "Amy", child_id="C1"), _child("2", "Amy", child_id="C2"), _child("3", "Amy")]
    prepared = prepare(frame(*rows)).records
    r = decide.Records.of(prepared)
    scored = pd.DataFrame([(_key("3"), _key("1"), 30.0), (_key("3"), _key("2"), 29.0)],
                          columns=["key_l", "key_r", "weight"])
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), T)
    assert out.root[0] != out.root[1]
    assert out.root[2] == out.root[0]
    assert [why for *_, why in out.review] == [decide.TWO_CHILDREN]


# -- one source, two records ---------------------------------------------------------------------------------

ONE = "gp-E08000025"


def _one(local: str, given: str, **more) -> dict:
    return _child(local, given, source=ONE, **more)


def _together_in(r, out, a: str, b: str) -> bool:
    return out.root[r.index[f"{ONE}|{a}"]] == out.root[r.index[f"{ONE}|{b}"]]


def _cluster_one(rows: list[dict], pairs: list[tuple[str, str, float]]):
    prepared = prepare(frame(*rows)).records
    scored = pd.DataFrame([(f"{ONE}|{a}", f"{ONE}|{b}", w) for a, b, w in pairs], columns=["key_l", "key_r", "weight"])
    r = decide.Records.of(prepared)
    return r, decide.cluster(r, scored, decide.exact_pairs(prepared), T)


@pytest.mark.parametrize("a,b", [("Freya", "Freyaa"), ("Sophie", "Sophia"), ("Elsie", "Ellie")])
def test_two_records_of_one_source_the_twin_guard_takes_for_a_slip_go_to_a_person(a, b):
    """A practice with two patients born the same day in one home, names a letter apart: twins or its own
    duplicate. Scored far above the link threshold, they are not joined, and a person is asked."""
    r, out = _cluster_one([_one("1", a), _one("2", b)], [("1", "2", 25.0)])
    assert not _together_in(r, out, "1", "2")
    assert [reason for *_, reason in out.refusals] == [decide.SAME_SOURCE]
    assert [why for *_, why in out.review] == [decide.SAME_SOURCE]


def test_one_sources_two_records_are_not_joined_through_another_sources_record():
    rows = [_one("1", "Freya", nhs_number=NHS_A), _one("2", "Freyaa"), _child("3", "Freyaa")]
    prepared = prepare(frame(*rows)).records
    r = decide.Records.of(prepared)
    scored = pd.DataFrame([(f"{ONE}|1", _key("3"), 30.0), (_key("3"), f"{ONE}|2", 29.0)],
                          columns=["key_l", "key_r", "weight"])
    out = decide.cluster(r, scored, decide.exact_pairs(prepared), T)
    assert out.root[r.index[f"{ONE}|1"]] == out.root[r.index[_key("3")]]
    assert out.root[r.index[f"{ONE}|2"]] != out.root[r.index[f"{ONE}|1"]]


def test_one_sources_duplicates_sharing_an_identifier_or_a_name_are_one_child():
    """The guard stops only what it must: a source's two records of one child with one NHS number (a move
    between two practices of one authority), or with the same name, are joined as before."""
    r, out = _cluster_one([_one("1", "Sophie", nhs_number=NHS_A), _one("2", "Sophia", nhs_number=NHS_A)], [])
    assert _together_in(r, out, "1", "2")
    r, out = _cluster_one([_one("1", "Freya"), _one("2", "Freya")], [("1", "2", 25.0)])
    assert _together_in(r, out, "1", "2")
    r, out = _cluster_one([_one("1", "Freya"), _one("2", "Freyaa", dob="2015-06-02")], [("1", "2", 25.0)])
    assert _together_in(r, out, "1", "2")  # another birthday: not the one-source case


def test_across_two_sources_a_one_letter_slip_is_still_the_same_child():
    r, out = _cluster([_child("1", "Freya"), _child("2", "Freyaa")], [("1", "2", 25.0)])
    assert _together(r, out, "1", "2")
