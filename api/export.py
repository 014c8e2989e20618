"""A child's chronology as one self-contained, printable HTML file, for a strategy meeting.

Everything is inline (styles, a swimlane drawn as SVG); nothing is fetched, linked or scripted, and the file
says so to the browser (a Content-Security-Policy that allows only its own inline styles). Every value is
escaped. It shows exactly what the chronology route returned to the same person: the shaping for the viewer
happened in the graph statement, this only lays it out. Times are on the UK clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from graph.viewer import Viewer

UK = ZoneInfo("Europe/London")
MARKING = "OFFICIAL-SENSITIVE: personal data about a child. Share only with those who need it to keep the child safe."
_CSS = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: Arial, Helvetica, sans-serif; font-size: 10.5pt; color: #111; margin: 16px; }
h1 { font-size: 17pt; margin: 4px 0; } h2 { font-size: 12.5pt; margin: 18px 0 6px; }
.marking { border: 2px solid #8b0000; color: #8b0000; font-weight: bold; padding: 4px 8px; }
.meta { color: #333; } .withheld { background: #fff4e5; border-left: 4px solid #e65100; padding: 4px 8px; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: 3px 6px;
  text-align: left; vertical-align: top; } th { background: #eceff1; } tr { page-break-inside: avoid; }
td.when { white-space: nowrap; width: 9em; } td.lane { width: 14em; }
svg { width: 100%; height: auto; border: 1px solid #ddd; }
@media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
"""
_COLOURS = {"school": "#2e7d32", "gp_practice": "#00838f", "unscheduled_care": "#e65100", "social_care": "#c62828",
            "police": "#283593", "housing": "#546e7a", None: "#0b3c5d"}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def when(entry: dict[str, Any]) -> str:
    """An entry's date, with the time on the UK clock for an instant."""
    if entry.get("at"):
        return entry["at"].astimezone(UK).strftime("%d %b %Y %H:%M")
    return entry["date"].strftime("%d %b %Y")


def render(chronology: dict[str, Any], *, viewer: Viewer, purpose: str, request_id: str,
           generated_at: datetime) -> str:
    """The HTML document of a chronology as `viewer` received it."""
    child = chronology["child"]
    name = f"{child['given_name']} {child['family_name']}"
    stamp = generated_at.astimezone(UK).strftime("%d %b %Y %H:%M")
    head = (f"<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>Chronology: {_e(name)} ({_e(child['id'])})</title><style>{_CSS}</style></head><body>"
            f"<p class=\"marking\">{_e(MARKING)}</p>"
            f"<h1>Multi-agency chronology: {_e(name)}</h1>"
            f"<p class=\"meta\">Born {_e(child['dob'].strftime('%d %b %Y'))} · directory ID {_e(child['id'])} · "
            f"as of {_e(chronology['as_of'].strftime('%d %b %Y'))}</p>")
    foot = (f"<h2>About this export</h2><p class=\"meta\">Exported {_e(stamp)} (UK time) by {_e(viewer.user_id)} "
            f"({_e(str(viewer.role).replace('_', ' '))}, {_e(viewer.la_code)}) for: {_e(purpose)}. The export is "
            f"recorded in the audit trail (request {_e(request_id)}). It shows what the directory held for this "
            "viewer at that time; it holds no case notes or assessments.</p>"
            f"<p class=\"marking\">{_e(MARKING)}</p></body></html>\n")
    if chronology["hidden"]:
        team = child.get("holding_team") or {}
        body = (f"<p class=\"withheld\">This record is shielded. Its details are held by the management team of "
                f"{_e(team.get('name'))} ({_e(team.get('team_phone'))}, {_e(team.get('team_email'))}); contact "
                "them to work with this child.</p>")
        return head + body + foot
    body = ""
    if chronology.get("details_withheld"):
        body += ("<p class=\"withheld\">Some details are withheld to protect another member of this household, "
                 "and no alerts are shown.</p>")
    body += _swimlane(chronology) + _table(chronology)
    return head + body + foot


def _table(chronology: dict[str, Any]) -> str:
    titles = {lane["key"]: lane["title"] for lane in chronology["lanes"]}
    rows = "".join(f"<tr><td class=\"when\">{_e(when(e))}</td><td class=\"lane\">{_e(titles.get(e['lane']))}</td>"
                   f"<td>{_e(e['text'])}</td></tr>" for e in chronology["entries"])
    if not rows:
        rows = "<tr><td colspan=\"3\">Nothing is recorded.</td></tr>"
    return (f"<h2>Every entry, in time order ({len(chronology['entries'])})</h2>"
            f"<table><thead><tr><th>When</th><th>Lane</th><th>What</th></tr></thead><tbody>{rows}</tbody></table>")


def _swimlane(chronology: dict[str, Any], years: int = 3) -> str:
    """The last `years` years as one row per lane: bars for periods, dots for events."""
    lanes = [lane for lane in chronology["lanes"]
             if any(e["lane"] == lane["key"] for e in chronology["entries"])]
    if not lanes:
        return ""
    end = chronology["as_of"]
    start = end - timedelta(days=365 * years)
    left, width, row = 190, 900, 22
    height = row * len(lanes) + 30

    def x(day: date) -> float:
        clipped = min(max(day, start), end)
        return left + width * (clipped - start).days / max((end - start).days, 1)

    parts = [f"<svg viewBox=\"0 0 {left + width + 10} {height}\" "
             f"role=\"img\" aria-label=\"Chronology swimlane, last {years} years\">"]
    for year in range(start.year + 1, end.year + 1):
        gx = x(date(year, 1, 1))
        parts.append(f"<line x1=\"{gx:.1f}\" y1=\"0\" x2=\"{gx:.1f}\" y2=\"{height - 18}\" stroke=\"#ccc\"/>"
                     f"<text x=\"{gx + 2:.1f}\" y=\"{height - 5}\" font-size=\"10\">{year}</text>")
    for n, lane in enumerate(lanes):
        y = n * row + 4
        colour = _COLOURS.get(lane["kind"], "#607d8b")
        parts.append(f"<text x=\"4\" y=\"{y + 14}\" font-size=\"10.5\">{_e(lane['title'][:30])}</text>")
        for p in chronology["periods"]:
            if p["lane"] == lane["key"] and (p["until"] or end) >= start:
                fill = "#e65100" if p["kind"] == "gap" else colour
                x1, x2 = x(p["since"]), x(p["until"] or end)
                parts.append(f"<rect x=\"{x1:.1f}\" y=\"{y + 5}\" width=\"{max(x2 - x1, 1.5):.1f}\" height=\"9\" "
                             f"fill=\"{fill}\" fill-opacity=\"{0.35 if p['kind'] != 'gap' else 0.6}\"/>")
        for e in chronology["entries"]:
            if e["lane"] == lane["key"] and e["date"] >= start:
                parts.append(f"<circle cx=\"{x(e['date']):.1f}\" cy=\"{y + 9.5}\" r=\"3.5\" fill=\"{colour}\">"
                             f"<title>{_e(when(e))}: {_e(e['text'])}</title></circle>")
    parts.append("</svg>")
    return f"<h2>The last {years} years, by lane</h2>" + "".join(parts)
