"""Person records: identifier check digits, postcode levels, name folding, nicknames, refusals."""

from __future__ import annotations

import pandas as pd
import pytest

from matching import names
from matching.records import RecordError, nhs_number_valid, postcode_parts, prepare, upn_valid
from tests.matching.conftest import frame, person


def test_nhs_number_check_digit():
    assert nhs_number_valid("9434765919")
    assert nhs_number_valid("943 476 5919")
    assert not nhs_number_valid("9434765918")  # wrong check digit
    assert not nhs_number_valid("943476591")  # nine digits
    assert not nhs_number_valid("94347659AB")
    # 11 - remainder = 10 is never issued: 000000001x has total 2, 11 - 2 = 9, so try a body giving 10.
    body = next(b for b in (f"{i:09d}" for i in range(1, 500))
                if 11 - sum(int(d) * w for d, w in zip(b, range(10, 1, -1))) % 11 == 10)
    assert not any(nhs_number_valid(body + str(d)) for d in range(10))


def test_every_single_digit_error_in_an_nhs_number_is_caught():
    good = "9434765919"
    for i in range(10):
        for d in "0123456789":
            if d != good[i]:
                assert not nhs_number_valid(good[:i] + d + good[i + 1:])


def test_upn_check_letter():
    assert upn_valid("B801200005001")
    assert not upn_valid("A801200005001")
    assert not upn_valid("I801200005001")  # I is never a check letter
    assert not upn_valid("B80120000500")  # twelve characters
    # A temporary UPN ends in a letter, which counts as its place in the check alphabet.
    body = "80120000500A"
    total = sum(int(c) * w for c, w in zip(body[:11], range(2, 13))) + 13 * 0
    assert upn_valid("ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + body)


def test_postcode_levels():
    assert postcode_parts("sw1a1aa") == ("SW1A 1AA", "SW1A 1", "SW1A")
    assert postcode_parts(" B1  1AA ") == ("B1 1AA", "B1 1", "B1")
    assert postcode_parts("B1") is None
    assert postcode_parts("not a postcode") is None


def test_names_fold_accents_apostrophes_and_hyphens():
    assert names.fold("Zoë") == names.fold("ZOE") == "zoe"
    assert names.fold("O'Connor") == "oconnor"
    assert names.fold("Smith-Jones") == "smith jones"


def test_nicknames_are_relatives_but_a_shared_nickname_is_not():
    assert names.are_relatives("Bill", "William")
    assert names.are_relatives("William", "Bill")
    assert names.are_relatives("Ellie", "Nell")  # both Eleanor
    assert names.are_relatives("Mohammed", "Muhammad")
    assert not names.are_relatives("Oliver", "Olivia")  # both "Ollie", but two names
    assert not names.are_relatives("Ava", "Eva")


@pytest.mark.parametrize("a,b", [("Emily", "Amelia"), ("Emma", "Emily"), ("Amelia", "Emma")])
def test_names_england_holds_apart_are_not_relatives_whatever_the_us_table_says(a, b):
    """The nickname table (US genealogy) joins Emily with Amelia and Emma; in England they are three names, and
    twins are given two of them. Relatives would let the matcher join such twins' records."""
    assert not names.are_relatives(a, b) and not names.are_relatives(b, a)
    assert names.fold(b) not in names.nicknames_of(a)
    assert names.are_relatives(a, "Milly" if a != "Emma" else "Emmy")  # their own nicknames still are


def test_prepare_normalises_what_the_model_compares():
    out = prepare(frame(person("1", given_name="Zoë Mary", family_name="Smith-Jones", other_names="Zoe Brown",
                               dob="2015-03-04", sex="FEMALE", postcode="b11aa", nhs_number="943 476 5919",
                               upn="A801200005001"))).records.iloc[0]
    assert (out["given"], out["family"], out["dob_str"], out["sex_norm"]) == ("zoe", "smith jones", "2015-03-04", "female")
    assert (out["postcode_full"], out["postcode_sector"], out["postcode_district"]) == ("B1 1AA", "B1 1", "B1")
    assert out["nhs_valid"] == "9434765919"
    assert out["upn_valid"] is None  # wrong check letter: kept as sent, not used
    assert out["upn"] == "A801200005001"
    assert set(out["family_names"]) == {"smith", "jones", "brown"}


def test_a_record_with_neither_name_nor_identifier_is_refused_with_a_reason():
    batch = frame(person("1", dob="2015-03-04", nhs_number="123"),
                  person("2", family_name="Smith"),
                  person("3", nhs_number="9434765919"),
                  person("4", council_person_id="E09000001-0000001"))
    out = prepare(batch)
    assert list(out.rejected["record_key"]) == ["gp-E09000001|1"]
    assert "neither a name nor an identifier" in out.rejected["reason"].iloc[0]
    assert sorted(out.records["local_id"]) == ["2", "3", "4"]


@pytest.mark.parametrize("dob,reason", [("2015-13-40", "not a date"), ("2999-01-01", "in the future")])
def test_a_bad_date_of_birth_is_refused(dob, reason):
    out = prepare(frame(person("1", given_name="Ann", dob=dob), person("2", given_name="Ann", dob="2015-01-01")))
    assert list(out.rejected["record_key"]) == ["gp-E09000001|1"]
    assert reason in out.rejected["reason"].iloc[0]
    assert len(out.records) == 1


def test_a_record_key_must_name_its_source_and_local_id():
    row = person("1", given_name="Ann")
    row["record_key"] = "something-else"
    out = prepare(frame(row))
    assert "record_key must be" in out.rejected["reason"].iloc[0]


def test_an_unreadable_batch_is_refused_whole():
    with pytest.raises(RecordError, match="missing columns"):
        prepare(pd.DataFrame([{"record_key": "a|1"}]))
    with pytest.raises(RecordError, match="more than once"):
        prepare(frame(person("1", given_name="A"), person("1", given_name="B")))
