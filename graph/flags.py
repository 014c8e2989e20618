"""The emergency flag, as the NHS's Child Protection Information Sharing service (CP-IS) gives it to unscheduled
care: whether a child is on a child protection plan or looked after (now, or within the last 12 months), which
authority is responsible, and that authority's team contact; nothing else. Viewing it tells the responsible
authority (a `flag_viewed` alert), as CP-IS does. The shapes and rules are in docs/access.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from neo4j import ManagedTransaction

from graph.alerts import PROTECTED_PLANS, RAISE_TAIL
from graph.children import native
from graph.instants import year_before
from graph.policy import flag_restricted, hidden, team
from graph.viewer import Viewer

FLAG_LIMIT = 10  # an NHS number names one child; names and a date of birth rarely more than two (twins)

# Rule 2: the NHS number is not among a hidden child's visible fields, so it never finds one (as a postcode
# never does); names and date of birth are, so they find it, shown as flag_restricted.
BY_NHS_NUMBER = f"""
MATCH (c:Child {{nhs_number: $nhs_number}})
WHERE NOT {hidden('c')}
"""
BY_NAMES = """
MATCH (c:Child) WHERE c.dob = $dob AND toLower(c.given_name) = $given_name
  AND (toLower(c.family_name) = $family_name
       OR $family_name IN [n IN coalesce(c.former_names, []) | toLower(n)])
"""
# A plan flags from its start until 12 months after it ends (CP-IS keeps the flag for a year after a plan).
_FLAGGING = "h.kind IN $flag_plans AND h.since <= $today AND (h.until IS NULL OR h.until >= $flag_from)"
_FLAG = f"""
WITH c ORDER BY c.id LIMIT $limit
OPTIONAL MATCH (c)-[:SHIELDED_BY]->(sla:LocalAuthority)
OPTIONAL MATCH (c)-[:HELD_BY]->(hla:LocalAuthority)
WITH c, coalesce(sla, hla) AS holding, {hidden('c')} AS is_hidden
WITH c, holding, is_hidden, CASE WHEN is_hidden THEN [] ELSE COLLECT {{
    MATCH (c)-[h:HAS_PLAN]->(r:LocalAuthority) WHERE {_FLAGGING}
    RETURN {{kind: h.kind, current: h.until IS NULL OR h.until >= $today,
            ended_on: CASE WHEN h.until < $today THEN h.until END, responsible: {team('r')}}} AS p
    ORDER BY p.current DESC, p.kind, p.responsible.code
  }} END AS protection
RETURN CASE WHEN is_hidden THEN {flag_restricted('c', 'holding')} ELSE c {{
  .id, .given_name, .family_name, .dob, shielded: false, flagged: size(protection) > 0, protection: protection
}} END AS flag
"""
FLAG_BY_NHS_NUMBER = BY_NHS_NUMBER + _FLAG
FLAG_BY_NAMES = BY_NAMES + _FLAG

# CP-IS tells the responsible authority whenever the flag is viewed: one alert per look (the request) and
# authority, for each child found whose plans flag it, shown or withheld (a shielded child's goes to its
# holding authority only, by the shared tail).
FLAG_VIEWED = f"""
UNWIND $child_ids AS child_id
MATCH (c:Child {{id: child_id}})
OPTIONAL MATCH (ag:Agency {{id: $viewer.agency_id}})
WITH c, ag, COLLECT {{ MATCH (c)-[h:HAS_PLAN]->(r:LocalAuthority) WHERE {_FLAGGING} RETURN DISTINCT r }} AS addressees,
     COLLECT {{ MATCH (c)-[h:HAS_PLAN]->(:LocalAuthority) WHERE {_FLAGGING} RETURN DISTINCT h.kind }} AS plans
WHERE size(addressees) > 0
WITH c, 'flag_viewed' AS kind, $request_id AS fact, addressees,
     {{user_id: $viewer.user_id, user_role: $viewer.role, user_la_code: $viewer.la_code, user_agency: ag.name,
      request_id: $request_id, plans: plans}} AS details
""" + RAISE_TAIL


def _window(today: date) -> dict[str, Any]:
    return {"today": today, "flag_from": year_before(today), "flag_plans": PROTECTED_PLANS}


def lookup(tx: ManagedTransaction, *, viewer: Viewer, today: date, nhs_number: str | None = None,
           given_name: str | None = None, family_name: str | None = None,
           dob: date | None = None) -> tuple[list[dict[str, Any]], bool]:
    """The flags of the children an NHS number, or given and family name with date of birth, names exactly;
    gives (flags, truncated).

    Raises:
        ValueError: neither an NHS number nor all of given name, family name and date of birth.
    """
    params: dict[str, Any] = {"viewer": viewer.params(), "override": [], "limit": FLAG_LIMIT + 1, **_window(today)}
    if nhs_number:
        statement, params["nhs_number"] = FLAG_BY_NHS_NUMBER, nhs_number
    elif given_name and family_name and dob:
        statement = FLAG_BY_NAMES
        params.update(given_name=given_name.strip().lower(), family_name=family_name.strip().lower(), dob=dob)
    else:
        raise ValueError("give an NHS number, or the given name, family name and date of birth")
    found = [native(r["flag"]) for r in tx.run(statement, params)]
    return found[:FLAG_LIMIT], len(found) > FLAG_LIMIT


def notify(tx: ManagedTransaction, *, viewer: Viewer, child_ids: list[str], today: date, request_id: str) -> int:
    """Raise the `flag_viewed` alerts of one look at these children's flags; returns how many were raised."""
    if not child_ids:
        return 0
    result = tx.run(FLAG_VIEWED, viewer=viewer.params(), child_ids=child_ids, request_id=request_id,
                    raised_at=datetime.now(UTC), as_of=today, scan_id=request_id, **_window(today))
    return sum(r["raised"] for r in result)
