"""Each synthetic child as one to five source systems see it, with their errors, and the truth.

Built from the generator's own children (names, birthdays, NHS numbers, UPNs, council ids, homes over
time), without changing what ``contactpoint generate`` writes. Each source sends person records keyed
by its own local id, knowing only what such a system knows; every error is drawn at a rate named below.
Same seed and size give the same records.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from loaders.generate import DEFAULT_AS_OF, Part, england
from matching import names as matching_names

# -- who sees a child (share of eligible children with a record in that kind of source) ---------
# NHS Digital "Patients registered at a GP practice": nearly every child is registered (the generator
# leaves 0.5% unregistered); assumption: 95% of children are in a GP system feeding the directory.
GP_SHARE = 0.95
# DfE "Schools, pupils and their characteristics 2022/23": ~93.5% of pupils are in state-funded schools,
# which send the school census; children of school age have a UPN in the generator.
SCHOOL_CENSUS_SHARE = 0.935
# OHID Fingertips: 659.6 A&E attendances per 1,000 children aged 0-4 a year; HES: ~0.3 a year at 5-17
# (as the generator's rates). A child is in an ED system if they attended in the last two years.
ED_SHARE_UNDER_5 = 1 - np.exp(-0.66 * 2)
ED_SHARE_5_TO_17 = 1 - np.exp(-0.30 * 2)
# Assumption: health visiting sees 90% of under-fives (the mandated reviews reach most families).
HEALTH_VISITING_SHARE = 0.90
# DfE "Education provision: children under 5 years of age" 2023: ~94% of 3- and 4-year-olds take up
# funded early education; 2-year-olds fewer. Assumption: 80% of 2-4 year olds are in an early-years system.
EARLY_YEARS_SHARE = 0.80
# Children known to social care (a council person id in the generator) are in their council's case
# system; assumption: 2% more are there from early help, without a plan.
COUNCIL_EXTRA_SHARE = 0.02
# Assumptions: police 2% of 8+, housing 1.1% (DLUHC temporary accommodation), voluntary 1.5%.
POLICE_SHARE = 0.02
HOUSING_SHARE = 0.011
VOLUNTARY_SHARE = 0.015
# Assumption: a child who moved authority has a second GP record (old practice's system) half the time.
SECOND_GP_AFTER_MOVE_SHARE = 0.5
MAX_SOURCES = 5

# -- twins and siblings -------------------------------------------------------------------------
# ONS "Births in England and Wales: 2021": 14.5 multiple maternities per 1,000 maternities (~1.5%),
# so ~2.9% of children are a twin. The generator draws birthdays independently, so the sources
# mode makes twins: the two eldest of a household share a birthday and a family name.
MULTIPLE_BIRTH_SHARE = 0.0145
# Assumption: 0.5% of households with two or more children give two of them near-identical names
# (one letter apart, or spelling variants such as Mohammed and Muhammad).
NEAR_NAMED_SIBLINGS_SHARE = 0.005

# -- errors in what a source records (per record) -----------------------------------------------
# Hagger-Johnson et al., "Utilising identifier error variation in linkage of large administrative data
# sources", BMC Med Res Methodol 17:23 (2017): HES records disagreed with PDS (or were missing) on sex
# and date of birth in 0.11% of records. Health sources use that rate; others (typed at a front desk or
# at 3 a.m. in an emergency department) are assumed five times worse.
DOB_ERROR_HEALTH = 0.0011
DOB_ERROR_OTHER = 0.0055
# Of date errors: assumption, half a day/month swap (only possible when the day is 12 or less), half a
# single-digit typo.
DOB_SWAP_SHARE = 0.5
# Assumption (order of magnitude of the record-linkage literature's 1-5% name discrepancy rates):
# a one-letter typing error in a name field.
NAME_TYPO_RATE = {"health": 0.01, "other": 0.03}
# Assumption: a source records a known nickname instead of the given name (schools and the NHS use the
# legal name, so only other kinds do).
NICKNAME_RATE = 0.08
# Assumption: a hyphenated family name is recorded as one of its parts.
HYPHEN_PART_RATE = 0.3
# Assumption: a source that knew the child before a change of family name still has the old one.
OLD_FAMILY_NAME_RATE = 0.6
# Assumption: a source records the child's home as it was when the record was made: the current home
# 70% of the time, an earlier one otherwise (stale postcodes after moves).
CURRENT_HOME_SHARE = 0.7
# Assumption: 3% of records have no postcode (and all ED records of children of no fixed abode).
POSTCODE_MISSING_RATE = 0.03
# Assumption: sex is missing from 1% of records outside health and schools.
SEX_MISSING_RATE = 0.01
# NHS number missing from a record that would carry one. Assumptions: 1% in GP systems and health
# visiting, 10% in emergency departments (unidentified or unregistered patients), 30% in council case
# systems (the NHS number is optional in local authority returns).
NHS_MISSING = {"gp_system": 0.01, "health_visiting": 0.01, "emergency_department": 0.10, "council_case_system": 0.30}
# Assumption: 0.3% of NHS numbers are mistyped (the Modulus 11 check digit catches every single-digit error).
NHS_TYPO_RATE = 0.003
# Assumption: council case systems carry the UPN for 60% of school-age children.
COUNCIL_UPN_SHARE = 0.6
# Assumption: 0.5% of children are new to England: no NHS number or UPN yet in any source.
NEW_TO_ENGLAND_SHARE = 0.005

KINDS = ("gp_system", "school_census", "emergency_department", "health_visiting", "early_years",
         "council_case_system", "police", "housing", "voluntary")
HEALTH = {"gp_system", "health_visiting", "emergency_department"}
TRUTH_COLUMNS = ("record_key", "child_id", "multiple_birth")
SOURCE_COLUMNS = ("source_id", "kind", "name", "la_code")


@dataclass
class Sources:
    """The sources, their person records (matching.records.COLUMNS) and the truth (which child each is)."""

    sources: pd.DataFrame
    records: pd.DataFrame
    truth: pd.DataFrame


def _children(part: Part) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated part's children and each one's homes (postcode, authority, since), in memory."""
    kids = pd.DataFrame(part.tables["children"]())
    res = pd.DataFrame(part.tables["residences"]())
    addr = pd.DataFrame(part.tables["addresses"]())[["address_id", "postcode", "la_code"]]
    homes = res.merge(addr, on="address_id", how="left")
    index = pd.Series(np.arange(len(kids)), index=kids["child_id"])
    homes["child"] = index[homes["child_id"]].to_numpy()
    homes = homes.sort_values(["child", "since"], kind="stable").reset_index(drop=True)
    return kids, homes


def _twins_and_near_names(kids: pd.DataFrame, homes: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Make twins (and near-named siblings) among children sharing a home; returns each child's
    multiple-birth group ("" if none)."""
    current = homes.groupby("child")["address_id"].last()
    groups = pd.Series(current.index, index=current.values).groupby(level=0)
    multi = [np.sort(g.to_numpy()) for _, g in groups if len(g) >= 2]
    twin = np.full(len(kids), "", dtype=object)
    p_household = MULTIPLE_BIRTH_SHARE * len(kids) / max(len(multi), 1)
    dob, family, given = kids["dob"].to_numpy(), kids["family_name"].to_numpy(), kids["given_name"].to_numpy()
    for members in multi:
        u = rng.random()
        if u < p_household:
            a, b = members[0], members[1]
            dob[b], family[b] = dob[a], family[a]
            twin[a] = twin[b] = f"T{a}"
            if given[a] == given[b]:
                given[b] = given[b] + "a"
        elif u < p_household + NEAR_NAMED_SIBLINGS_SHARE:
            given[members[1]] = _near(given[members[0]], rng)
    kids["dob"], kids["family_name"], kids["given_name"] = dob, family, given
    return twin


def _near(name: str, rng: np.random.Generator) -> str:
    """A name one letter away (a vowel changed), or its spelling variant when it has one."""
    variants = {"Mohammed": "Muhammad", "Muhammad": "Mohammed", "Ava": "Eva", "Eva": "Ava", "Lily": "Lilly",
                "Isla": "Isa", "Mia": "Maia", "Leo": "Leon", "Theo": "Teo", "Ellie": "Elle"}
    if name in variants:
        return variants[name]
    vowels = [i for i, c in enumerate(name) if c.lower() in "aeiou" and i > 0]
    if not vowels:
        return name + "e"
    i = vowels[int(rng.integers(len(vowels)))]
    swap = {"a": "e", "e": "i", "i": "a", "o": "u", "u": "o"}
    return name[:i] + swap[name[i].lower()] + name[i + 1:]


_PREFIX = {"gp_system": "gp", "school_census": "school-census", "emergency_department": "ed",
           "health_visiting": "health-visiting", "early_years": "early-years", "council_case_system": "council",
           "police": "police", "housing": "housing", "voluntary": "voluntary"}


def _seen_by(kids: pd.DataFrame, homes: pd.DataFrame, age: np.ndarray, rng: np.random.Generator,
             required: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Which kinds of source see each child (one row per record to make): child, kind, home row.

    ``required`` (kind: a mask of children) names children a kind of source must see: the ones it sends
    relationship rows for (generate's identity mode); they are kept first when a child has too many.
    """
    n = len(kids)
    has_upn = kids["upn"].to_numpy() != ""
    known = kids["la_child_id"].to_numpy() != ""
    ed = np.where(age < 5, ED_SHARE_UNDER_5, ED_SHARE_5_TO_17)
    chance = {
        "gp_system": np.full(n, GP_SHARE),
        "school_census": np.where(has_upn, SCHOOL_CENSUS_SHARE, 0.0),
        "emergency_department": ed,
        "health_visiting": np.where(age < 5, HEALTH_VISITING_SHARE, 0.0),
        "early_years": np.where((age >= 2) & (age < 5), EARLY_YEARS_SHARE, 0.0),
        "council_case_system": np.where(known, 1.0, COUNCIL_EXTRA_SHARE),
        "police": np.where(age >= 8, POLICE_SHARE, 0.0),
        "housing": np.full(n, HOUSING_SHARE),
        "voluntary": np.full(n, VOLUNTARY_SHARE),
    }
    for kind, must in (required or {}).items():
        chance[kind] = np.where(must, 1.0, chance[kind])
    rows = [(np.flatnonzero(rng.random(n) < p), kind) for kind, p in chance.items()]
    child = np.concatenate([c for c, _ in rows])
    kind = np.concatenate([np.full(len(c), k, dtype=object) for c, k in rows])
    # Every child is seen by someone: a child no source saw gets a GP record.
    unseen = np.setdiff1d(np.arange(n), child)
    child = np.concatenate([child, unseen])
    kind = np.concatenate([kind, np.full(len(unseen), "gp_system", dtype=object)])
    count = np.bincount(homes["child"].to_numpy(), minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    # Home at the time the record was made: current, or an earlier one (a stale postcode).
    earlier = (rng.random(len(child)) >= CURRENT_HOME_SHARE) & (count[child] > 1)
    back = (rng.random(len(child)) * (count[child] - 1)).astype(np.int64)
    home = np.where(earlier, start[child] + back, start[child] + count[child] - 1)
    # A child who moved authority may be in the old practice's GP system too.
    la = homes["la_code"].to_numpy()
    moved = np.flatnonzero((la[start] != la[start + count - 1]) & (rng.random(n) < SECOND_GP_AFTER_MOVE_SHARE))
    child = np.concatenate([child, moved])
    kind = np.concatenate([kind, np.full(len(moved), "gp_system", dtype=object)])
    home = np.concatenate([home, start[moved]])
    must = np.zeros(len(child), dtype=bool)
    for k, mask in (required or {}).items():
        must |= (kind == k) & mask[child]
    seen = pd.DataFrame({"child": child, "kind": kind, "home": home, "must": must})
    # At most MAX_SOURCES records a child: drop extras at random (the required ones last).
    seen = seen.sample(frac=1.0, random_state=np.random.RandomState(rng.integers(2**31)))
    if required:
        seen = seen.sort_values("must", ascending=False, kind="stable")
    seen = seen[seen.groupby("child").cumcount() < MAX_SOURCES]
    return seen.drop(columns="must").sort_values(["child", "kind"], kind="stable").reset_index(drop=True)


def _typo(name: str, rng: np.random.Generator) -> str:
    """One typing slip after the first letter: a letter dropped, doubled, swapped or replaced."""
    if len(name) < 3:
        return name
    i = int(rng.integers(1, len(name)))
    op = int(rng.integers(4))
    if op == 0:
        return name[:i] + name[i + 1:]
    if op == 1:
        return name[:i] + name[i] + name[i:]
    if op == 2 and i < len(name) - 1:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(26))]
    return name[:i] + letter + name[i + 1:]


def _dob_error(dob: str, rng: np.random.Generator) -> str:
    """A day/month swap where the day could be a month, otherwise one digit mistyped (still a date)."""
    y, m, d = dob.split("-")
    if rng.random() < DOB_SWAP_SHARE and int(d) <= 12 and d != m:
        return f"{y}-{d}-{m}"
    for _ in range(10):
        pos = int(rng.choice([2, 3, 5, 6, 8, 9]))
        digit = str(int(rng.integers(10)))
        candidate = dob[:pos] + digit + dob[pos + 1:]
        try:
            if candidate != dob and date.fromisoformat(candidate) <= DEFAULT_AS_OF:
                return candidate
        except ValueError:
            continue
    return dob


def _nhs_typo(number: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(10))
    return number[:i] + str((int(number[i]) + 1 + int(rng.integers(9))) % 10) + number[i + 1:]


def build(children: int, seed: int, *, as_of: date = DEFAULT_AS_OF) -> Sources:
    """Simulate ``children`` children (the generator's, with twins) as their sources see them."""
    return build_part(next(iter(england(children, seed, as_of=as_of))), seed, as_of=as_of)


def build_part(part: Part, seed: int, *, as_of: date = DEFAULT_AS_OF,
               required: dict[str, np.ndarray] | None = None) -> Sources:
    """A generated part's children as their sources see them (``required`` as for ``_seen_by``)."""
    kids, homes = _children(part)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x50C5])))
    twin = _twins_and_near_names(kids, homes, rng)
    dob_days = pd.to_datetime(kids["dob"]).to_numpy()
    age = (np.datetime64(as_of) - dob_days).astype("timedelta64[D]").astype(np.int64) / 365.25
    new_to_england = rng.random(len(kids)) < NEW_TO_ENGLAND_SHARE
    seen = _seen_by(kids, homes, age, rng, required)
    c, kind, home = seen["child"].to_numpy(), seen["kind"].to_numpy(), seen["home"].to_numpy()
    m = len(seen)
    la = homes["la_code"].to_numpy()[home]
    current = np.r_[homes["child"].to_numpy()[1:] != homes["child"].to_numpy()[:-1], True][home]
    source_id = np.array([f"{_PREFIX[k]}-{code}" for k, code in zip(kind, la)], dtype=object)
    health = np.isin(kind, list(HEALTH))
    legal = np.isin(kind, ["gp_system", "school_census", "health_visiting"])

    given = kids["given_name"].to_numpy()[c].copy()
    family = kids["family_name"].to_numpy()[c].copy()
    former = kids["former_names"].to_numpy()[c]
    for i in np.flatnonzero(~legal & (rng.random(m) < NICKNAME_RATE)):
        options = matching_names.nicknames_of(given[i])
        if options:
            given[i] = options[int(rng.integers(len(options)))].title()
    hyphen = np.array(["-" in f for f in family]) & (rng.random(m) < HYPHEN_PART_RATE)
    for i in np.flatnonzero(hyphen):
        parts = family[i].split("-")
        family[i] = parts[int(rng.integers(len(parts)))]
    old = (former != "") & ~current & (rng.random(m) < OLD_FAMILY_NAME_RATE)
    for i in np.flatnonzero(old):
        family[i] = former[i].split(";")[0].split(" ")[-1]
    typo_rate = np.where(health, NAME_TYPO_RATE["health"], NAME_TYPO_RATE["other"])
    for arr in (given, family):
        for i in np.flatnonzero(rng.random(m) < typo_rate):
            arr[i] = _typo(arr[i], rng)

    dob = kids["dob"].to_numpy()[c].copy()
    for i in np.flatnonzero(rng.random(m) < np.where(health, DOB_ERROR_HEALTH, DOB_ERROR_OTHER)):
        dob[i] = _dob_error(dob[i], rng)
    sex = kids["gender"].to_numpy()[c].copy()
    sex[~health & (kind != "school_census") & (rng.random(m) < SEX_MISSING_RATE)] = ""
    postcode = homes["postcode"].to_numpy()[home].copy()
    postcode[rng.random(m) < POSTCODE_MISSING_RATE] = ""

    nhs = kids["nhs_number"].to_numpy()[c].copy()
    missing = np.array([NHS_MISSING.get(k, 1.0) for k in kind])
    nhs[(rng.random(m) < missing) | new_to_england[c]] = ""
    for i in np.flatnonzero((nhs != "") & (rng.random(m) < NHS_TYPO_RATE)):
        nhs[i] = _nhs_typo(nhs[i], rng)
    upn = kids["upn"].to_numpy()[c].copy()
    keeps_upn = (kind == "school_census") | ((kind == "council_case_system") & (rng.random(m) < COUNCIL_UPN_SHARE))
    upn[~keeps_upn | new_to_england[c]] = ""

    order = rng.permutation(m)  # local ids in an order that says nothing about the child
    serial = np.empty(m, dtype=np.int64)
    serial[order] = pd.Series(source_id[order]).groupby(source_id[order]).cumcount().to_numpy() + 1
    local_id = np.array([f"{_PREFIX[k][:2].upper()}{s:08d}" for k, s in zip(kind, serial)], dtype=object)
    la_child = kids["la_child_id"].to_numpy()[c]
    council = np.where(kind == "council_case_system",
                       np.where(np.array([a.startswith(b) for a, b in zip(la_child, la)], dtype=bool), la_child,
                                la + "-L" + pd.Series(serial).astype(str).str.zfill(7).to_numpy()), "")
    other = np.where(kind == "council_case_system", former, "")
    record_key = source_id + "|" + local_id
    records = pd.DataFrame({
        "record_key": record_key, "source_id": source_id, "source_kind": kind, "local_id": local_id,
        "given_name": given, "family_name": family, "other_names": other, "dob": dob, "sex": sex,
        "postcode": postcode, "nhs_number": nhs, "upn": upn, "council_person_id": council,
    })
    truth = pd.DataFrame({"record_key": record_key, "child_id": kids["child_id"].to_numpy()[c],
                          "multiple_birth": twin[c]})
    src = records[["source_id", "source_kind"]].drop_duplicates("source_id").sort_values("source_id")
    sources = pd.DataFrame({
        "source_id": src["source_id"].to_numpy(), "kind": src["source_kind"].to_numpy(),
        "name": [f"{k.replace('_', ' ')} ({s.split('-', 1)[-1].split('-')[-1]})" for s, k in
                 zip(src["source_id"], src["source_kind"])],
        "la_code": [s.rsplit("-", 1)[-1] for s in src["source_id"]],
    })
    shuffle = rng.permutation(m)
    return Sources(sources=sources, records=records.iloc[shuffle].reset_index(drop=True),
                   truth=truth.iloc[shuffle].reset_index(drop=True))


def write(out_dir: Path, children: int, seed: int, *, as_of: date = DEFAULT_AS_OF) -> dict[str, int]:
    """Write sources.csv, person_records.csv and truth.csv into ``out_dir``; return rows per file."""
    built = build(children, seed, as_of=as_of)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in (("sources.csv", built.sources), ("person_records.csv", built.records),
                        ("truth.csv", built.truth)):
        tmp = out / f".{name}.tmp"
        frame.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        tmp.replace(out / name)
        counts[name] = len(frame)
    return counts
