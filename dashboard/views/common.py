"""What several pages share: choosing the child with a stated purpose, the shielded notice, small helpers."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from dashboard import labels, session

CHILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
PURPOSE_HELP = "Recorded in the audit trail with your name, role and the time. Be specific."
RESTRICTED = {"id", "given_name", "family_name", "former_names", "known_names", "dob", "gender", "shielded",
              "holding_team"}


def open_child(child_id: str, *, suggested: str | None = None, page: str = "card") -> None:
    """Make a child the current one (its purpose still to be stated) and go to a page about it."""
    from dashboard import nav

    child = session.inputs("child")
    version = child.get("version", 0) + 1
    child.clear()
    child.update(id=child_id, suggested=suggested or "", version=version)
    session.forget("override")
    nav.go(page)


def choose_child(page: str) -> tuple[str, str] | None:
    """The current child and the purpose stated for opening it, asked for before anything is fetched."""
    child = session.inputs("child")
    # A child opened from elsewhere (search, an alert) gets fresh widgets showing it; one typed here keeps them.
    tag = child.get("version", 0)
    with st.form(f"child-{page}", border=True):
        left, right = st.columns([1, 3])
        given_id = left.text_input("Directory ID", value=child.get("id", ""), max_chars=64, key=f"w.{page}.id.{tag}")
        purpose = right.text_input("Why are you opening this record?", value=child.get("purpose")
                                   or child.get("suggested", ""), max_chars=200, help=PURPOSE_HELP,
                                   placeholder="e.g. planning a home visit", key=f"w.{page}.purpose.{tag}")
        opened = st.form_submit_button("Open record", type="primary")
    if opened:
        given_id, purpose = given_id.strip(), purpose.strip()
        if not CHILD_ID.fullmatch(given_id):
            st.warning("Enter the child's directory ID (letters and digits), or find the child first.")
            return None
        if len(purpose) < 3:
            st.warning("Say why you are opening this record: it is recorded, and a record does not open without it.")
            return None
        if given_id != child.get("id"):
            version = child.get("version", 0)
            child.clear()
            child["version"] = version
            session.forget("override")  # a break-glass view is for the one record it was asked for
        child.update(id=given_id, purpose=purpose)
    if child.get("id") and child.get("purpose"):
        return child["id"], child["purpose"]
    if child.get("id"):
        st.info("State why you are opening this record, then press **Open record**.")
    else:
        st.info("Find a child first, or enter a directory ID, and say why you are opening the record.")
    return None


def is_restricted(record: dict[str, Any]) -> bool:
    """Whether the API gave the shielded shape (identity and holding team only)."""
    return bool(record.get("shielded")) and set(record) <= RESTRICTED


def identity(record: dict[str, Any]) -> None:
    """Name, date of birth, gender and directory ID."""
    st.header(f"{record['given_name']} {record['family_name']}")
    former = ", ".join(record.get("former_names") or [])
    st.markdown(f"Born **{labels.day(record.get('dob'))}** · {labels.GENDERS.get(record.get('gender'), '—')} · "
                f"directory ID `{record['id']}`" + (f" · formerly {former}" if former else ""))


def shielded_notice(record: dict[str, Any]) -> None:
    """A shielded record as the API gives it: identity, and the holding team to contact, nothing more."""
    with st.container(border=True, key="shielded-record"):
        identity(record)
        team = record.get("holding_team") or {}
        st.warning(f"**This record is shielded.** Its details are held by the management team of "
                   f"{team.get('name', 'the holding authority')}. To work with this child, contact them: "
                   f"{labels.contact(team.get('team_phone'), team.get('team_email'))}.", icon=":material/shield:")


def not_available(message: str) -> None:
    """An empty state in plain words."""
    st.info(message, icon=":material/info:")
