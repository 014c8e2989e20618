"""The shielding and access policy of docs/architecture.md, as Cypher fragments bound to the `$viewer` parameter.

Every statement that returns child data is composed from these fragments in graph/children.py; nothing
is filtered in Python. The fragments are fixed strings: the only inputs are query parameters.

The checks that can only be made on what a statement returned (the area scope of a network, who may
change a shielding decision) are the Python functions at the end, so the routes and the loader only call them.

Parameters every policy-bound statement takes:
    $viewer      {user_id, role, la_code, agency_id} of the person asking (graph.viewer.Viewer.params()).
    $override    child ids the viewer may see in full for this one request (break-glass), else [].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

from graph.viewer import Role, Viewer

# Rule 1: a shielded child is hidden from everyone but the management team of the holding authority
# (and, for one request, a break-glass override).
_HIDDEN = (
    "({c}.shielded = true"
    " AND NOT ($viewer.role = 'la_admin' AND EXISTS {{ ({c})-[:SHIELDED_BY]->(:LocalAuthority {{code: $viewer.la_code}}) }})"
    " AND NOT {c}.id IN $override)"
)


def hidden(var: str) -> str:
    """True where the child bound to `var` is shielded from this viewer."""
    return _HIDDEN.format(c=var)


# A record whose shield still protects its household: a live child, or one archived under the retention rules
# (graph/retention.py). An archived record is out of every view, but turning 18 must not reveal the home it
# shares with a younger sibling; the most restrictive rule wins.
SHIELDING_RECORD = "Child|ArchivedChild"


def protected_address(var: str) -> str:
    """Rule 3: true where a child hidden from this viewer currently lives at the address `var`."""
    return (
        f"EXISTS {{ MATCH ({var})<-[pl:LIVED_AT WHERE pl.until IS NULL]-(ps:{SHIELDING_RECORD}) "
        f"WHERE ps.shielded = true AND {hidden('ps')} }}"
    )


def protected_postcode(expr: str) -> str:
    """Rule 3 for a postcode on its own (a source's record of it): true where a child hidden from this viewer
    currently lives at an address with that postcode."""
    return (
        f"EXISTS {{ MATCH (ppa:Address {{postcode: {expr}}})<-[ppl:LIVED_AT WHERE ppl.until IS NULL]-(pps:Child) "
        f"WHERE pps.shielded = true AND {hidden('pps')} }}"
    )


def household(var: str) -> str:
    """Rule 3's household, whoever asks: the other shielded children sharing a current carer with `var`
    (a CARES_FOR without `until`), or living at its address now (archived records included: SHIELDING_RECORD).

    The one definition of the household: `kin` (what a viewer's card, network and moves withhold) and
    the alert scan's addressees (graph/alerts.py) both start from it.
    """
    return (
        f"COLLECT {{ MATCH ({var})<-[hc1:CARES_FOR WHERE hc1.until IS NULL]-(:Carer)"
        f"-[hc2:CARES_FOR WHERE hc2.until IS NULL]->(hs:{SHIELDING_RECORD}) "
        f"WHERE hs <> {var} AND hs.shielded = true RETURN hs "
        f"UNION MATCH ({var})-[hl1:LIVED_AT WHERE hl1.until IS NULL]->(:Address)"
        f"<-[hl2:LIVED_AT WHERE hl2.until IS NULL]-(hs:{SHIELDING_RECORD}) "
        f"WHERE hs <> {var} AND hs.shielded = true RETURN hs }}"
    )


def kin(var: str) -> str:
    """The members of `var`'s household (see `household`) that are hidden from this viewer.

    Anything linked to one of them (carer, practitioner, agency, address) is withheld from `var`'s record,
    so a sibling's card, network or moves never leads to a shielded child.
    """
    return f"[ks IN {household(var)} WHERE {hidden('ks')}]"


def holding_authority(var: str) -> str:
    """The authority holding child `var`'s record: the shielding one when shielded, else the one it is held by."""
    return (
        f"coalesce(COLLECT {{ MATCH ({var})-[:SHIELDED_BY]->(hsa:LocalAuthority) RETURN hsa }}[0], "
        f"COLLECT {{ MATCH ({var})-[:HELD_BY]->(hha:LocalAuthority) RETURN hha }}[0])"
    )


def holds_record(var: str) -> str:
    """True where the viewer is the management team of the authority holding record `var` (live or archived)."""
    return f"($viewer.role = 'la_admin' AND {holding_authority(var)}.code = $viewer.la_code)"


# The ids of everything linked to a set of hidden kin (`kin_var` is a list of Child nodes).
def kin_carers(kin_var: str) -> str:
    return f"COLLECT {{ UNWIND {kin_var} AS s MATCH (k:Carer)-[:CARES_FOR]->(s) RETURN DISTINCT k.id }}"


def kin_practitioners(kin_var: str) -> str:
    return f"COLLECT {{ UNWIND {kin_var} AS s MATCH (p:Practitioner)-[:INVOLVED_WITH]->(s) RETURN DISTINCT p.id }}"


def kin_agencies(kin_var: str) -> str:
    return (
        f"COLLECT {{ UNWIND {kin_var} AS s MATCH (s)-[:ENROLLED_AT|REGISTERED_WITH|ATTENDED]->(a:Agency) "
        f"RETURN DISTINCT a.id AS id UNION UNWIND {kin_var} AS s "
        f"MATCH (s)<-[:INVOLVED_WITH]-(:Practitioner)-[:WORKS_FOR]->(a:Agency) RETURN DISTINCT a.id AS id }}"
    )


def kin_addresses(kin_var: str) -> str:
    return f"COLLECT {{ UNWIND {kin_var} AS s MATCH (s)-[:LIVED_AT]->(a:Address) RETURN DISTINCT a.id }}"


def kin_sources(kin_var: str) -> str:
    """The sources that know a hidden kin child: withheld from the card, as its school or GP would be."""
    return (f"COLLECT {{ UNWIND {kin_var} AS s MATCH (s)<-[:IDENTIFIES]-(:SourceRecord)-[:FROM]->(src:Source) "
            f"RETURN DISTINCT src.id }}")


def known_names(var: str) -> str:
    """Every name the child is known by: its records' names (graph.identity), or, for a child only the
    directory-keyed feeds describe, its own name and former names. Names are visible fields (rule 1)."""
    return (f"coalesce({var}.known_names, [trim(coalesce({var}.given_name, '') + ' ' + "
            f"coalesce({var}.family_name, ''))] + coalesce({var}.former_names, []))")


def known_to(var: str, withheld_var: str) -> str:
    """The sources that know the child (name and kind), less those `withheld_var` lists. Never in a hidden
    child's restricted shape: which systems hold a shielded child says where it lives and is seen."""
    return (f"COLLECT {{ MATCH ({var})<-[:IDENTIFIES]-(:SourceRecord)-[:FROM]->(src:Source) "
            f"WHERE NOT src.id IN {withheld_var} "
            f"RETURN DISTINCT src {{.name, .kind}} AS source ORDER BY source.kind, source.name }}")


# Rule 5: sensitive services only with recorded consent, or to safeguarding leads.
def sensitive_visible(rel: str) -> str:
    return f"(coalesce({rel}.sensitive, false) = false OR {rel}.consent = true OR $viewer.role = 'safeguarding_lead')"


def in_area(var: str) -> str:
    """Area scope: the child has a current or past link to the viewer's authority."""
    la = "{code: $viewer.la_code}"
    return (
        f"(EXISTS {{ ({var})-[:HELD_BY|HAS_PLAN|SHIELDED_BY]->(:LocalAuthority {la}) }}"
        f" OR EXISTS {{ ({var})-[:LIVED_AT]->(:Address)-[:IN]->(:LocalAuthority {la}) }}"
        f" OR EXISTS {{ ({var})-[:ENROLLED_AT|REGISTERED_WITH|ATTENDED]->(:Agency)-[:IN]->(:LocalAuthority {la}) }}"
        f" OR EXISTS {{ ({var})<-[:INVOLVED_WITH]-(:Practitioner)-[:WORKS_FOR]->(:Agency)"
        f"-[:IN]->(:LocalAuthority {la}) }})"
    )


def team(la_var: str) -> str:
    """An authority's management-team contact (the only authority detail a hidden record carries)."""
    return f"{la_var} {{.code, .name, .team_phone, .team_email}}"


def restricted(var: str, holding_var: str) -> str:
    """Rule 1: exactly what a hidden shielded record shows."""
    return (
        f"{var} {{.id, .given_name, .family_name, former_names: coalesce({var}.former_names, []), "
        f"known_names: {known_names(var)}, .dob, .gender, shielded: true, holding_team: {team(holding_var)}}}"
    )


def flag_restricted(var: str, holding_var: str) -> str:
    """Rule 1 for the emergency flag: a hidden child is its identity and the holding team, no flag (plans are
    withheld), so no more than the restricted shape."""
    return (f"{var} {{.id, .given_name, .family_name, .dob, shielded: true, "
            f"holding_team: {team(holding_var)}}}")


# Which roles reach which child routes (deny by default: a role not listed gets 403).
CARD_ROLES = frozenset({Role.PRACTITIONER, Role.SAFEGUARDING_LEAD, Role.LA_ADMIN})
SEARCH_ROLES = CARD_ROLES
NETWORK_ROLES = frozenset({Role.SAFEGUARDING_LEAD, Role.LA_ADMIN})
# The identified multi-agency chronology (graph/chronology.py), read or exported: as the network.
CHRONOLOGY_ROLES = NETWORK_ROLES
ACCESS_LOG_ROLES = NETWORK_ROLES
OVERRIDE_ROLES = frozenset({Role.SAFEGUARDING_LEAD})
SHIELD_ROLES = frozenset({Role.LA_ADMIN})
AUDIT_ROLES = frozenset({Role.AUDITOR})
ALERT_ROLES = frozenset({Role.SAFEGUARDING_LEAD, Role.LA_ADMIN})
ANALYTICS_ROLES = frozenset({Role.REVIEWER})
USER_ADMIN_ROLES = frozenset({Role.LA_ADMIN})
# The emergency flag (CP-IS): unscheduled-care clinicians only, who reach no other child route.
FLAG_ROLES = frozenset({Role.ED_CLINICIAN})
# "I am working with this child" (a practitioner's own involvement) and who chooses the lead professional.
INVOLVEMENT_ROLES = frozenset({Role.PRACTITIONER, Role.SAFEGUARDING_LEAD})
LEAD_PROFESSIONAL_ROLES = frozenset({Role.SAFEGUARDING_LEAD})
# The matching review queue, merge and split: the authority's data team, and its management team (the only
# one that sees its shielded children's pairs). docs/access.md says why.
IDENTITY_ROLES = frozenset({Role.DATA_OFFICER, Role.LA_ADMIN})
# Subject access (UK GDPR article 15) and rectification (article 16): the holding authority's management team,
# on live and archived records alike (`holds_record`).
SUBJECT_ACCESS_ROLES = frozenset({Role.LA_ADMIN})
RECTIFY_ROLES = frozenset({Role.LA_ADMIN})


# -- checks on what a statement returned ---------------------------------------------------------

Outcome = Literal["ok", "denied", "not_found"]


def scope_outcome(scope: Mapping[str, bool] | None) -> Outcome:
    """Network and moves: a hidden child is answered with its restricted shape; any other child must have a
    current or past link to the viewer's authority (`hidden` and `in_area` as children.SCOPE returns them)."""
    if scope is None:
        return "not_found"
    return "ok" if scope["hidden"] or scope["in_area"] else "denied"


def accesses_outcome(scope: Mapping[str, bool] | None) -> Outcome:
    """The access log: only of a child the viewer sees in full and that is linked to the viewer's authority."""
    if scope is None:
        return "not_found"
    return "denied" if scope["hidden"] or not scope["in_area"] else "ok"


def involvement_outcome(scope: Mapping[str, bool] | None) -> Outcome:
    """A practitioner records or ends their own involvement with any child they may see in full."""
    if scope is None:
        return "not_found"
    return "denied" if scope["hidden"] else "ok"


def lead_outcome(scope: Mapping[str, bool] | None) -> Outcome:
    """A safeguarding lead chooses the lead professional of a child they see in full and that is linked to
    their authority (as for the access log)."""
    return accesses_outcome(scope)


def may_change_shielding(*, viewer: Viewer, shielded: bool, holding: str | None, shield: bool) -> bool:
    """Through the API, only the management team of the authority holding the record shields it, and only
    a shield that is there is lifted (`holding`: the shielding authority when shielded, else the holder)."""
    return holding == viewer.la_code and (shield or shielded)


def feed_decision_refused(*, la_code: str, shield: bool, decided_on: date, shielded: bool, holding: str | None,
                          recorded_on: date | None) -> str | None:
    """Why a dated shielding decision from a feed may not stand against the one recorded, or None if it may.

    A shielded record is changed only by the authority shielding it, as through the API (an unshielded one
    may be shielded by the authority the row names, which then holds it). An older decision never
    overrides a newer one. On the same date the shield stands: a same-day shield applies, a same-day lift
    of a shield is refused (a later decision, or the API, lifts it).
    """
    if shielded and holding != la_code:
        return (f"la_code {la_code}: the record is shielded by {holding}; only that authority's management team "
                "can change the decision")
    if recorded_on is None or decided_on > recorded_on:
        return None
    if decided_on < recorded_on:
        return f"decided_on {decided_on} is older than the decision already recorded on {recorded_on}"
    if shielded and not shield:
        return (f"decided_on {decided_on} is the day the record was shielded; on the same day the shield stands "
                "(send a later decision to lift it)")
    return None
