"""Who is asking: the viewer every child-data query takes as a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """The five roles of docs/architecture.md, the emergency-department clinician and the authority's data team
    that works the matching review queue (docs/access.md)."""

    PRACTITIONER = "practitioner"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    REVIEWER = "reviewer"
    LA_ADMIN = "la_admin"
    AUDITOR = "auditor"
    ED_CLINICIAN = "ed_clinician"
    DATA_OFFICER = "data_officer"


@dataclass(frozen=True)
class Viewer:
    """An authenticated user as the policy sees them: role, authority (ONS code), agency, user id."""

    user_id: str
    role: Role
    la_code: str
    agency_id: str | None = None

    def params(self) -> dict[str, Any]:
        """The `$viewer` map passed to every policy-bound Cypher statement."""
        return {"user_id": self.user_id, "role": str(self.role), "la_code": self.la_code, "agency_id": self.agency_id}
