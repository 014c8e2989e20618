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
from matching import names as matching_names
from matching import records as matching_records

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


# The kinds of source a person record may come from (the directory's own, for child_id feeds, is built in).
SOURCE_KINDS = matching_records.SOURCE_KINDS


class ChildRef(Feed):
    """A row naming a child by directory ID, or by the record a source sent for it (source_id, local_id)."""

    child_id: Id | None = None
    source_id: Id | None = None
    local_id: Id | None = None

    @model_validator(mode="after")
    def _one_child(self) -> ChildRef:
        by_record = self.source_id is not None or self.local_id is not None
        if self.child_id is not None and by_record:
            raise ValueError("name the child once: child_id, or source_id and local_id, not both")
        if self.child_id is None and not by_record:
            raise ValueError("name the child: child_id, or source_id and local_id")
        if by_record and (self.source_id is None or self.local_id is None):
            missing = "local_id" if self.local_id is None else "source_id"
            raise ValueError(f"{missing} is required with {'source_id' if missing == 'local_id' else 'local_id'}")
        return self


class SourceRow(Feed):
    source_id: Id
    kind: Literal[SOURCE_KINDS]  # type: ignore[valid-type]
    name: Text
    la_code: LaCode | None = None
    agency_id: Id | None = None

    @model_validator(mode="after")
    def _not_reserved(self) -> SourceRow:
        if self.source_id == "directory":
            raise ValueError("source_id 'directory' is the directory's own (the feeds keyed by child_id)")
        return self


def _nhs_number(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("an NHS number is 10 digits")
    return digits


def _upn(value: str) -> str:
    upn = value.strip().upper()
    if not re.fullmatch(r"[A-Z]\d{11}[0-9A-Z]", upn):
        raise ValueError("a UPN is a letter, 11 digits and a digit or letter")
    return upn


def _sent_postcode(value: str) -> str:
    """A postcode as sent: canonical when it is a UK postcode, else kept as it is (matching ignores it)."""
    try:
        return _postcode(value)
    except ValueError:
        return value


def _names(value: object) -> object:
    return tuple(p for p in value.split(";") if p.strip()) if isinstance(value, str) else value


class PersonRecordRow(Feed):
    source_id: Id
    local_id: Id
    given_name: OptText = None
    family_name: OptText = None
    other_names: Annotated[tuple[Text, ...], BeforeValidator(_names)] = ()
    dob: PastDate | None = None
    sex: Literal[GENDERS] | None = None  # type: ignore[valid-type]
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16),
                        AfterValidator(_one_line), AfterValidator(_sent_postcode)] | None = None
    nhs_number: Annotated[str, AfterValidator(_nhs_number)] | None = None
    upn: Annotated[str, AfterValidator(_upn)] | None = None
    council_person_id: Id | None = None

    @model_validator(mode="after")
    def _identifiable(self) -> PersonRecordRow:
        if self.source_id == "directory":
            raise ValueError("source_id 'directory' is the directory's own: send those children in children.csv")
        named = bool(matching_names.tokens(self.given_name or "")) or bool(matching_names.fold(self.family_name or ""))
        identified = (matching_records.nhs_number_valid(self.nhs_number) or matching_records.upn_valid(self.upn)
                      or self.council_person_id is not None)
        if not (named or identified):
            raise ValueError("neither a name nor an identifier (a valid NHS number, a valid UPN or a "
                             "council_person_id): nothing to match the record on")
        return self


class ResidenceRow(_Period, ChildRef):
    address_id: Id


class CarerRow(_Period, ChildRef):
    carer_id: Id
    name: Text
    phone: OptPhone = None
    email: OptEmail = None
    relationship: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,30}$")]
    parental_responsibility: bool


class EnrolmentRow(_Period, ChildRef):
    agency_id: Id


class RegistrationRow(_Period, ChildRef):
    agency_id: Id


class InvolvementRow(_Period, ChildRef):
    practitioner_id: Id
    service: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
    lead: bool = False
    sensitive: bool = False
    consent: bool = False


Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z_]{2,40}$")]


class PlanRow(_Period, ChildRef):
    la_code: LaCode
    kind: Literal[PLAN_KINDS]  # type: ignore[valid-type]
    category: Code | None = None
    other_authority: bool = False


MISSING_KINDS = ("missing", "absent")


class MissingRow(_Period, ChildRef):
    la_code: LaCode
    kind: Literal[MISSING_KINDS]  # type: ignore[valid-type]
    return_interview_offered: bool | None = None
    return_interview_accepted: bool | None = None


# A time as the graph keeps it: the instant in UTC, whatever offset the feed used; no offset is UK time
# (graph.instants says why, and how the hour that happens twice each October is read).
Instant = Annotated[datetime, AfterValidator(_storable_offset), AfterValidator(utc)]


class AttendanceRow(ChildRef):
    agency_id: Id
    at: Instant
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
                      AfterValidator(_one_line)]

    @model_validator(mode="after")
    def _not_future(self) -> AttendanceRow:
        if uk_day(self.at) > uk_today():
            raise ValueError("at is in the future")
        return self


class ShieldingRow(ChildRef):
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

    @property
    def by_child_id(self) -> tuple[str, ...]:
        """The columns of the feed as a source holding directory ids sends it (no source_id, local_id)."""
        if issubclass(self.model, ChildRef):
            return tuple(c for c in self.columns if c not in ("source_id", "local_id"))
        return self.columns

    @property
    def by_record(self) -> tuple[str, ...]:
        """The columns of the feed as a source naming children by its own records sends it (no child_id)."""
        if issubclass(self.model, ChildRef):
            return tuple(c for c in self.columns if c != "child_id")
        return self.columns


# In load order: a feed only names things defined by the feeds before it (or already in the graph). Person
# records are matched (children made or found for them) after person_records, before the relationship feeds.
FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec("authorities", AuthorityRow),
    FeedSpec("agencies", AgencyRow),
    FeedSpec("practitioners", PractitionerRow),
    FeedSpec("children", ChildRow),
    FeedSpec("sources", SourceRow),
    FeedSpec("person_records", PersonRecordRow),
    FeedSpec("addresses", AddressRow),
    FeedSpec("residences", ResidenceRow),
    FeedSpec("carers", CarerRow),
    FeedSpec("school_enrolments", EnrolmentRow),
    FeedSpec("gp_registrations", RegistrationRow),
    FeedSpec("involvements", InvolvementRow),
    FeedSpec("plans", PlanRow),
    FeedSpec("missing_episodes", MissingRow),
    FeedSpec("attendances", AttendanceRow),
    FeedSpec("shielding", ShieldingRow),
)
FEEDS_BY_NAME = {spec.name: spec for spec in FEEDS}
# The feeds of the identity work: registered sources and the person records they send (the generator's
# England is keyed by directory id and has none).
IDENTITY_FEEDS = ("sources", "person_records")
