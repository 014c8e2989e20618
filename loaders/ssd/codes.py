"""The SSD's coded columns mapped to the directory's values; an unknown code rejects its row, naming it.

The code lists are the DfE returns' (CIN census for sex, need and CP category; SSDA903 for placement
type and legal status), as docs/feeds.md ("The SSD import") lists them. Codes are matched without
regard to case or surrounding spaces; the CIN census's descriptions are accepted as well as the codes.
"""

from __future__ import annotations


class UnknownCode(ValueError):
    """A coded cell holds a value not in its code list."""


def _table(*entries: tuple[tuple[str, ...], str]) -> dict[str, str]:
    return {spelling.strip().upper(): value for spellings, value in entries for spelling in spellings}


# CIN census sex (and the SSD's usual letters): the directory's genders.
SEX = _table(
    (("M", "1", "Male"), "male"),
    (("F", "2", "Female"), "female"),
    (("U", "0", "Unknown", "Not known"), "not_known"),
    (("I", "9", "Indeterminate", "Not specified", "Not stated"), "not_specified"),
)

# CIN census primary need codes N0-N9: a child-in-need period's category.
CIN_NEED = _table(
    (("N0", "Not stated"), "not_stated"),
    (("N1", "Abuse or neglect"), "abuse_or_neglect"),
    (("N2", "Child's disability", "Child's disability or illness"), "child_disability"),
    (("N3", "Parental disability or illness", "Parental illness or disability"), "parental_disability"),
    (("N4", "Family in acute stress"), "family_acute_stress"),
    (("N5", "Family dysfunction"), "family_dysfunction"),
    (("N6", "Socially unacceptable behaviour"), "socially_unacceptable_behaviour"),
    (("N7", "Low income"), "low_income"),
    (("N8", "Absent parenting"), "absent_parenting"),
    (("N9", "Cases other than children in need"), "not_in_need"),
)

# CIN census child protection categories: a CP plan's category.
CP_CATEGORY = _table(
    (("NEG", "Neglect"), "neglect"),
    (("PHY", "Physical abuse"), "physical_abuse"),
    (("EMO", "Emotional abuse"), "emotional_abuse"),
    (("SAB", "Sexual abuse"), "sexual_abuse"),
    (("MUL", "Multiple"), "multiple"),
)

# SSDA903 placement types: the kind of placement a looked-after child moved to (its address's first line).
PLACEMENT_TYPE = _table(
    (("U1", "U2", "U3"), "foster_care_relative_or_friend"),
    (("U4", "U5", "U6"), "foster_care"),
    (("A3", "A4", "A5", "A6"), "placed_for_adoption"),
    (("K1",), "secure_childrens_home"),
    (("K2",), "childrens_home"),
    (("P1",), "placed_with_parents"),
    (("P2", "H5"), "independent_living"),
    (("P3",), "residential_employment"),
    (("R1", "R2", "R3", "S1"), "residential_care"),
    (("R5",), "young_offender_institution"),
    (("T0", "T1", "T2", "T3", "T4"), "temporary_placement"),
    (("Z1",), "other_placement"),
)

# SSDA903 legal statuses: a looked-after period's category (the status in force when the period began).
LEGAL_STATUS = _table(
    (("C1",), "interim_care_order"),
    (("C2",), "care_order"),
    (("D1", "E1"), "placement_order"),
    (("J1", "J2", "J3"), "youth_justice"),
    (("L1", "L2", "L3"), "emergency_protection"),
    (("V2",), "accommodated"),
    (("V3", "V4"), "short_breaks"),
)

# Missing-from-home episodes: missing, or absent (away without permission, whereabouts known).
MISSING_TYPE = _table(
    (("M", "Missing"), "missing"),
    (("A", "Away", "Absent", "Away from placement without authorisation"), "absent"),
)

YES = {"Y", "YES", "1", "TRUE", "T"}
NO = {"N", "NO", "0", "FALSE", "F"}

LISTS = {
    "sex": SEX, "CIN need": CIN_NEED, "CP category": CP_CATEGORY, "placement type": PLACEMENT_TYPE,
    "legal status": LEGAL_STATUS, "missing episode type": MISSING_TYPE,
}


def code(column: str, value: str | None, table: dict[str, str], what: str) -> str | None:
    """The directory's value of a code (None for a blank cell).

    Raises:
        UnknownCode: the value is not in the list, naming the column and the code.
    """
    if value is None:
        return None
    found = table.get(value.strip().upper())
    if found is None:
        raise UnknownCode(f"{column}: unknown {what} code {value!r}")
    return found


def flag(column: str, value: str | None) -> bool | None:
    """A Y/N flag (None when blank).

    Raises:
        UnknownCode: neither yes nor no.
    """
    if value is None:
        return None
    text = value.strip().upper()
    if text in YES:
        return True
    if text in NO:
        return False
    raise UnknownCode(f"{column}: unknown flag {value!r} (expected Y or N)")
