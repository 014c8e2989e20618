"""The lead's chronology as lanes of dated entries, from facts graph/chronology.py already shaped for the viewer.

Pure functions, no database: the statement has withheld what the viewer may not see; this arranges the rest
(one lane per agency, plus homes and authorities, plans, school roll, GP, emergency care, missing episodes and
alerts) and computes the gaps in the school roll and the GP list. An entry is dated by `date` (a DATE; for an
instant, its UK calendar day) and, for instants, `at` (UTC); periods (`since`, `until`) draw the lanes' bars.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from graph.alerts import SCHOOL_AGES, shape
from graph.instants import uk_day

# A closed gap shorter than this is not shown: the summer between primary and secondary school (late July to
# early September), or re-registering with a GP after a move. A gap still open is always shown.
REGISTER_GAP_DAYS = 45
FIXED_LANES = {
    "homes": ("Homes and authorities", None),
    "plans": ("Plans", None),
    "school": ("School roll", "school"),
    "gp": ("GP registration", "gp_practice"),
    "emergency": ("Emergency care", "unscheduled_care"),
    "missing": ("Missing episodes", None),
}
PLAN_NAMES = {"cp_plan": "Child protection plan", "looked_after": "Looked after", "child_in_need": "Child in need plan",
              "early_help": "Early help (CAF)"}


def day_text(value: date) -> str:
    """'5 Jan 2026'."""
    return f"{value.day} {value:%b %Y}"


def _day(value: Any) -> date:
    """A DATE as it is; an instant as its UK calendar day."""
    return uk_day(value) if isinstance(value, datetime) else value


class _Chronology:
    """Entries and periods as they are added, and the lanes they fall in (in the order first used)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.periods: list[dict[str, Any]] = []
        self.lanes: dict[str, dict[str, Any]] = {}

    def lane(self, key: str, title: str, kind: str | None, authority: str | None = None) -> str:
        self.lanes.setdefault(key, {"key": key, "title": title, "kind": kind, "authority": authority})
        return key

    def fixed(self, key: str) -> str:
        title, kind = FIXED_LANES[key]
        return self.lane(key, title, kind)

    def entry(self, lane: str, kind: str, when: Any, text: str, **extra: Any) -> None:
        at = when if isinstance(when, datetime) else None
        self.entries.append({"lane": lane, "kind": kind, "date": _day(when), "at": at, "text": text, **extra})

    def period(self, lane: str, kind: str, since: Any, until: Any, label: str) -> None:
        self.periods.append({"lane": lane, "kind": kind, "since": _day(since),
                             "until": None if until is None else _day(until), "label": label})


def build(raw: dict[str, Any], as_of: date) -> dict[str, Any]:
    """Lanes, entries (in time order) and periods from the CHRONOLOGY statement's fields."""
    out = _Chronology()
    for key in ("homes", "plans", "school", "gp", "emergency"):
        out.fixed(key)
    _homes(out, raw["homes"])
    _plans(out, raw["plans"])
    _registrations(out, raw["registrations"])
    if raw["child"].get("status") != "left_england":
        _gaps(out, raw, as_of)
    _attendances(out, raw["attendances"])
    if raw["missing"]:
        _missing(out, raw["missing"])
    _involvements(out, raw["involvements"])
    if raw["alerts"]:
        _alerts(out, raw["alerts"])
    order = {key: n for n, key in enumerate(out.lanes)}
    entries = sorted(out.entries, key=lambda e: (e["date"], e["at"] is not None, e["at"] or datetime.min,
                                                 order[e["lane"]], e["kind"]))
    return {"lanes": list(out.lanes.values()), "entries": entries, "periods": out.periods}


def _place(home: dict[str, Any]) -> str:
    where = ", ".join(x for x in (home["line1"], home["postcode"]) if x)
    return f"{where} ({home['authority']['name']})" if home["authority"] else where


def _homes(out: _Chronology, homes: list[dict[str, Any]]) -> None:
    before: dict[str, Any] | None = None
    for home in homes:
        if home["withheld"]:
            text, kind = "Moved to an address withheld to protect a member of this household", "moved"
        elif before is None:
            text, kind = f"Living at {_place(home)}", "home"
        else:
            crossed = (before["authority"] and home["authority"]
                       and before["authority"]["code"] != home["authority"]["code"])
            kind = "moved_authority" if crossed else "moved"
            text = f"Moved to {_place(home)}" + (f", from {before['authority']['name']}" if crossed else "")
        out.entry("homes", kind, home["since"], text,
                  authority=None if home["withheld"] else home["authority"])
        out.period("homes", "home", home["since"], home["until"],
                   "withheld" if home["withheld"] else (home["authority"] or {}).get("name") or home["postcode"])
        before = home
    if homes and homes[-1]["until"] is not None:
        out.entry("homes", "no_address", homes[-1]["until"], "No current address known after this date")


def _plans(out: _Chronology, plans: list[dict[str, Any]]) -> None:
    for plan in plans:
        name = PLAN_NAMES.get(plan["kind"], plan["kind"])
        who = plan["responsible"]["name"]
        out.entry("plans", "plan_started", plan["since"], f"{name} started ({who} responsible)",
                  plan=plan["kind"], authority=plan["responsible"])
        if plan["until"] is not None:
            out.entry("plans", "plan_ended", plan["until"], f"{name} ended ({who})", plan=plan["kind"],
                      authority=plan["responsible"])
        out.period("plans", plan["kind"], plan["since"], plan["until"], name)


def _registrations(out: _Chronology, registrations: list[dict[str, Any]]) -> None:
    for reg in registrations:
        agency = reg["agency"]
        name = agency["name"]
        if reg["type"] == "ENROLLED_AT":
            lane, start, end = out.fixed("school"), f"Enrolled at {name}", f"Left the roll of {name}"
            kinds = ("enrolled", "left_roll")
        else:
            lane, start, end = out.fixed("gp"), f"Registered with {name}", f"Left the list of {name}"
            kinds = ("registered", "deregistered")
        out.entry(lane, kinds[0], reg["since"], start, agency=agency)
        if reg["until"] is not None:
            out.entry(lane, kinds[1], reg["until"], end, agency=agency)
        out.period(lane, kinds[0], reg["since"], reg["until"], agency["name"])


def gaps(spells: list[list[date | None]], start: date, end: date) -> list[tuple[date, date | None]]:
    """The periods from `start` to `end` (inclusive) covered by no spell: (first day, first day covered again, or
    None if still uncovered at `end`). A spell is [since, until) with until None while open; closed gaps shorter
    than REGISTER_GAP_DAYS are left out."""
    found: list[tuple[date, date | None]] = []
    covered = start
    for since, until in sorted((s for s in spells if s[0] is not None), key=lambda s: s[0]):
        assert since is not None
        if since > end:
            break
        if since > covered and (since - covered).days >= REGISTER_GAP_DAYS:
            found.append((covered, since))
        if until is None:
            return found
        covered = max(covered, until)
    if covered <= end:
        found.append((covered, None))
    return found


def _birthday(dob: date, years: int) -> date:
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:  # 29 February
        return dob.replace(year=dob.year + years, day=28) + timedelta(days=1)


def _gaps(out: _Chronology, raw: dict[str, Any], as_of: date) -> None:
    """School-roll gaps while of school age (5-16, as the alert rule), GP gaps at any age; a gap before the first
    recorded enrolment or registration is not shown (the records may not reach back), unless there is none."""
    dob = raw["child"]["dob"]
    school_from, school_until = _birthday(dob, SCHOOL_AGES[0]), _birthday(dob, SCHOOL_AGES[1] + 1) - timedelta(days=1)
    schools = raw["school_spells"]
    start = max(school_from, min(s[0] for s in schools)) if schools else school_from
    end = min(as_of, school_until)
    if start <= end:
        for since, until in gaps(schools, start, end):
            # Still off the roll on the last day of school age: the gap closed when the child turned 17.
            closed = until if until is not None or end == as_of else end + timedelta(days=1)
            _gap(out, "school", since, closed, as_of, "On no school roll")
    gps = raw["gp_spells"]
    start = min(s[0] for s in gps) if gps else dob
    for since, until in gaps(gps, start, as_of):
        _gap(out, "gp", since, until, as_of, "Registered with no GP practice")


def _gap(out: _Chronology, lane: str, since: date, until: date | None, as_of: date, words: str) -> None:
    days = ((until or as_of) - since).days
    text = (f"{words} for {days} days, to {day_text(until)}" if until is not None
            else f"{words} since {day_text(since)} ({days} days by {day_text(as_of)})")
    out.entry(out.fixed(lane), f"{lane}_gap", since, text, until=until, days=days)
    out.period(lane, "gap", since, until, "gap")


def _attendances(out: _Chronology, visits: list[dict[str, Any]]) -> None:
    hospitals: list[str] = []
    for n, visit in enumerate(visits, start=1):
        agency = visit["agency"]
        if agency["id"] not in hospitals:
            hospitals.append(agency["id"])
        where = agency["name"] + (f" ({agency['authority']})" if agency.get("authority") else "")
        out.entry(out.fixed("emergency"), "emergency_attendance", visit["at"],
                  f"Attended {where}: {visit['reason'] or 'reason not recorded'}", agency=agency,
                  attendance=n, hospitals=len(hospitals))


def _missing(out: _Chronology, episodes: list[dict[str, Any]]) -> None:
    lane = out.fixed("missing")
    for episode in episodes:
        where = episode["authority"]["name"]
        out.entry(lane, "went_missing", episode["since"], f"Went missing ({where})", authority=episode["authority"])
        if episode["until"] is not None:
            out.entry(lane, "returned", episode["until"], f"Returned after going missing ({where})",
                      authority=episode["authority"])
        out.period(lane, "missing", episode["since"], episode["until"], "missing")


def _involvements(out: _Chronology, involvements: list[dict[str, Any]]) -> None:
    """Each involvement's start and end in its agency's lane; one a practitioner recorded themselves (source
    'self') says so, and the lead professional chosen or unset on the card is an entry of its own."""
    for inv in involvements:
        agency, who = inv["agency"], inv["practitioner"]
        lane = out.lane(f"agency:{agency['id']}", agency["name"], agency["kind"], agency.get("authority"))
        service = (inv["service"] or "").replace("_", " ")
        mine = inv.get("self_recorded", False)
        lead = ", as lead professional" if inv["lead"] and not inv.get("lead_set_at") else ""
        said = " (recorded by the practitioner)" if mine else ""
        common = {"agency": agency, "practitioner": who, "lead": inv["lead"], "self_recorded": mine}
        out.entry(lane, "involvement_started", inv["since"],
                  f"{who['name']} ({who['job_title'] or 'practitioner'}) began {service} work{lead}{said}", **common)
        if inv.get("lead_set_at") is not None:
            out.entry(lane, "lead_chosen", inv["lead_set_at"],
                      f"{who['name']} chosen as lead professional ({service})", **common)
        if inv.get("lead_unset_at") is not None:
            out.entry(lane, "lead_unset", inv["lead_unset_at"],
                      f"{who['name']} no longer lead professional ({service})", **common)
        if inv["until"] is not None:
            ended = " (ended by the practitioner)" if mine and inv.get("ended_by_self") else ""
            out.entry(lane, "involvement_ended", inv["until"], f"{who['name']}'s {service} work ended{ended}",
                      **common)
        out.period(lane, "involvement", inv["since"], inv["until"], f"{who['name']}, {service}")


def _alerts(out: _Chronology, alerts: list[dict[str, Any]]) -> None:
    lane = out.lane("alerts", "Alerts", None)
    for raw in alerts:
        alert = shape(raw["item"])
        state = alert["state"]
        out.entry(lane, "alert", alert["raised_at"], f"Alert to {raw['to'] or alert['la_code']} ({state}): "
                  f"{alert['summary']}", alert={"id": alert["id"], "kind": alert["kind"], "state": state,
                                                "la_code": alert["la_code"]})
