"""Each rule has one home: the household rule and the route checks in graph.policy, the roles the dashboard
shows pages to are the API's, the password and TOTP policy belongs to neither the API nor the CLI, and only
graph.audit writes the audit trail."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date

import pytest

from graph import alerts, children, policy
from graph.config import PROJECT_ROOT
from graph.viewer import Role, Viewer

BIRMINGHAM, LEEDS = "E08000025", "E08000035"


# -- the household rule ------------------------------------------------------------------------

def test_cards_and_alerts_take_the_household_from_one_definition() -> None:
    household = policy.household("c")
    assert household in policy.kin("c")
    for statement in (children.CARD, children.NETWORK, children.MOVES, alerts.NO_GP, alerts.MOVES):
        assert household in statement
    assert "CARES_FOR" not in alerts._HOLDERS.replace(household, "")


# -- checks on what a statement returned -------------------------------------------------------

@pytest.mark.parametrize(("scope", "outcome"), [
    (None, "not_found"),
    ({"hidden": True, "in_area": False}, "ok"),     # answered with the restricted shape
    ({"hidden": False, "in_area": True}, "ok"),
    ({"hidden": False, "in_area": False}, "denied"),
])
def test_network_and_moves_scope(scope: dict[str, bool] | None, outcome: str) -> None:
    assert policy.scope_outcome(scope) == outcome


@pytest.mark.parametrize(("scope", "outcome"), [
    (None, "not_found"),
    ({"hidden": True, "in_area": True}, "denied"),   # a shielded record's accesses are not shown
    ({"hidden": True, "in_area": False}, "denied"),
    ({"hidden": False, "in_area": False}, "denied"),
    ({"hidden": False, "in_area": True}, "ok"),
])
def test_the_access_log_scope(scope: dict[str, bool] | None, outcome: str) -> None:
    assert policy.accesses_outcome(scope) == outcome


TEAM = Viewer(user_id="u-1", role=Role.LA_ADMIN, la_code=BIRMINGHAM)


@pytest.mark.parametrize(("shielded", "holding", "shield", "allowed"), [
    (False, BIRMINGHAM, True, True),
    (True, BIRMINGHAM, True, True),      # a new reason for a shield it holds
    (True, BIRMINGHAM, False, True),
    (False, BIRMINGHAM, False, False),   # nothing to lift
    (False, LEEDS, True, False),         # another authority's record
    (True, LEEDS, False, False),         # another authority's shield
    (False, None, True, False),          # a record no authority holds
])
def test_only_the_holding_team_changes_shielding(shielded: bool, holding: str | None, shield: bool,
                                                 allowed: bool) -> None:
    assert policy.may_change_shielding(viewer=TEAM, shielded=shielded, holding=holding, shield=shield) is allowed


D = date(2025, 5, 5)


@pytest.mark.parametrize(("la_code", "shield", "decided_on", "shielded", "holding", "recorded_on", "refused"), [
    (BIRMINGHAM, True, D, False, BIRMINGHAM, None, None),
    (LEEDS, True, D, False, BIRMINGHAM, None, None),                  # the row names who will hold it
    (LEEDS, False, D, True, BIRMINGHAM, date(2020, 1, 1), "only that authority's management team"),
    (BIRMINGHAM, False, D, True, BIRMINGHAM, date(2025, 5, 6), "is older than the decision already recorded"),
    (BIRMINGHAM, True, D, False, BIRMINGHAM, date(2025, 5, 6), "is older than the decision already recorded"),
    (BIRMINGHAM, False, D, True, BIRMINGHAM, D, "on the same day the shield stands"),
    (BIRMINGHAM, True, D, False, BIRMINGHAM, D, None),                # a same-day shield applies
    (BIRMINGHAM, True, D, True, BIRMINGHAM, D, None),                 # a restatement
    (BIRMINGHAM, False, D, True, BIRMINGHAM, date(2025, 5, 4), None),
])
def test_which_feed_decision_stands(la_code: str, shield: bool, decided_on: date, shielded: bool, holding: str,
                                    recorded_on: date | None, refused: str | None) -> None:
    why = policy.feed_decision_refused(la_code=la_code, shield=shield, decided_on=decided_on, shielded=shielded,
                                       holding=holding, recorded_on=recorded_on)
    assert (why is None) if refused is None else (why is not None and refused in why)


# -- the dashboard's roles are the API's --------------------------------------------------------

def test_the_dashboards_roles_are_the_apis() -> None:
    from dashboard import roles

    assert [str(r) for r in roles.Role] == [str(r) for r in Role]
    assert set(roles.ROLE_NAMES) == set(roles.Role)


# The API routes behind each dashboard page: the page is for exactly the roles those routes admit.
PAGE_ROUTES = {
    "search": policy.SEARCH_ROLES, "card": policy.CARD_ROLES, "network": policy.NETWORK_ROLES,
    "chronology": policy.CHRONOLOGY_ROLES, "moves": policy.NETWORK_ROLES, "accesses": policy.ACCESS_LOG_ROLES,
    "alerts": policy.ALERT_ROLES,
    "shielding": policy.SHIELD_ROLES, "users": policy.USER_ADMIN_ROLES, "audit": policy.AUDIT_ROLES,
    "subject_access": policy.SUBJECT_ACCESS_ROLES, "corrections": policy.RECTIFY_ROLES,
    "verify": policy.AUDIT_ROLES, "patterns": policy.ANALYTICS_ROLES, "cases": policy.ANALYTICS_ROLES,
    "measures": policy.ANALYTICS_ROLES, "flag": policy.FLAG_ROLES, "matching": policy.IDENTITY_ROLES,
    "records": policy.IDENTITY_ROLES,
}


def test_each_dashboard_page_is_for_the_roles_its_api_routes_admit() -> None:
    from dashboard import nav, roles

    assert {spec.key for spec in nav.PAGES} == set(PAGE_ROUTES)
    for spec in nav.PAGES:
        assert {str(r) for r in spec.roles} == {str(r) for r in PAGE_ROUTES[spec.key]}, spec.key
    assert {str(r) for r in roles.OVERRIDERS} == {str(r) for r in policy.OVERRIDE_ROLES}
    # The card's own actions: recording one's involvement, choosing the lead professional.
    assert {str(r) for r in roles.INVOLVED} == {str(r) for r in policy.INVOLVEMENT_ROLES}
    assert {str(r) for r in roles.LEAD_CHOOSERS} == {str(r) for r in policy.LEAD_PROFESSIONAL_ROLES}
    assert roles.INVOLVED <= roles.SEARCHERS and roles.LEAD_CHOOSERS <= roles.SEARCHERS  # they are on the card


CHILD_ROUTE_ROLES = [policy.CARD_ROLES, policy.SEARCH_ROLES, policy.NETWORK_ROLES, policy.CHRONOLOGY_ROLES,
                     policy.ACCESS_LOG_ROLES, policy.OVERRIDE_ROLES, policy.SHIELD_ROLES, policy.AUDIT_ROLES,
                     policy.ALERT_ROLES, policy.ANALYTICS_ROLES, policy.USER_ADMIN_ROLES, policy.INVOLVEMENT_ROLES,
                     policy.LEAD_PROFESSIONAL_ROLES]


def test_the_emergency_clinician_reaches_no_child_route_but_the_flag() -> None:
    assert all(Role.ED_CLINICIAN not in roles for roles in CHILD_ROUTE_ROLES)
    assert policy.FLAG_ROLES == {Role.ED_CLINICIAN}


def test_the_data_team_reaches_no_child_route_but_the_review_queue() -> None:
    assert all(Role.DATA_OFFICER not in roles for roles in [*CHILD_ROUTE_ROLES, policy.FLAG_ROLES])
    assert Role.DATA_OFFICER in policy.IDENTITY_ROLES


def test_the_chronology_is_for_leads_and_management_teams_only() -> None:
    assert policy.CHRONOLOGY_ROLES == {Role.SAFEGUARDING_LEAD, Role.LA_ADMIN}


# -- credentials ---------------------------------------------------------------------------------

def test_the_users_cli_sets_credentials_without_the_api() -> None:
    code = ("import sys, contactpoint.users_cli; "
            "print(sorted(m for m in sys.modules if m == 'api' or m.startswith('api.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_api_defines_no_password_or_totp_rule_of_its_own() -> None:
    import api.security
    from graph import credentials

    assert not [n for n in vars(api.security) if "password" in n.lower() or "totp" in n.lower()]
    assert credentials.check_password_strength.__module__ == "graph.credentials"


# -- the audit trail ---------------------------------------------------------------------------

AUDIT_NODE = re.compile(r"(\w*)\s*\(\s*(\w*)\s*:Audit(?:Event|Head|Access|Mention|Checkpoint|Verification)\b")
CODE = ("analytics", "api", "contactpoint", "dashboard", "graph", "loaders", "matching")


def test_only_the_audit_package_writes_the_trail() -> None:
    """Every event goes through graph.audit's chain (the salted, redactable form and the per-child index entries
    written with it): elsewhere an audit node is only matched (a read) or named by a constraint or an index."""
    named, writes = set(), []
    for path in sorted(p for package in CODE for p in (PROJECT_ROOT / package).rglob("*.py")):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if relative.startswith("graph/audit/"):
            continue
        text = path.read_text(encoding="utf-8")
        for keyword, var in AUDIT_NODE.findall(text):
            named.add(relative)
            if keyword == "FOR":  # a constraint or an index; its variable is its own
                continue
            if keyword != "MATCH" or (var and re.search(rf"\b(?:SET|REMOVE)\s+{var}\.|\bDELETE\s+{var}\b", text)):
                writes.append(f"{relative}: {keyword} ({var}:Audit...)")
    assert not writes, f"audit nodes written outside graph/audit: {writes}"
    # A new reader is fine: add it here, read-only.
    assert named == {"graph/schema.py", "graph/misuse.py", "graph/decommission.py", "graph/subject_access.py"}, named
