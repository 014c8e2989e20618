"""The feed formats: one pydantic model per CSV file, validated row by row (see docs/feeds.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from graph.instants import uk_day, uk_today, utc

AGENCY_KINDS = (
    "school",
    "gp_practice",
    "health_visiting",
    "school_nursing",
    "social_care",
    "police",
    "youth_justice",
    "camhs",
    "sexual_health",
    "substance_misuse",
    "voluntary",
    "early_years",
    "unscheduled_care",
    "housing",
)
PLAN_KINDS = ("cp_plan", "looked_after", "child_in_need", "early_help")
GENDERS = ("female", "male", "not_known", "not_specified")
CHILD_STATUSES = ("active", "no_known_address", "left_england")

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def _postcode(value: str) -> str:
    match = _POSTCODE.match(value.upper().strip())
    if match is None:
        raise ValueError("not a UK postcode (expected e.g. 'B1 1AA')")
    return f"{match.group(1)} {match.group(2)}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(value: str) -> str:
    """Text is one line of printable characters: a line break, tab or NUL in a name is a broken feed."""
    if _CONTROL.search(value):
        raise ValueError("contains a control character (a line break, tab or NUL)")
    return value


def _not_future(value: date) -> date:
    if value > uk_today():
        raise ValueError("date is in the future")
    return value


def _storable_offset(value: datetime) -> datetime:
    """Neo4j stores UTC offsets of at most 18 hours (as ISO 8601 allows); Python reads up to 24."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > timedelta(hours=18):
        raise ValueError("the UTC offset must be between -18:00 and +18:00")
    return value


Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(_one_line)]
LaCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^E(06|08|09|10)\d{6}$")]
Postcode = Annotated[str, StringConstraints(max_length=10), AfterValidator(_postcode)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ]{5,19}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=120, pattern=r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
]
OptText = Text | None
PastDate = Annotated[date, AfterValidator(_not_future)]
OptDate = date | None
OptPhone = Phone | None
OptEmail = Email | None
NhsNumber = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
Upn = Annotated[str, StringConstraints(pattern=r"^[A-Z]\d{11}[0-9A-Z]$")]
Easting = Annotated[int, Field(ge=0, le=700_000)]
Northing = Annotated[int, Field(ge=0, le=1_300_000)]


class Feed(BaseModel):
    """A feed row: unknown columns are refused. The reader drops blank cells, so they take defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Period(Feed):
    since: PastDate
    until: OptDate = None

    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        if self.until is not None and self.until < self.since:
            raise ValueError("until is before since")
        return self


class AuthorityRow(Feed):
    code: LaCode
    name: Text
    region: Text
    team_phone: OptPhone = None
    team_email: OptEmail = None


class AgencyRow(Feed):
    agency_id: Id
    name: Text
    kind: Literal[AGENCY_KINDS]  # type: ignore[valid-type]
    phone: OptPhone = None
    email: OptEmail = None
    la_code: LaCode


class PractitionerRow(Feed):
    practitioner_id: Id
    name: Text
    job_title: Text
    phone: OptPhone = None
    email: OptEmail = None
    agency_id: Id


class ChildRow(Feed):
    child_id: Id
    given_name: Text
    family_name: Text
    former_names: Annotated[
        tuple[Text, ...],
        BeforeValidator(lambda v: tuple(p for p in v.split(";") if p.strip()) if isinstance(v, str) else v),
    ] = ()
    dob: PastDate
    gender: Literal[GENDERS]  # type: ignore[valid-type]
    nhs_number: NhsNumber | None = None
    upn: Upn | None = None
    la_child_id: Id | None = None
    status: Literal[CHILD_STATUSES] = "active"  # type: ignore[valid-type]
    la_code: LaCode
    died_on: PastDate | None = None  # the retention rules archive the record (docs/privacy.md)

    @model_validator(mode="after")
    def _age(self) -> ChildRow:
        if (uk_today() - self.dob).days > 366 * 26:
            raise ValueError("dob makes the child older than 25")
        if self.died_on is not None and self.died_on < self.dob:
            raise ValueError("died_on is before dob")
        return self


class AddressRow(Feed):
    address_id: Id
    line1: Text
    line2: OptText = None
    town: Text
    postcode: Postcode
    la_code: LaCode
    easting: Easting | None = None
    northing: Northing | None = None


class ResidenceRow(_Period):
    child_id: Id
    address_id: Id


class CarerRow(_Period):
    carer_id: Id
    name: Text
    phone: OptPhone = None
    email: OptEmail = None
    child_id: Id
    relationship: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,30}$")]
    parental_responsibility: bool


class EnrolmentRow(_Period):
    child_id: Id
    agency_id: Id


class RegistrationRow(_Period):
    child_id: Id
    agency_id: Id


class InvolvementRow(_Period):
    practitioner_id: Id
    child_id: Id
    service: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
    lead: bool = False
    sensitive: bool = False
    consent: bool = False


class PlanRow(_Period):
    child_id: Id
    la_code: LaCode
    kind: Literal[PLAN_KINDS]  # type: ignore[valid-type]


# A time as the graph keeps it: the instant in UTC, whatever offset the feed used; no offset is UK time
# (graph.instants says why, and how the hour that happens twice each October is read).
Instant = Annotated[datetime, AfterValidator(_storable_offset), AfterValidator(utc)]


class AttendanceRow(Feed):
    child_id: Id
    agency_id: Id
    at: Instant
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                      AfterValidator(_one_line)]

    @model_validator(mode="after")
    def _not_future(self) -> AttendanceRow:
        if uk_day(self.at) > uk_today():
            raise ValueError("at is in the future")
        return self


class ShieldingRow(Feed):
    child_id: Id
    shielded: bool
    la_code: LaCode
    decided_on: PastDate
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                      AfterValidator(_one_line)]


@dataclass(frozen=True)
class FeedSpec:
    """One feed: its file name, its row model, and the graph writer that takes its rows."""

    name: str
    model: type[Feed]

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.model.model_fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(n for n, f in self.model.model_fields.items() if f.is_required())


# In load order: a feed only names things defined by the feeds before it (or already in the graph).
FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec("authorities", AuthorityRow),
    FeedSpec("agencies", AgencyRow),
    FeedSpec("practitioners", PractitionerRow),
    FeedSpec("children", ChildRow),
    FeedSpec("addresses", AddressRow),
    FeedSpec("residences", ResidenceRow),
    FeedSpec("carers", CarerRow),
    FeedSpec("school_enrolments", EnrolmentRow),
    FeedSpec("gp_registrations", RegistrationRow),
    FeedSpec("involvements", InvolvementRow),
    FeedSpec("plans", PlanRow),
    FeedSpec("attendances", AttendanceRow),
    FeedSpec("shielding", ShieldingRow),
)
FEEDS_BY_NAME = {spec.name: spec for spec in FEEDS}
