"""The pages of the dashboard and who each is for; the navigation is built from the signed-in role."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from dashboard import roles
from dashboard.roles import Role


@dataclass(frozen=True)
class PageSpec:
    """One page: its URL path, title, icon, section, the roles it is for, and its function."""

    key: str
    title: str
    icon: str
    section: str
    roles: frozenset[Role]
    target: str  # "module:function", imported only when the page is built

    def function(self) -> Callable[[], None]:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("search", "Find a child", ":material/search:", "Children", roles.SEARCHERS,
             "dashboard.views.children:search_page"),
    PageSpec("card", "Contacts card", ":material/contact_page:", "Children", roles.SEARCHERS,
             "dashboard.views.children:card_page"),
    PageSpec("network", "Involvement network", ":material/hub:", "Safeguarding", roles.LEADS,
             "dashboard.views.network:network_page"),
    PageSpec("chronology", "Chronology", ":material/timeline:", "Safeguarding", roles.LEADS,
             "dashboard.views.chronology:chronology_page"),
    PageSpec("moves", "Moves and map", ":material/route:", "Safeguarding", roles.LEADS,
             "dashboard.views.moves:moves_page"),
    PageSpec("accesses", "Record accesses", ":material/history:", "Safeguarding", roles.LEADS,
             "dashboard.views.moves:accesses_page"),
    PageSpec("alerts", "Alerts inbox", ":material/notifications:", "Safeguarding", roles.LEADS,
             "dashboard.views.alerts:alerts_page"),
    PageSpec("shielding", "Shielding", ":material/shield:", "Management", roles.ADMINS,
             "dashboard.views.admin:shielding_page"),
    PageSpec("users", "Users", ":material/group:", "Management", roles.ADMINS,
             "dashboard.views.admin:users_page"),
    PageSpec("matching", "Matching review", ":material/join_inner:", "Records", roles.MATCHERS,
             "dashboard.views.matching:review_page"),
    PageSpec("records", "Merge and split", ":material/call_split:", "Records", roles.MATCHERS,
             "dashboard.views.matching:records_page"),
    PageSpec("subject_access", "Subject access", ":material/download:", "Management", roles.ADMINS,
             "dashboard.views.records:subject_access_page"),
    PageSpec("corrections", "Corrections", ":material/edit_note:", "Management", roles.ADMINS,
             "dashboard.views.records:corrections_page"),
    PageSpec("audit", "Audit search", ":material/manage_search:", "Audit", roles.AUDITORS,
             "dashboard.views.audit:audit_page"),
    PageSpec("verify", "Chain verification", ":material/verified:", "Audit", roles.AUDITORS,
             "dashboard.views.audit:verify_page"),
    PageSpec("patterns", "Patterns", ":material/monitoring:", "Analytics", roles.REVIEWERS,
             "dashboard.views.reviewer:patterns_page"),
    PageSpec("cases", "Cases", ":material/folder_shared:", "Analytics", roles.REVIEWERS,
             "dashboard.views.reviewer:cases_page"),
    PageSpec("measures", "Network measures", ":material/share:", "Analytics", roles.REVIEWERS,
             "dashboard.views.reviewer:measures_page"),
    PageSpec("flag", "Protection flag", ":material/emergency:", "Emergency care", roles.CLINICIANS,
             "dashboard.views.flag:flag_page"),
)
BY_KEY = {spec.key: spec for spec in PAGES}


def pages_for(role: str) -> list[PageSpec]:
    """The pages a role may open, in menu order (deny by default: an unknown role gets none)."""
    return [spec for spec in PAGES if role in spec.roles]


def page(key: str, *, default: bool = False) -> st.Page:
    """The Streamlit page of a spec (its URL path is the key)."""
    spec = BY_KEY[key]
    return st.Page(spec.function(), title=spec.title, icon=spec.icon, url_path=spec.key, default=default)


def go(key: str) -> None:
    """Switch to another page of this role's navigation."""
    st.switch_page(page(key))


def run_page(key: str) -> None:
    """Run one page's function directly (tests render a page without the navigation)."""
    BY_KEY[key].function()()
