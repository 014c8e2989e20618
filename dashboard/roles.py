"""The roles and which of them each page is for (the API enforces the same; the dashboard only hides)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The roles of docs/architecture.md, as the API names them."""

    PRACTITIONER = "practitioner"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    REVIEWER = "reviewer"
    LA_ADMIN = "la_admin"
    AUDITOR = "auditor"
    ED_CLINICIAN = "ed_clinician"
    DATA_OFFICER = "data_officer"


ROLE_NAMES = {
    Role.PRACTITIONER: "practitioner",
    Role.SAFEGUARDING_LEAD: "safeguarding lead",
    Role.REVIEWER: "case reviewer",
    Role.LA_ADMIN: "LA management team",
    Role.AUDITOR: "auditor",
    Role.ED_CLINICIAN: "emergency department clinician",
    Role.DATA_OFFICER: "data officer",
}

SEARCHERS = frozenset({Role.PRACTITIONER, Role.SAFEGUARDING_LEAD, Role.LA_ADMIN})
LEADS = frozenset({Role.SAFEGUARDING_LEAD, Role.LA_ADMIN})
OVERRIDERS = frozenset({Role.SAFEGUARDING_LEAD})
ADMINS = frozenset({Role.LA_ADMIN})
AUDITORS = frozenset({Role.AUDITOR})
REVIEWERS = frozenset({Role.REVIEWER})
CLINICIANS = frozenset({Role.ED_CLINICIAN})
INVOLVED = frozenset({Role.PRACTITIONER, Role.SAFEGUARDING_LEAD})  # record their own involvement on the card
LEAD_CHOOSERS = frozenset({Role.SAFEGUARDING_LEAD})  # choose the lead professional on the card
MATCHERS = frozenset({Role.DATA_OFFICER, Role.LA_ADMIN})
