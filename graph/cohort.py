"""What the directory holds: every child (full mode), or only the children known to be at risk (targeted mode).

Targeted mode is the successor the government proposed in 2010 and CP-IS runs today: a child is held while it
has a child protection plan, is looked after, or is a child in need, now or within the last N months (CP-IS's
"or within the last 12 months"; CP_TARGETED_MONTHS, default 12). Early help (a CAF) does not bring a child in.
The loaders (online and bulk) decide with `in_cohort` which children to store, and the retention run destroys a
held child once it has left the cohort (graph/retention.py). docs/privacy.md says why.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from graph.config import GraphSettings
from graph.instants import uk_today

COHORT_PLANS = ("cp_plan", "looked_after", "child_in_need")

# Child `c` has a plan that keeps it in the cohort on $as_of ($cutoff: the day N months before).
IN_COHORT = (
    "EXISTS {{ ({c})-[cohort_plan:HAS_PLAN]->() WHERE cohort_plan.kind IN $cohort_plans "
    "AND cohort_plan.since <= $as_of AND (cohort_plan.until IS NULL OR cohort_plan.until >= $cutoff) }}"
)


def in_cohort_cypher(var: str) -> str:
    """Cypher: true where the child bound to `var` is in the targeted cohort (needs $cohort_plans, $as_of, $cutoff)."""
    return IN_COHORT.format(c=var)


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, the month's last day where it is shorter (as Cypher's
    `day - duration({months: n})`)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Scope:
    """The holding rule of one load or retention run: the mode, its window in months, and the day it is decided on."""

    mode: Literal["full", "targeted"] = "full"
    months: int = 12
    as_of: date | None = None

    @classmethod
    def of(cls, settings: GraphSettings, as_of: date | None = None) -> Scope:
        """The scope the settings configure (CP_SCOPE, CP_TARGETED_MONTHS), decided on `as_of` (default today)."""
        return cls(settings.scope, settings.targeted_months, as_of)

    @property
    def targeted(self) -> bool:
        return self.mode == "targeted"

    @property
    def day(self) -> date:
        """The day the cohort is decided on: as_of, or today in the UK."""
        return self.as_of or uk_today()

    @property
    def cutoff(self) -> date:
        """A plan that ended on or after this day still keeps its child in the cohort."""
        return months_before(self.day, self.months)

    def params(self) -> dict[str, Any]:
        """The parameters of `in_cohort_cypher`."""
        return {"cohort_plans": list(COHORT_PLANS), "as_of": self.day, "cutoff": self.cutoff}

    def in_cohort(self, plan: Mapping[str, Any]) -> bool:
        """Whether one plan row (kind, since, until) keeps its child in the cohort."""
        until = plan.get("until")
        return (plan["kind"] in COHORT_PLANS and plan["since"] <= self.day
                and (until is None or until >= self.cutoff))

    def cohort(self, plans: Iterable[Mapping[str, Any]]) -> frozenset[str]:
        """The ids of the children these plan rows keep in the cohort."""
        return frozenset(p["child_id"] for p in plans if self.in_cohort(p))
