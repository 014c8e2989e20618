"""Which practitioners work with which children, and who leads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synth import rates
from loaders.synth.casework import CIN, CP, EH, LAC, Plans
from loaders.synth.fmt import OPEN
from loaders.synth.people import ACTIVE, Population
from loaders.synth.places import Residences
from loaders.synth.registers import segments
from loaders.synth.services import TYPE, Services

SERVICES = ("health_visiting", "school_nursing", "social_care", "early_help", "police", "youth_justice", "camhs",
            "sexual_health", "substance_misuse", "voluntary", "housing")
SERVICE = {s: i for i, s in enumerate(SERVICES)}
SENSITIVE = ("camhs", "sexual_health", "substance_misuse")
YEAR = 365

# Services open to a share of the children of an age band (years, inclusive lower bound).
_BY_AGE = (
    ("school_nursing", rates.SCHOOL_NURSING_SHARE, 5, 17),
    ("police", rates.POLICE_SHARE, 8, 18),
    ("youth_justice", rates.YOUTH_JUSTICE_SHARE, 10, 18),
    ("camhs", rates.CAMHS_SHARE, 5, 18),
    ("sexual_health", rates.SEXUAL_HEALTH_SHARE, 13, 18),
    ("substance_misuse", rates.SUBSTANCE_MISUSE_SHARE, 12, 18),
    ("voluntary", rates.VOLUNTARY_SHARE, 0, 18),
)
# Agencies added for a child on a CP or CIN plan, with shares (assumption).
_PLAN_EXTRAS = (("police", 0.35), ("voluntary", 0.3), ("camhs", 0.2), ("housing", 0.15))
_NO_LEAD_POOL = ("police", "camhs", "voluntary", "school_nursing", "housing")


@dataclass
class Involvements:
    practitioner: np.ndarray
    child: np.ndarray
    service: np.ndarray
    since: np.ndarray
    until: np.ndarray
    lead: np.ndarray
    sensitive: np.ndarray
    consent: np.ndarray


class _Builder:
    """Accumulates involvement rows service by service."""

    def __init__(self, services: Services, rng: np.random.Generator):
        self.services, self.rng = services, rng
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, service: str, child: np.ndarray, la: np.ndarray, since: np.ndarray, until: np.ndarray,
            lead: bool = False, u: np.ndarray | None = None, agency: np.ndarray | None = None) -> None:
        n = len(child)
        if not n:
            return
        rng = self.rng
        # A shared ``u`` (one per family) gives siblings the same agency and worker.
        u = rng.random(n) if u is None else u
        if agency is None:
            agency = self.services.agency(TYPE[service], la, u)
        worker = self.services.practitioner(agency, (u * 7919.0) % 1.0)
        sensitive = service in SENSITIVE
        consent = rng.random(n) < rates.CONSENT_SHARE.get(service, 0.0)
        self.parts.append((worker, child, np.full(n, SERVICE[service]), since, until, np.full(n, lead),
                           np.full(n, sensitive), consent & sensitive))

    def result(self) -> Involvements:
        if not self.parts:  # a tiny England where nobody works with any child
            return Involvements(*(np.empty(0, dtype=t) for t in (np.int64,) * 5 + (bool,) * 3))
        cols = [np.concatenate(p) for p in zip(*self.parts)]
        key = np.lexsort((cols[3], cols[2], cols[1], cols[0]))
        cols = [c[key] for c in cols]
        same = np.zeros(len(key), dtype=bool)
        same[1:] = (cols[0][1:] == cols[0][:-1]) & (cols[1][1:] == cols[1][:-1]) \
            & (cols[2][1:] == cols[2][:-1]) & (cols[3][1:] == cols[3][:-1])
        return Involvements(*(c[~same] for c in cols))


def _span(rng: np.random.Generator, earliest: np.ndarray, as_of: int,
          ended_share: float = rates.INVOLVEMENT_ENDED_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """A start after ``earliest`` and, for a share, an end before as_of."""
    n = len(earliest)
    since = np.maximum(as_of - rng.exponential(rates.INVOLVEMENT_MEAN_DAYS, n).astype(np.int64), earliest)
    ended = (rng.random(n) < ended_share) & (since < as_of)
    until = np.where(ended, since + 1 + (rng.random(n) * (as_of - since - 1)).astype(np.int64), OPEN)
    return since, until


def involve(pop: Population, res: Residences, plans: Plans, school_now: np.ndarray, reception: np.ndarray,
            services: Services, as_of: int, rng: np.random.Generator) -> Involvements:
    """Health visiting, school nursing, social workers, early help leads and the rest."""
    n, hh = pop.children, pop.child_hh
    out = _Builder(services, rng)
    age = pop.age_days(as_of)
    stint = segments(res, np.zeros(int(res.address.max(initial=0)) + 1), 0.0)
    last = np.full(n, -1, dtype=np.int64)
    last[stint.child] = np.arange(len(stint.child))
    prev = np.where((last > 0) & (stint.child[np.maximum(last - 1, 0)] == np.arange(n)), last - 1, -1)
    la_now, stint_since, stint_until = stint.la[last], stint.since[last], stint.until[last]
    active = pop.hh_status[hh] == ACTIVE
    family_u = rng.random(len(pop.hh_size))[hh]

    # Health visitors see every child under five, in each authority they have lived in.
    under5 = np.flatnonzero(age < 5 * YEAR)
    since = np.maximum(pop.dob[under5] + 10, stint_since[under5])
    ok = since <= np.minimum(as_of, stint_until[under5])
    c = under5[ok]
    out.add("health_visiting", c, la_now[c], since[ok], stint_until[c], u=family_u[c])
    moved = under5[prev[under5] >= 0]
    p = prev[moved]
    since = np.maximum(pop.dob[moved] + 10, stint.since[p])
    ok = since <= stint.until[p]
    out.add("health_visiting", moved[ok], stint.la[p][ok], since[ok], stint.until[p][ok], u=family_u[moved[ok]])

    # The social worker leads for children in need, on CP plans and looked after.
    social = np.isin(plans.kind, (CP, LAC, CIN))
    out.add("social_care", plans.child[social], plans.la[social], plans.since[social], plans.until[social],
            lead=True, u=family_u[plans.child[social]])

    # Early help is led by the school, the health visitor or a family hub.
    early = np.flatnonzero(plans.kind == EH)
    c = plans.child[early]
    current = plans.until[early] == OPEN
    at_school = current & (school_now[c] >= 0) & (rng.random(len(c)) < 0.6)
    young = ~at_school & (age[c] < 5 * YEAR) & (rng.random(len(c)) < 0.6)
    hub = ~at_school & ~young
    for mask, service, agency in (
        (at_school, "early_help", school_now[c]),
        (young, "early_help", services.agency(TYPE["health_visiting"], plans.la[early], family_u[c])),
        (hub, "early_help", services.agency(TYPE["early_years"], plans.la[early], family_u[c])),
    ):
        out.add(service, c[mask], plans.la[early][mask], plans.since[early][mask], plans.until[early][mask],
                lead=True, agency=agency[mask])

    # Age-banded services, for children still living in England.
    for service, share, low, high in _BY_AGE:
        band = (age >= low * YEAR) & (age < high * YEAR) & active
        if service == "school_nursing":
            band &= reception <= as_of
        c = np.flatnonzero(band & (rng.random(n) < share))
        since, until = _span(rng, np.maximum(pop.dob[c] + low * YEAR, stint_since[c]), as_of)
        out.add(service, c, la_now[c], since, until)
    # Housing works with whole families in temporary accommodation.
    housed = np.flatnonzero(active & (rng.random(len(pop.hh_size)) < rates.HOUSING_SHARE)[hh])
    since, until = _span(rng, np.maximum(pop.dob[housed], stint_since[housed]), as_of)
    out.add("housing", housed, la_now[housed], since, until, u=family_u[housed])

    # Children on CP and CIN plans often have one more agency alongside the social worker.
    planned = np.flatnonzero((plans.current(CP, n) | plans.current(CIN, n)) & active
                             & (rng.random(n) < rates.PLAN_EXTRA_AGENCY_SHARE))
    labels = [s for s, _ in _PLAN_EXTRAS]
    shares = np.array([w for _, w in _PLAN_EXTRAS])
    which = rng.choice(len(labels), size=len(planned), p=shares / shares.sum())
    for i, service in enumerate(labels):
        c = planned[which == i]
        if service == "camhs":
            c = c[age[c] >= 5 * YEAR]
        since, until = _span(rng, np.maximum(pop.dob[c], stint_since[c]), as_of, ended_share=0.0)
        out.add(service, c, la_now[c], since, until)

    # Three or more agencies and nobody leading: the pattern reviews keep finding.
    no_plan = ~(plans.current(CP, n) | plans.current(CIN, n) | plans.current(LAC, n) | plans.current(EH, n))
    eligible = np.flatnonzero(no_plan & active & (age >= 5 * YEAR) & (reception <= as_of))
    target = min(round(n * rates.NO_LEAD_MULTI_AGENCY_SHARE), len(eligible))
    c = rng.choice(eligible, size=target, replace=False) if target else eligible[:0]
    picks = np.argsort(rng.random((len(c), len(_NO_LEAD_POOL))), axis=1)[:, :3]
    for i, service in enumerate(_NO_LEAD_POOL):
        chosen = c[(picks == i).any(axis=1)]
        since, until = _span(rng, np.maximum(pop.dob[chosen], stint_since[chosen]), as_of, ended_share=0.0)
        out.add(service, chosen, la_now[chosen], since, until)
    return out.result()
