"""Agencies in every authority, sized to its children, and the practitioners who work for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from loaders.synth import names, rates
from loaders.synth.fmt import DRAMA_MOBILE_PREFIX, phones
from loaders.synth.people import person_names
from loaders.synth.places import Geo


@dataclass(frozen=True)
class AgencyType:
    """One kind of agency as generated: national count, directory contacts, names and titles."""

    name: str
    kind: str
    national: int
    contacts: float
    minimum: int
    sector: str
    titles: tuple[tuple[str, float], ...]


# National counts: schools and GP practices as cited in rates.py. The rest are assumptions
# (one service per authority, or teams of a typical size), marked so here:
# - health visiting: ~650 teams (assumption: ~6,500 health visitors in teams of ~10);
# - school nursing: ~300 teams (assumption);
# - social care: ~4,700 teams (DfE "Children's social work workforce 2023": ~33,000 FTE
#   child and family social workers, in teams of ~7);
# - police, youth justice, substance misuse: about one per authority (YJB: every authority
#   has a youth justice service);
# - CAMHS ~300 teams, sexual health ~200 clinics, voluntary ~2,000 organisations, early years
#   ~3,000 family hubs and children's centres (Sure Start peaked at ~3,600), unscheduled care
#   ~320 emergency departments and urgent treatment centres: assumptions.
# ``contacts`` is the mean number of practitioners the directory lists per agency (not its
# whole workforce: a school lists its head, safeguarding leads, SENCO and pastoral staff).
TYPES: tuple[AgencyType, ...] = (
    AgencyType("primary", "school", rates.NATIONAL_PRIMARY_SCHOOLS, 4, 1, "sch.uk", (
        ("Headteacher", 1), ("Designated Safeguarding Lead", 2), ("Deputy Designated Safeguarding Lead", 1),
        ("SENCO", 1), ("Class Teacher", 3), ("Family Liaison Officer", 1))),
    AgencyType("secondary", "school", rates.NATIONAL_SECONDARY_SCHOOLS, 6, 1, "sch.uk", (
        ("Headteacher", 1), ("Designated Safeguarding Lead", 2), ("Head of Year", 3), ("SENCO", 1),
        ("Pastoral Lead", 2), ("Attendance Officer", 1))),
    AgencyType("special", "school", rates.NATIONAL_SPECIAL_SCHOOLS, 4, 0, "sch.uk", (
        ("Headteacher", 1), ("Designated Safeguarding Lead", 2), ("Class Teacher", 2), ("Family Support Worker", 1))),
    AgencyType("independent", "school", rates.NATIONAL_INDEPENDENT_SCHOOLS, 3, 0, "sch.uk", (
        ("Head", 1), ("Designated Safeguarding Lead", 2), ("Housemaster", 1), ("Form Tutor", 2))),
    AgencyType("gp_practice", "gp_practice", rates.NATIONAL_GP_PRACTICES, 5, 1, "nhs.uk", (
        ("GP Partner", 3), ("Salaried GP", 2), ("Safeguarding Lead GP", 1), ("Practice Nurse", 2),
        ("Practice Manager", 1))),
    AgencyType("health_visiting", "health_visiting", 650, 8, 1, "nhs.uk", (
        ("Health Visitor", 6), ("Specialist Community Public Health Nurse", 2), ("Community Nursery Nurse", 2),
        ("Health Visiting Team Leader", 1))),
    AgencyType("school_nursing", "school_nursing", 300, 5, 1, "nhs.uk", (
        ("School Nurse", 5), ("School Nurse Team Leader", 1), ("Staff Nurse (School Health)", 2))),
    AgencyType("social_care", "social_care", 4_700, 7, 1, "gov.uk", (
        ("Social Worker", 6), ("Senior Social Worker", 3), ("Advanced Practitioner", 1),
        ("Consultant Social Worker", 1))),
    AgencyType("police", "police", 153, 6, 1, "police.uk", (
        ("Detective Constable, Child Abuse Investigation", 3), ("Police Constable, Public Protection", 3),
        ("Detective Sergeant", 1), ("Police Community Support Officer", 1))),
    AgencyType("youth_justice", "youth_justice", 153, 6, 1, "gov.uk", (
        ("Youth Justice Officer", 4), ("Youth Justice Case Manager", 2), ("Senior Practitioner", 1))),
    AgencyType("camhs", "camhs", 300, 8, 1, "nhs.uk", (
        ("Mental Health Practitioner", 4), ("Clinical Psychologist", 2), ("CAMHS Nurse", 2),
        ("Consultant Child and Adolescent Psychiatrist", 1), ("Children's Wellbeing Practitioner", 2))),
    AgencyType("sexual_health", "sexual_health", 200, 4, 1, "nhs.uk", (
        ("Sexual Health Nurse", 3), ("Sexual Health Outreach Worker", 2), ("Consultant in Sexual Health", 1))),
    AgencyType("substance_misuse", "substance_misuse", 153, 3, 1, "org.uk", (
        ("Young People's Substance Misuse Worker", 3), ("Recovery Worker", 1))),
    AgencyType("voluntary", "voluntary", 2_000, 3, 1, "org.uk", (
        ("Family Support Worker", 3), ("Youth Worker", 2), ("Key Worker", 2), ("Project Worker", 1))),
    AgencyType("early_years", "early_years", 3_000, 4, 1, "gov.uk", (
        ("Family Hub Worker", 3), ("Early Years Practitioner", 3), ("Nursery Manager", 1), ("Early Years SENCO", 1))),
    AgencyType("unscheduled_care", "unscheduled_care", 320, 5, 1, "nhs.uk", (
        ("Emergency Department Consultant", 2), ("Paediatric Liaison Nurse", 2), ("Emergency Nurse Practitioner", 2),
        ("Safeguarding Nurse", 1))),
    AgencyType("housing", "housing", 0, 3, 1, "gov.uk", (
        ("Housing Options Officer", 3), ("Homelessness Prevention Officer", 2), ("Tenancy Sustainment Officer", 1))),
)
TYPE = {t.name: i for i, t in enumerate(TYPES)}

_SOCIAL_CARE_TEAMS = (
    "Front Door (MASH)", "Assessment Team", "Child in Need Team", "Child Protection Team", "Children in Care Team",
    "Family Safeguarding Team", "Disabled Children's Team", "Care Leavers Team",
)
_VARIANTS = {
    "primary": ("Primary School", "Primary Academy", "Community Primary School", "Junior and Infant School"),
    "secondary": ("Academy", "High School", "School", "Community College"),
    "special": ("School", "Special School", "Academy"),
    "independent": ("College", "School", "Preparatory School", "House School"),
    "gp_practice": ("Surgery", "Medical Centre", "Health Centre", "Medical Practice"),
    "voluntary": ("Family Support", "Youth Project", "Young Carers", "Children's Charity"),
    "early_years": ("Family Hub", "Children's Centre", "Day Nursery", "Pre-School"),
    "unscheduled_care": ("Hospital Emergency Department", "Urgent Treatment Centre", "Hospital A&E"),
}


_STEMMED = ("health_visiting", "school_nursing", "camhs", "sexual_health")


def _agency_name(t: AgencyType, place: str, rank: int, stem: str, lap: int, family: str) -> str:
    """A plausible name; ``stem`` is a place-like word, ``lap`` counts reuses of it."""
    numeral = f" {lap + 1}" if lap else ""
    if t.name in ("primary", "secondary") and rank % 6 == 5:
        saint = names.SAINT_NAMES[rank // 6 % len(names.SAINT_NAMES)]
        faith = names.FAITH_SUFFIX[rank % len(names.FAITH_SUFFIX)]
        phase = "Primary School" if t.name == "primary" else "High School"
        # Church schools are known by their place: "St Mary's CofE Primary School, Leeds".
        return f"{saint} {faith} {phase}{numeral}, {place}"
    if t.name == "gp_practice" and rank % 5 == 4:
        return f"Dr {family} and Partners"
    if t.name in _VARIANTS:
        variants = _VARIANTS[t.name]
        return f"{stem} {variants[rank % len(variants)]}{numeral}"
    if t.name in _STEMMED:
        label = {"health_visiting": "Health Visiting Team", "school_nursing": "School Nursing Service",
                 "camhs": "CAMHS", "sexual_health": "Sexual Health Service"}[t.name]
        return f"{place} {label} ({stem}){numeral}"
    if t.name == "social_care":
        team, lap = _SOCIAL_CARE_TEAMS[rank % len(_SOCIAL_CARE_TEAMS)], rank // len(_SOCIAL_CARE_TEAMS)
        return f"{place} Children's Social Care - {team}" + (f" {lap + 1}" if lap else "")
    label = {"police": "Police Safeguarding Hub", "youth_justice": "Youth Justice Service",
             "substance_misuse": "Young People's Drug and Alcohol Service", "housing": "Housing Options"}[t.name]
    return f"{place} {label}" + (f" {rank + 1}" if rank else "")


@dataclass
class Services:
    """Agencies sorted by (type, authority); practitioners in contiguous blocks per agency."""

    agency_type: np.ndarray
    agency_la: np.ndarray
    type_start: np.ndarray
    type_count: np.ndarray
    columns: dict[str, np.ndarray]
    prac_agency: np.ndarray
    prac_start: np.ndarray
    prac_count: np.ndarray
    prac_columns: dict[str, np.ndarray]

    def agency(self, type_index: np.ndarray | int, la: np.ndarray, u: np.ndarray) -> np.ndarray:
        """An agency of the type in each authority (-1 where there is none)."""
        t = np.broadcast_to(np.asarray(type_index), la.shape)
        count = self.type_count[t, la]
        pick = self.type_start[t, la] + np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))
        return np.where(count > 0, pick, -1)

    def practitioner(self, agency: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A practitioner of each agency."""
        count = self.prac_count[agency]
        return self.prac_start[agency] + np.minimum((u * count).astype(np.int64), count - 1)


def build(geo: Geo, children_per_la: np.ndarray, agency_ids: Callable[[int], np.ndarray],
          prac_ids: Callable[[int], np.ndarray], rng: np.random.Generator) -> Services:
    """Agencies per authority in proportion to its children (with a floor), then their staff."""
    share = children_per_la / rates.ENGLAND_CHILDREN
    L = len(geo)
    counts = np.zeros((len(TYPES), L), dtype=np.int64)
    for i, t in enumerate(TYPES):
        if t.name == "housing":
            counts[i] = geo.districts  # housing is a district council duty in two-tier areas
        else:
            counts[i] = np.maximum(t.minimum, np.rint(t.national * share).astype(np.int64))
    flat = counts.ravel()
    start = (np.cumsum(flat) - flat).reshape(counts.shape)
    n = int(flat.sum())
    a_type = np.repeat(np.repeat(np.arange(len(TYPES)), L), flat)
    a_la = np.repeat(np.tile(np.arange(L), len(TYPES)), flat)
    a_rank = np.arange(n) - np.repeat(start.ravel(), flat)
    # Each authority walks the stems from its own starting point, so names differ between them.
    stems = [names.PLACES[i] for i in rng.permutation(len(names.PLACES))]
    shift = rng.integers(0, len(stems), L)[a_la]
    families = names.table(names.FAMILY_NAMES)[names.pick(rng, names.FAMILY_NAMES, n)]
    agency_name = np.array([
        _agency_name(TYPES[t], geo.places[la], r, stems[(r + k) % len(stems)], r // len(stems), f)
        for t, la, r, k, f in zip(a_type.tolist(), a_la.tolist(), a_rank.tolist(), shift.tolist(), families.tolist())
    ], dtype=object)
    sector = np.array([t.sector for t in TYPES], dtype=object)[a_type]
    local = np.array([names.slug(s)[:40].rstrip("-") for s in agency_name.tolist()], dtype=object)
    agency_email = local + "@" + geo.slugs[a_la] + "." + sector + ".example"
    a_ids = agency_ids(n)
    columns = {
        "agency_id": a_ids,
        "name": agency_name,
        "kind": np.array([t.kind for t in TYPES], dtype=object)[a_type],
        "phone": phones(geo.phone_prefix[a_la], rng),
        "email": agency_email,
        "la_code": geo.codes[a_la],
    }
    means = np.array([t.contacts for t in TYPES])[a_type]
    staff = 1 + rng.poisson(means - 1)
    p_agency = np.repeat(np.arange(n), staff)
    p_start = np.cumsum(staff) - staff
    m = len(p_agency)
    female = rng.random(m) < 0.7
    given, family = person_names(rng, female)
    titles = np.empty(m, dtype=object)
    for i, t in enumerate(TYPES):
        rows = np.flatnonzero(a_type[p_agency] == i)
        labels = np.array([x for x, _ in t.titles], dtype=object)
        weights = np.array([w for _, w in t.titles], dtype=float)
        titles[rows] = labels[rng.choice(len(labels), size=len(rows), p=weights / weights.sum())]
    domain = geo.slugs[a_la[p_agency]] + "." + sector[p_agency] + ".example"
    emails = _unique_emails((names_slug(given) + "." + names_slug(family)).tolist(), domain.tolist())
    mobile = rng.random(m) < 0.5
    desk = phones(geo.phone_prefix[a_la[p_agency]], rng)
    prac_phone = np.where(mobile, phones(np.full(m, DRAMA_MOBILE_PREFIX, dtype=object), rng), desk)
    prac_columns = {
        "practitioner_id": prac_ids(m),
        "name": given + " " + family,
        "job_title": titles,
        "phone": prac_phone,
        "email": np.array(emails, dtype=object),
        "agency_id": a_ids[p_agency],
    }
    return Services(a_type, a_la, start, counts, columns, p_agency, p_start, staff, prac_columns)


def names_slug(values: np.ndarray) -> np.ndarray:
    """Email-safe slugs of names (computed once per distinct name)."""
    uniq, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return np.array([names.slug(v, ".") for v in uniq], dtype=object)[inverse]


def _unique_emails(locals_: list[str], domains: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for local, domain in zip(locals_, domains):
        address = f"{local}@{domain}"
        k = seen.get(address, 0)
        seen[address] = k + 1
        out.append(address if k == 0 else f"{local}{k + 1}@{domain}")
    return out
