"""Involvements practitioners record themselves ("I am working with this child") and the lead professional a
safeguarding lead chooses: each change locked on the child and written with its audit event by the caller.

A signed-in user works with children as their own Practitioner node, `U-<user id>`, named as the user and
working for the user's agency (created on first use, moved with the user's agency). What they record is marked
`source: 'self'`, `recorded_by` (the user id) and `recorded_at`; a feed never changes it (graph/ingest.py,
docs/feeds.md). A lead professional chosen here carries `lead_set_by` and `lead_set_at`, and the child
`lead_chosen_by` and `lead_chosen_at`: from then on feeds no longer set that child's lead.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from neo4j import ManagedTransaction

from graph import children, policy
from graph.children import native
from graph.instants import NOW
from graph.policy import kin, kin_agencies, kin_practitioners
from graph.viewer import Viewer

SENSITIVE_KINDS = ["camhs", "sexual_health", "substance_misuse"]  # rule 5: shown only with consent, or to leads
PRACTITIONER_PREFIX = "U-"

Refusal = Literal["no_agency", "already_recorded", "none_current", "not_current", "before_since"]
Outcome = policy.Outcome | Refusal

# Writing _lock takes the child's write lock, so two changes to one child's involvements (two leads chosen at
# once, the same involvement added twice) run one after the other, each seeing what the other committed.
LOCK_CHILD = "MATCH (c:Child {id: $child_id}) SET c._lock = true REMOVE c._lock"

MY_PRACTITIONER = f"""
MATCH (u:User {{id: $viewer.user_id}})
MATCH (a:Agency {{id: $viewer.agency_id}})
MERGE (p:Practitioner {{id: '{PRACTITIONER_PREFIX}' + u.id}})
  ON CREATE SET p.user_id = u.id
SET p.name = u.name, p.job_title = coalesce($job_title, p.job_title), p.phone = coalesce($phone, p.phone),
    p.email = coalesce($email, p.email)
WITH p, a
CALL (p, a) {{
  MATCH (p)-[old:WORKS_FOR]->(other:Agency) WHERE other <> a
  DELETE old
}}
MERGE (p)-[:WORKS_FOR]->(a)
RETURN p.id AS id, a.kind AS kind
"""
# The practitioner's involvements with the child in this service that block a new one: a current one, or one
# starting the same day (an involvement is keyed by practitioner, child, service and start).
BLOCKING = """
MATCH (:Practitioner {id: $practitioner_id})-[i:INVOLVED_WITH {service: $service}]->(:Child {id: $child_id})
WHERE i.until IS NULL OR i.since = $since
RETURN i.since AS since, i.until AS until ORDER BY i.since DESC LIMIT 1
"""
ADD = f"""
MATCH (p:Practitioner {{id: $practitioner_id}}), (c:Child {{id: $child_id}})
CREATE (p)-[i:INVOLVED_WITH {{service: $service, since: $since, lead: false, sensitive: $sensitive,
                              consent: $consent, source: 'self', recorded_by: $viewer.user_id,
                              recorded_at: {NOW}}}]->(c)
RETURN i {{.service, .since, .until, .lead, .sensitive, .consent, .source, .recorded_by, practitioner_id: p.id}}
       AS involvement
"""
END = f"""
MATCH (:Practitioner {{id: $practitioner_id}})-[i:INVOLVED_WITH {{service: $service}}]->(:Child {{id: $child_id}})
WHERE i.until IS NULL AND i.source = 'self'
WITH i ORDER BY i.since DESC LIMIT 1
WITH i, i.since <= $until AS in_order
SET i.until = CASE WHEN in_order THEN $until ELSE i.until END,
    i.ended_by = CASE WHEN in_order THEN $viewer.user_id ELSE i.ended_by END,
    i.ended_at = CASE WHEN in_order THEN {NOW} ELSE i.ended_at END
RETURN in_order, i {{.service, .since, .until, .lead, .source}} AS involvement
"""
# A lead chooses among the current involvements they can see on the card: not one linked to a hidden household
# member (rule 3). Every other current lead of the child is unset, so there is one lead at a time.
CANDIDATE = f"""
MATCH (c:Child {{id: $child_id}})
WITH c, {kin('c')} AS kin
WITH c, {kin_practitioners('kin')} AS kp, {kin_agencies('kin')} AS ka
MATCH (c)<-[i:INVOLVED_WITH {{service: $service}}]-(p:Practitioner {{id: $practitioner_id}})-[:WORKS_FOR]->(a:Agency)
WHERE i.until IS NULL AND NOT p.id IN kp AND NOT a.id IN ka
RETURN count(i) > 0 AS found
"""
SET_LEAD = f"""
MATCH (c:Child {{id: $child_id}})<-[chosen:INVOLVED_WITH {{service: $service}}]-(:Practitioner {{id: $practitioner_id}})
WHERE chosen.until IS NULL
WITH c, chosen ORDER BY chosen.since DESC LIMIT 1
CALL (c, chosen) {{
  MATCH (c)<-[o:INVOLVED_WITH]-(op:Practitioner)
  WHERE o.lead = true AND o.until IS NULL AND o <> chosen
  SET o.lead = false, o.lead_unset_by = $viewer.user_id, o.lead_unset_at = {NOW}
  RETURN collect({{practitioner_id: op.id, service: o.service, since: o.since}}) AS previous
}}
SET chosen.lead = true, chosen.lead_set_by = $viewer.user_id, chosen.lead_set_at = {NOW},
    c.lead_chosen_by = $viewer.user_id, c.lead_chosen_at = {NOW}
RETURN previous
"""


def _scope(tx: ManagedTransaction, viewer: Viewer, child_id: str) -> dict[str, bool] | None:
    tx.run(LOCK_CHILD, child_id=child_id).consume()
    return children.scope(tx, viewer=viewer, child_id=child_id)


def add(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, service: str, since: date,
        sensitive: bool = False, consent: bool = False, job_title: str | None = None, phone: str | None = None,
        email: str | None = None) -> tuple[Outcome, dict[str, Any]]:
    """Record that the viewer works with the child in a service since a day; (outcome, what was recorded).

    Sensitive when the viewer says so, or the service or the viewer's agency is of a sensitive kind (rule 5).
    Refused: "not_found", "denied" (the child is hidden from the viewer), "no_agency" (the user names none),
    "already_recorded" (current in that service, or starting that day; the detail says which).
    """
    outcome = policy.involvement_outcome(_scope(tx, viewer, child_id))
    if outcome != "ok":
        return outcome, {}
    if viewer.agency_id is None:
        return "no_agency", {}
    me = tx.run(MY_PRACTITIONER, viewer=viewer.params(), job_title=job_title, phone=phone, email=email).single()
    if me is None:
        return "no_agency", {}
    blocking = tx.run(BLOCKING, practitioner_id=me["id"], child_id=child_id, service=service, since=since).single()
    if blocking is not None:
        return "already_recorded", native(blocking.data())
    sensitive = sensitive or service in SENSITIVE_KINDS or me["kind"] in SENSITIVE_KINDS
    record = tx.run(ADD, viewer=viewer.params(), practitioner_id=me["id"], child_id=child_id, service=service,
                    since=since, sensitive=sensitive, consent=consent).single(strict=True)
    return "ok", native(record["involvement"])


def end(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, service: str,
        until: date) -> tuple[Outcome, dict[str, Any]]:
    """End the viewer's own current self-recorded involvement in a service on a day; (outcome, the involvement).

    Refused: "not_found", "denied" (hidden child), "none_current" (no such involvement), "before_since".
    """
    outcome = policy.involvement_outcome(_scope(tx, viewer, child_id))
    if outcome != "ok":
        return outcome, {}
    record = tx.run(END, viewer=viewer.params(), practitioner_id=PRACTITIONER_PREFIX + viewer.user_id,
                    child_id=child_id, service=service, until=until).single()
    if record is None:
        return "none_current", {}
    return ("ok" if record["in_order"] else "before_since"), native(record["involvement"])


def choose_lead(tx: ManagedTransaction, *, viewer: Viewer, child_id: str, practitioner_id: str,
                service: str) -> tuple[Outcome, list[dict[str, Any]]]:
    """Make a current involvement the child's lead professional, unsetting any other; (outcome, previous leads).

    Refused: "not_found", "denied" (hidden child, or none of the viewer's authority's), "not_current" (no
    current involvement of that practitioner in that service that the viewer may see).
    """
    outcome = policy.lead_outcome(_scope(tx, viewer, child_id))
    if outcome != "ok":
        return outcome, []
    params = {"viewer": viewer.params(), "override": [], "child_id": child_id, "practitioner_id": practitioner_id,
              "service": service}
    if not tx.run(CANDIDATE, params).single(strict=True)["found"]:
        return "not_current", []
    return "ok", native(tx.run(SET_LEAD, params).single(strict=True)["previous"])
