"""The review queue of an authority's data team: pairs the matcher could not decide, compared and decided.

An entry (MatchReview) is in authority X's queue when X holds either child now, owns either record's source,
or was named when the matcher proposed the pair (`la_codes`). Its children are the ones its two records
identify now (a merge or split since is followed), and shielding applies as on the card, in the Cypher:
an entry either of whose children is hidden from the viewer is not in the viewer's queue and its id answers
as if there were no such entry; a postcode the card would withhold (a hidden child's home, or anything of a
child whose household has a hidden member) is withheld from the records, the children and the evidence.

Accepting merges the two children (graph.identity.changes, with its guards); rejecting records that the two
records are not the same child (NOT_SAME), which the matcher never joins nor proposes again.
"""

from __future__ import annotations

import json
from typing import Any

from neo4j import ManagedTransaction

from graph import audit
from graph.children import native
from graph.identity import changes
from graph.identity.rows import DIRECTORY
from graph.instants import NOW
from graph.policy import (
    hidden, holding_authority, kin, kin_addresses, kin_sources, known_names, known_to, protected_address,
    protected_postcode, team,
)
from graph.viewer import Viewer

# The entry's two records, the children they identify now and their sources, if the viewer may see it.
_PAIR = f"""
MATCH (xa:SourceRecord {{key: m.record_key}})-[:IDENTIFIES]->(ca:Child)
MATCH (xb:SourceRecord {{key: m.candidate_key}})-[:IDENTIFIES]->(cb:Child)
MATCH (xa)-[:FROM]->(sxa:Source)
MATCH (xb)-[:FROM]->(sxb:Source)
WITH m, xa, xb, ca, cb, sxa, sxb
WHERE ($viewer.la_code IN coalesce(m.la_codes, [])
       OR $viewer.la_code IN [sxa.la_code, sxb.la_code, {holding_authority('ca')}.code, {holding_authority('cb')}.code])
  AND NOT {hidden('ca')} AND NOT {hidden('cb')}
"""
QUEUE = f"""
MATCH (m:MatchReview {{state: 'open'}})
{_PAIR} AND ca <> cb
WITH m, xa, xb, ca, cb, sxa, sxb ORDER BY m.weight DESC, m.created_at, m.id
WITH collect({{id: m.id, weight: m.weight, probability: m.probability, reason: m.reason, created_at: m.created_at,
              record: {{key: xa.key, source: sxa.name, kind: sxa.kind}},
              candidate: {{key: xb.key, source: sxb.name, kind: sxb.kind}},
              child: ca {{.id, .given_name, .family_name, .dob}},
              candidate_child: cb {{.id, .given_name, .family_name, .dob}}}}) AS every
RETURN size(every) AS total, every[$skip..$skip + $limit] AS items
"""


def _record(x: str, source: str) -> str:
    return (f"{x} {{.key, .local_id, .given_name, .family_name, other_names: coalesce({x}.other_names, []), .dob, "
            f".sex, postcode: CASE WHEN {x}.postcode IN withheld THEN null ELSE {x}.postcode END, "
            f"postcode_withheld: {x}.postcode IN withheld, .nhs_number, .nhs_number_valid, .upn, .upn_valid, "
            f".council_person_id, .received, source: {source} {{.id, .name, .kind, .la_code}}}}")


def _child(c: str, holding: str, addr: str, gone: str, ksrc: str) -> str:
    return (f"{c} {{.id, .given_name, .family_name, known_names: {known_names(c)}, .dob, .gender, .nhs_number, "
            f".upn, shielded: coalesce({c}.shielded, false), holding_team: {team(holding)}, "
            f"address: CASE WHEN {addr} IS NULL THEN null WHEN {gone} THEN {{withheld: true}} "
            f"ELSE {addr} {{.town, .postcode}} END, known_to: {known_to(c, ksrc)}}}")


# One entry, field by field. What the card withholds is withheld here, in the records and in the evidence.
ENTRY = f"""
MATCH (m:MatchReview {{id: $review_id}})
{_PAIR}
WITH m, xa, xb, ca, cb, sxa, sxb, {kin('ca')} AS ka, {kin('cb')} AS kb,
     {holding_authority('ca')} AS hold_a, {holding_authority('cb')} AS hold_b
WITH m, xa, xb, ca, cb, sxa, sxb, ka, kb, hold_a, hold_b,
     COLLECT {{ MATCH (ca)-[cla:LIVED_AT WHERE cla.until IS NULL]->(ada:Address) RETURN ada
               ORDER BY cla.since DESC LIMIT 1 }}[0] AS addr_a,
     COLLECT {{ MATCH (cb)-[clb:LIVED_AT WHERE clb.until IS NULL]->(adb:Address) RETURN adb
               ORDER BY clb.since DESC LIMIT 1 }}[0] AS addr_b
WITH m, xa, xb, ca, cb, sxa, sxb, ka, kb, hold_a, hold_b, addr_a, addr_b,
     addr_a IS NOT NULL AND (addr_a.id IN {kin_addresses('ka')} OR {protected_address('addr_a')}) AS gone_a,
     addr_b IS NOT NULL AND (addr_b.id IN {kin_addresses('kb')} OR {protected_address('addr_b')}) AS gone_b
WITH m, xa, xb, ca, cb, sxa, sxb, ka, kb, hold_a, hold_b, addr_a, addr_b, gone_a, gone_b,
     [p IN [CASE WHEN size(ka) > 0 OR {protected_postcode('xa.postcode')} THEN xa.postcode END,
            CASE WHEN size(kb) > 0 OR {protected_postcode('xb.postcode')} THEN xb.postcode END,
            CASE WHEN gone_a THEN addr_a.postcode END, CASE WHEN gone_b THEN addr_b.postcode END]
      WHERE p IS NOT NULL AND p <> ''] AS withheld
RETURN {{id: m.id, state: m.state, weight: m.weight, probability: m.probability, reason: m.reason, model: m.model,
        created_at: m.created_at, decided_by: m.decided_by, decided_at: m.decided_at, note: m.note,
        one_child: ca = cb,
        records: [{_record('xa', 'sxa')}, {_record('xb', 'sxb')}],
        children: [{_child('ca', 'hold_a', 'addr_a', 'gone_a', kin_sources('ka'))},
                   {_child('cb', 'hold_b', 'addr_b', 'gone_b', kin_sources('kb'))}],
        evidence_json: reduce(e = coalesce(m.evidence_json, '{{}}'), p IN withheld |
                              replace(e, '"' + p + '"', '"withheld"'))}} AS entry
"""
# The entry under its write lock (a decision waits for another on the same pair), if the viewer may see it.
DECIDING = f"""
MATCH (m:MatchReview {{id: $review_id}})
SET m._lock = true
REMOVE m._lock
WITH m
{_PAIR}
RETURN m.state AS state, xa.key AS record_key, xb.key AS candidate_key, ca.id AS child, cb.id AS candidate_child,
       EXISTS {{ (ca)<-[:IDENTIFIES]-(:SourceRecord {{key: '{DIRECTORY}|' + ca.id}}) }} AS child_is_directorys
"""
ACCEPTED = f"""
MATCH (m:MatchReview {{id: $review_id}})
SET m.state = 'accepted', m.decided_by = $viewer.user_id, m.decided_at = {NOW}, m.note = $reason,
    m.survivor = $survivor, m.merged = $merged
"""
REJECT = f"""
MATCH (m:MatchReview {{id: $review_id}})
MATCH (xa:SourceRecord {{key: m.record_key}}), (xb:SourceRecord {{key: m.candidate_key}})
MERGE (xa)-[n:NOT_SAME]->(xb)
  ON CREATE SET n.by = $viewer.user_id, n.at = {NOW}, n.review_id = m.id
SET m.state = 'rejected', m.decided_by = $viewer.user_id, m.decided_at = {NOW}, m.note = $reason
"""


def queue(tx: ManagedTransaction, *, viewer: Viewer, limit: int = 50, skip: int = 0) -> dict[str, Any]:
    """The open entries of the viewer's authority that the viewer may see, strongest first, one page."""
    record = tx.run(QUEUE, viewer=viewer.params(), override=[], limit=limit, skip=skip).single(strict=True)
    return {"total": record["total"], "items": native(record["items"])}


def entry(tx: ManagedTransaction, *, viewer: Viewer, review_id: str) -> dict[str, Any] | None:
    """One entry field by field, with the match-weight waterfall; None if the viewer may not see it."""
    record = tx.run(ENTRY, viewer=viewer.params(), override=[], review_id=review_id).single()
    if record is None:
        return None
    raw = native(record["entry"])
    evidence = json.loads(raw.pop("evidence_json") or "{}")
    raw["waterfall"] = waterfall(evidence)
    return raw


def waterfall(evidence: dict[str, Any]) -> dict[str, Any]:
    """The pair's match weight as bars: the prior, then each comparison's weight, adding up to the total."""
    prior = float(evidence.get("prior") or 0.0)
    bars = [{"comparison": c.get("comparison"), "level": c.get("level"), "weight": float(c.get("weight") or 0.0),
             "record": c.get("value_l"), "candidate": c.get("value_r")} for c in evidence.get("comparisons") or []]
    return {"prior": prior, "bars": bars, "total": prior + sum(b["weight"] for b in bars)}


def accept(tx: ManagedTransaction, *, viewer: Viewer, review_id: str, reason: str, purpose: str, request_id: str,
           client_request_id: str | None = None) -> changes.Change:
    """Accept a pair: merge its two children (the directory's own child, else the candidate's, survives)."""
    found = tx.run(DECIDING, viewer=viewer.params(), override=[], review_id=review_id).single()
    refused = _undecidable(found)
    if refused is not None:
        return _audit_refusal(tx, refused, found, viewer=viewer, action="merge", review_id=review_id, reason=reason,
                              purpose=purpose, request_id=request_id, client_request_id=client_request_id)
    assert found is not None
    survivor, merged, joined = found["candidate_child"], found["child"], found["record_key"]
    if found["child_is_directorys"]:
        survivor, merged, joined = found["child"], found["candidate_child"], found["candidate_key"]
    change = changes.merge_children(tx, viewer=viewer, survivor=survivor, merged=merged, reason=reason,
                                    purpose=purpose, request_id=request_id, client_request_id=client_request_id,
                                    review_id=review_id, record_key=joined)
    if change.outcome == "ok":
        tx.run(ACCEPTED, review_id=review_id, viewer=viewer.params(), reason=reason, survivor=survivor,
               merged=merged).consume()
    return change


def reject(tx: ManagedTransaction, *, viewer: Viewer, review_id: str, reason: str, purpose: str, request_id: str,
           client_request_id: str | None = None) -> changes.Change:
    """Reject a pair: its records are not the same child, and are never joined nor proposed again."""
    found = tx.run(DECIDING, viewer=viewer.params(), override=[], review_id=review_id).single()
    refused = _undecidable(found)
    if refused is not None:
        return _audit_refusal(tx, refused, found, viewer=viewer, action="review_reject", review_id=review_id,
                              reason=reason, purpose=purpose, request_id=request_id,
                              client_request_id=client_request_id)
    assert found is not None
    tx.run(REJECT, review_id=review_id, viewer=viewer.params(), reason=reason).consume()
    ids = [found["child"], found["candidate_child"]]
    audit.append(tx, viewer=viewer, action="review_reject", children=ids, purpose=purpose, request_id=request_id,
                 client_request_id=client_request_id,
                 detail={"review_id": review_id, "reason": reason,
                         "records": [found["record_key"], found["candidate_key"]]})
    return changes.Change("ok", "The two records are kept apart and will not be proposed again.", ids)


def _undecidable(found: Any) -> changes.Change | None:
    if found is None:
        return changes.Change("not_found", "No review entry with that id for your authority.")
    if found["state"] != "open":
        return changes.Change("refused", f"This pair was already {found['state']}.",
                              [found["child"], found["candidate_child"]])
    if found["child"] == found["candidate_child"]:
        return changes.Change("refused", "These records already identify one child.", [found["child"]])
    return None


def _audit_refusal(tx: ManagedTransaction, change: changes.Change, found: Any, *, viewer: Viewer, action: str,
                   review_id: str, reason: str, purpose: str, request_id: str,
                   client_request_id: str | None) -> changes.Change:
    outcome = "not_found" if change.outcome == "not_found" else "denied"
    audit.append(tx, viewer=viewer, action=action, children=change.children, purpose=purpose,
                 request_id=request_id, client_request_id=client_request_id, outcome=outcome,
                 detail={"review_id": review_id, "reason": reason, "refused": change.message})
    return change
