"""Constraints and indexes, applied idempotently as numbered migrations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from neo4j import Driver, ManagedTransaction, RoutingControl

from graph.instants import utc_cypher

# Migration 5's data statements. Each runs in batches of its own transactions (CALL ... IN TRANSACTIONS, which
# needs the auto-commit transaction apply() gives every statement), so it holds at national scale (tens of
# millions of visits); a value already in UTC (its text ends in Z) is left alone, so each is safe to run again.
# A local date-time is read as UK time, the first of the two in the autumn overlap, as the loaders read one.
ATTENDED_TO_UTC = f"""
MATCH ()-[r:ATTENDED]->() WHERE r.at IS NOT NULL AND NOT toString(r.at) ENDS WITH 'Z'
CALL (r) {{ SET r.at = {utc_cypher('r.at')} }} IN TRANSACTIONS OF 10000 ROWS
"""
# The same visit sent twice with different offsets was stored twice (Cypher's = compares offsets): now that
# both are one value, keep one (with one of their reasons, as a resend overwrites the reason online).
ONE_VISIT_PER_INSTANT = """
MATCH (c:Child) WHERE COUNT { (c)-[:ATTENDED]->() } > 1
CALL (c) {
  MATCH (c)-[r:ATTENDED]->(a:Agency)
  WITH a, r.at AS at, collect(r) AS same WHERE size(same) > 1
  UNWIND tail(same) AS extra
  DELETE extra
} IN TRANSACTIONS OF 10000 ROWS
"""
# An alert's times; and the fact in a repeat-emergency key, the crossing visit's time as text, rewritten as the
# rule now writes it (the visit's UTC instant), so the next scan finds the alert rather than raising another.
_ALERT_TIMES = ("raised_at", "acknowledged_at", "closed_at", "first_at", "last_at")
_OLD_FACT = "CASE WHEN part[2] =~ '.*T.*[Z+-].*' THEN datetime(part[2]) ELSE localdatetime(part[2]) END"
ALERTS_TO_UTC = f"""
MATCH (a:Alert)
WHERE any(k IN {list(_ALERT_TIMES)} WHERE a[k] IS NOT NULL AND NOT toString(a[k]) ENDS WITH 'Z')
   OR (a.kind = 'repeat_emergency' AND NOT split(a.key, '|')[2] ENDS WITH 'Z')
CALL (a) {{
  SET {", ".join(f"a.{k} = {utc_cypher(f'a.{k}')}" for k in _ALERT_TIMES)}
  WITH a, split(a.key, '|') AS part WHERE a.kind = 'repeat_emergency' AND size(part) = 4
  WITH a, part, {_OLD_FACT} AS old
  WITH a, part[0] + '|' + part[1] + '|' + toString({utc_cypher('old')}) + '|' + part[3] AS key
  WHERE NOT EXISTS {{ MATCH (b:Alert {{key: key}}) }}
  SET a.key = key
}} IN TRANSACTIONS OF 10000 ROWS
"""


def _rechain_audit(driver: Driver, database: str) -> None:
    """Migration 8's data step: the audit events stored before it, redactable and indexed (graph.audit.upgrade)."""
    from graph.audit.upgrade import rechain  # the audit package is not needed to apply the other migrations

    rechain(driver, database=database)


# Each migration is a list of steps that are safe to run again (IF NOT EXISTS): Cypher statements, or a
# function of the driver and the database for a data step Cypher alone cannot do (hashing).
# Never edit a released migration: add a new one.
MIGRATIONS: dict[int, tuple[str | Callable[[Driver, str], None], ...]] = {
    1: (
        "CREATE CONSTRAINT child_id IF NOT EXISTS FOR (n:Child) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT carer_id IF NOT EXISTS FOR (n:Carer) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT address_id IF NOT EXISTS FOR (n:Address) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT authority_code IF NOT EXISTS FOR (n:LocalAuthority) REQUIRE n.code IS UNIQUE",
        "CREATE CONSTRAINT agency_id IF NOT EXISTS FOR (n:Agency) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT practitioner_id IF NOT EXISTS FOR (n:Practitioner) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT schema_meta_id IF NOT EXISTS FOR (n:SchemaMeta) REQUIRE n.id IS UNIQUE",
        # Fuzzy search on current and former names.
        "CREATE FULLTEXT INDEX child_names IF NOT EXISTS FOR (n:Child) "
        "ON EACH [n.given_name, n.family_name, n.former_names_text]",
        "CREATE INDEX child_dob IF NOT EXISTS FOR (n:Child) ON (n.dob)",
        "CREATE INDEX child_family_name IF NOT EXISTS FOR (n:Child) ON (n.family_name)",
        "CREATE INDEX child_nhs_number IF NOT EXISTS FOR (n:Child) ON (n.nhs_number)",
        "CREATE INDEX child_upn IF NOT EXISTS FOR (n:Child) ON (n.upn)",
        "CREATE INDEX child_la_child_id IF NOT EXISTS FOR (n:Child) ON (n.la_child_id)",
        "CREATE INDEX address_postcode IF NOT EXISTS FOR (n:Address) ON (n.postcode)",
        "CREATE INDEX agency_kind IF NOT EXISTS FOR (n:Agency) ON (n.kind)",
    ),
    # Users, the audit trail and alerts (owned by the API and analytics work).
    2: (
        "CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT user_username IF NOT EXISTS FOR (n:User) REQUIRE n.username IS UNIQUE",
        "CREATE CONSTRAINT audit_event_id IF NOT EXISTS FOR (n:AuditEvent) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT audit_event_seq IF NOT EXISTS FOR (n:AuditEvent) REQUIRE n.seq IS UNIQUE",
        "CREATE CONSTRAINT audit_head_id IF NOT EXISTS FOR (n:AuditHead) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT alert_id IF NOT EXISTS FOR (n:Alert) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX audit_event_at IF NOT EXISTS FOR (n:AuditEvent) ON (n.at)",
        "CREATE INDEX audit_event_user IF NOT EXISTS FOR (n:AuditEvent) ON (n.user_id)",
        "CREATE INDEX user_la_code IF NOT EXISTS FOR (n:User) ON (n.la_code)",
    ),
    # Signposting alerts (graph/alerts.py): one alert per kind, child, triggering fact and authority
    # addressed, whoever scans and however often; the inbox by authority; the scan's starting points.
    3: (
        "MATCH (a:Alert) WHERE a.key IS NULL "
        "SET a.key = a.kind + '|' + a.child_id + '|' + a.id + '|' + a.la_code, a.raised_at = coalesce(a.raised_at, a.at) "
        "REMOVE a.at",
        "CREATE CONSTRAINT alert_key IF NOT EXISTS FOR (n:Alert) REQUIRE n.key IS UNIQUE",
        "CREATE INDEX alert_la_code IF NOT EXISTS FOR (n:Alert) ON (n.la_code)",
        "CREATE INDEX lived_at_since IF NOT EXISTS FOR ()-[r:LIVED_AT]-() ON (r.since)",
        "CREATE INDEX attended_at IF NOT EXISTS FOR ()-[r:ATTENDED]-() ON (r.at)",
        "CREATE CONSTRAINT pattern_count_id IF NOT EXISTS FOR (n:PatternCount) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX pattern_count_date IF NOT EXISTS FOR (n:PatternCount) ON (n.date)",
    ),
    # The misuse watch (graph/misuse.py): one user's events within a window, by seek rather than by scan.
    4: (
        "CREATE INDEX audit_event_user_at IF NOT EXISTS FOR (n:AuditEvent) ON (n.user_id, n.at)",
    ),
    # Shielding decisions are dated on the child (graph/shielding.py), so a feed's older decision never
    # overrides a newer one: a shield made before then is dated by its SHIELDED_BY.
    5: (
        "MATCH (c:Child)-[s:SHIELDED_BY]->() WHERE c.shield_decided_on IS NULL "
        "WITH c, max(s.since) AS since SET c.shield_decided_on = since",
    ),
    # Every instant in UTC (graph.instants): visits stored as local date-times or with a feed's offset, and the
    # times of alerts, become zoned DATETIMEs at offset Z.
    6: (
        ATTENDED_TO_UTC,
        ONE_VISIT_PER_INSTANT,
        ALERTS_TO_UTC,
    ),
    # Identity (graph/identity): sources, the records they send, the review queue, the directory-id sequence,
    # merged children, stored models and matching runs; an index per blocking key, so a record's candidates
    # are found by seeks whose cost grows with the batch, not the directory; the pending records; and the
    # names a child is known by for search. The blocking keys are matching.records.BLOCKING_KEYS, written out
    # (a released migration never changes; tests/identity/test_store.py checks the two agree).
    7: (
        "CREATE CONSTRAINT source_id IF NOT EXISTS FOR (n:Source) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT source_record_key IF NOT EXISTS FOR (n:SourceRecord) REQUIRE n.key IS UNIQUE",
        "CREATE CONSTRAINT match_review_id IF NOT EXISTS FOR (n:MatchReview) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT match_review_key IF NOT EXISTS FOR (n:MatchReview) REQUIRE n.key IS UNIQUE",
        "CREATE CONSTRAINT sequence_name IF NOT EXISTS FOR (n:Sequence) REQUIRE n.name IS UNIQUE",
        "CREATE CONSTRAINT merged_child_id IF NOT EXISTS FOR (n:MergedChild) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT match_model_version IF NOT EXISTS FOR (n:MatchModel) REQUIRE n.version IS UNIQUE",
        "CREATE CONSTRAINT match_run_id IF NOT EXISTS FOR (n:MatchRun) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX source_record_state IF NOT EXISTS FOR (n:SourceRecord) ON (n.match_state)",
        "CREATE INDEX source_record_bk_nhs IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_nhs)",
        "CREATE INDEX source_record_bk_upn IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_upn)",
        "CREATE INDEX source_record_bk_dob_district IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_dob_district)",
        "CREATE INDEX source_record_bk_dob_given IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_dob_given)",
        "CREATE INDEX source_record_bk_dob_family IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_dob_family)",
        "CREATE INDEX source_record_bk_name_year IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_name_year)",
        "CREATE INDEX source_record_bk_name_district IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_name_district)",
        "CREATE INDEX source_record_bk_given_postcode IF NOT EXISTS FOR (n:SourceRecord) ON (n.bk_given_postcode)",
        "CREATE INDEX match_review_state IF NOT EXISTS FOR (n:MatchReview) ON (n.state)",
        "CREATE INDEX match_model_stored_at IF NOT EXISTS FOR (n:MatchModel) ON (n.stored_at)",
        "CREATE FULLTEXT INDEX child_known_names IF NOT EXISTS FOR (n:Child) ON EACH [n.known_names_text]",
    ),
    # The audit trail at national volume, and able to forget (graph.audit): a child's accesses by seek on its
    # index entries (one per event and child, unique), its redactions by seek, and the events stored before
    # re-chained so that they too can be redacted.
    8: (
        "CREATE CONSTRAINT audit_access_child_seq IF NOT EXISTS FOR (n:AuditAccess) REQUIRE (n.child_id, n.seq) "
        "IS UNIQUE",
        "CREATE CONSTRAINT audit_mention_child_seq IF NOT EXISTS FOR (n:AuditMention) REQUIRE (n.child_id, n.seq) "
        "IS UNIQUE",
        "CREATE CONSTRAINT audit_checkpoint_id IF NOT EXISTS FOR (n:AuditCheckpoint) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT audit_verification_id IF NOT EXISTS FOR (n:AuditVerification) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX audit_event_redaction_seq IF NOT EXISTS FOR (n:AuditEvent) ON (n.redaction_seq)",
        _rechain_audit,
    ),
    # Retention (graph/retention.py): an archived record keeps its id unique under its new label, and is found by
    # the day it is due for destruction; destroyed ids are kept as tombstones so a stale feed cannot revive them;
    # the rules' starting points (deaths, children who left England); a child's alerts and corrections.
    9: (
        "CREATE CONSTRAINT archived_child_id IF NOT EXISTS FOR (n:ArchivedChild) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT destroyed_child_id IF NOT EXISTS FOR (n:DestroyedChild) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT destroyed_record_key IF NOT EXISTS FOR (n:DestroyedRecord) REQUIRE n.key IS UNIQUE",
        "CREATE CONSTRAINT correction_id IF NOT EXISTS FOR (n:Correction) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX archived_child_destroy_on IF NOT EXISTS FOR (n:ArchivedChild) ON (n.destroy_on)",
        "CREATE INDEX child_died_on IF NOT EXISTS FOR (n:Child) ON (n.died_on)",
        "CREATE INDEX child_status IF NOT EXISTS FOR (n:Child) ON (n.status)",
        # ... and a child's alerts, for the lead's chronology (graph/chronology.py) and the inbox triage.
        "CREATE INDEX alert_child_id IF NOT EXISTS FOR (n:Alert) ON (n.child_id)",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)

GET_VERSION = "OPTIONAL MATCH (m:SchemaMeta {id: 'schema'}) RETURN m.version AS version, m.applied_at AS applied_at"
SET_VERSION = """
MERGE (m:SchemaMeta {id: 'schema'})
SET m.version = $version, m.applied_at = $applied_at
"""
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"
GRAPH_COUNTS = "CALL db.stats.retrieve('GRAPH COUNTS') YIELD data RETURN data"
LIST_INDEXES = "SHOW INDEXES YIELD name, state, populationPercent RETURN name, state, populationPercent ORDER BY name"


@dataclass
class SchemaStatus:
    """What `db status` reports."""

    version: int | None
    latest: int
    applied_at: datetime | None
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    indexes: list[tuple[str, str, float]] = field(default_factory=list)


def _current_version(tx: ManagedTransaction) -> tuple[int | None, datetime | None]:
    record = tx.run(GET_VERSION).single()
    if record is None or record["version"] is None:
        return None, None
    applied = record["applied_at"]
    return record["version"], applied.to_native() if applied is not None else None


def apply(driver: Driver, *, database: str, await_seconds: int = 600) -> list[int]:
    """Bring the schema up to SCHEMA_VERSION; returns the migrations that ran.

    Schema statements cannot share a transaction with data writes, so each runs on its own.
    """
    with driver.session(database=database) as session:
        current, _ = session.execute_read(_current_version)
        ran: list[int] = []
        for version in sorted(MIGRATIONS):
            if current is not None and version <= current:
                continue
            for statement in MIGRATIONS[version]:
                if callable(statement):
                    session.run(AWAIT_INDEXES, seconds=await_seconds).consume()  # a data step reads by index
                    statement(driver, database)
                else:
                    session.run(statement).consume()
            ran.append(version)
        session.run(AWAIT_INDEXES, seconds=await_seconds).consume()
        if ran:
            session.execute_write(
                lambda tx: tx.run(
                    SET_VERSION, version=ran[-1], applied_at=datetime.now(timezone.utc)
                ).consume()
            )
    return ran


def status(driver: Driver, *, database: str) -> SchemaStatus:
    """Schema version, indexes, and node and relationship counts from the count store."""
    with driver.session(database=database) as session:
        version, applied_at = session.execute_read(_current_version)
    counts, _, _ = driver.execute_query(GRAPH_COUNTS, database_=database, routing_=RoutingControl.READ)
    data = counts[0]["data"]
    # A label or type whose last member was deleted (a destroyed record's) stays a token with a count of 0: not content.
    nodes = {n["label"]: n["count"] for n in data["nodes"] if n.get("label") and n["count"]}
    rels = {
        r["relationshipType"]: r["count"]
        for r in data["relationships"]
        if r.get("relationshipType") and "startLabel" not in r and "endLabel" not in r and r["count"]
    }
    return SchemaStatus(
        version=version,
        latest=SCHEMA_VERSION,
        applied_at=applied_at,
        nodes=dict(sorted(nodes.items())),
        relationships=dict(sorted(rels.items())),
        indexes=indexes(driver, database=database),
    )


def indexes(driver: Driver, *, database: str) -> list[tuple[str, str, float]]:
    """Every index (constraints' own included) as (name, state, population percent)."""
    records, _, _ = driver.execute_query(LIST_INDEXES, database_=database, routing_=RoutingControl.READ)
    return [(r["name"], r["state"], r["populationPercent"]) for r in records]


# Relationships first: detaching a dense node (an authority holding 100,000 children) in one
# transaction would exceed the transaction memory limit.
WIPE_RELATIONSHIPS = "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS"
WIPE_NODES = "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 50000 ROWS"


def wipe(driver: Driver, *, database: str) -> None:
    """Delete every node and relationship (keeps the schema). For tests, benchmarks and resets."""
    with driver.session(database=database) as session:
        session.run(WIPE_RELATIONSHIPS).consume()
        session.run(WIPE_NODES).consume()
