"""Vectorised cell formatting: ids, dates, identifiers, phone numbers and CSV quoting."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

from graph.instants import utc

# An open end date ("until" is null): later than any real day, so min/max just work.
OPEN = 1_000_000
_EPOCH = date(1970, 1, 1)

# Ofcom reserves these numbers for drama: none is ever given to a real line. Each range holds
# only 1,000 numbers, so numbers repeat; they are contacts, not keys.
REGION_PHONE_PREFIX = {
    "London": "020 7946 0",
    "West Midlands": "0121 496 0",
    "North West": "0161 496 0",
    "Yorkshire and The Humber": "0113 496 0",
    "North East": "0191 498 0",
    "East Midlands": "0115 496 0",
    "South West": "0117 496 0",
    "South East": "0118 496 0",
    "East of England": "01632 960",
}
DRAMA_FALLBACK_PREFIX = "01632 960"
DRAMA_MOBILE_PREFIX = "07700 900"

# DfE "Unique pupil number (UPN) guide": the check letter alphabet (no I, O or S).
_UPN_LETTERS = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"), dtype=object)
_THREE_DIGITS = np.array([f"{i:03d}" for i in range(1000)], dtype=object)


def day(value: date) -> int:
    """Days since 1970-01-01."""
    return (value - _EPOCH).days


def years_before(day_number: int, years: int) -> int:
    """The day number ``years`` calendar years earlier (28 February for a 29th)."""
    d = _EPOCH + timedelta(days=day_number)
    earlier = d.replace(year=d.year - years, day=min(d.day, 28) if (d.month, d.day) == (2, 29) else d.day)
    return day(earlier)


def ids(prefix: str, n: int, width: int, start: int = 1) -> np.ndarray:
    """``n`` ids like C00000001: the prefix and a zero-padded serial."""
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


class Dates:
    """Formats day numbers as ISO dates through a lookup table; OPEN becomes blank."""

    def __init__(self, as_of_day: int, years_back: int = 40):
        self.first = as_of_day - years_back * 366
        self.last = as_of_day
        days = np.arange(self.first, as_of_day + 1).astype("datetime64[D]").astype(str)
        self.table = np.append(days.astype(object), "")
        self.times = np.array([f"T{m // 60:02d}:{m % 60:02d}:00" for m in range(1440)], dtype=object)

    def __call__(self, days: np.ndarray) -> np.ndarray:
        days = np.asarray(days, dtype=np.int64)
        real = days < OPEN
        if real.any() and (days[real].min() < self.first or days[real].max() > self.last):
            raise ValueError("a date falls outside the generator's window (after as_of?)")
        return self.table[np.where(real, days - self.first, len(self.table) - 1)]

    def instants(self, minutes: np.ndarray) -> np.ndarray:
        """UTC minutes since the epoch as ISO instants with their Z (YYYY-MM-DDTHH:MM:SSZ)."""
        minutes = np.asarray(minutes, dtype=np.int64)
        return self(minutes // 1440) + self.times[minutes % 1440] + "Z"


def uk_clock_to_utc(minutes: np.ndarray) -> np.ndarray:
    """Minutes since the epoch on the UK wall clock as UTC minutes, read as graph.instants.utc reads them.

    Worked out once per hour present: the UK clock changes only on the hour, so a whole hour shares its offset.
    """
    minutes = np.asarray(minutes, dtype=np.int64)
    hours, where = np.unique(minutes // 60, return_inverse=True)
    start = datetime(1970, 1, 1)
    offset = np.array([int(utc(start + timedelta(hours=int(h))).timestamp()) // 60 - int(h) * 60 for h in hours],
                      dtype=np.int64)
    return minutes + offset[where.reshape(minutes.shape)]


def bools(values: np.ndarray) -> np.ndarray:
    """Booleans as the words true/false."""
    return np.array(["false", "true"], dtype=object)[np.asarray(values, dtype=np.int8)]


def ints(values: np.ndarray, blank: np.ndarray | None = None) -> np.ndarray:
    """Integers as text; blank where the mask says so."""
    out = np.asarray(values).astype(np.int64).astype(str).astype(object)
    if blank is not None:
        out[blank] = ""
    return out


def quote(values: np.ndarray) -> np.ndarray:
    """CSV-quote the cells that hold a comma, a quote or a line break (RFC 4180)."""
    out = np.asarray(values, dtype=object)
    needs = [i for i, v in enumerate(out.tolist()) if "," in v or '"' in v or "\n" in v or "\r" in v]
    if needs:
        out = out.copy()
        for i in needs:
            out[i] = '"' + out[i].replace('"', '""') + '"'
    return out


def phones(prefixes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drama numbers: each prefix followed by three random digits."""
    return np.asarray(prefixes, dtype=object) + _THREE_DIGITS[rng.integers(0, 1000, len(prefixes))]


NHS_BODIES = (900_000_000, 1_000_000_000)


def nhs_numbers(rng: np.random.Generator, n: int, bodies: tuple[int, int] = NHS_BODIES) -> np.ndarray:
    """``n`` distinct NHS numbers with a valid Modulus 11 check digit, their first nine digits in ``bodies``.

    All start with 9: NHS numbers beginning with 9 are never issued to patients in England
    (999 is the published test range), so none can be a real person's. Disjoint ``bodies``
    give disjoint numbers.

    Raises:
        ValueError: the range is too small for ``n`` numbers.
    """
    low, high = bodies
    if not NHS_BODIES[0] <= low < high <= NHS_BODIES[1] or n > (high - low) * 0.8:
        raise ValueError(f"cannot draw {n:,} NHS numbers from bodies {low:,}..{high:,}")
    found = np.empty(0, dtype=np.int64)
    while len(found) < n:
        base = rng.integers(low, high, size=int((n - len(found)) * 1.15) + 16)
        total = np.zeros(len(base), dtype=np.int64)
        for i in range(9):
            total += (base // 10 ** (8 - i) % 10) * (10 - i)
        check = 11 - total % 11
        check[check == 11] = 0
        valid = check != 10
        found = np.unique(np.concatenate([found, base[valid] * 10 + check[valid]]))
    return rng.permutation(found)[:n].astype(str).astype(object)


def upns(la_numbers: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """UPNs: a Modulus 23 check letter, a 3-digit LA number and a 9-digit serial."""
    body = np.asarray(la_numbers, dtype=np.int64) * 1_000_000_000 + np.asarray(serials, dtype=np.int64)
    total = np.zeros(len(body), dtype=np.int64)
    for i in range(12):
        total += (body // 10 ** (11 - i) % 10) * (i + 2)
    return _UPN_LETTERS[total % 23] + body.astype(str).astype(object)
