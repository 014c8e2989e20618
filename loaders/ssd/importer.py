"""Import a council's SSD extract as its source's feed rows, through the feed loader (loaders/load.py): the same
validation, batches, matching, writers and rejects as `contactpoint load`, never a second writer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from neo4j import Driver

from graph import ingest
from loaders.feeds import FEEDS_BY_NAME
from loaders.load import (FeedResult, LoadReport, Matcher, Progress, Rejects, load_rows, match_into, raw_text,
                          validate_row)
from loaders.ssd import casework, people
from loaders.ssd.people import Council, Entry, People
from loaders.ssd.read import Extract, ExtractError, read_extract

SOURCE_KIND = "council_case_system"


@dataclass(frozen=True)
class Step:
    """Rows of one feed made from one SSD table (built when the step runs: later steps need the people)."""

    feed: str
    table: str
    build: Callable[[], Iterable[Entry]]
    columns: dict[str, str] = field(default_factory=dict)  # feed column -> the SSD column, for reject reasons


@dataclass
class SsdReport:
    """What an import did: the load (one result per step), the tables ignored or absent, the adults left out."""

    council: Council
    load: LoadReport
    ignored: list[str]
    absent: list[str]
    adults: int = 0


def _dates(prefix: str, start: str, end: str, person: str) -> dict[str, str]:
    return {"since": f"{prefix}_{start}", "until": f"{prefix}_{end}", "local_id": f"{prefix}_{person}",
            "source_id": f"{prefix}_{person}"}


PERSON_COLUMNS = {"local_id": "pers_person_id", "council_person_id": "pers_person_id", "given_name": "pers_forename",
                  "family_name": "pers_surname", "dob": "pers_dob", "sex": "pers_sex", "upn": "pers_upn",
                  "nhs_number": "link_identifier_value", "postcode": "addr_address_postcode"}


def _steps(extract: Extract, council: Council, who: People, side: list[tuple[str, int, str, list[str]]]) -> list[Step]:
    """The import in load order (a step only names what the steps before it made, or the graph holds)."""
    agencies, by_team = casework.teams(extract, council)
    source = {"source_id": council.source_id, "kind": SOURCE_KIND, "la_code": council.la_code,
              "name": f"{council.name} children's social care (SSD)", "agency_id": council.agency_id}
    held: dict[str, Any] = {}

    def addresses() -> list[Entry]:
        held["addresses"] = people.addresses(extract, council, who)
        return held["addresses"][0]

    def placements() -> list[Entry]:
        held["placements"] = casework.placements(extract, council, who)
        return held["placements"][0]

    return [
        Step("agencies", "ssd_department", lambda: agencies, {"name": "dept_team_name", "agency_id": "dept_team_id"}),
        Step("sources", "ssd_person", lambda: [(0, source, None, [])]),
        Step("practitioners", "ssd_professionals", lambda: casework.practitioners(extract, council, by_team),
             {"practitioner_id": "prof_professional_id", "name": "prof_professional_name",
              "job_title": "prof_professional_job_title"}),
        Step("person_records", "ssd_person", lambda: people.person_records(extract, council, who, side),
             PERSON_COLUMNS),
        Step("addresses", "ssd_address", addresses, {"postcode": "addr_address_postcode"}),
        Step("residences", "ssd_address", lambda: held["addresses"][1],
             _dates("addr", "address_start_date", "address_end_date", "person_id")),
        Step("addresses", "ssd_cla_placement", placements, {"postcode": "clap_cla_placement_postcode"}),
        Step("residences", "ssd_cla_placement", lambda: held["placements"][1],
             _dates("clap", "cla_placement_start_date", "cla_placement_end_date", "person_id")),
        Step("carers", "ssd_mother", lambda: people.mothers(extract, council, who),
             {"since": "moth_childs_dob", "local_id": "moth_childs_person_id", "carer_id": "moth_person_id"}),
        Step("carers", "ssd_family", lambda: people.families(extract, council, who),
             {"local_id": "fami_person_id", "carer_id": "fami_family_id"}),
        Step("involvements", "ssd_involvements", lambda: casework.involvements(extract, council, who),
             {**_dates("invo", "involvement_start_date", "involvement_end_date", "person_id"),
              "practitioner_id": "invo_professional_id"}),
        Step("plans", "ssd_cin_plans", lambda: casework.cin_plans(extract, council, who),
             _dates("cinp", "cin_plan_start_date", "cin_plan_end_date", "person_id")),
        Step("plans", "ssd_cin_episodes", lambda: casework.cin_episode_periods(extract, council, who, side),
             _dates("cine", "referral_date", "close_date", "person_id")),
        Step("plans", "ssd_cp_plans", lambda: casework.cp_plans(extract, council, who),
             _dates("cppl", "cp_plan_start_date", "cp_plan_end_date", "person_id")),
        Step("plans", "ssd_cla_episodes", lambda: casework.cla_periods(extract, council, who, side),
             _dates("clae", "cla_episode_start_date", "cla_episode_ceased_date", "person_id")),
        Step("missing_episodes", "ssd_missing", lambda: casework.missing(extract, council, who),
             _dates("miss", "missing_episode_start_date", "missing_episode_end_date", "person_id")),
    ]


_COLUMN = re.compile(r"(^|; )(\w+)(?=[.:])")


def _validated(step: Step) -> Iterable[tuple[int, dict[str, Any] | None, str | None, list[str]]]:
    """Each entry checked by its feed's model, as a feed file's row is; reasons name the SSD's columns."""
    spec = FEEDS_BY_NAME[step.feed]
    seen: dict[tuple[Any, ...], int] = {}
    for line, values, reason, raw in step.build():
        if values is not None:
            values, reason = validate_row(spec, {k: v for k, v in values.items() if v is not None},
                                          line=line, seen=seen)
            if reason is not None:
                reason = _COLUMN.sub(lambda m: m.group(1) + step.columns.get(m.group(2), m.group(2)), reason)
        yield line, values, reason, raw


def council_of(driver: Driver, *, la_code: str, database: str) -> Council:
    """The council an extract is imported for, as the directory holds it.

    Raises:
        ExtractError: the authority is not in the directory.
    """
    with driver.session(database=database) as session:
        name = session.execute_read(ingest.authority_name, code=la_code)
    if name is None:
        raise ExtractError(f"--la {la_code}: no such authority in the directory (load authorities.csv first)")
    return Council(la_code, name)


def import_ssd(driver: Driver, folder: Path, *, la_code: str, database: str, rejects_path: Path | None = None,
               batch_size: int = 5000, progress: Progress | None = None, matcher: Matcher | None = None,
               as_of: date | None = None, extract: Extract | None = None) -> SsdReport:
    """Import one council's SSD extract (a folder of table CSVs) as that council's source and its rows.

    Raises:
        ExtractError: no such folder, no ssd_person.csv, or an authority the directory does not hold.
    """
    extract = extract or read_extract(folder)  # the caller may have read it already, to fail before connecting
    council = council_of(driver, la_code=la_code, database=database)
    who = People()
    side: list[tuple[str, int, str, list[str]]] = []
    load = LoadReport(rejects_path=rejects_path or folder / "rejects.csv")
    load.missing = [f"{name}.csv" for name in extract.absent]
    with Rejects(load.rejects_path) as rejects:
        for table in extract.tables.values():
            side.extend((table.filename, line, reason, raw) for line, reason, raw in table.unreadable)
        for step in _steps(extract, council, who, side):
            entries = list(_validated(step))
            if not entries and step.table not in extract.tables:
                continue
            if step.feed == "person_records":  # a person the feed's model refused is named as such later
                ids = {row.line: row.get("pers_person_id") for row in extract.table("ssd_person").rows}
                who.rejected.update(ids[line] for line, row, _, _ in entries if row is None and ids.get(line))
            load.results.append(load_rows(
                driver, FEEDS_BY_NAME[step.feed], entries, filename=f"{step.table}.csv", total=len(entries),
                database=database, rejects=rejects, batch_size=batch_size, progress=progress, as_of=as_of,
                label=f"{step.feed} <- {step.table}"))
            if step.feed == "person_records":
                match_into(driver, database, load, matcher)
        for filename, line, reason, raw in sorted(side, key=lambda s: (s[0], s[1])):
            rejects.add(filename, line, reason, raw_text(raw))
    _count_side(load, side)
    return SsdReport(council, load, extract.ignored, extract.absent, adults=len(who.adults))


def _count_side(load: LoadReport, side: list[tuple[str, int, str, list[str]]]) -> None:
    """Rows rejected outside a feed (unreadable lines, identifiers, legal statuses, CIN episodes) in the totals."""
    tables = sorted({filename for filename, *_ in side})
    for filename in tables:
        load.results.append(FeedResult(f"{filename.removesuffix('.csv')} (checks)",
                                       rejected=sum(1 for f, *_ in side if f == filename)))
