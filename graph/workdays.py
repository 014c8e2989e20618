"""Working days in England: Monday to Friday less the bank holidays of England and Wales.

The holidays come from the `holidays` package (subdivision "ENG"), which tracks the published gov.uk
list, substitute days and one-off proclamations included (2022-09-19, 2023-05-08);
tests/test_workdays.py checks it against the gov.uk dates of several years.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    """True on a weekday that is not a bank holiday in England."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def bank_holidays(year: int) -> list[date]:
    """The bank holidays of a year that fall on weekdays (the days that are not worked), in order."""
    return sorted(d for d in _bank_holidays(year) if d.weekday() < 5)


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (`start` itself never counts)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day


def due_dates(first: date, last: date, days: int) -> dict[str, date]:
    """For every date from `first` to `last`, the date `days` working days later, keyed by ISO date.

    Passed to Cypher as a map, so a set-based statement looks each move's due date up by its day.
    """
    out: dict[str, date] = {}
    day = first
    while day <= last:
        out[day.isoformat()] = add_working_days(day, days)
        day += timedelta(days=1)
    return out
