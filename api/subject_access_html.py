"""The subject access export as a readable, self-contained HTML document (no scripts, no links, styles inline).

Every value is escaped; the document is built only from the export the graph returned (graph/subject_access.py),
so it says exactly what the JSON says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

STYLE = """
body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #999;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .4rem;
text-align:left;vertical-align:top}th{background:#eee}.note{color:#555;font-size:.9rem}.review{background:#fff3cd}
.withheld{color:#777;font-style:italic}dl{display:grid;grid-template-columns:14rem 1fr;gap:.2rem .8rem}
dt{font-weight:bold}
"""
SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("sources", "Sources that know the child", (("source", "source"), ("kind", "kind"), ("local_id", "their id"),
                                                 ("given_name", "given name"), ("family_name", "family name"),
                                                 ("dob", "date of birth"), ("postcode", "postcode"),
                                                 ("received", "received"))),
    ("addresses", "Addresses", (("line1", "address"), ("town", "town"), ("postcode", "postcode"),
                                ("authority", "authority"), ("since", "from"), ("until", "to"))),
    ("carers", "Parents and carers", (("name", "name"), ("relationship", "relationship"),
                                      ("parental_responsibility", "parental responsibility"), ("since", "from"),
                                      ("until", "to"))),
    ("registrations", "School and GP", (("kind", "kind"), ("agency", "name"), ("phone", "phone"),
                                        ("since", "from"), ("until", "to"))),
    ("services", "Services and practitioners", (("service", "service"), ("practitioner", "practitioner"),
                                                ("job_title", "job title"), ("agency", "agency"),
                                                ("agency_phone", "agency phone"), ("lead", "lead professional"),
                                                ("recorded", "recorded"), ("since", "from"), ("until", "to"))),
    ("plans", "Plans", (("kind", "plan"), ("responsible", "responsible authority"), ("since", "from"),
                        ("until", "to"))),
    ("attendances", "Emergency care attendances", (("at", "when"), ("agency", "where"), ("reason", "reason"))),
    ("alerts", "Alerts about the child", (("kind", "kind"), ("to", "sent to"), ("state", "state"),
                                          ("raised_at", "raised"), ("acknowledged_note", "note"),
                                          ("closed_note", "closing note"))),
    ("corrections", "Corrections", (("field", "field"), ("value", "corrected to"), ("from_value", "source sent"),
                                    ("reason", "reason"), ("at", "when"), ("state", "state"))),
    ("accesses", "Who looked at the record", (("at", "when"), ("role", "role"), ("authority", "authority"),
                                              ("agency", "organisation"), ("action", "what"),
                                              ("purpose", "stated purpose"), ("override", "override"))),
    ("flag_views", "Emergency care looked at the protection flag", (("at", "when"), ("authority", "authority"),
                                                                     ("agency", "emergency department"),
                                                                     ("purpose", "stated purpose"))),
)
REVIEW = {"alerts": ("acknowledged_note", "closed_note"), "corrections": ("reason",)}


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (date, datetime)):
        return value.isoformat(timespec="minutes") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: tuple[tuple[str, str], ...], review: tuple[str, ...]) -> str:
    if not rows:
        return '<p class="note">None held.</p>'
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    body = []
    for row in rows:
        if row.get("withheld"):
            body.append(f'<tr><td class="withheld" colspan="{len(columns)}">Withheld: it would lead to another '
                        f"protected child ({escape(_text(row.get('since') or row.get('at')))}).</td></tr>")
            continue
        marked = row.get("sensitive") is True
        cells = "".join(
            f'<td{" class=review" if (key in review and row.get(key)) or marked else ""}>{escape(_text(row.get(key)))}</td>'
            for key, _ in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render(export: Mapping[str, Any]) -> str:
    """The export (as the API's JSON) as one HTML document."""
    who = export["identity"]
    holder = export.get("holding_authority") or {}
    facts = [("Directory ID", who["id"]), ("Name", f"{who['given_name']} {who['family_name']}"),
             ("Former names", who.get("former_names")), ("Known as", who.get("known_names")),
             ("Date of birth", who.get("dob")), ("Gender", who.get("gender")), ("NHS number", who.get("nhs_number")),
             ("Unique pupil number", who.get("upn")), ("Authority's reference", who.get("la_child_id")),
             ("Status", who.get("status")), ("Date of death", who.get("died_on")),
             ("Corrected fields", who.get("corrected")), ("Records merged into it", who.get("merged_ids")),
             ("Held by", holder.get("name")),
             ("Shielded", export["shielding"]["shielded"]), ("Shielding decided on", export["shielding"]["decided_on"])]
    if export.get("archive"):
        facts += [("Archived on", export["archive"]["archived_on"]), ("Archived because", export["archive"]["archive_reason"]),
                  ("To be destroyed on", export["archive"]["destroy_on"])]
    identity = "".join(f"<dt>{escape(k)}</dt><dd>{escape(_text(v)) or '—'}</dd>" for k, v in facts)
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Subject access: {escape(who['id'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Everything held about {escape(who['given_name'])} {escape(who['family_name'])}</h1>",
        f"<p class=\"note\">Subject access export (UK GDPR article 15) made on {escape(_text(export['generated_at']))} "
        f"by the management team of {escape(_text(export['generated_by']['authority']))}. "
        "Highlighted entries are for the data protection officer to review before release.</p>",
        f"<h2>Identity</h2><dl>{identity}</dl>",
    ]
    for key, title, columns in SECTIONS:
        parts.append(f"<h2>{escape(title)}</h2>{_table(export.get(key) or [], columns, REVIEW.get(key, ()))}")
    rules = "".join(f"<li>{escape(rule)}</li>" for rule in export.get("third_party_rules") or [])
    parts.append(f"<h2>What was left out, and why</h2><ul>{rules}</ul></body></html>")
    return "\n".join(parts)
