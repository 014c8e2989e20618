"""graph.instants: one reading of a time in Python and in Cypher, UK days as UTC windows, and its users' edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from neo4j import Driver
from pydantic import ValidationError

from analytics import reports
from dashboard import labels
from dashboard.views.audit import _instant
from graph import alerts, analytics
from graph.config import GraphSettings
from graph.instants import uk_day, uk_days, uk_midnight, utc, utc_cypher, year_before
from loaders.feeds import AttendanceRow
from loaders.synth.fmt import Dates, day, uk_clock_to_utc

# Every minute of the nights the UK clock changes (spring gap, autumn overlap), and of an ordinary one.
NIGHTS = (datetime(2025, 3, 30), datetime(2025, 10, 26), datetime(2026, 3, 29), datetime(2026, 10, 25),
          datetime(2025, 7, 1))


def _minutes(night: datetime) -> list[datetime]:
    return [night + timedelta(minutes=m) for m in range(0, 4 * 60)]


def test_the_clock_changes_are_read_as_documented() -> None:
    # Autumn: 01:30 happens twice; the first (BST) is taken. Spring: 01:30 never happens; GMT is kept (an hour on).
    assert utc(datetime(2025, 10, 26, 1, 30)) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert utc(datetime(2025, 3, 30, 1, 30)) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert utc(datetime(2025, 10, 26, 2, 30)) == datetime(2025, 10, 26, 2, 30, tzinfo=UTC)
    assert utc(datetime(2025, 10, 26, 1, 30, tzinfo=timezone(timedelta(hours=1)))).tzinfo is UTC
    assert utc(datetime(2025, 10, 26, 1, 30, fold=1)) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_cypher_reads_every_time_as_python_does(driver: Driver, neo4j_settings: GraphSettings) -> None:
    local = [m for night in NIGHTS for m in _minutes(night)]
    zoned = [m.replace(tzinfo=timezone(timedelta(hours=h))) for m in local[::37] for h in (-5, 0, 1, 2)]
    values = local + zoned
    records = driver.execute_query(f"UNWIND $values AS x RETURN {utc_cypher('x')} AS u, toString({utc_cypher('x')}) AS s",
                                   values=values, database_=neo4j_settings.database).records
    assert [r["u"].to_native() for r in records] == [utc(v) for v in values]
    assert all(r["s"].endswith("Z") for r in records)
    assert driver.execute_query(f"RETURN {utc_cypher('null')} AS u", database_=neo4j_settings.database
                                ).records[0]["u"] is None


def test_uk_days_are_utc_windows_between_uk_midnights() -> None:
    assert uk_midnight(date(2025, 7, 1)) == datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    assert uk_midnight(date(2025, 12, 1)) == datetime(2025, 12, 1, 0, 0, tzinfo=UTC)
    # The day the clocks go back is 25 hours long; the day they go forward 23.
    start, end = uk_days(date(2025, 10, 26), date(2025, 10, 26))
    assert end - start == timedelta(hours=25)
    start, end = uk_days(date(2025, 3, 30), date(2025, 3, 30))
    assert end - start == timedelta(hours=23)
    assert uk_day(datetime(2025, 10, 25, 23, 30, tzinfo=UTC)) == date(2025, 10, 26)
    assert uk_day(datetime(2025, 12, 25, 23, 30, tzinfo=UTC)) == date(2025, 12, 25)
    assert year_before(date(2024, 2, 29)) == date(2023, 2, 28)


def test_the_rules_windows_are_uk_days_in_utc() -> None:
    # UK days 26 October 2025 (begun in BST) to 25 October 2026 (ended in GMT: the clocks went back that day).
    scan = alerts.scan_params(date(2026, 10, 25))
    assert (scan["window_from"], scan["window_until"]) == (datetime(2025, 10, 25, 23, 0, tzinfo=UTC),
                                                           datetime(2026, 10, 26, 0, 0, tzinfo=UTC))
    patterns = analytics.pattern_params([date(2026, 10, 25)])
    assert patterns["visit_windows"]["2026-10-25"] == [scan["window_from"], scan["window_until"]]
    for value in (*scan.values(), *patterns.values()):
        assert not (isinstance(value, datetime) and value.tzinfo is not UTC), value


def test_a_feed_time_is_stored_as_a_utc_instant() -> None:
    for text, expected in (("2025-10-26T01:30:00", datetime(2025, 10, 26, 0, 30)),
                           ("2025-10-26T01:30:00+01:00", datetime(2025, 10, 26, 0, 30)),
                           ("2025-10-26T01:30:00Z", datetime(2025, 10, 26, 1, 30)),
                           ("2025-10-26 03:30:00.5-02:00", datetime(2025, 10, 26, 5, 30, 0, 500000))):
        at = AttendanceRow(child_id="C1", agency_id="ED-1", at=text, reason="injury").at
        assert at == expected.replace(tzinfo=UTC) and at.tzinfo is UTC, text
    with pytest.raises(ValidationError, match="between -18:00 and \\+18:00"):
        AttendanceRow(child_id="C1", agency_id="ED-1", at="2025-10-26T01:30:00+19:00", reason="injury")


def test_the_generator_writes_uk_clock_times_as_utc_instants() -> None:
    wall = np.array([day(date(2025, 10, 26)) * 1440 + 90, day(date(2025, 3, 30)) * 1440 + 150,
                     day(date(2025, 12, 1)) * 1440 + 600])
    text = Dates(day(date(2026, 10, 31))).instants(uk_clock_to_utc(wall)).tolist()
    assert text == ["2025-10-26T00:30:00Z", "2025-03-30T01:30:00Z", "2025-12-01T10:00:00Z"]


def test_a_case_chronology_places_a_visit_on_its_uk_day() -> None:
    visit = datetime(2025, 8, 31, 23, 30, tzinfo=UTC)  # 00:30 BST on 1 September
    assert reports._day(visit) == date(2025, 9, 1)
    assert reports._day(date(2025, 8, 31)) == date(2025, 8, 31)


def test_the_dashboard_shows_and_asks_for_uk_times() -> None:
    assert labels.day("2025-08-31T23:30:00Z") == "01 Sep 2025 00:30"
    assert labels.day("2025-12-31T23:30:00+00:00") == "31 Dec 2025 23:30"
    assert labels.day("2025-08-31") == "31 Aug 2025"
    assert datetime.fromisoformat(_instant("2025-07-01")) == datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    assert datetime.fromisoformat(_instant("2025-10-25", next_day=True)) == datetime(2025, 10, 25, 23, 0, tzinfo=UTC)
