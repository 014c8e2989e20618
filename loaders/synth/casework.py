"""Plans, care placements, shielding and attendances at emergency departments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synth import rates
from loaders.synth.fmt import OPEN, uk_clock_to_utc
from loaders.synth.people import ACTIVE, Population, quota
from loaders.synth.places import AddressBook, Geo, Homes, Residences, elsewhere

PLAN_KINDS = ("cp_plan", "looked_after", "child_in_need", "early_help")
CP, LAC, CIN, EH = range(4)
_CURRENT_RATE = {CP: rates.CP_PLAN_RATE, LAC: rates.LOOKED_AFTER_RATE, CIN: rates.CIN_PLAN_RATE,
                 EH: rates.EARLY_HELP_RATE}


@dataclass
class Plans:
    """Plan episodes: child, responsible authority, kind, since, until (OPEN while current)."""

    child: np.ndarray
    la: np.ndarray
    kind: np.ndarray
    since: np.ndarray
    until: np.ndarray

    def current(self, kind: int, n_children: int) -> np.ndarray:
        mask = np.zeros(n_children, dtype=bool)
        mask[self.child[(self.kind == kind) & (self.until == OPEN)]] = True
        return mask


def _cat(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(p) for p in zip(*parts))


def _last_crossing(homes: Homes) -> np.ndarray:
    """Day each household last moved across an authority boundary (-OPEN if never)."""
    slots = homes.la.shape[1]
    crossed = (homes.la[:, :-1] != homes.la[:, 1:]) & (np.arange(1, slots) < homes.count[:, None])
    latest = np.argmax(crossed, axis=1)
    return np.where(crossed.any(axis=1), homes.since[np.arange(len(homes.count)), latest], -OPEN)


def _lac_age_weight(age_days: np.ndarray) -> np.ndarray:
    """Relative chance of being looked after by age: older children are more often in care."""
    years = age_days / 365.25
    weight = np.zeros(len(years))
    low = 0
    for high, share in rates.LAC_AGE_BANDS:
        weight[(years >= low) & (years < high)] = share / (high - low) * 18
        low = high
    return np.maximum(weight, 0.01)


def make_plans(pop: Population, homes: Homes, as_of: int, rng: np.random.Generator) -> Plans:
    """Current plans at the published rates (whole sibling groups), transfers, and ended ones."""
    n, hh = pop.children, pop.child_hh
    taken = np.zeros(len(pop.hh_size), dtype=bool)
    # Looked-after children need a placement address, so not in households without one.
    taken[pop.hh_status != ACTIVE] = True
    crossing = _last_crossing(homes)
    current_of = [np.zeros(len(pop.hh_size), dtype=bool) for _ in PLAN_KINDS]
    parts = []
    for kind in (LAC, CP, CIN, EH):
        weight = pop.household_mean(_lac_age_weight(pop.age_days(as_of))) if kind == LAC else None
        chosen = quota(pop, ~taken, round(n * _CURRENT_RATE[kind]), rng, weight)
        taken[hh[chosen]] = True
        if kind == LAC:
            taken[pop.hh_status != ACTIVE] = False
        c = np.flatnonzero(chosen)
        current_of[kind][hh[c]] = True
        length = (rng.exponential(rates.PLAN_MEAN_DAYS[PLAN_KINDS[kind]], len(pop.hh_size))).astype(np.int64)
        since = np.maximum(as_of - length[hh[c]], pop.dob[c])
        la_then = homes.la_at(hh[c], since)
        la_now = homes.la[hh[c], 0]
        # Moved away since the plan began: usually the new authority takes the plan over at a
        # transfer-in conference; sometimes it is still held by the old one.
        transfer_day = crossing[hh[c]] + rates.TRANSFER_IN_DAYS
        moved = (la_then != la_now) & (kind != LAC) & (transfer_day <= as_of) & (transfer_day > since)
        moved &= rng.random(len(pop.hh_size))[hh[c]] >= rates.PLAN_NOT_TRANSFERRED_SHARE
        parts.append((c, np.where(moved, la_now, la_then), np.full(len(c), kind), np.where(moved, transfer_day, since),
                      np.full(len(c), OPEN)))
        parts.append((c[moved], la_then[moved], np.full(int(moved.sum()), kind), since[moved], transfer_day[moved]))
    lookback = rates.PLAN_LOOKBACK_YEARS * 365
    for kind in (LAC, CP, CIN, EH):
        target = round(n * _CURRENT_RATE[kind] * rates.ENDED_PER_OPEN_PER_YEAR[PLAN_KINDS[kind]]
                       * rates.PLAN_LOOKBACK_YEARS)
        chosen = quota(pop, ~current_of[kind], target, rng)
        ended = as_of - 1 - (rng.random(len(pop.hh_size)) * lookback).astype(np.int64)
        length = 14 + rng.exponential(rates.PLAN_MEAN_DAYS[PLAN_KINDS[kind]], len(pop.hh_size)).astype(np.int64)
        c = np.flatnonzero(chosen & (pop.dob < ended[hh]))
        until = ended[hh[c]]
        since = np.maximum(until - length[hh[c]], pop.dob[c])
        parts.append((c, homes.la_at(hh[c], since), np.full(len(c), kind), since, until))
    return Plans(*_cat(parts))


@dataclass
class Placements:
    """Looked-after children living away from home: who, from when, where, and with whom."""

    child: np.ndarray
    since: np.ndarray
    address: np.ndarray
    la: np.ndarray
    group: np.ndarray
    foster: np.ndarray
    kinship: np.ndarray


def place_children(pop: Population, plans: Plans, book: AddressBook, geo: Geo, rng: np.random.Generator) -> Placements:
    """Foster and residential placements for current looked-after children; siblings together."""
    current = (plans.kind == LAC) & (plans.until == OPEN)
    child, since, la = plans.child[current], plans.since[current], plans.la[current]
    hh = pop.child_hh[child]
    households, group = np.unique(hh, return_inverse=True)
    g = len(households)
    u = rng.random(g)
    home = (u >= rates.LAC_FOSTER_SHARE) & (u < rates.LAC_FOSTER_SHARE + rates.LAC_WITH_PARENTS_SHARE)
    foster = u < rates.LAC_FOSTER_SHARE
    kinship = foster & (rng.random(g) < rates.LAC_KINSHIP_FOSTER_SHARE)
    group_la = np.zeros(g, dtype=np.int64)
    group_la[group] = la
    away = rng.random(g) < rates.LAC_OUT_OF_AREA_SHARE
    group_la[away] = elsewhere(geo, group_la[away], rng)
    address = np.full(g, -1, dtype=np.int64)
    address[~home] = book.add(group_la[~home])
    # Children placed with parents stay at home; everyone else moves to the placement.
    moves = ~home[group]
    renumber = np.cumsum(~home) - 1
    return Placements(child[moves], since[moves], address[group[moves]], group_la[group[moves]],
                      renumber[group[moves]], foster[group[moves]], kinship[~home])


@dataclass
class Shielding:
    """Shielding decisions: shielded children and a few lifted decisions."""

    child: np.ndarray
    shielded: np.ndarray
    decided: np.ndarray
    reason: np.ndarray


_SHIELD_REASONS = np.array([
    "Domestic abuse: family in refuge accommodation", "Risk of harm from a known individual",
    "Adoptive placement: birth family must not locate the child", "Forced marriage protection order",
    "Risk of abduction", "Witness protection arrangements", "Court order restricting disclosure of address",
], dtype=object)


def shield(pop: Population, homes: Homes, as_of: int, rng: np.random.Generator) -> Shielding:
    """Shielded sibling groups, mostly families who recently fled to a new home."""
    n, hh = pop.children, pop.child_hh
    target = round(n * rates.SHIELDED_RATE)
    active = pop.hh_status == ACTIVE
    recent = active & (homes.count > 1) & (homes.since[:, 0] >= as_of - 730)
    movers = quota(pop, recent, round(target * rates.SHIELDED_AFTER_MOVE_SHARE), rng)
    taken = np.zeros(len(pop.hh_size), dtype=bool)
    taken[hh[movers]] = True
    others = quota(pop, active & ~taken, target - int(movers.sum()), rng)
    taken[hh[others]] = True
    lifted = quota(pop, active & ~taken, round(n * rates.SHIELDING_LIFTED_RATE), rng)
    child = np.flatnonzero(movers | others | lifted)
    h = hh[child]
    on_arrival = homes.since[h, 0] + (rng.random(len(child)) * 30).astype(np.int64)
    any_time = as_of - (rng.random(len(pop.hh_size)) * rates.HISTORY_YEARS * 365).astype(np.int64)[h]
    decided = np.minimum(np.where(movers[child], on_arrival, any_time), as_of)
    decided = np.maximum(decided, pop.dob[child])
    reason = _SHIELD_REASONS[rng.integers(0, len(_SHIELD_REASONS), len(pop.hh_size))[h]]
    reason = np.where(lifted[child], "Shielding lifted after review: risk no longer current", reason)
    return Shielding(child, ~lifted[child], decided, reason)


# Reasons for attending, with shares (assumption, after the commonest HES A&E diagnoses in
# children: injuries, respiratory illness, fever, gastro-intestinal complaints).
_REASONS = (
    ("injury", 0.27), ("breathing difficulty", 0.14), ("fever", 0.12), ("abdominal pain", 0.08),
    ("head injury", 0.07), ("vomiting and diarrhoea", 0.07), ("suspected fracture", 0.05), ("rash", 0.04),
    ("allergic reaction", 0.04), ("burn or scald", 0.02), ("poisoning", 0.02), ("seizure", 0.02),
    ("self-harm", 0.02), ("mental health crisis", 0.02), ("alcohol or drug intoxication", 0.02),
)
# Arrivals by hour of the UK clock (assumption: a late-afternoon and evening peak).
_HOURS = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 7, 8, 9, 9, 9, 8, 6, 4, 3, 2], dtype=float)


@dataclass
class Attendances:
    """Visits: the child, the authority it lived in that day, the arrival (UTC minutes since the epoch), why."""

    child: np.ndarray
    la: np.ndarray
    minute: np.ndarray
    reason: np.ndarray


def attendances(pop: Population, res: Residences, plans: Plans, as_of: int, last_day: np.ndarray,
                rng: np.random.Generator) -> Attendances:
    """Emergency visits over AE_LOOKBACK_DAYS at cited rates, over-dispersed per child.

    A child's expected count is its age rate times the days it was alive and in England within the window
    (the days under 5 at the under-5 rate), so a baby born last month is not given two years of visits.
    """
    n = pop.children
    first = np.maximum(pop.dob, as_of - rates.AE_LOOKBACK_DAYS + 1)
    last = np.minimum(as_of, last_day)
    fifth = pop.dob + 5 * 365
    young = np.clip(np.minimum(last + 1, fifth) - first, 0, None)
    older = np.clip(last + 1 - np.maximum(first, fifth), 0, None)
    expected = (rates.AE_RATE_UNDER_5 * young + rates.AE_RATE_5_TO_17 * older) / 365
    flagged = plans.current(CP, n) | plans.current(LAC, n)
    expected = expected * np.where(flagged, rates.AE_PLAN_MULTIPLIER, 1.0)
    frailty = rng.gamma(rates.AE_DISPERSION_SHAPE, 1 / rates.AE_DISPERSION_SHAPE, n)
    visits = rng.poisson(expected * frailty)
    child = np.repeat(np.arange(n), visits)
    first, last = first[child], last[child]
    day = first + (rng.random(len(child)) * (last - first + 1)).astype(np.int64)
    keep = day <= last
    child, day = child[keep], day[keep]
    hour = rng.choice(24, size=len(child), p=_HOURS / _HOURS.sum())
    minute = uk_clock_to_utc(day * 1440 + hour * 60 + rng.integers(0, 60, len(child)))
    labels = np.array([r for r, _ in _REASONS], dtype=object)
    shares = np.array([s for _, s in _REASONS])
    reason = labels[rng.choice(len(labels), size=len(child), p=shares / shares.sum())]
    years_old = (day - pop.dob[child]) / 365.25
    reason[(years_old < 10) & np.isin(reason, ["self-harm", "mental health crisis"])] = "injury"
    reason[(years_old < 12) & (reason == "alcohol or drug intoxication")] = "poisoning"
    return Attendances(child, res.la_at(child, day), minute, reason)
