"""The statements the matching run reads and writes with: records, candidates, links, reviews, runs.

Every read that the run makes grows with the batch of pending records, not with the directory: pending
records come through the match_state index, candidates through one index per blocking key, and only the
records of the children those candidates identify are read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from neo4j import ManagedTransaction

from graph.identity.rows import DIRECTORY
from graph.instants import NOW
from graph.policy import holding_authority
from matching.records import BLOCKING_KEYS

# Which source's values a child shows when its records disagree: the directory's own (a children.csv row)
# first, then NHS demographics, a council's case system, the school census, a GP system, then any other;
# within a kind the record changed most recently. Read per field: a blank never hides another's value.
PRECEDENCE = {DIRECTORY: 0, "nhs_demographics": 1, "council_case_system": 2, "school_census": 3, "gp_system": 4}
OTHER_SOURCES = 5

# A record as the matcher reads it (matching.records.COLUMNS), with the child it identifies now.
_RECORD = """
RETURN x.key AS record_key, x.source_id AS source_id, s.kind AS source_kind, x.local_id AS local_id,
       x.given_name AS given_name, x.family_name AS family_name, x.other_names AS other_names,
       toString(x.dob) AS dob, x.sex AS sex, x.postcode AS postcode, x.nhs_number AS nhs_number,
       x.upn AS upn, x.council_person_id AS council_person_id, c.id AS child_id
"""
PENDING = f"""
MATCH (x:SourceRecord {{match_state: 'pending'}})
WITH x LIMIT $limit
MATCH (x)-[:FROM]->(s:Source)
OPTIONAL MATCH (x)-[:IDENTIFIES]->(c:Child)
{_RECORD}, {", ".join(f"x.{k} AS {k}" for k in BLOCKING_KEYS)}
"""
PENDING_COUNT = "MATCH (x:SourceRecord {match_state: 'pending'}) RETURN count(x) AS n"
RECORDS_OF_CHILDREN = f"""
UNWIND $ids AS id
MATCH (c:Child {{id: id}})<-[:IDENTIFIES]-(x:SourceRecord)-[:FROM]->(s:Source)
{_RECORD}
"""
ALL_RECORDS = f"""
MATCH (x:SourceRecord)-[:FROM]->(s:Source)
OPTIONAL MATCH (x)-[:IDENTIFIES]->(c:Child)
{_RECORD}
"""


def _candidates(key: str) -> str:
    return f"""
UNWIND $values AS v
MATCH (x:SourceRecord {{{key}: v}})-[:IDENTIFIES]->(c:Child)
WHERE x.match_state <> 'pending'
RETURN DISTINCT c.id AS child_id
"""


# One statement per blocking key (the property names come from matching.records.BLOCKING_KEYS, never input).
CANDIDATES = {key: _candidates(key) for key in BLOCKING_KEYS}
NOT_SAME_PAIRS = """
UNWIND $keys AS k
MATCH (a:SourceRecord {key: k})-[:NOT_SAME]-(b:SourceRecord)
RETURN DISTINCT a.key AS a, b.key AS b
"""
CHILDREN_OF_RECORDS = """
UNWIND $keys AS k
MATCH (x:SourceRecord {key: k})
OPTIONAL MATCH (x)-[:IDENTIFIES]->(c:Child|ArchivedChild)
RETURN k AS key, c.id AS child_id
"""

# Directory ids for new children come from one sequence node, taken in blocks under its write lock.
ALLOCATE = """
MERGE (s:Sequence {name: 'child'})
  ON CREATE SET s.next = 1
SET s.next = s.next + $count
RETURN s.next - $count AS first
"""
ID_FORMAT = "CP{:09d}"

REFUSE = """
UNWIND $rows AS r
MATCH (x:SourceRecord {key: r.key})
SET x.match_state = 'refused', x.match_reason = r.reason
"""
# A record leaves the child it identified (its relationships written through it move too: graph.identity.merge).
UNLINK_FROM = """
UNWIND $rows AS r
MATCH (:SourceRecord {key: r.key})-[old:IDENTIFIES]->(:Child {id: r.from})
DELETE old
"""
WITHOUT_RECORDS = """
UNWIND $ids AS id
MATCH (c:Child {id: id}) WHERE NOT EXISTS { (c)<-[:IDENTIFIES]-(:SourceRecord) }
RETURN c.id AS id
"""
# Each record identifies exactly one child: new children are made first, in the transaction that links them.
NEW_CHILDREN = """
UNWIND $ids AS id
MERGE (c:Child {id: id})
  ON CREATE SET c.shielded = false, c.status = 'active'
"""
LINK = f"""
UNWIND $rows AS r
MATCH (x:SourceRecord {{key: r.key}})
MATCH (c:Child {{id: r.child_id}})
MERGE (x)-[i:IDENTIFIES]->(c)
  ON CREATE SET i.since = {NOW}
SET i.weight = r.weight, i.probability = r.probability, i.method = r.method, i.model = r.model,
    x.match_state = 'matched', x.match_run = r.run
REMOVE x.match_reason
"""
KEEP = """
UNWIND $keys AS k
MATCH (x:SourceRecord {key: k})
SET x.match_state = 'matched', x.match_run = $run
"""
# A child's chosen values (PRECEDENCE, per field; a field the management team corrected keeps the correction,
# graph/corrections.py), every name its records know it by, and a holding authority from its records' sources
# when it has none.
REFRESH_CHILDREN = f"""
UNWIND $ids AS id
MATCH (c:Child {{id: id}})
CALL (c) {{
  MATCH (c)<-[:IDENTIFIES]-(x:SourceRecord)-[:FROM]->(s:Source)
  WITH x, s ORDER BY coalesce($rank[s.kind], $others), x.changed DESC, x.key
  RETURN collect(x {{.given_name, .family_name, .other_names, .dob, .sex, .nhs_number, .nhs_number_valid, .upn,
                    .upn_valid, kind: s.kind, la_code: s.la_code}}) AS recs
}}
WITH c, recs WHERE size(recs) > 0
WITH c, recs, [n IN [x IN recs | trim(coalesce(x.given_name, '') + ' ' + coalesce(x.family_name, ''))]
                   + reduce(o = [], x IN recs | o + coalesce(x.other_names, [])) WHERE n <> ''] AS names
WITH c, recs, reduce(k = [], n IN names | CASE WHEN toLower(n) IN [m IN k | toLower(m)] THEN k ELSE k + n END) AS known,
     coalesce(c.corrected, []) AS fixed
SET c.given_name = CASE WHEN 'given_name' IN fixed THEN c.given_name
                        ELSE [x IN recs WHERE x.given_name IS NOT NULL | x.given_name][0] END,
    c.family_name = CASE WHEN 'family_name' IN fixed THEN c.family_name
                         ELSE [x IN recs WHERE x.family_name IS NOT NULL | x.family_name][0] END,
    c.dob = CASE WHEN 'dob' IN fixed THEN c.dob ELSE [x IN recs WHERE x.dob IS NOT NULL | x.dob][0] END,
    c.gender = CASE WHEN 'gender' IN fixed THEN c.gender
                    ELSE coalesce([x IN recs WHERE x.sex IS NOT NULL | x.sex][0], 'not_known') END,
    c.nhs_number = CASE WHEN 'nhs_number' IN fixed THEN c.nhs_number
                        ELSE [x IN recs WHERE x.nhs_number IS NOT NULL
                              AND (x.kind = '{DIRECTORY}' OR x.nhs_number_valid) | x.nhs_number][0] END,
    c.upn = CASE WHEN 'upn' IN fixed THEN c.upn
                 ELSE [x IN recs WHERE x.upn IS NOT NULL AND (x.kind = '{DIRECTORY}' OR x.upn_valid) | x.upn][0] END,
    c.known_names = known,
    c.known_names_text = substring(reduce(t = '', n IN known | t + ' ' + n), 1)
WITH c, [x IN recs WHERE x.la_code IS NOT NULL | x.la_code][0] AS la_code
WHERE la_code IS NOT NULL AND NOT EXISTS {{ (c)-[:HELD_BY]->() }}
MATCH (la:LocalAuthority {{code: la_code}})
MERGE (c)-[:HELD_BY]->(la)
"""
# A pair for a person: kept once per pair of records (its key), updated while open, never reopened once decided.
# It is in the queue of every authority holding either child or owning either record's source.
REVIEW = f"""
UNWIND $rows AS r
MATCH (a:SourceRecord {{key: r.record_key}})-[:IDENTIFIES]->(ca:Child)
MATCH (b:SourceRecord {{key: r.candidate_key}})-[:IDENTIFIES]->(cb:Child)
WHERE ca <> cb AND NOT EXISTS {{ (a)-[:NOT_SAME]-(b) }}
MATCH (a)-[:FROM]->(sa:Source)
MATCH (b)-[:FROM]->(sb:Source)
WITH r, a, b, ca, cb,
     [code IN [{holding_authority('ca')}.code, {holding_authority('cb')}.code, sa.la_code, sb.la_code]
      WHERE code IS NOT NULL] AS codes
MERGE (m:MatchReview {{key: r.key}})
  ON CREATE SET m.id = randomUUID(), m.state = 'open', m.created_at = {NOW}
WITH m, r, a, b, ca, cb, codes WHERE m.state = 'open'
SET m.record_key = a.key, m.candidate_key = b.key, m.child_id = ca.id, m.candidate_child_id = cb.id,
    m.weight = r.weight, m.probability = r.probability, m.reason = r.reason, m.evidence_json = r.evidence_json,
    m.model = r.model, m.updated_at = {NOW},
    m.la_codes = reduce(k = [], code IN codes | CASE WHEN code IN k THEN k ELSE k + code END)
RETURN count(m) AS written
"""
# How the loaded population came through matching, and the open review pairs naming each authority.
POPULATION = """
MATCH (x:SourceRecord)-[:IDENTIFIES]->(c:Child)
WITH c, count(x) AS n
RETURN count(c) AS children, coalesce(sum(n), 0) AS records, count(CASE WHEN n > 1 THEN c END) AS joined
"""
OPEN_REVIEWS = """
UNWIND $codes AS code
OPTIONAL MATCH (m:MatchReview {state: 'open'}) WHERE code IN coalesce(m.la_codes, [])
RETURN code, count(m) AS open
"""
ALL_OPEN_REVIEWS = "MATCH (m:MatchReview {state: 'open'}) RETURN count(m) AS open"
START_RUN = f"CREATE (:MatchRun {{id: $id, model: $model, started: {NOW}, state: 'running'}})"
FINISH_RUN = f"MATCH (m:MatchRun {{id: $id}}) SET m += $counts, m.state = $state, m.finished = {NOW}"


def _slices(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _frame(records: Iterable[Any]) -> pd.DataFrame:
    rows = [dict(r) for r in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["dob"] = frame["dob"].fillna("")
    frame["other_names"] = frame["other_names"].map(lambda v: list(v) if v else [])
    frame["child_id"] = frame["child_id"].fillna("")
    return frame


def pending(tx: ManagedTransaction, *, limit: int) -> pd.DataFrame:
    """Up to `limit` records waiting to be matched, with their blocking keys and their child now ("" if none)."""
    return _frame(tx.run(PENDING, limit=limit))


def pending_count(tx: ManagedTransaction) -> int:
    """How many records wait to be matched."""
    return tx.run(PENDING_COUNT).single(strict=True)["n"]


def candidate_children(tx: ManagedTransaction, *, keys: pd.DataFrame, slice_size: int = 20_000) -> set[str]:
    """The children identified by a matched record sharing a blocking key with any of these records."""
    found: set[str] = set()
    for key in BLOCKING_KEYS:
        values = sorted(set(keys[key].dropna()))
        for part in _slices(values, slice_size):
            found.update(r["child_id"] for r in tx.run(CANDIDATES[key], values=list(part)))
    return found


def records_of_children(tx: ManagedTransaction, *, ids: Sequence[str], slice_size: int = 20_000) -> pd.DataFrame:
    """Every record of these children, each with its child_id."""
    parts = [_frame(tx.run(RECORDS_OF_CHILDREN, ids=list(part))) for part in _slices(sorted(ids), slice_size)]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def all_records(tx: ManagedTransaction) -> pd.DataFrame:
    """Every source record with the child it identifies now ("" if none): the population to train or relink on."""
    return _frame(tx.run(ALL_RECORDS))


def not_same_pairs(tx: ManagedTransaction, *, keys: Sequence[str], slice_size: int = 50_000) -> pd.DataFrame:
    """Pairs a person decided are two children, touching any of these records."""
    rows = [(r["a"], r["b"]) for part in _slices(list(keys), slice_size) for r in tx.run(NOT_SAME_PAIRS, keys=list(part))]
    return pd.DataFrame(rows, columns=["record_key_l", "record_key_r"])


def children_of_records(tx: ManagedTransaction, *, keys: Sequence[str]) -> dict[str, str | None]:
    """The child each record identifies now, live or archived (None: the record is not matched yet; an archived
    child's rows are refused with the reason by graph/admission.py); unknown records are absent."""
    return {r["key"]: r["child_id"] for r in tx.run(CHILDREN_OF_RECORDS, keys=list(keys))}


def allocate_ids(tx: ManagedTransaction, *, count: int) -> list[str]:
    """`count` new directory ids (CP and nine digits), never handed out twice."""
    if count <= 0:
        return []
    first = tx.run(ALLOCATE, count=count).single(strict=True)["first"]
    return [ID_FORMAT.format(n) for n in range(first, first + count)]


def population(tx: ManagedTransaction, *, la_codes: Sequence[str]) -> dict[str, Any]:
    """Children, their records, children of two or more records, open review pairs (all, and per authority)."""
    counts = dict(tx.run(POPULATION).single(strict=True))
    counts["review"] = tx.run(ALL_OPEN_REVIEWS).single(strict=True)["open"]
    counts["review_by_la"] = {r["code"]: r["open"] for r in tx.run(OPEN_REVIEWS, codes=list(la_codes))}
    return counts


def refresh_children(tx: ManagedTransaction, *, ids: Sequence[str]) -> None:
    """Recompute each child's chosen values, known names and (if it has none) holding authority."""
    tx.run(REFRESH_CHILDREN, ids=list(ids), rank=PRECEDENCE, others=OTHER_SOURCES).consume()
ALL_NOT_SAME = "MATCH (a:SourceRecord)-[:NOT_SAME]->(b:SourceRecord) RETURN a.key AS record_key_l, b.key AS record_key_r"


def all_not_same(tx: ManagedTransaction) -> pd.DataFrame:
    """Every pair a person decided are two children."""
    rows = [(r["record_key_l"], r["record_key_r"]) for r in tx.run(ALL_NOT_SAME)]
    return pd.DataFrame(rows, columns=["record_key_l", "record_key_r"])
