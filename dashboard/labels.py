"""Plain-language names and colours for the API's codes, and date formatting."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")

AGENCY_KINDS = {
    "school": "School", "gp_practice": "GP practice", "health_visiting": "Health visiting",
    "school_nursing": "School nursing", "social_care": "Social care", "police": "Police",
    "youth_justice": "Youth justice", "camhs": "CAMHS (mental health)", "sexual_health": "Sexual health",
    "substance_misuse": "Substance misuse", "voluntary": "Voluntary sector", "early_years": "Early years",
    "unscheduled_care": "Emergency care", "housing": "Housing",
}
KIND_COLOURS = {
    "school": "#2e7d32", "gp_practice": "#00838f", "health_visiting": "#26a69a", "school_nursing": "#9ccc65",
    "social_care": "#c62828", "police": "#283593", "youth_justice": "#5e35b1", "camhs": "#ad1457",
    "sexual_health": "#d81b60", "substance_misuse": "#6d4c41", "voluntary": "#f9a825", "early_years": "#7cb342",
    "unscheduled_care": "#e65100", "housing": "#546e7a",
}
NODE_COLOURS = {"child": "#0b3c5d", "carer": "#8d6e63", "practitioner": "#78909c", "agency": "#90a4ae"}
PLAN_KINDS = {"cp_plan": "Child protection plan", "looked_after": "Looked after", "child_in_need": "Child in need",
              "early_help": "Early help (CAF)"}
GENDERS = {"female": "Female", "male": "Male", "not_known": "Not known", "not_specified": "Not specified"}
ALERT_KINDS = {
    "protected_move": "Protected child moved authority", "transfer_in_overdue": "Transfer-in overdue (15 working days)",
    "no_school_roll": "On no school roll", "no_gp": "Registered with no GP",
    "repeat_emergency": "Repeat emergency visits",
    "break_glass": "Shielded record opened by break-glass",
    "emergency_attendance": "Emergency visit of a protected child",
    "flag_viewed": "Protection flag viewed in emergency care",
    "shield_merged": "Shielded record merged into another team's",
    "correction_conflict": "A source disagrees with a correction",
}
COMPARISONS = {"given_name": "Given name", "family_name": "Family name", "dob": "Date of birth",
               "postcode": "Postcode", "sex_norm": "Sex", "identifiers": "NHS number / UPN"}
PATTERNS = {
    "moved_authority": "Moved authority", "transfer_gap": "Nothing recorded after a move",
    "no_school_roll": "On no school roll", "no_gp": "No GP", "repeat_emergency": "Repeat emergency visits",
    "no_lead_professional": "Many agencies, no lead professional",
}
COHORTS = {"all": "All children", "cp_plan": "Child protection plan", "looked_after": "Looked after",
           "child_in_need": "Child in need"}
SUPPRESSED = {"<5": "fewer than 5", "c": "withheld so a small count cannot be worked out"}


def kind(code: str | None) -> str:
    """An agency kind in words."""
    return AGENCY_KINDS.get(code or "", (code or "other").replace("_", " ").capitalize())


def colour(code: str | None) -> str:
    """The colour of an agency kind."""
    return KIND_COLOURS.get(code or "", "#9e9e9e")


def day(value: Any) -> str:
    """'12 Apr 2015' from an ISO date, '12 Apr 2015 09:30' from a date-time (on the UK clock); '—' for nothing."""
    if not value:
        return "—"
    try:
        parsed = datetime.fromisoformat(str(value)) if "T" in str(value) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if isinstance(parsed, datetime):
        # The API gives instants in UTC; a reader in England reads the time on their own clock.
        return (parsed.astimezone(UK) if parsed.tzinfo else parsed).strftime("%d %b %Y %H:%M")
    return parsed.strftime("%d %b %Y")


def contact(phone: str | None, email: str | None) -> str:
    """Phone and email as markdown links, or a plain note that none is recorded."""
    parts = []
    if phone:
        parts.append(f"[{phone}](tel:{phone.replace(' ', '')})")
    if email:
        parts.append(f"[{email}](mailto:{email})")
    return " · ".join(parts) or "no contact details recorded"
