"""Households, children and their carers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loaders.synth import names, rates
from loaders.synth.fmt import DRAMA_MOBILE_PREFIX, phones, years_before
from loaders.synth.places import apportion

GENDERS = np.array(["female", "male", "not_known", "not_specified"], dtype=object)
ACTIVE, NO_KNOWN_ADDRESS, LEFT_ENGLAND = 0, 1, 2
STATUSES = np.array(["active", "no_known_address", "left_england"], dtype=object)
EMAIL_DOMAINS = np.array(["example.com", "example.org", "example.net"], dtype=object)


@dataclass
class Population:
    """Households (contiguous blocks of children) and the children in them."""

    hh_size: np.ndarray
    hh_first: np.ndarray
    hh_la: np.ndarray
    hh_family: np.ndarray
    hh_status: np.ndarray
    child_hh: np.ndarray
    dob: np.ndarray
    gender: np.ndarray
    given: np.ndarray
    family: np.ndarray
    half_sibling: np.ndarray
    former: np.ndarray

    def household_mean(self, per_child: np.ndarray) -> np.ndarray:
        """The mean of a per-child value over each household."""
        return np.add.reduceat(per_child, self.hh_first) / self.hh_size

    @property
    def children(self) -> int:
        return len(self.child_hh)

    def age_days(self, as_of: int) -> np.ndarray:
        return as_of - self.dob


def household_sizes(children: int, rng: np.random.Generator) -> np.ndarray:
    """Children per household drawn from the ONS shares, trimmed to add up to ``children``."""
    p = np.asarray(rates.HOUSEHOLD_CHILDREN_P)
    mean = float((np.arange(1, len(p) + 1) * p).sum())
    sizes = rng.choice(np.arange(1, len(p) + 1), size=int(children / mean * 1.1) + 16, p=p)
    total = np.cumsum(sizes)
    while total[-1] < children:  # only for tiny runs where the 10% margin is not enough
        sizes = np.concatenate([sizes, rng.choice(np.arange(1, len(p) + 1), size=16, p=p)])
        total = np.cumsum(sizes)
    count = int(np.searchsorted(total, children)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= total[count - 1] - children
    return sizes


def make_population(children: int, weights: np.ndarray, as_of: int, rng: np.random.Generator) -> Population:
    """Households spread over authorities by postcode weight; children with names and birthdays."""
    sizes = household_sizes(children, rng)
    hh_la = np.repeat(np.arange(len(weights)), apportion(len(sizes), weights))
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    child_hh = np.repeat(np.arange(len(sizes)), sizes)
    n = children
    # Birthdays uniform over the 18 years to as_of: ONS single-year counts are nearly flat.
    span = as_of - years_before(as_of, 18)
    dob = as_of - (rng.random(n) * span).astype(np.int64)
    u = rng.random(n)
    gender = np.where(u < rates.MALE_SHARE, 1, 0)
    gender[u > 1 - rates.GENDER_NOT_KNOWN_SHARE - rates.GENDER_NOT_SPECIFIED_SHARE] = 2
    gender[u > 1 - rates.GENDER_NOT_SPECIFIED_SHARE] = 3
    female = names.table(names.CHILD_FEMALE_NAMES)[names.pick(rng, names.CHILD_FEMALE_NAMES, n)]
    male = names.table(names.CHILD_MALE_NAMES)[names.pick(rng, names.CHILD_MALE_NAMES, n)]
    either = rng.random(n) < 0.5
    given = np.where((gender == 1) | ((gender >= 2) & either), male, female)
    family_names = names.table(names.FAMILY_NAMES)
    hh_family = names.pick(rng, names.FAMILY_NAMES, len(sizes), skew=0.7)
    own = names.pick(rng, names.FAMILY_NAMES, n, skew=0.7)
    half = (np.arange(n) != first[child_hh]) & (rng.random(n) < rates.HALF_SIBLING_SHARE) & (own != hh_family[child_hh])
    family = family_names[np.where(half, own, hh_family[child_hh])]
    former = np.full(n, "", dtype=object)
    renamed = np.flatnonzero((rng.random(n) < rates.FORMER_NAME_SHARE) & (as_of - dob > 365))
    old = family_names[names.pick(rng, names.FAMILY_NAMES, len(renamed), skew=0.7)]
    former[renamed] = given[renamed] + " " + old
    twice = renamed[rng.random(len(renamed)) < 0.1]
    older = family_names[names.pick(rng, names.FAMILY_NAMES, len(twice), skew=0.7)]
    former[twice] = former[twice] + ";" + given[twice] + " " + older
    return Population(
        hh_size=sizes, hh_first=first, hh_la=hh_la, hh_family=hh_family,
        hh_status=np.zeros(len(sizes), dtype=np.int8), child_hh=child_hh, dob=dob, gender=gender,
        given=given, family=family, half_sibling=half, former=former,
    )


def quota(pop: Population, eligible: np.ndarray, target: int, rng: np.random.Generator,
          weight: np.ndarray | None = None) -> np.ndarray:
    """Exactly ``target`` children (if there are enough), a whole eligible household at a time.

    Siblings share plans and shielding, as they usually do; the last household is trimmed.
    ``weight`` (per household) makes some households likelier to be drawn.
    """
    chosen = np.zeros(pop.children, dtype=bool)
    candidates = np.flatnonzero(eligible)
    if weight is None:
        order = rng.permutation(candidates)
    else:  # weighted sampling without replacement (Efraimidis and Spirakis)
        order = candidates[np.argsort(rng.exponential(1.0, len(candidates)) / weight[candidates], kind="stable")]
    if target <= 0 or not len(order):
        return chosen
    total = np.cumsum(pop.hh_size[order])
    take = min(int(np.searchsorted(total, target)) + 1, len(order))
    households = order[:take]
    chosen[np.repeat(pop.hh_first[households], pop.hh_size[households]) + _ranks(pop.hh_size[households])] = True
    extra = int(total[take - 1] - target)
    if extra > 0:
        end = int(pop.hh_first[households[-1]] + pop.hh_size[households[-1]])
        chosen[end - extra:end] = False
    return chosen


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """0..size-1 for each block of the given sizes, concatenated."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(int(sizes.sum())) - starts


def person_names(rng: np.random.Generator, female: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adult given names by sex and family names, as object arrays."""
    n = len(female)
    f = names.table(names.ADULT_FEMALE_NAMES)[names.pick(rng, names.ADULT_FEMALE_NAMES, n)]
    m = names.table(names.ADULT_MALE_NAMES)[names.pick(rng, names.ADULT_MALE_NAMES, n)]
    fam = names.table(names.FAMILY_NAMES)[names.pick(rng, names.FAMILY_NAMES, n, skew=0.7)]
    return np.where(female, f, m), fam


def contact(rng: np.random.Generator, given: np.ndarray, family: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carer phones (Ofcom drama mobiles) and emails at reserved example domains."""
    n = len(given)
    phone = phones(np.full(n, DRAMA_MOBILE_PREFIX, dtype=object), rng)
    phone[rng.random(n) < rates.CARER_NO_PHONE_SHARE] = ""
    local = _slugs(given) + "." + _slugs(family) + rng.integers(1, 100, n).astype(str).astype(object)
    email = local + "@" + EMAIL_DOMAINS[rng.integers(0, len(EMAIL_DOMAINS), n)]
    email[rng.random(n) < rates.CARER_NO_EMAIL_SHARE] = ""
    return phone, email


def _slugs(values: np.ndarray) -> np.ndarray:
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([names.slug(v, ".") for v in uniq], dtype=object)[inverse]


@dataclass
class CarerRows:
    """One row per (carer, child); carers are numbered from 0."""

    carer: np.ndarray
    child: np.ndarray
    relationship: np.ndarray
    responsible: np.ndarray
    given: np.ndarray  # per carer
    family: np.ndarray  # per carer
    female: np.ndarray  # per carer


def household_carers(pop: Population, rng: np.random.Generator) -> CarerRows:
    """One or two carers per household: parents, lone parents or kinship carers."""
    h = len(pop.hh_size)
    u = rng.random(h)
    kinship = u < rates.KINSHIP_HOUSEHOLD_SHARE
    lone = ~kinship & (rng.random(h) < rates.LONE_PARENT_SHARE)
    same_sex = ~kinship & ~lone & (rng.random(h) < rates.SAME_SEX_COUPLE_SHARE)
    two = np.where(kinship, rng.random(h) < 0.6, ~lone)
    lone_mother = rng.random(h) < rates.LONE_MOTHER_SHARE
    guardian = kinship & (rng.random(h) < rates.SPECIAL_GUARDIAN_SHARE)
    both_female = rng.random(h) < 0.5
    # Slot 0 is the mother (or the one lone parent / first kinship carer), slot 1 the partner.
    female0 = np.where(lone, lone_mother, np.where(same_sex, both_female, True))
    female1 = np.where(same_sex, both_female, False)
    rel0 = np.where(kinship, np.where(guardian, "special_guardian", "grandparent"),
                    np.where(female0, "mother", "father")).astype(object)
    rel1 = np.where(kinship, np.where(guardian, "special_guardian", "grandparent"),
                    np.where(female1, "mother", "father")).astype(object)
    # Grandparents are carers without parental responsibility unless they hold an SGO.
    pr = ~kinship | guardian
    n_carers = 1 + two.astype(np.int64)
    carer_of = np.full((h, 2), -1, dtype=np.int64)
    carer_of[:, 0] = np.arange(h)
    carer_of[two, 1] = h + np.arange(int(two.sum()))
    female = np.concatenate([female0, female1[two]])
    given, family = person_names(rng, female)
    # Mothers keep the children's family name three times in four, partners nine in ten.
    hh_of = np.concatenate([np.arange(h), np.flatnonzero(two)])
    keeps = rng.random(len(hh_of)) < np.where(np.arange(len(hh_of)) < h, 0.75, 0.9)
    family = np.where(keeps, names.table(names.FAMILY_NAMES)[pop.hh_family[hh_of]], family)
    parts = []
    child = np.arange(pop.children)
    for slot, rel in ((0, rel0), (1, rel1)):
        hh = pop.child_hh
        has = n_carers[hh] > slot
        c, hh = child[has], hh[has]
        relationship = rel[hh].copy()
        responsible = pr[hh].copy()
        # A half-sibling's mother's partner is a step-parent, without parental responsibility.
        step = (slot == 1) & pop.half_sibling[c] & ~kinship[hh]
        relationship[step] = "step_parent"
        responsible[step] = False
        parts.append((carer_of[hh, slot], c, relationship, responsible))
    carer, ch, relationship, responsible = (np.concatenate(p) for p in zip(*parts))
    return CarerRows(carer, ch, relationship, responsible, given, family, female)


def foster_carers(
    groups: np.ndarray, children: np.ndarray, kinship: np.ndarray, first_id: int, rng: np.random.Generator
) -> CarerRows:
    """Foster (or kinship foster) carers for placed children; ``groups`` numbers the placements."""
    g = int(groups.max(initial=-1)) + 1
    two = rng.random(g) < 0.6
    carer_of = np.full((g, 2), -1, dtype=np.int64)
    carer_of[:, 0] = first_id + np.arange(g)
    carer_of[two, 1] = first_id + g + np.arange(int(two.sum()))
    female = np.concatenate([np.ones(g, dtype=bool), rng.random(int(two.sum())) < 0.1])
    given, family = person_names(rng, female)
    partner_family = family[g:]
    family[g:] = np.where(rng.random(len(partner_family)) < 0.8, family[:g][two], partner_family)
    rel = np.where(kinship, "kinship_carer", "foster_carer").astype(object)
    rows = [(carer_of[groups, 0], children, rel)]
    has = two[groups]
    rows.append((carer_of[groups[has], 1], children[has], rel[has]))
    carer, child, relationship = (np.concatenate(p) for p in zip(*rows))
    return CarerRows(carer, child, relationship, np.zeros(len(carer), dtype=bool), given, family, female)
