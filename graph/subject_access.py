"""Subject access (UK GDPR article 15): everything held about one child, for the holding authority's team.

Live or archived, the record is exported whole: identity and every name (its own, former and known names, and
the ids of records merged into it), the source records that know the child, every address, carer, registration,
service (marked where a practitioner recorded it themselves), plan, emergency visit, alert and correction, and who
looked at the record (role, organisation, date, stated purpose) from the audit trail, the emergency-care flag
views among them. Third parties' personal data is handled by the
rules in THIRD_PARTY_RULES (written out in docs/privacy.md), inside the Cypher as every other policy:

- other children are never named (no siblings; a review entry naming another child is left out);
- carers are named with their relationship; their own phone numbers and email addresses are left out;
- staff are named with their job title and agency (they act in a professional capacity); their direct lines are
  left out, the agency's contact given; the audit trail gives the role and organisation of each look, not who;
- anything that would lead to a shielded child hidden from this team (rule 3's hidden kin: a carer, an address,
  an agency shared with them) is withheld and marked so, as on the card;
- free text written by staff (alert notes, correction reasons) and sensitive services are included and marked
  for the data protection officer to review before release (the serious-harm test, DPA 2018 Schedule 3);
- a shielding decision is shown with its date, its reason withheld (it can name a risk from a third party).
"""

from __future__ import annotations

from typing import Any

from neo4j import Session

from graph.children import native
from graph.corrections import RECORD
from graph.policy import holding_authority, holds_record, kin, kin_addresses, kin_agencies, kin_carers, kin_practitioners

THIRD_PARTY_RULES = (
    "Other children are never named.",
    "Carers are named with their relationship; their own phone numbers and email addresses are left out.",
    "Staff are named with their job title and agency (a professional capacity); their direct lines are left out, "
    "the agency's contact is given. Each look at the record gives the role and organisation, not the person.",
    "Anything that would lead to another protected (shielded) child is withheld and marked as withheld.",
    "Free text written by staff and sensitive services are marked for review before release (serious harm test, "
    "Data Protection Act 2018, Schedule 3).",
    "The reason for a shielding decision is withheld: it can name a risk from a third party.",
)

SCOPE = RECORD + f"RETURN {holds_record('c')} AS allowed, c:ArchivedChild AS archived"

# Runs as the holding authority's management team: hidden kin are the household's shielded members held by
# another authority (policy.kin with this viewer).
EXPORT = RECORD + f"""
WITH c, {holding_authority('c')} AS holding, {kin('c')} AS kin
WITH c, holding, {kin_carers('kin')} AS kc, {kin_practitioners('kin')} AS kp, {kin_agencies('kin')} AS ka,
     {kin_addresses('kin')} AS kaddr
RETURN {{
  identity: c {{.id, .given_name, .family_name, former_names: coalesce(c.former_names, []),
               known_names: coalesce(c.known_names, []), .dob, .gender, .nhs_number, .upn, .la_child_id,
               status: coalesce(c.status, 'active'), .status_since, .died_on, corrected: coalesce(c.corrected, []),
               lead_chosen_at: c.lead_chosen_at,
               merged_ids: COLLECT {{ MATCH (m:MergedChild)-[:MERGED_INTO]->(c) RETURN m.id ORDER BY m.id }}}},
  holding_authority: holding {{.code, .name, .team_phone, .team_email}},
  archive: CASE WHEN c:ArchivedChild THEN c {{.archived_on, .archive_reason, .destroy_on}} END,
  shielding: {{shielded: coalesce(c.shielded, false), decided_on: c.shield_decided_on,
              reason: CASE WHEN c.shielded THEN 'withheld (it can name a risk from a third party)' END}},
  sources: COLLECT {{
    MATCH (s:SourceRecord)-[i:IDENTIFIES]->(c) OPTIONAL MATCH (s)-[:FROM]->(src:Source)
    RETURN {{source: src.name, kind: src.kind, local_id: s.local_id, given_name: s.given_name,
            family_name: s.family_name, other_names: s.other_names, dob: s.dob, sex: s.sex, postcode: s.postcode,
            nhs_number: s.nhs_number, upn: s.upn, received: s.received, linked_by: i.method, linked_since: i.since}}
      AS x ORDER BY x.source, x.local_id
  }},
  addresses: COLLECT {{
    MATCH (c)-[l:LIVED_AT]->(a:Address) OPTIONAL MATCH (a)-[:IN]->(la:LocalAuthority)
    RETURN CASE WHEN a.id IN kaddr THEN {{since: l.since, until: l.until, withheld: true}}
           ELSE {{since: l.since, until: l.until, withheld: false, line1: a.line1, line2: a.line2, town: a.town,
                 postcode: a.postcode, authority: la.name}} END AS x ORDER BY x.since
  }},
  carers: COLLECT {{
    MATCH (k:Carer)-[r:CARES_FOR]->(c)
    RETURN CASE WHEN k.id IN kc THEN {{since: r.since, until: r.until, withheld: true}}
           ELSE {{name: k.name, relationship: r.relationship, parental_responsibility: r.parental_responsibility,
                 since: r.since, until: r.until, withheld: false}} END AS x ORDER BY x.since, x.name
  }},
  registrations: COLLECT {{
    MATCH (c)-[e:ENROLLED_AT|REGISTERED_WITH]->(g:Agency)
    RETURN CASE WHEN g.id IN ka THEN {{kind: toLower(type(e)), since: e.since, until: e.until, withheld: true}}
           ELSE {{kind: toLower(type(e)), agency: g.name, agency_kind: g.kind, phone: g.phone, email: g.email,
                 since: e.since, until: e.until, withheld: false}} END AS x ORDER BY x.since
  }},
  services: COLLECT {{
    MATCH (c)<-[i:INVOLVED_WITH]-(p:Practitioner)-[:WORKS_FOR]->(g:Agency)
    RETURN CASE WHEN p.id IN kp OR g.id IN ka THEN {{service: i.service, since: i.since, until: i.until, withheld: true}}
           ELSE {{service: i.service, since: i.since, until: i.until, lead: coalesce(i.lead, false),
                 sensitive: coalesce(i.sensitive, false), consent: coalesce(i.consent, false),
                 recorded: CASE WHEN i.source = 'self' THEN 'by the practitioner' ELSE 'by a feed' END,
                 recorded_at: i.recorded_at, lead_set_at: i.lead_set_at, practitioner: p.name, job_title: p.job_title, agency: g.name, agency_kind: g.kind,
                 agency_phone: g.phone, agency_email: g.email, withheld: false}} END AS x ORDER BY x.since
  }},
  plans: COLLECT {{
    MATCH (c)-[h:HAS_PLAN]->(r:LocalAuthority)
    RETURN {{kind: h.kind, since: h.since, until: h.until, responsible: r.name}} AS x ORDER BY x.since
  }},
  attendances: COLLECT {{
    MATCH (c)-[v:ATTENDED]->(g:Agency)
    RETURN CASE WHEN g.id IN ka THEN {{at: v.at, withheld: true}}
           ELSE {{at: v.at, reason: v.reason, agency: g.name, withheld: false}} END AS x ORDER BY x.at
  }},
  alerts: COLLECT {{
    MATCH (a:Alert {{child_id: c.id}}) OPTIONAL MATCH (to:LocalAuthority {{code: a.la_code}})
    RETURN {{kind: a.kind, state: a.state, raised_at: a.raised_at, to: to.name, acknowledged_at: a.acknowledged_at,
            acknowledged_note: a.note, closed_at: a.closed_at, closed_note: a.close_note}} AS x ORDER BY x.raised_at
  }},
  corrections: COLLECT {{
    MATCH (c)-[:CORRECTED]->(k:Correction)
    RETURN k {{.field, .value, .from_value, .source_value, .reason, .by_role, .at, .state, .conflict_value}} AS x
    ORDER BY x.at
  }}
}} AS export
"""
# Every look at the record: the audit trail's events naming the child, oldest first. The trail has no index on
# the children of an event, so this reads it whole: a request a month may take that (docs/privacy.md).
ACCESSES = """
MATCH (e:AuditEvent) WHERE e.seq > 0 AND any(id IN $ids WHERE id IN e.children)
OPTIONAL MATCH (la:LocalAuthority {code: e.la_code})
OPTIONAL MATCH (g:Agency {id: e.agency_id})
RETURN {at: e.at, role: e.role, authority: la.name, agency: g.name, action: e.action, purpose: e.purpose,
        outcome: e.outcome, override: e.flagged, flag_view: e.action = 'flag'} AS access
ORDER BY e.seq
"""


def scope(session: Session, *, viewer_params: dict[str, Any], child_id: str) -> dict[str, bool] | None:
    """Whether the record exists, and whether this viewer (the holding authority's team) may export it."""
    record = session.run(SCOPE, viewer=viewer_params, child_id=child_id).single()
    return None if record is None else {"allowed": record["allowed"], "archived": record["archived"]}


def export(session: Session, *, viewer_params: dict[str, Any], child_id: str) -> dict[str, Any] | None:
    """Everything held about the child, with the third-party rules applied; None if there is no such record."""
    record = session.run(EXPORT, viewer=viewer_params, override=[], child_id=child_id).single()
    if record is None:
        return None
    data = native(record["export"])
    ids = [child_id, *data["identity"]["merged_ids"]]  # looks at a record merged into it were looks at the child
    data["accesses"] = [native(r["access"]) for r in session.run(ACCESSES, ids=ids)]
    data["flag_views"] = [a for a in data["accesses"] if a["flag_view"]]
    data["third_party_rules"] = list(THIRD_PARTY_RULES)
    return data
