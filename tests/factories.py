"""Hand-built households written through the real ingestion path (graph.ingest), for API and policy tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from neo4j import Driver

from graph import ingest, shielding

BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD = "E08000025", "E08000035", "E08000003", "E08000019"
AUTHORITIES = {
    BIRMINGHAM: ("Birmingham", "West Midlands"),
    LEEDS: ("Leeds", "Yorkshire and The Humber"),
    MANCHESTER: ("Manchester", "North West"),
    SHEFFIELD: ("Sheffield", "Yorkshire and The Humber"),
}


@dataclass
class Feeds:
    """Rows per feed, written in load order by `write`."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, feed: str, **row: Any) -> dict[str, Any]:
        bucket = self.rows.setdefault(feed, [])
        row["line"] = len(bucket) + 2
        bucket.append(row)
        return row

    def authorities(self) -> None:
        for code, (name, region) in AUTHORITIES.items():
            self.add("authorities", code=code, name=name, region=region,
                     team_phone=f"0121 496 0{len(self.rows.get('authorities', [])):03d}",
                     team_email=f"team@{name.lower()}.example")

    def agency(self, agency_id: str, name: str, kind: str, la_code: str) -> str:
        self.add("agencies", agency_id=agency_id, name=name, kind=kind, phone="0121 496 0999",
                 email=f"{agency_id.lower()}@agency.example", la_code=la_code)
        return agency_id

    def practitioner(self, practitioner_id: str, name: str, agency_id: str, phone: str = "07700 900000") -> str:
        self.add("practitioners", practitioner_id=practitioner_id, name=name, job_title="Worker", phone=phone,
                 email=f"{practitioner_id.lower()}@people.example", agency_id=agency_id)
        return practitioner_id

    def child(self, child_id: str, given: str, family: str, dob: date, la_code: str, gender: str = "female") -> str:
        self.add("children", child_id=child_id, given_name=given, family_name=family, former_names=[],
                 former_names_text="", dob=dob, gender=gender, nhs_number=None, upn=None, la_child_id=None,
                 status="active", la_code=la_code)
        return child_id

    def address(self, address_id: str, line1: str, postcode: str, la_code: str) -> str:
        self.add("addresses", address_id=address_id, line1=line1, line2=None, town="Town", postcode=postcode,
                 la_code=la_code, easting=400000, northing=300000)
        return address_id

    def lives(self, child_id: str, address_id: str, since: date, until: date | None = None) -> None:
        self.add("residences", child_id=child_id, address_id=address_id, since=since, until=until)

    def carer(self, carer_id: str, name: str, child_id: str, phone: str = "07700 900111", *,
              since: date | None = None, until: date | None = None, relationship: str = "mother") -> None:
        """A carer of the child, by default from its birth and still caring."""
        born = next(r["dob"] for r in self.rows["children"] if r["child_id"] == child_id)
        self.add("carers", carer_id=carer_id, name=name, phone=phone, email=None, child_id=child_id,
                 relationship=relationship, parental_responsibility=True, since=since or born, until=until)

    def school(self, child_id: str, agency_id: str, since: date, until: date | None = None) -> None:
        self.add("school_enrolments", child_id=child_id, agency_id=agency_id, since=since, until=until)

    def gp(self, child_id: str, agency_id: str, since: date, until: date | None = None) -> None:
        self.add("gp_registrations", child_id=child_id, agency_id=agency_id, since=since, until=until)

    def involve(self, practitioner_id: str, child_id: str, service: str, since: date, *, lead: bool = False,
                sensitive: bool = False, consent: bool = False, until: date | None = None) -> None:
        self.add("involvements", practitioner_id=practitioner_id, child_id=child_id, service=service, since=since,
                 until=until, lead=lead, sensitive=sensitive, consent=consent)

    def plan(self, child_id: str, la_code: str, kind: str, since: date, until: date | None = None) -> None:
        self.add("plans", child_id=child_id, la_code=la_code, kind=kind, since=since, until=until)

    def attend(self, child_id: str, agency_id: str, at: datetime, reason: str = "injury") -> None:
        self.add("attendances", child_id=child_id, agency_id=agency_id, at=at, reason=reason)

    def shield(self, child_id: str, la_code: str, on: date, *, shielded: bool = True) -> None:
        self.add("shielding", child_id=child_id, shielded=shielded, la_code=la_code, decided_on=on,
                 reason="risk of harm")

    def write(self, driver: Driver, database: str) -> None:
        """Write every row as the loader does (graph.ingest, then graph.shielding); a row not written fails loudly."""
        with driver.session(database=database) as session:
            for feed in ingest.UPSERTS:
                rows = self.rows.get(feed)
                if rows:
                    written = session.execute_write(ingest.upsert, feed=feed, rows=rows)
                    assert written == {r["line"] for r in rows}, f"{feed}: not every row was written"
            if self.rows.get("shielding"):
                written, refused = session.execute_write(shielding.apply_feed, rows=self.rows["shielding"],
                                                         file="shielding.csv", request_id="factories")
                assert not refused and written == {r["line"] for r in self.rows["shielding"]}, refused
