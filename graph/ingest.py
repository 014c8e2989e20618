"""Idempotent batched upserts for each feed, and the look-ups that explain a rejected row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from graph import corrections
from graph.identity import intake
from graph.identity import rows as identity_rows
from graph.identity.rows import DIRECTORY, DIRECTORY_NAME
from graph.instants import NOW, utc_cypher

# Every statement takes $rows (dicts with a `line` key) and returns the lines it wrote.
# MATCH on the referenced nodes drops rows naming something unknown; the loader rejects those.

UPSERT_AUTHORITIES = """
UNWIND $rows AS r
MERGE (la:LocalAuthority {code: r.code})
SET la.name = r.name, la.region = r.region, la.team_phone = r.team_phone, la.team_email = r.team_email
RETURN collect(r.line) AS written
"""

UPSERT_AGENCIES = """
UNWIND $rows AS r
MATCH (la:LocalAuthority {code: r.la_code})
MERGE (a:Agency {id: r.agency_id})
SET a.name = r.name, a.kind = r.kind, a.phone = r.phone, a.email = r.email, a.la_code = r.la_code
MERGE (a)-[:IN]->(la)
RETURN collect(r.line) AS written
"""

UPSERT_PRACTITIONERS = """
UNWIND $rows AS r
MATCH (a:Agency {id: r.agency_id})
MERGE (p:Practitioner {id: r.practitioner_id})
SET p.name = r.name, p.job_title = r.job_title, p.phone = r.phone, p.email = r.email
MERGE (p)-[:WORKS_FOR]->(a)
RETURN collect(r.line) AS written
"""

# A child archived or destroyed under the retention rules is never made again from a row naming it (the loader
# refuses such rows with the reason first: graph/admission.py; this guard holds for any other caller). A field
# the management team corrected keeps the correction (graph/corrections.py records what the source sent). The
# day a status changes is kept (the left-England rule dates from it when no home has ended). A children.csv row
# is also the directory's own record of the child (source 'directory', keyed by child_id), so person records
# from other sources can be matched to a child the directory already holds: written after this upsert, for the
# rows it wrote (graph.identity.intake).
_KEEP_CORRECTED = "CASE WHEN '{f}' IN fixed THEN c.{f} ELSE r.{f} END"
UPSERT_CHILDREN = f"""
UNWIND $rows AS r
MATCH (la:LocalAuthority {{code: r.la_code}})
WHERE NOT EXISTS {{ MATCH (:ArchivedChild {{id: r.child_id}}) }} AND NOT EXISTS {{ MATCH (:DestroyedChild {{id: r.child_id}}) }}
MERGE (c:Child {{id: r.child_id}})
  ON CREATE SET c.shielded = false
WITH r, la, c, coalesce(c.corrected, []) AS fixed
SET c.status_since = CASE WHEN c.status IS NOT NULL AND c.status <> r.status THEN date({{timezone: 'Europe/London'}})
                          ELSE c.status_since END
SET c.given_name = {_KEEP_CORRECTED.format(f='given_name')}, c.family_name = {_KEEP_CORRECTED.format(f='family_name')},
    c.former_names = r.former_names, c.former_names_text = r.former_names_text,
    c.dob = {_KEEP_CORRECTED.format(f='dob')}, c.gender = {_KEEP_CORRECTED.format(f='gender')},
    c.nhs_number = {_KEEP_CORRECTED.format(f='nhs_number')}, c.upn = {_KEEP_CORRECTED.format(f='upn')},
    c.la_child_id = r.la_child_id, c.status = r.status, c.died_on = r.died_on
MERGE (c)-[:HELD_BY]->(la)
RETURN collect(r.line) AS written
"""
ENSURE_DIRECTORY_SOURCE = f"""
MERGE (s:Source {{id: '{DIRECTORY}'}})
  ON CREATE SET s.kind = '{DIRECTORY}', s.name = '{DIRECTORY_NAME}', s.registered_at = {NOW}
"""

UPSERT_SOURCES = f"""
UNWIND $rows AS r
WITH r WHERE (r.la_code IS NULL OR EXISTS {{ MATCH (:LocalAuthority {{code: r.la_code}}) }})
         AND (r.agency_id IS NULL OR EXISTS {{ MATCH (:Agency {{id: r.agency_id}}) }})
MERGE (s:Source {{id: r.source_id}})
  ON CREATE SET s.registered_at = {NOW}
SET s.kind = r.kind, s.name = r.name, s.la_code = r.la_code, s.agency_id = r.agency_id
RETURN collect(r.line) AS written
"""

UPSERT_ADDRESSES = """
UNWIND $rows AS r
MATCH (la:LocalAuthority {code: r.la_code})
MERGE (a:Address {id: r.address_id})
SET a.line1 = r.line1, a.line2 = r.line2, a.town = r.town, a.postcode = r.postcode,
    a.la_code = r.la_code, a.easting = r.easting, a.northing = r.northing
MERGE (a)-[:IN]->(la)
RETURN collect(r.line) AS written
"""

UPSERT_RESIDENCES = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MATCH (a:Address {id: r.address_id})
MERGE (c)-[l:LIVED_AT {since: r.since}]->(a)
SET l.until = r.until, l.via = r.via
RETURN collect(r.line) AS written
"""

# A carer's period of care is keyed on its start, like every other period.
UPSERT_CARERS = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MERGE (k:Carer {id: r.carer_id})
SET k.name = r.name, k.phone = r.phone, k.email = r.email
MERGE (k)-[x:CARES_FOR {since: r.since}]->(c)
SET x.until = r.until, x.relationship = r.relationship, x.parental_responsibility = r.parental_responsibility,
    x.via = r.via
RETURN collect(r.line) AS written
"""

UPSERT_ENROLMENTS = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MATCH (a:Agency {id: r.agency_id}) WHERE a.kind = 'school'
MERGE (c)-[e:ENROLLED_AT {since: r.since}]->(a)
SET e.until = r.until, e.via = r.via
RETURN collect(r.line) AS written
"""

UPSERT_REGISTRATIONS = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MATCH (a:Agency {id: r.agency_id}) WHERE a.kind = 'gp_practice'
MERGE (c)-[g:REGISTERED_WITH {since: r.since}]->(a)
SET g.until = r.until, g.via = r.via
RETURN collect(r.line) AS written
"""

# What a practitioner recorded through the API (source 'self', graph/involvements.py) is theirs: a feed row for
# the same practitioner, child, service and start merges with it and changes nothing of it. Once a safeguarding
# lead has chosen a child's lead professional through the API (lead_chosen_by), feeds no longer set that child's
# lead. The rest of every row is written (docs/feeds.md, "What feeds do not change").
UPSERT_INVOLVEMENTS = """
UNWIND $rows AS r
MATCH (p:Practitioner {id: r.practitioner_id})
MATCH (c:Child {id: r.child_id})
MERGE (p)-[i:INVOLVED_WITH {service: r.service, since: r.since}]->(c)
WITH r, c, i, coalesce(i.source = 'self', false) AS recorded
SET i.until = CASE WHEN recorded THEN i.until ELSE r.until END,
    i.lead = CASE WHEN recorded OR c.lead_chosen_by IS NOT NULL THEN coalesce(i.lead, false) ELSE r.lead END,
    i.sensitive = CASE WHEN recorded THEN i.sensitive ELSE r.sensitive END,
    i.consent = CASE WHEN recorded THEN i.consent ELSE r.consent END,
    i.via = CASE WHEN recorded THEN i.via ELSE r.via END
RETURN collect(r.line) AS written
"""
# The rows of an involvements batch that UPSERT_INVOLVEMENTS will not apply in full (the loader counts them).
KEPT_INVOLVEMENTS = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
OPTIONAL MATCH (:Practitioner {id: r.practitioner_id})-[i:INVOLVED_WITH {service: r.service, since: r.since}]->(c)
WITH r, c, i
WHERE (i.source = 'self' AND (coalesce(toString(i.until), '') <> coalesce(toString(r.until), '')
                              OR coalesce(i.lead, false) <> r.lead OR coalesce(i.sensitive, false) <> r.sensitive
                              OR coalesce(i.consent, false) <> r.consent))
   OR (c.lead_chosen_by IS NOT NULL AND coalesce(i.lead, false) <> r.lead)
RETURN collect(r.line) AS kept
"""

UPSERT_PLANS = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MATCH (la:LocalAuthority {code: r.la_code})
MERGE (c)-[h:HAS_PLAN {kind: r.kind, since: r.since}]->(la)
SET h.until = r.until, h.via = r.via, h.category = r.category,
    h.other_authority = CASE WHEN r.other_authority THEN true END
RETURN collect(r.line) AS written
"""

# A missing-from-home or absence episode, kept minimally against the authority that reported it.
UPSERT_MISSING = """
UNWIND $rows AS r
MATCH (c:Child {id: r.child_id})
MATCH (la:LocalAuthority {code: r.la_code})
MERGE (c)-[m:WENT_MISSING {since: r.since}]->(la)
SET m.until = r.until, m.kind = r.kind, m.return_interview_offered = r.return_interview_offered,
    m.return_interview_accepted = r.return_interview_accepted, m.via = r.via
RETURN collect(r.line) AS written
"""

# The visit's instant in UTC, however the caller spelt it (graph.instants): Cypher's = compares offsets too, so
# the same visit resent with another offset would otherwise MERGE a second time.
UPSERT_ATTENDANCES = f"""
UNWIND $rows AS r
MATCH (c:Child {{id: r.child_id}})
MATCH (a:Agency {{id: r.agency_id}}) WHERE a.kind = 'unscheduled_care'
MERGE (c)-[v:ATTENDED {{at: {utc_cypher('r.at')}}}]->(a)
SET v.reason = r.reason, v.via = r.via
RETURN collect(r.line) AS written
"""

# Single-valued links (an agency's authority, a child's holding authority) replace an older one.
# The old link is dropped by a statement of its own, before the upsert in the same transaction:
# done inside the upsert, the read/delete conflict forces an Eager plan that halves throughput.
UNLINK_AGENCY_AUTHORITY = """
UNWIND $rows AS r
MATCH (:Agency {id: r.agency_id})-[old:IN]->(la:LocalAuthority) WHERE la.code <> r.la_code
DELETE old
"""
UNLINK_PRACTITIONER_AGENCY = """
UNWIND $rows AS r
MATCH (:Practitioner {id: r.practitioner_id})-[old:WORKS_FOR]->(a:Agency) WHERE a.id <> r.agency_id
DELETE old
"""
UNLINK_CHILD_AUTHORITY = """
UNWIND $rows AS r
MATCH (:Child {id: r.child_id})-[old:HELD_BY]->(la:LocalAuthority) WHERE la.code <> r.la_code
DELETE old
"""
UNLINK_ADDRESS_AUTHORITY = """
UNWIND $rows AS r
MATCH (:Address {id: r.address_id})-[old:IN]->(la:LocalAuthority) WHERE la.code <> r.la_code
DELETE old
"""
# A carer link loaded before carers had periods (no `since`) is current until a dated row for the same
# carer and child arrives: the first such row dates it, so the upsert updates it rather than adding one.
DATE_UNDATED_CARERS = """
UNWIND $rows AS r
MATCH (:Carer {id: r.carer_id})-[x:CARES_FOR WHERE x.since IS NULL]->(:Child {id: r.child_id})
WITH x, head(collect(r.since)) AS since
SET x.since = since
"""
# Statements run before a feed's upsert, in the same transaction.
BEFORE_UPSERT: dict[str, tuple[str, ...]] = {
    "agencies": (UNLINK_AGENCY_AUTHORITY,),
    "practitioners": (UNLINK_PRACTITIONER_AGENCY,),
    "children": (UNLINK_CHILD_AUTHORITY, ENSURE_DIRECTORY_SOURCE),
    "addresses": (UNLINK_ADDRESS_AUTHORITY,),
    "carers": (DATE_UNDATED_CARERS,),
}

UPSERTS: dict[str, str] = {
    "authorities": UPSERT_AUTHORITIES,
    "agencies": UPSERT_AGENCIES,
    "practitioners": UPSERT_PRACTITIONERS,
    "children": UPSERT_CHILDREN,
    "sources": UPSERT_SOURCES,
    "addresses": UPSERT_ADDRESSES,
    "residences": UPSERT_RESIDENCES,
    "carers": UPSERT_CARERS,
    "school_enrolments": UPSERT_ENROLMENTS,
    "gp_registrations": UPSERT_REGISTRATIONS,
    "involvements": UPSERT_INVOLVEMENTS,
    "plans": UPSERT_PLANS,
    "missing_episodes": UPSERT_MISSING,
    "attendances": UPSERT_ATTENDANCES,
}


@dataclass(frozen=True)
class Reference:
    """A column naming a node that must already exist (optionally of one agency kind)."""

    column: str
    label: str
    kind: str | None = None
    optional: bool = False  # a blank cell names nothing


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "authorities": (),
    "agencies": (Reference("la_code", "LocalAuthority"),),
    "practitioners": (Reference("agency_id", "Agency"),),
    "children": (Reference("la_code", "LocalAuthority"),),
    "sources": (Reference("la_code", "LocalAuthority", optional=True), Reference("agency_id", "Agency", optional=True)),
    "person_records": (Reference("source_id", "Source"),),
    "addresses": (Reference("la_code", "LocalAuthority"),),
    "residences": (Reference("child_id", "Child"), Reference("address_id", "Address")),
    "carers": (Reference("child_id", "Child"),),
    "school_enrolments": (Reference("child_id", "Child"), Reference("agency_id", "Agency", "school")),
    "gp_registrations": (Reference("child_id", "Child"), Reference("agency_id", "Agency", "gp_practice")),
    "involvements": (Reference("practitioner_id", "Practitioner"), Reference("child_id", "Child")),
    "plans": (Reference("child_id", "Child"), Reference("la_code", "LocalAuthority")),
    "missing_episodes": (Reference("child_id", "Child"), Reference("la_code", "LocalAuthority")),
    "attendances": (Reference("child_id", "Child"), Reference("agency_id", "Agency", "unscheduled_care")),
    "shielding": (Reference("child_id", "Child"), Reference("la_code", "LocalAuthority")),
}

# Fixed look-ups per label (labels come from this allow-list, never from input).
_FIND: dict[str, str] = {
    "Child": "UNWIND $keys AS k MATCH (n:Child {id: k}) RETURN n.id AS key, null AS kind",
    "Address": "UNWIND $keys AS k MATCH (n:Address {id: k}) RETURN n.id AS key, null AS kind",
    "Practitioner": "UNWIND $keys AS k MATCH (n:Practitioner {id: k}) RETURN n.id AS key, null AS kind",
    "Agency": "UNWIND $keys AS k MATCH (n:Agency {id: k}) RETURN n.id AS key, n.kind AS kind",
    "LocalAuthority": "UNWIND $keys AS k MATCH (n:LocalAuthority {code: k}) RETURN n.code AS key, null AS kind",
    "Source": "UNWIND $keys AS k MATCH (n:Source {id: k}) WHERE n.kind <> 'directory' RETURN n.id AS key, null AS kind",
}
_NOUNS = {
    "Child": "child",
    "Address": "address",
    "Practitioner": "practitioner",
    "Agency": "agency",
    "LocalAuthority": "local authority",
    "Source": "source",
}


def upsert(tx: ManagedTransaction, *, feed: str, rows: Sequence[dict[str, Any]]) -> set[int]:
    """Write one batch of validated rows of a feed; returns the lines written.

    Shielding decisions are not upserts: they go through graph.shielding.apply_feed.

    Raises:
        KeyError: the feed has no writer.
    """
    if feed == "person_records":  # kept as sent, pending matching (graph.identity)
        return intake.write(tx, rows=identity_rows.props(rows)[0])
    for statement in BEFORE_UPSERT.get(feed, ()):
        tx.run(statement, rows=rows).consume()
    record = tx.run(UPSERTS[feed], rows=[{"died_on": None, **row} for row in rows] if feed == "children" else rows
                    ).single()
    written = set(record["written"]) if record else set()
    if feed == "children":
        corrections.record_sent(tx, rows=rows)
        intake.write(tx, rows=identity_rows.directory_rows([r for r in rows if r["line"] in written]), directory=True)
    return written


def kept_involvements(tx: ManagedTransaction, *, rows: Sequence[dict[str, Any]]) -> set[int]:
    """The lines of involvement rows meeting a self-recorded involvement or a chosen lead, which they do not change."""
    return set(tx.run(KEPT_INVOLVEMENTS, rows=rows).single(strict=True)["kept"])


def explain_unwritten(tx: ManagedTransaction, *, feed: str, rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Say, for each row that was not written, which reference it names that does not exist."""
    reasons: dict[int, str] = {}
    if feed == "person_records":  # what matching would refuse (the feed's own checks should have)
        reasons |= identity_rows.props(rows)[1]
    for ref in REFERENCES[feed]:
        keys = sorted({row[ref.column] for row in rows if row[ref.column] is not None})
        found = {rec["key"]: rec["kind"] for rec in tx.run(_FIND[ref.label], keys=keys)}
        for row in rows:
            key = row[ref.column]
            if row["line"] in reasons or (key is None and ref.optional):
                continue
            if key not in found:
                reasons[row["line"]] = f"{ref.column}: unknown {_NOUNS[ref.label]} '{key}'"
            elif ref.kind is not None and found[key] != ref.kind:
                reasons[row["line"]] = f"{ref.column}: agency '{key}' is a {found[key]}, not a {ref.kind}"
    for row in rows:
        reasons.setdefault(row["line"], "not written: a referenced record changed during the load")
    return reasons


AUTHORITY_NAME = "MATCH (la:LocalAuthority {code: $code}) RETURN la.name AS name"


def authority_name(tx: ManagedTransaction, *, code: str) -> str | None:
    """The name of an authority in the graph, or None when it is not there (an import names its council)."""
    record = tx.run(AUTHORITY_NAME, code=code).single()
    return record["name"] if record else None
