"""Every instant in the graph is a zoned DATETIME in UTC (offset Z); calendar facts stay DATEs.

Why UTC, not UK local time: an instant then has one value. Cypher's `=` compares the offset as well as the
instant (`datetime('2025-09-01T10:00+01:00') = datetime('2025-09-01T09:00Z')` is false), so a MERGE on a time,
a key holding one, or a duplicate check needs a single spelling; a local date-time compared with a zoned one
gives null, which silently drops a row from every rule; and UK local time repeats an hour each October, so it
cannot order the visits of that night. UK time is how a time without an offset is read, and which calendar
day an instant falls on (rule windows, patterns, chronologies):

- A time with an offset is that instant, converted to UTC.
- A time without one is UK wall-clock time (Europe/London, the clock of an English emergency department), read
  as zoneinfo reads it with fold=0: in the autumn overlap (01:00-01:59 on the last Sunday of October happens
  twice) it is the first occurrence, in BST; in the spring gap (01:00-01:59 on the last Sunday of March never
  happens) it takes the offset before the change, GMT, so 01:30 becomes 01:30 GMT (02:30 BST), an hour on.
- A window from a date runs between UK midnights: the UTC instants at which those UK days begin.

Python values are made aware with `datetime.UTC` (the driver sends that as offset Z; a `ZoneInfo('UTC')`
would be stored as the named zone `UTC`, a different value to Cypher). `utc_cypher` is the same reading in
Cypher, for the graph writer and the migration; tests/test_instants.py checks the two agree minute by minute
across both changes of the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
# The current instant in Cypher, in UTC whatever the server's db.temporal.timezone.
NOW = "datetime({timezone: 'Z'})"


def utc(value: datetime) -> datetime:
    """The instant a date-time names, in UTC; without an offset it is UK wall-clock time (fold=0, as above)."""
    if value.utcoffset() is None:
        value = value.replace(tzinfo=UK, fold=0)
    return value.astimezone(UTC)


def uk_midnight(day: date) -> datetime:
    """The UTC instant at which a UK calendar day begins (23:00 UTC the day before, in summer)."""
    return utc(datetime.combine(day, time.min))


def uk_day(value: datetime) -> date:
    """The UK calendar day an instant falls on."""
    return utc(value).astimezone(UK).date()


def uk_today() -> date:
    """Today in the UK (the machine's own time zone does not matter)."""
    return datetime.now(UK).date()


def year_before(day: date) -> date:
    """The same day a year earlier (28 February for a 29th), as Cypher's `d - duration({years: 1})`."""
    return day.replace(year=day.year - 1, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=day.year - 1)


def uk_days(first: date, last: date) -> tuple[datetime, datetime]:
    """UK days first..last inclusive as a half-open pair of UTC instants: from <= at < until."""
    return uk_midnight(first), uk_midnight(last + timedelta(days=1))


def utc_cypher(expr: str) -> str:
    """Cypher for the UTC DATETIME of `expr` (a fixed expression of the caller's, never input), read as `utc`.

    A zoned value is converted. A local one is placed in Europe/London; where that names the second of two
    occurrences (Neo4j takes the later offset in the autumn overlap), the instant an hour earlier reads the same
    wall-clock time, and is taken instead, so the first occurrence wins as in Python. Null stays null.
    """
    london = f"datetime({{datetime: datetime({{datetime: {expr}, timezone: 'Europe/London'}}), timezone: 'Z'}})"
    first = ("CASE WHEN localdatetime({datetime: datetime({datetime: z - duration({hours: 1}), "
             f"timezone: 'Europe/London'}})}}) = {expr} THEN z - duration({{hours: 1}}) ELSE z END")
    return (f"CASE WHEN {expr} IS NULL THEN null "
            f"WHEN {expr} IS :: LOCAL DATETIME THEN [z IN [{london}] | {first}][0] "
            f"WHEN {expr} IS :: ZONED DATETIME THEN datetime({{datetime: {expr}, timezone: 'Z'}}) "
            f"ELSE {expr} END")
