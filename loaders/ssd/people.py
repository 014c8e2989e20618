"""The SSD's people, their identifiers, addresses and households as feed rows of the council's source."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from graph.instants import uk_today
from loaders.feeds import AddressRow
from loaders.ssd import codes
from loaders.ssd.read import Extract, Row, parse_date

# (line, the feed row's values or None, the reason it is rejected or None, the record as read)
Entry = tuple[int, dict[str, Any] | None, str | None, list[str]]

ADULT_AGE = 18  # a mother of this age or older is a carer, not a child of the directory
OLDEST = 25  # the directory holds children and care leavers up to 25 (as children.csv)
NOT_RECORDED = "not recorded"


@dataclass
class Council:
    """The council whose extract this is: its source, and the ids the import makes, all scoped to it."""

    la_code: str
    name: str

    @property
    def source_id(self) -> str:
        return f"ssd-{self.la_code}"

    def key(self, kind: str, local: str) -> str:
        """An id of something the council's extract defines (a worker, a team, an address), never another's."""
        return f"{self.source_id}:{kind}:{local}"

    @property
    def agency_id(self) -> str:
        return self.key("agency", "csc")

    def child(self, person_id: str) -> dict[str, str]:
        return {"source_id": self.source_id, "local_id": person_id}


@dataclass
class People:
    """Who each person id of the extract is: a child (a person record), an adult, or a rejected row."""

    children: dict[str, Row] = field(default_factory=dict)
    adults: dict[str, Row] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)
    dob: dict[str, date] = field(default_factory=dict)

    def refuse(self, column: str, person_id: str | None) -> str | None:
        """Why a row naming this person cannot be loaded (None when it can, or the person is not in this extract,
        as a record from an earlier extract may be)."""
        if person_id is None:
            return f"{column}: missing"
        if person_id in self.adults:
            return f"{column}: person {person_id} is an adult in ssd_person, not a child of the directory"
        if person_id in self.rejected:
            return f"{column}: person {person_id} was rejected in ssd_person.csv"
        return None

    def name(self, person_id: str) -> str | None:
        row = self.children.get(person_id) or self.adults.get(person_id)
        if row is None:
            return None
        return " ".join(p for p in (row.get("pers_forename"), row.get("pers_surname")) if p) or None


def date_of(row: Row, column: str) -> date | None:
    """A date cell (None when blank).

    Raises:
        ValueError: a cell that is not a date, naming the column.
    """
    value = row.get(column)
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise ValueError(f"{column}: {exc}") from None


def start_of(row: Row, column: str) -> date:
    """A period's start, which every period needs.

    Raises:
        ValueError: blank or not a date, naming the column.
    """
    value = date_of(row, column)
    if value is None:
        raise ValueError(f"{column}: missing (a period needs its start)")
    return value


def _age(dob: date) -> float:
    return (uk_today() - dob).days / 365.25


def _nhs_digits(value: str) -> str | None:
    digits = re.sub(r"[\s-]", "", value)
    return digits if re.fullmatch(r"\d{10}", digits) else None


_NHS = re.compile(r"nhs")
_UPN = re.compile(r"upn|unique pupil")


def identifiers(extract: Extract, rejects: list[tuple[str, int, str, list[str]]]) -> dict[str, dict[str, str]]:
    """The current NHS number and the latest former UPN of each person, from ssd_linked_identifiers; a row
    whose NHS number is not 10 digits or whose dates are not dates is rejected (the person is still loaded)."""
    found: dict[str, dict[str, tuple[date, str]]] = defaultdict(dict)
    for row in extract.table("ssd_linked_identifiers").rows:
        kind = (row.get("link_identifier_type") or "").lower()
        value, person = row.get("link_identifier_value"), row.get("link_person_id")
        slot = "nhs_number" if _NHS.search(kind) else "upn" if _UPN.search(kind) else None
        if slot is None or value is None or person is None:
            continue
        try:
            since, until = date_of(row, "link_valid_from_date"), date_of(row, "link_valid_to_date")
        except ValueError as exc:
            rejects.append(("ssd_linked_identifiers.csv", row.line, str(exc), row.raw))
            continue
        if slot == "nhs_number":
            value = _nhs_digits(value)
            if value is None:
                rejects.append(("ssd_linked_identifiers.csv", row.line,
                                f"link_identifier_value: an NHS number is 10 digits, not {row.get('link_identifier_value')!r}",
                                row.raw))
                continue
            if until is not None:  # an NHS number no longer valid is not the person's
                continue
        held = found[person].get(slot)
        rank = since or date.min
        if held is None or rank >= held[0]:
            found[person][slot] = (rank, value)
    return {person: {slot: v for slot, (_, v) in slots.items()} for person, slots in found.items()}


def current_postcodes(extract: Extract) -> dict[str, str]:
    """Each person's postcode at the latest address the extract holds (an open one before an ended one)."""
    best: dict[str, tuple[tuple[int, date], str]] = {}
    for row in extract.table("ssd_address").rows:
        person, postcode = row.get("addr_person_id"), row.get("addr_address_postcode")
        if person is None or postcode is None:
            continue
        try:
            since, until = date_of(row, "addr_address_start_date"), date_of(row, "addr_address_end_date")
        except ValueError:
            continue
        rank = (1 if until is None else 0, since or date.min)
        if person not in best or rank >= best[person][0]:
            best[person] = (rank, postcode)
    return {person: postcode for person, (_, postcode) in best.items()}


def person_records(extract: Extract, council: Council, people: People,
                   rejects: list[tuple[str, int, str, list[str]]]) -> Iterator[Entry]:
    """ssd_person as person records of the council's source; adults (mothers, anyone over 25) are not records."""
    linked = identifiers(extract, rejects)
    postcodes = current_postcodes(extract)
    for row in extract.table("ssd_person").rows:
        person = row.get("pers_person_id")
        try:
            if person is None:
                raise ValueError("pers_person_id: missing")
            dob = date_of(row, "pers_dob")
            sex = codes.code("pers_sex", row.get("pers_sex"), codes.SEX, "sex")
            mother = codes.flag("pers_is_mother", row.get("pers_is_mother"))
        except ValueError as exc:
            if person is not None:
                people.rejected.add(person)
            yield row.line, None, str(exc), row.raw
            continue
        if dob is not None and (_age(dob) > OLDEST or (mother and _age(dob) >= ADULT_AGE)):
            people.adults[person] = row
            continue
        people.children[person] = row
        if dob is not None:
            people.dob[person] = dob
        ids = linked.get(person, {})
        yield row.line, {
            **council.child(person), "given_name": row.get("pers_forename"), "family_name": row.get("pers_surname"),
            "dob": dob, "sex": sex, "postcode": postcodes.get(person),
            "nhs_number": ids.get("nhs_number"), "upn": row.get("pers_upn") or ids.get("upn"),
            "council_person_id": person,
        }, None, row.raw


def _address_parts(raw: str | None) -> dict[str, str]:
    """The SSD's address JSON (keys in any case); an unreadable document gives nothing, not a reject."""
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        doc = doc[0]
    if not isinstance(doc, dict):
        return {}
    return {str(k).upper(): str(v).strip() for k, v in doc.items() if v not in (None, "") and str(v).strip()}


def _easting(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def address_values(council: Council, address_id: str, postcode: str | None, parts: dict[str, str],
                   line1: str | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """An addresses.csv row (checked here, so a bad address rejects its row once, not its residence again)."""
    first = line1 or " ".join(p for p in (parts.get("FLAT"), parts.get("HOUSE"), parts.get("BUILDING"),
                                         parts.get("STREET")) if p) or NOT_RECORDED
    values = {"address_id": address_id, "line1": first, "town": parts.get("TOWN") or NOT_RECORDED,
              "postcode": postcode, "la_code": council.la_code,
              "easting": _easting(parts.get("EASTING")), "northing": _easting(parts.get("NORTHING"))}
    values = {k: v for k, v in values.items() if v is not None}
    try:
        AddressRow.model_validate(values)
    except ValidationError as exc:
        return None, "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
    return values, None


def addresses(extract: Extract, council: Council, people: People) -> tuple[list[Entry], list[Entry]]:
    """ssd_address as addresses (the council's own ids) and the residences of the children at them."""
    places: list[Entry] = []
    lived: list[Entry] = []
    for row in extract.table("ssd_address").rows:
        person = row.get("addr_person_id")
        if person in people.adults:
            continue
        try:
            since, until = start_of(row, "addr_address_start_date"), date_of(row, "addr_address_end_date")
        except ValueError as exc:
            places.append((row.line, None, str(exc), row.raw))
            continue
        refused = people.refuse("addr_person_id", person)
        local = row.get("addr_table_id") or f"{person}-{since}"
        values, reason = address_values(council, council.key("address", local),
                                        row.get("addr_address_postcode") or None,
                                        _address_parts(row.get("addr_address_json")))
        if refused or reason:
            places.append((row.line, None, refused or reason, row.raw))
            continue
        places.append((row.line, values, None, row.raw))
        lived.append((row.line, {**council.child(person), "address_id": values["address_id"], "since": since,
                                 "until": until}, None, row.raw))
    return places, lived


def mothers(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_mother as carer links: the mother cares for her child, with parental responsibility, from the birth."""
    for row in extract.table("ssd_mother").rows:
        mother, child = row.get("moth_person_id"), row.get("moth_childs_person_id")
        try:
            born = date_of(row, "moth_childs_dob") or (people.dob.get(child) if child else None)
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = (people.refuse("moth_childs_person_id", child)
                  or (None if mother else "moth_person_id: missing")
                  or (None if born else "moth_childs_dob: missing, and no pers_dob for the child in ssd_person"))
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, {
            "carer_id": council.key("person", mother), "name": people.name(mother) or f"Mother (person {mother})",
            **council.child(child), "relationship": "mother", "parental_responsibility": True, "since": born,
        }, None, row.raw


def families(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_family as household links: the children of one family share the family as a carer (no parental
    responsibility), from each child's birth, so the household rules see them together."""
    members: dict[str, list[Row]] = defaultdict(list)
    for row in extract.table("ssd_family").rows:
        members[row.get("fami_family_id") or ""].append(row)
    for family, rows in members.items():
        kids = [r for r in rows if r.get("fami_person_id") not in people.adults]
        for row in kids:
            person = row.get("fami_person_id")
            reason = ("fami_family_id: missing" if not family else people.refuse("fami_person_id", person)
                      or (None if person in people.dob else f"fami_person_id: no pers_dob for person {person} "
                                                            "in ssd_person"))
            if reason:
                yield row.line, None, reason, row.raw
            elif len(kids) > 1:
                yield row.line, {
                    "carer_id": council.key("family", family), "name": f"Family {family} ({council.name} records)",
                    **council.child(person), "relationship": "household", "parental_responsibility": False,
                    "since": people.dob[person],
                }, None, row.raw
