"""Working days against the bank holidays gov.uk publishes for England and Wales."""

from __future__ import annotations

from datetime import date

import pytest

from graph.workdays import add_working_days, bank_holidays, due_dates, is_working_day

# gov.uk/bank-holidays, England and Wales: the days off (substitute days where the holiday falls at a weekend).
GOV_UK = {
    2019: ["01-01", "04-19", "04-22", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2020: ["01-01", "04-10", "04-13", "05-08", "05-25", "08-31", "12-25", "12-28"],
    2021: ["01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28"],
    2022: ["01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19", "12-26", "12-27"],
    2023: ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"],
    2024: ["01-01", "03-29", "04-01", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2025: ["01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26"],
    2026: ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"],
}


@pytest.mark.parametrize("year", sorted(GOV_UK))
def test_bank_holidays_match_gov_uk(year: int) -> None:
    assert bank_holidays(year) == [date.fromisoformat(f"{year}-{md}") for md in GOV_UK[year]]


def test_one_offs_and_substitutes_are_not_working_days() -> None:
    for day in (date(2022, 9, 19), date(2023, 5, 8), date(2022, 6, 3), date(2020, 5, 8), date(2021, 12, 28)):
        assert not is_working_day(day), day
    assert not is_working_day(date(2024, 6, 1))  # a Saturday
    assert is_working_day(date(2020, 5, 4))  # the early May holiday moved to the 8th that year


def test_fifteen_working_days() -> None:
    # An ordinary three weeks: Monday 3 June 2024 + 15 working days = Monday 24 June.
    assert add_working_days(date(2024, 6, 3), 15) == date(2024, 6, 24)
    # Over Christmas 2026: Friday 18 December; 25th and 28th are holidays, 1 January too.
    assert add_working_days(date(2026, 12, 18), 15) == date(2027, 1, 13)
    # Across the coronation (8 May 2023) and the early May holiday (1 May 2023).
    assert add_working_days(date(2023, 4, 28), 15) == date(2023, 5, 23)
    # From a Saturday: the following Monday is the first working day.
    assert add_working_days(date(2024, 6, 1), 1) == date(2024, 6, 3)
    assert add_working_days(date(2024, 6, 1), 0) == date(2024, 6, 1)
    with pytest.raises(ValueError):
        add_working_days(date(2024, 6, 1), -1)


def test_due_dates_cover_every_day() -> None:
    dues = due_dates(date(2022, 9, 1), date(2022, 9, 30), 15)
    assert len(dues) == 30
    # 19 September 2022 (the state funeral) pushes the due date of 1 September back a day.
    assert dues["2022-09-01"] == date(2022, 9, 23)
