"""Generate a synthetic England as the project's CSV feeds, deterministic for a seed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from loaders.csvout import CsvFiles, csv_lines
from loaders.feeds import FEEDS, IDENTITY_FEEDS, FeedSpec
from loaders.synth import casework, people, places, registers, services
from loaders.synth import involvements as inv
from loaders.synth import rates
from loaders.synth.fmt import NHS_BODIES, OPEN, Dates, bools, day, nhs_numbers, quote, upns
from loaders.synth.fmt import ids as serial_ids

# Fixed, so a seed gives the same files whatever today's date is.
DEFAULT_AS_OF = date(2026, 10, 31)
GENERATOR_VERSION = "1.4.0"  # 1.1: carers have periods (since, until); 1.2: attendance times are UTC instants with Z;
# 1.3: children have a died_on column (left blank: deaths are not simulated)
# 1.4: emergency visits scaled to each child's days in the window, dispersion calibrated (rates.AE_DISPERSION_SHAPE)
MANIFEST = "manifest.json"

Progress = Callable[[str, int, int], None]
Columns = dict[str, np.ndarray]

# One independent random stream per stage, so a change in one stage leaves the others alone.
_STAGES = ("households", "homes", "plans", "carers", "services", "schools", "gps", "involvements", "attendances",
           "shielding", "identifiers")

# Free-text columns: the only ones that can hold a comma or a quote, so the only ones quoted.
TEXT = {
    "authorities": ("name", "region"),
    "agencies": ("name",),
    "practitioners": ("name", "job_title"),
    "children": ("given_name", "family_name", "former_names"),
    "addresses": ("line1", "line2", "town"),
    "carers": ("name",),
    "attendances": ("reason",),
    "shielding": ("reason",),
}


# The feeds the generator writes: every feed but the identity ones, each keyed by directory id.
# Feeds and optional columns only other sources send (the SSD import's missing episodes and plan categories):
# synthetic England leaves them out, so its files are what they were before those columns existed.
NOT_GENERATED = (*IDENTITY_FEEDS, "missing_episodes")
UNWRITTEN = {"plans": ("category", "other_authority")}
GENERATED = tuple(spec for spec in FEEDS if spec.name not in NOT_GENERATED)


def written_columns(spec: FeedSpec) -> tuple[str, ...]:
    """The columns the generator writes for a feed, in the feed's order."""
    return tuple(c for c in spec.by_child_id if c not in UNWRITTEN.get(spec.name, ()))


def generate(
    out_dir: Path,
    *,
    children: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    by_region: bool = False,
    identity: str = "directory",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write every feed and then ``manifest.json`` into ``out_dir``; return rows per feed.

    Same seed, children, as_of, by_region and identity give byte-identical files. No date written is after
    as_of. ``by_region`` builds England one region at a time (bounded memory; see ``england``).
    ``identity`` "sources" writes England as its sources see it (loaders.synth.by_source): person records
    and the truth instead of children.csv, and every relationship row naming the child by a source's record.

    Raises:
        ValueError: children below 1, a negative seed, an unknown identity mode, or sources by region.
    """
    from loaders.synth import by_source

    if identity not in by_source.MODES:
        raise ValueError(f"identity must be one of {', '.join(by_source.MODES)}, not '{identity}'")
    if identity == by_source.SOURCES and by_region:
        raise ValueError("identity 'sources' builds England in one piece: it cannot be combined with by_region")
    out = Path(out_dir)
    parts = england(children, seed, as_of=as_of, by_region=by_region, progress=progress)
    feeds = GENERATED if identity == by_source.DIRECTORY else tuple(s for s in GENERATED if s.name != "children")
    header = {s.name: tuple(c for c in (s.by_child_id if identity == by_source.DIRECTORY else s.by_record)
                            if c not in UNWRITTEN.get(s.name, ())) for s in feeds}
    counts: dict[str, int] = {spec.name: 0 for spec in feeds}
    digests = {spec.name: hashlib.sha256() for spec in feeds}
    out.mkdir(parents=True, exist_ok=True)
    # An interrupted run must not leave an old manifest vouching for half-written files.
    (out / MANIFEST).unlink(missing_ok=True)
    with CsvFiles(out, {spec.name: spec.filename for spec in feeds}) as files:
        for spec in feeds:
            files.write(spec.name, (",".join(header[spec.name]) + "\n").encode(), digests[spec.name])
        for part in parts:
            rekey = by_source.Rekey(part, seed, as_of) if identity == by_source.SOURCES else None
            for spec in feeds:
                columns = part.tables.pop(spec.name)()
                if rekey is not None and spec.name in by_source.SENDERS:
                    columns = rekey(spec.name, columns)
                counts[spec.name] += _write(files, spec, columns, digests[spec.name], part.progress, header[spec.name])
            if rekey is not None:
                for name, rows in rekey.write(out, digests).items():
                    counts[name] = rows
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "children": children,
        "as_of": as_of.isoformat(),
        "by_region": by_region,
        "identity": identity,
        "rows": counts,
        "sha256": {name: digest.hexdigest() for name, digest in digests.items()},
    }
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return counts


WHOLE = "England"


@dataclass(frozen=True)
class _Serials:
    """How many ids of each kind earlier parts used: a part numbers its records on from these."""

    child: int = 0
    address: int = 0
    carer: int = 0
    agency: int = 0
    practitioner: int = 0


@dataclass
class Part:
    """One simulated piece of England: its name, how many children, and a formatter per feed.

    ``tables`` maps each feed to a function returning its columns (text, as written); pop each one
    and drop it once written, so only one feed's text is held at a time. ``progress`` takes the
    progress of writing them (by region: counted as steps of the part, one per feed).
    """

    name: str
    children: int
    tables: dict[str, Callable[[], Columns]]
    progress: Progress | None


def england(
    children: int,
    seed: int,
    *,
    as_of: date = DEFAULT_AS_OF,
    by_region: bool = False,
    progress: Progress | None = None,
) -> Iterator[Part]:
    """Simulate England in one piece, or region by region, yielding each part once it is built.

    By region, each of the nine regions is a closed world with its share of the children (by postcode
    weight): families move and children are placed only within it, and its ids follow on from the
    previous region's. Memory is then bounded by the largest region (about a fifth of England), not
    by the whole. The one-piece England and the regional one are different Englands for the same seed.

    Raises:
        ValueError: children below 1, or a negative seed.
    """
    if children < 1:
        raise ValueError("children must be at least 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    return _parts(children, seed, as_of, by_region, progress)


def _parts(children: int, seed: int, as_of: date, by_region: bool, progress: Progress | None) -> Iterator[Part]:
    if not by_region:
        streams = np.random.SeedSequence(seed).spawn(len(_STAGES))
        tables, _ = _build(places.load_geo(), children, streams, NHS_BODIES, _Serials(), as_of, progress)
        yield Part(WHOLE, children, tables, progress)
        return
    regions = places.region_geos()
    shares = places.apportion(children, np.array([geo.weight.sum() for _, geo in regions]))
    # The seed's next stream after the stages' own (unused by one-piece England), split per region.
    streams = np.random.SeedSequence(seed, spawn_key=(len(_STAGES),)).spawn(len(regions))
    low, high = NHS_BODIES
    width = (high - low) // len(regions)
    serials = _Serials()
    for k, ((region, geo), count) in enumerate(zip(regions, shares.tolist())):
        if count == 0:
            continue
        bodies = (low + k * width, low + (k + 1) * width)
        steps = _PartSteps(progress, region, len(_STAGES) - 2 + len(GENERATED))
        tables, serials = _build(geo, count, streams[k].spawn(len(_STAGES)), bodies, serials, as_of, steps)
        yield Part(region, count, tables, steps)
        del tables


class _PartSteps:
    """Progress of a regional part as one count of finished steps (build stages, then feeds written)."""

    def __init__(self, report: Progress | None, name: str, steps: int):
        self.report, self.name, self.steps, self.done = report, name, steps, 0
        if report is not None:
            report(name, 0, steps)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if done == total and self.report is not None:
            self.done = min(self.done + 1, self.steps)
            self.report(self.name, self.done, self.steps)


def _build(
    geo: places.Geo,
    children: int,
    streams: list[np.random.SeedSequence],
    nhs_bodies: tuple[int, int],
    first: _Serials,
    as_of: date,
    progress: Progress | None,
) -> tuple[dict[str, Callable[[], Columns]], _Serials]:
    """Simulate every stage of one part; return a formatter per feed and the serials used so far.

    Formatting waits until the feed is written, so only one feed's text is held at a time.
    """
    rng = {stage: np.random.Generator(np.random.PCG64(s)) for stage, s in zip(_STAGES, streams)}
    today = day(as_of)
    dates = Dates(today)
    step = _Steps(progress or (lambda stage, done, total: None))

    step("households")
    pop = people.make_population(children, geo.weight, today, rng["households"])
    child_id = serial_ids("C", children, 8, start=first.child + 1)

    step("homes")
    book = places.AddressBook(geo, rng["homes"])
    eldest = np.minimum.reduceat(pop.dob, pop.hh_first)
    homes = places.household_homes(pop.hh_la, eldest, today, book, geo, rng["homes"])
    _mark_statuses(pop, homes, today, rng["homes"])

    step("plans")
    plans = casework.make_plans(pop, homes, today, rng["plans"])
    res = places.child_residences(homes, pop.child_hh, pop.dob)
    placed = casework.place_children(pop, plans, book, geo, rng["plans"])
    res = places.move_children(res, placed.child, placed.since, placed.address, placed.la)
    last = res.last_row(children)
    if (last < 0).any():
        raise RuntimeError("a child has no residence")
    child_la = res.la[last]
    last_day = np.where(res.until[last] == OPEN, today, res.until[last])

    step("carers")
    carers, carer_count = _carers(pop, placed, first.carer, rng["carers"])

    step("services")
    per_la = np.bincount(child_la, minlength=len(geo))
    svc = services.build(geo, per_la, lambda n: serial_ids("G", n, 6, start=first.agency + 1),
                         lambda n: serial_ids("P", n, 7, start=first.practitioner + 1), rng["services"])
    agency_id = svc.columns["agency_id"]

    step("schools")
    reception = registers.school_years(pop.dob)[0]
    school = registers.enrolments(res, pop.dob, svc, today, rng["schools"])
    school = _off_roll(pop, plans, school, reception, today, rng["schools"])
    gp = registers.registrations(res, pop.dob, svc, today, rng["gps"])

    step("involvements")
    work = inv.involve(pop, res, plans, school.current(children), reception, svc, today, rng["involvements"])

    step("attendances")
    visits = casework.attendances(pop, res, plans, today, last_day, rng["attendances"])
    ae = svc.agency(services.TYPE["unscheduled_care"], visits.la, rng["attendances"].random(len(visits.la)))
    # One visit per child, department and minute (the feed's key). UTC minutes: 01:30 in the spring gap and
    # 02:30 BST are one instant.
    first_visit = np.unique(np.stack([visits.child, ae, visits.minute]), axis=1, return_index=True)[1]

    step("shielding")
    shield = casework.shield(pop, homes, today, rng["shielding"])
    step(None)

    used = np.zeros(book.count, dtype=bool)
    used[res.address] = True
    address_id = serial_ids("A", book.count, 8, start=first.address + 1)
    kinds = np.array(casework.PLAN_KINDS, dtype=object)
    service_names = np.array(inv.SERVICES, dtype=object)
    serials = _Serials(child=first.child + children, address=first.address + book.count,
                      carer=first.carer + carer_count, agency=first.agency + len(agency_id),
                      practitioner=first.practitioner + len(svc.prac_columns["practitioner_id"]))

    tables: dict[str, Callable[[], Columns]] = {
        "authorities": lambda: {
            "code": geo.codes, "name": geo.names, "region": geo.regions,
            "team_phone": geo.phone_prefix + np.array([f"{n - 101:03d}" for n in geo.number], dtype=object),
            "team_email": "childrens.records.team@" + geo.slugs + ".gov.uk.example",
        },
        "agencies": lambda: svc.columns,
        "practitioners": lambda: svc.prac_columns,
        "children": lambda: _children(pop, plans, reception, child_la, geo, child_id, first.child, nhs_bodies, today,
                                      dates, rng["identifiers"]),
        "addresses": lambda: {k: v[used] for k, v in book.columns(address_id).items()},
        "residences": lambda: {"child_id": child_id[res.child], "address_id": address_id[res.address],
                               "since": dates(res.since), "until": dates(res.until)},
        "carers": lambda: {**carers, "child_id": child_id[carers["child_id"]], "since": dates(carers["since"]),
                           "until": dates(carers["until"])},
        "school_enrolments": lambda: _spells(school, child_id, agency_id, dates),
        "gp_registrations": lambda: _spells(gp, child_id, agency_id, dates),
        "involvements": lambda: {
            "since": dates(work.since), "until": dates(work.until),
            "practitioner_id": svc.prac_columns["practitioner_id"][work.practitioner],
            "child_id": child_id[work.child], "service": service_names[work.service], "lead": bools(work.lead),
            "sensitive": bools(work.sensitive), "consent": bools(work.consent),
        },
        "plans": lambda: {"since": dates(plans.since), "until": dates(plans.until), "child_id": child_id[plans.child],
                          "la_code": geo.codes[plans.la], "kind": kinds[plans.kind]},
        "attendances": lambda: {
            "child_id": child_id[visits.child[first_visit]], "agency_id": agency_id[ae[first_visit]],
            "at": dates.instants(visits.minute[first_visit]), "reason": visits.reason[first_visit],
        },
        "shielding": lambda: {
            "child_id": child_id[shield.child], "shielded": bools(shield.shielded),
            "la_code": geo.codes[child_la[shield.child]], "decided_on": dates(shield.decided), "reason": shield.reason,
        },
    }
    return tables, serials


class _Steps:
    """Reports each build stage as done when the next one starts."""

    def __init__(self, report: Progress):
        self.report, self.current = report, None

    def __call__(self, stage: str | None) -> None:
        if self.current is not None:
            self.report(self.current, 1, 1)
        self.current = stage
        if stage is not None:
            self.report(stage, 0, 1)


def _mark_statuses(pop: people.Population, homes: places.Homes, today: int, rng: np.random.Generator) -> None:
    """A few households left England or have no known address: their last home has ended."""
    youngest = np.maximum.reduceat(pop.dob, pop.hh_first)
    start = np.maximum(homes.since[:, 0], youngest)
    settled = start < today - 60
    u = rng.random(len(pop.hh_size))
    status = np.zeros(len(pop.hh_size), dtype=np.int8)
    status[settled & (u < rates.NO_KNOWN_ADDRESS_SHARE)] = people.NO_KNOWN_ADDRESS
    status[settled & (u >= rates.NO_KNOWN_ADDRESS_SHARE)
           & (u < rates.NO_KNOWN_ADDRESS_SHARE + rates.LEFT_ENGLAND_SHARE)] = people.LEFT_ENGLAND
    gone = np.flatnonzero(status > 0)
    # Gone after the youngest child's birth, so every child has a last known address.
    homes.until[gone, 0] = start[gone] + 1 + (rng.random(len(gone)) * (today - start[gone] - 1)).astype(np.int64)
    pop.hh_status[:] = status


def _off_roll(pop: people.Population, plans: casework.Plans, school: registers.Spells, reception: np.ndarray,
              today: int, rng: np.random.Generator) -> registers.Spells:
    """Home education, and children on plans who dropped off every school roll."""
    n = pop.children
    on_roll = np.zeros(n, dtype=bool)
    on_roll[school.child[school.until == OPEN]] = True
    home_ed = np.flatnonzero(on_roll & (rng.random(n) < rates.HOME_EDUCATED_SHARE))
    school = registers.take_off_roll(school, home_ed, today, 30, 700, rng)
    on_plan = np.zeros(n, dtype=bool)
    on_plan[plans.child[plans.until == OPEN]] = True
    missing = np.flatnonzero(on_roll & on_plan & (reception <= today) & (rng.random(n) < rates.PLAN_OFF_ROLL_SHARE))
    return registers.take_off_roll(school, missing, today, 20, 200, rng)


def _carers(pop: people.Population, placed: casework.Placements, first: int,
            rng: np.random.Generator) -> tuple[Columns, int]:
    """Household carers for every child, plus foster carers for children in foster care; and how many
    carers there are (numbered on from ``first``).

    Household carers care from the child's birth; a looked-after child placed away from home leaves them on
    the day of the placement (as it leaves their home), and its foster carers care from that day on.
    ``child_id`` holds child indices and ``since``/``until`` day numbers here; they become ids and dates
    when the feed is written.
    """
    home = people.household_carers(pop, rng)
    foster = placed.foster
    groups = np.unique(placed.group[foster], return_inverse=True)[1]
    fc = people.foster_carers(groups, placed.child[foster], placed.kinship[placed.group[foster]],
                              len(home.given), rng)
    given = np.concatenate([home.given, fc.given])
    family = np.concatenate([home.family, fc.family])
    phone, email = people.contact(rng, given, family)
    carer_id = serial_ids("K", len(given), 8, start=first + 1)
    carer = np.concatenate([home.carer, fc.carer])
    child = np.concatenate([home.child, fc.child])
    placed_on = np.full(pop.children, OPEN, dtype=np.int64)
    placed_on[placed.child] = placed.since
    since = np.concatenate([pop.dob[home.child], placed_on[fc.child]])
    until = np.concatenate([placed_on[home.child], np.full(len(fc.child), OPEN, dtype=np.int64)])
    order = np.lexsort((carer, child))
    carer, child = carer[order], child[order]
    return {
        "carer_id": carer_id[carer],
        "name": (given + " " + family)[carer],
        "phone": phone[carer],
        "email": email[carer],
        "child_id": child,
        "relationship": np.concatenate([home.relationship, fc.relationship])[order],
        "parental_responsibility": bools(np.concatenate([home.responsible, fc.responsible])[order]),
        "since": since[order],
        "until": until[order],
    }, len(given)


def _children(pop: people.Population, plans: casework.Plans, reception: np.ndarray, child_la: np.ndarray,
              geo: places.Geo, child_id: np.ndarray, first: int, nhs_bodies: tuple[int, int], today: int,
              dates: Dates, rng: np.random.Generator) -> Columns:
    """The children feed, with NHS numbers, UPNs for those who have started school, and
    local authority child ids for those known to children's social care."""
    n = pop.children
    upn = np.full(n, "", dtype=object)
    pupils = np.flatnonzero(reception <= today)
    serial = rng.permutation(n)
    upn[pupils] = upns(geo.number[child_la[pupils]], first + serial[pupils])
    social = np.isin(plans.kind, (casework.CP, casework.LAC, casework.CIN))
    order = np.lexsort((plans.since[social], plans.child[social]))
    known, first = np.unique(plans.child[social][order], return_index=True)
    la_of = plans.la[social][order][first]
    la_child = np.full(n, "", dtype=object)
    la_child[known] = geo.codes[la_of] + np.array([f"-{i:07d}" for i in range(1, len(known) + 1)], dtype=object)
    status = pop.hh_status[pop.child_hh]
    return {
        "child_id": child_id,
        "given_name": pop.given,
        "family_name": pop.family,
        "former_names": pop.former,
        "dob": dates(pop.dob),
        "gender": people.GENDERS[pop.gender],
        "nhs_number": nhs_numbers(rng, n, nhs_bodies),
        "upn": upn,
        "la_child_id": la_child,
        "status": people.STATUSES[status],
        "la_code": geo.codes[child_la],
        "died_on": np.full(n, "", dtype=object),
    }


def _spells(spells: registers.Spells, child_id: np.ndarray, agency_id: np.ndarray, dates: Dates) -> Columns:
    return {"since": dates(spells.since), "until": dates(spells.until), "child_id": child_id[spells.child],
            "agency_id": agency_id[spells.agency]}


def _write(files: CsvFiles, spec: FeedSpec, columns: Columns, digest: Any, report: Progress | None,
           names: tuple[str, ...]) -> int:
    """Append one part's rows of a feed (its columns ``names``, in that order); returns how many."""
    missing = set(names) ^ set(columns)
    if missing:
        raise RuntimeError(f"{spec.name}: columns {sorted(missing)} do not match the feed model")
    cells = [quote(columns[c]) if c in TEXT.get(spec.name, ()) else columns[c] for c in names]
    rows = len(cells[0])
    if report is not None:
        report(spec.filename, 0, rows)
    for done, data in csv_lines(cells, rows):
        files.write(spec.name, data, digest)
        if report is not None:
            report(spec.filename, done, rows)
    return rows
