"""School rolls and GP lists, following each child's moves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synth import rates
from loaders.synth.fmt import OPEN
from loaders.synth.places import Residences
from loaders.synth.services import TYPE, Services


@dataclass
class Spells:
    """Periods of a child at one agency; ``agency`` -1 means none could be found."""

    child: np.ndarray
    agency: np.ndarray
    since: np.ndarray
    until: np.ndarray

    def keep(self, mask: np.ndarray) -> Spells:
        return Spells(self.child[mask], self.agency[mask], self.since[mask], self.until[mask])

    def current(self, n_children: int) -> np.ndarray:
        """Each child's current agency (-1 if none)."""
        out = np.full(n_children, -1, dtype=np.int64)
        open_ = self.until == OPEN
        out[self.child[open_]] = self.agency[open_]
        return out


@dataclass
class Segments:
    """Runs of consecutive residences that keep the same school or GP."""

    child: np.ndarray
    la: np.ndarray
    address: np.ndarray
    since: np.ndarray
    until: np.ndarray
    crossed: np.ndarray


def segments(res: Residences, change_u: np.ndarray, change_share: float) -> Segments:
    """Split residences where the authority changes, or a local move changes provider.

    ``change_u`` holds one uniform per address, so siblings moving together decide together.
    """
    n = len(res.child)
    first = np.ones(n, dtype=bool)
    first[1:] = res.child[1:] != res.child[:-1]
    crossed = ~first & (res.la != np.roll(res.la, 1))
    local = ~first & ~crossed & (change_u[res.address] < change_share)
    starts = np.flatnonzero(first | crossed | local)
    ends = np.r_[starts[1:], n] - 1
    return Segments(res.child[starts], res.la[starts], res.address[starts], res.since[starts], res.until[ends],
                    crossed[starts])


def _year_start(day: np.ndarray) -> np.ndarray:
    """1 September of each child's reception year (the September after their 4th birthday)."""
    d = day.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]") - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64)
    entry = year + 4 + (month >= 8)
    return _sept_first(entry)


def _sept_first(year: np.ndarray) -> np.ndarray:
    return ((year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(8, "M")) \
        .astype("datetime64[D]").astype(np.int64)


def school_years(dob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reception start, end of Year 6 (31 July), Year 7 start and end of Year 11."""
    reception = _year_start(dob)
    year = reception.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    year7 = _sept_first(year + 7)
    return reception, year7 - 32, year7, _sept_first(year + 12) - 32


def _gap(rng: np.random.Generator, n: int, short: int, long: int, long_share: float) -> np.ndarray:
    """Days between a move and the new registration: mostly short, sometimes long."""
    days = (rng.random(n) * short).astype(np.int64)
    slow = rng.random(n) < long_share
    days[slow] = short + (rng.random(int(slow.sum())) * (long - short)).astype(np.int64)
    return days


def enrolments(res: Residences, dob: np.ndarray, services: Services, as_of: int, rng: np.random.Generator) -> Spells:
    """Reception to Year 11 at schools of the authority lived in; a move across authorities
    ends the enrolment and, after a gap, starts another."""
    n_children = len(dob)
    addr_u = rng.random(int(res.address.max(initial=0)) + 1)
    seg = segments(res, addr_u, rates.SCHOOL_CHANGE_ON_LOCAL_MOVE)
    reception, end6, year7, end11 = (a[seg.child] for a in school_years(dob))
    u = rng.random(n_children)
    sector = np.zeros(n_children, dtype=np.int64)  # 0 state primary/secondary
    sector[u < rates.INDEPENDENT_PUPIL_SHARE] = 1
    sector[(u >= rates.INDEPENDENT_PUPIL_SHARE) & (u < rates.INDEPENDENT_PUPIL_SHARE + rates.SPECIAL_PUPIL_SHARE)] = 2
    sector = sector[seg.child]
    state = sector == 0
    # State pupils change school at Year 7; special and independent schools take all ages.
    first_school = np.where(state, TYPE["primary"], np.where(sector == 1, TYPE["independent"], TYPE["special"]))
    parts = [
        (np.maximum(seg.since, reception), np.where(state, np.minimum(seg.until, end6), np.minimum(seg.until, end11)),
         first_school, TYPE["primary"]),
        (np.maximum(seg.since, year7), np.minimum(seg.until, end11), np.full(len(state), TYPE["secondary"]),
         TYPE["secondary"]),
    ]
    out = []
    school_u = rng.random(len(addr_u))
    for i, (since, until, wanted, fallback) in enumerate(parts):
        take = state if i == 1 else np.ones(len(state), dtype=bool)
        gap = np.where(seg.crossed & (since == seg.since), _gap(rng, len(since), 30, 120, 0.05), 0)
        since = since + gap
        until = np.where(until > as_of, OPEN, until)
        valid = take & (since <= as_of) & (since < until)
        # A recent move across authorities may not have found a school place yet.
        unplaced = seg.crossed & (until == OPEN) & (as_of - since < 180) \
            & (rng.random(len(since)) < rates.NO_SCHOOL_AFTER_MOVE_SHARE)
        valid &= ~unplaced
        agency = services.agency(wanted, seg.la, school_u[seg.address])
        agency = np.where(agency < 0, services.agency(fallback, seg.la, school_u[seg.address]), agency)
        out.append(Spells(seg.child, agency, since, until).keep(valid & (agency >= 0)))
    spells = Spells(*(np.concatenate(x) for x in zip(*((s.child, s.agency, s.since, s.until) for s in out))))
    return spells.keep(spells.until >= as_of - rates.HISTORY_YEARS * 365)


def take_off_roll(spells: Spells, children: np.ndarray, as_of: int, earliest: int, latest: int,
                  rng: np.random.Generator) -> Spells:
    """End the current enrolment of the given children some days before as_of."""
    mark = np.zeros(int(max(spells.child.max(initial=-1), children.max(initial=-1))) + 1, dtype=bool)
    mark[children] = True
    hit = mark[spells.child] & (spells.until == OPEN)
    ago = earliest + (rng.random(int(hit.sum())) * (latest - earliest)).astype(np.int64)
    until = spells.until.copy()
    until[hit] = np.maximum(spells.since[hit], as_of - ago)
    return Spells(spells.child, spells.agency, spells.since, until)


def registrations(res: Residences, dob: np.ndarray, services: Services, as_of: int,
                  rng: np.random.Generator) -> Spells:
    """GP registration from a few weeks after birth; re-registration after moving authority."""
    addr_u = rng.random(int(res.address.max(initial=0)) + 1)
    seg = segments(res, addr_u, rates.GP_CHANGE_ON_LOCAL_MOVE)
    n = len(seg.child)
    born = dob[seg.child] + 7 + (rng.random(n) * 35).astype(np.int64)
    arrived = np.where(seg.crossed, seg.since + _gap(rng, n, 60, 180, 0.1), seg.since)
    since = np.maximum(arrived, born)
    until = seg.until
    valid = (since <= as_of) & (since < until)
    agency = services.agency(TYPE["gp_practice"], seg.la, rng.random(len(addr_u))[seg.address])
    spells = Spells(seg.child, agency, since, until).keep(valid & (agency >= 0))
    spells = spells.keep(spells.until >= as_of - rates.HISTORY_YEARS * 365)
    unregistered = rng.random(len(dob)) < rates.GP_UNREGISTERED_SHARE
    return spells.keep(~(unregistered[spells.child] & (spells.until == OPEN)))
