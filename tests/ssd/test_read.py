"""Reading an SSD extract as councils export it: delimiters, BOMs, date styles, missing and unused tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loaders.ssd import codes, people
from loaders.ssd.people import Council, People
from loaders.ssd.read import ExtractError, parse_date, read_extract
from tests.ssd import extract

LEEDS = Council("E08000035", "Leeds")


@pytest.mark.parametrize("text", ["2024-03-01", "2024-03-01T00:00:00", "2024-03-01 13:45:10.123", "01/03/2024",
                                  "1/3/2024", "01/03/2024 23:59", "01/03/2024 09:05:00", " 2024-03-01 "])
def test_dates_iso_or_day_month_year_with_or_without_times(text: str):
    assert parse_date(text) == date(2024, 3, 1)


def test_a_time_with_an_offset_is_its_uk_day():
    assert parse_date("2024-02-29T23:30:00-02:00") == date(2024, 3, 1)


@pytest.mark.parametrize("text", ["31/02/2024", "2024-13-01", "03-01-2024", "1st March", "2024/03/01", ""])
def test_anything_else_is_not_a_date_and_says_what_it_got(text: str):
    with pytest.raises(ValueError, match="not a date"):
        parse_date(text)


def _records(folder: Path) -> list[tuple]:
    found = read_extract(folder)
    return [(line, values) for line, values, _, _ in people.person_records(found, LEEDS, People(), [])]


@pytest.mark.parametrize("delimiter, bom, uk_dates", [(",", False, False), ("|", False, False), (",", True, True),
                                                      ("|", True, True)])
def test_every_export_variant_reads_the_same(tmp_path: Path, delimiter: str, bom: bool, uk_dates: bool):
    plain = _records(extract.write(tmp_path / "plain", extract.tables()))
    variant = _records(extract.write(tmp_path / "variant", extract.tables(), delimiter=delimiter, bom=bom,
                                     uk_dates=uk_dates))
    assert variant == plain
    assert [v["local_id"] for _, v in plain] == ["P1", "P2", "P3", "P4"]  # the mother is an adult, not a record
    assert plain[0][1]["dob"] == date(2015, 4, 7) and plain[0][1]["nhs_number"] == extract.NHS_OLIVER


def test_unused_tables_are_listed_and_missing_optional_ones_are_fine(tmp_path: Path):
    data = {"ssd_person": extract.tables()["ssd_person"], "ssd_contacts": extract.tables()["ssd_contacts"],
            "ssd_sdq_scores": [{"csdq_table_id": "1"}]}
    found = read_extract(extract.write(tmp_path, data))
    assert found.ignored == ["ssd_contacts", "ssd_sdq_scores"]
    assert "ssd_cp_plans" in found.absent and "ssd_person" not in found.absent
    assert found.table("ssd_cp_plans").rows == []


def test_a_missing_person_table_is_a_clear_error(tmp_path: Path):
    data = extract.tables()
    del data["ssd_person"]
    with pytest.raises(ExtractError, match=r"no ssd_person\.csv \(the SSD's person table is required"):
        read_extract(extract.write(tmp_path, data))
    with pytest.raises(ExtractError, match="no such folder"):
        read_extract(tmp_path / "nowhere")


def test_a_short_row_or_bad_bytes_is_kept_aside_with_its_line(tmp_path: Path):
    folder = extract.write(tmp_path, {"ssd_person": extract.tables()["ssd_person"][:2]})
    with (folder / "ssd_person.csv").open("ab") as handle:
        handle.write(b"P7,Short\n")
        handle.write(b"P8,Ren\xe9e,Smith,F,2016-01-01,,\n")
    table = read_extract(folder).table("ssd_person")
    assert [r.cells["pers_person_id"] for r in table.rows] == ["P1", "P2"]
    assert [(line, reason) for line, reason, _ in table.unreadable] == [
        (4, "expected 7 fields, found 2"), (5, "pers_forename: not valid UTF-8")]


def test_codes_map_whatever_their_case_and_unknown_ones_name_themselves():
    assert codes.code("pers_sex", " f ", codes.SEX, "sex") == "female"
    assert codes.code("clap_cla_placement_type", "u1", codes.PLACEMENT_TYPE, "placement type") == \
        "foster_care_relative_or_friend"
    assert codes.code("x", None, codes.SEX, "sex") is None
    with pytest.raises(codes.UnknownCode, match="pers_sex: unknown sex code 'Z'"):
        codes.code("pers_sex", "Z", codes.SEX, "sex")
    with pytest.raises(codes.UnknownCode, match="expected Y or N"):
        codes.flag("cppl_cp_plan_ola", "maybe")


def test_an_empty_optional_table_is_one_reject_and_an_empty_person_table_an_error(tmp_path: Path):
    folder = extract.write(tmp_path, {"ssd_person": extract.tables()["ssd_person"]})
    (folder / "ssd_missing.csv").write_bytes(b"")
    found = read_extract(folder)
    assert found.table("ssd_missing").unreadable == [
        (1, "file refused, no row loaded: ssd_missing.csv: the file is empty (a header row is required)", [])]
    assert len(found.table("ssd_person").rows) == 5
    (folder / "ssd_person.csv").write_bytes(b"\xef\xbb\xbf\n")
    with pytest.raises(ExtractError, match="ssd_person.csv: the file is empty"):
        read_extract(folder)
