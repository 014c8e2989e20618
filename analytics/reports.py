"""What reviewers receive: suppressed prevalence tables and pseudonymised cases and networks.

Everything here takes the rows graph.analytics returns (real ids) and gives back only pseudonyms,
kinds, authorities, months of events (and days between them), age bands and counts: no names,
addresses, postcodes, exact dates or real ids of children, carers, practitioners or agencies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from analytics import networks
from analytics.privacy import pseudonym, suppress_table
from graph.instants import uk_day

AGE_BANDS = ((0, 4, "0-4"), (5, 10, "5-10"), (11, 15, "11-15"), (16, 17, "16-17"))
FRAGMENTATION_BANDS = ("none", "some", "high")  # score 0; above 0 up to 0.5; above 0.5


def age_band(age: int) -> str:
    """A coarse age band instead of the age (a quasi-identifier)."""
    return next(label for low, high, label in AGE_BANDS if low <= age <= high)


def _rate(count: int | str, children: int | str) -> float | None:
    if isinstance(count, int) and isinstance(children, int) and children > 0:
        return round(1000 * count / children, 1)
    return None


def prevalence(rows: Sequence[Mapping[str, Any]], patterns: Sequence[str]) -> dict[str, Any]:
    """One date and cohort: per authority and nationally, children, counts and rates per 1,000, suppressed.

    Suppression runs over the whole table (authorities x measures, with the national totals), so no
    authority's withheld count can be worked back from the national figure and the other authorities.
    """
    columns = ["children", *patterns]
    table = [[int(r[c]) for c in columns] for r in rows]
    if not table:
        return {"authorities": [], "national": None}
    cells, _, totals, _ = suppress_table(table, col_totals=True)
    assert totals is not None

    def shaped(values: Sequence[int | str]) -> dict[str, Any]:
        children = values[0]
        counts = dict(zip(patterns, values[1:]))
        return {"children": children, "counts": counts,
                "per_1000": {p: _rate(v, children) for p, v in counts.items()}}

    return {
        "authorities": [{"code": r["la_code"], "name": r.get("name"), **shaped(cells[n])} for n, r in enumerate(rows)],
        "national": shaped(totals),
    }


def trend(published: Mapping[date, Mapping[str, Any]], la_code: str | None) -> list[dict[str, Any]]:
    """An authority's (or the nation's) figures on each date, taken from the already suppressed tables."""
    points = []
    for day in sorted(published):
        table = published[day]
        if la_code is None:
            row = table["national"]
        else:
            row = next((a for a in table["authorities"] if a["code"] == la_code), None)
        if row is not None:
            points.append({"date": day, "children": row["children"], "counts": row["counts"],
                           "per_1000": row["per_1000"]})
    return points


def case_list(rows: Sequence[Mapping[str, Any]], key: bytes) -> list[dict[str, Any]]:
    """Cases showing patterns: pseudonym, age band, cohorts and patterns, in pseudonym order."""
    out = [{"case": pseudonym(key, "child", r["id"]), "age_band": age_band(r["age"]),
            "cohorts": sorted(r["cohorts"]), "patterns": sorted(p for p, on in r["flags"].items() if on)}
           for r in rows]
    return sorted(out, key=lambda c: c["case"])


def _month(day: date | None) -> str | None:
    return None if day is None else f"{day.year:04d}-{day.month:02d}"


def _timed(events: list[dict[str, Any]], anchor: date) -> None:
    """Replace each event's date by its month and its day counted from the case's first event.

    Intervals stay exact (a transfer-in 22 days late), while no exact date is shown: a registration on the
    day of birth would otherwise give the date of birth away.
    """
    for event in events:
        day = event.pop("date")
        event["month"], event["day"] = _month(day), (day - anchor).days


def _day(value: Any) -> date:
    """The UK calendar day of a visit's instant (a visit at 23:30 UTC in summer is on the next UK day)."""
    return uk_day(value) if isinstance(value, datetime) else value


def _lanes(raw: Mapping[str, Any], key: bytes) -> list[dict[str, Any]]:
    """The chronology: one lane per agency (and one for residence and plans), events in time order."""
    lanes: dict[str, dict[str, Any]] = {}

    def lane(agency: str, kind: str, la: str) -> list[dict[str, Any]]:
        ps = pseudonym(key, "agency", agency)
        return lanes.setdefault(ps, {"lane": ps, "agency_kind": kind, "authority": la, "events": []})["events"]

    for inv in raw["involvements"]:
        events = lane(inv["agency"], inv["kind"], inv["la"])
        who = pseudonym(key, "practitioner", inv["practitioner"])
        events.append({"date": inv["since"], "event": "involvement_started", "practitioner": who,
                       "service": inv["service"], "lead": inv["lead"]})
        if inv["until"] is not None:
            events.append({"date": inv["until"], "event": "involvement_ended", "practitioner": who,
                           "service": inv["service"]})
    for reg in raw["registrations"]:
        events = lane(reg["agency"], reg["kind"], reg["la"])
        school = reg["type"] == "ENROLLED_AT"
        events.append({"date": reg["since"], "event": "enrolled" if school else "registered"})
        if reg["until"] is not None:
            events.append({"date": reg["until"], "event": "left_roll" if school else "deregistered"})
    for visit in raw["visits"]:
        lane(visit["agency"], visit["kind"], visit["la"]).append({"date": _day(visit["at"]), "event": "attended"})
    plan_events = []
    for plan in raw["plans"]:
        plan_events.append({"date": plan["since"], "event": "plan_started", "plan": plan["kind"],
                            "authority": plan["name"]})
        if plan["until"] is not None:
            plan_events.append({"date": plan["until"], "event": "plan_ended", "plan": plan["kind"],
                                "authority": plan["name"]})
    missing = []
    for episode in raw.get("missing", ()):
        missing.append({"date": episode["since"], "event": f"went_{episode['kind']}", "authority": episode["name"]})
        if episode["until"] is not None:
            missing.append({"date": episode["until"], "event": "returned", "authority": episode["name"]})
    homes = raw["homes"]
    moves = [{"date": after["since"], "event": "moved", "from": before["name"], "to": after["name"]}
             for before, after in zip(homes, homes[1:])]
    out = sorted(lanes.values(), key=lambda x: (x["agency_kind"], x["lane"]))
    out += [{"lane": "plans", "agency_kind": None, "authority": None, "events": plan_events},
            {"lane": "residence", "agency_kind": None, "authority": None, "events": moves}]
    if missing:
        out.append({"lane": "missing", "agency_kind": None, "authority": None, "events": missing})
    every = [e for item in out for e in item["events"]]
    anchor = min((e["date"] for e in every), default=date.today())
    for item in out:
        item["events"].sort(key=lambda e: e["date"])
        _timed(item["events"], anchor)
    return out


def case_view(raw: Mapping[str, Any], child_id: str, key: bytes) -> dict[str, Any]:
    """A pseudonymised case: patterns, the involvement network and the chronology by agency lane."""
    me = pseudonym(key, "child", child_id)
    nodes: dict[str, dict[str, Any]] = {me: {"id": me, "kind": "child"}}
    edges: list[dict[str, Any]] = []
    for carer in raw["carers"]:
        ps = pseudonym(key, "carer", carer["carer"])
        nodes[ps] = {"id": ps, "kind": "carer"}
        edges.append({"source": ps, "target": me, "type": "cares_for", "relationship": carer["relationship"]})
    for inv in raw["involvements"]:
        who = pseudonym(key, "practitioner", inv["practitioner"])
        agency = pseudonym(key, "agency", inv["agency"])
        nodes[who] = {"id": who, "kind": "practitioner"}
        nodes[agency] = {"id": agency, "kind": "agency", "agency_kind": inv["kind"], "authority": inv["la"]}
        edges.append({"source": who, "target": me, "type": "involved_with", "service": inv["service"],
                      "since": _month(inv["since"]), "until": _month(inv["until"]), "lead": inv["lead"]})
        if not any(e["source"] == who and e["target"] == agency for e in edges):
            edges.append({"source": who, "target": agency, "type": "works_for"})
    for reg in raw["registrations"]:
        agency = pseudonym(key, "agency", reg["agency"])
        nodes.setdefault(agency, {"id": agency, "kind": "agency", "agency_kind": reg["kind"], "authority": reg["la"]})
        edges.append({"source": me, "target": agency, "type": reg["type"].lower(), "since": _month(reg["since"]),
                      "until": _month(reg["until"])})
    return {
        "case": me, "age_band": age_band(raw["age"]), "cohorts": sorted(raw["cohorts"]),
        "patterns": sorted(p for p, on in raw["flags"].items() if on),
        "network": {"nodes": list(nodes.values()), "edges": edges},
        "lanes": _lanes(raw, key),
    }


def network_report(rows: Sequence[Mapping[str, Any]], key: bytes, top: int = 10) -> dict[str, Any]:
    """Bridges, household clusters and fragmentation of one authority's subgraph, pseudonymised."""
    household_of = networks.households({r["child"]: r["carers"] for r in rows})
    involvements = [networks.Involvement(r["child"], i["practitioner"], i["agency"], i["lead"])
                    for r in rows for i in r["involvements"]]
    kinds = {i["agency"]: i["kind"] for r in rows for i in r["involvements"]}
    agency_of = {i.practitioner: i.agency for i in involvements}
    bridges = []
    for kind, name, score in networks.bridges(involvements, household_of, top=top):
        agency = name if kind == "agency" else agency_of[name]
        bridges.append({"id": pseudonym(key, kind, name), "kind": kind, "agency_kind": kinds[agency],
                        "betweenness": round(score, 4)})
    clusters = [{"households": len(c.households), "children": c.children,
                 "shared_practitioners": [pseudonym(key, "practitioner", p) for p in c.shared_practitioners],
                 "shared_addresses": len(c.shared_addresses)}
                for c in networks.clusters(household_of, involvements, {r["child"]: r["address"] for r in rows})]
    scored = networks.fragmentation_all(involvements)
    several = [f for f in scored.values() if f.agencies >= 2]
    bands = [[sum(1 for f in several if f.score == 0)], [sum(1 for f in several if 0 < f.score <= 0.5)],
             [sum(1 for f in several if f.score > 0.5)]]
    cells, _, totals, _ = suppress_table(bands, col_totals=True)
    worst = sorted(((f.score, f.agencies, child) for child, f in scored.items() if f.score > 0), reverse=True)[:top]
    return {
        "bridges": bridges,
        "clusters": clusters[:top],
        "fragmentation": {
            "bands": {name: cells[n][0] for n, name in enumerate(FRAGMENTATION_BANDS)},
            "children_with_two_or_more_agencies": totals[0] if totals else 0,
            "most_fragmented": [{"case": pseudonym(key, "child", child), "agencies": scored[child].agencies,
                                 "groups": scored[child].groups, "isolated": scored[child].isolated,
                                 "score": score} for score, _, child in worst],
        },
    }
