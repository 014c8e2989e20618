"""The SSD's workers, teams, involvements, plans, placements and missing episodes as feed rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

from loaders.ssd import codes
from loaders.ssd.people import NOT_RECORDED, Council, Entry, People, address_values, date_of, start_of
from loaders.ssd.read import Extract, Row

Rejects = list[tuple[str, int, str, list[str]]]
SERVICE = "social_care"


def teams(extract: Extract, council: Council) -> tuple[list[Entry], dict[str, str]]:
    """The council's children's social care (line 0: made by the import) and each ssd_department team as an
    agency of kind social_care; and the agency of each team, by its id and by its name (lower case)."""
    rows: list[Entry] = [(0, {"agency_id": council.agency_id, "name": f"{council.name} children's social care",
                              "kind": SERVICE, "la_code": council.la_code}, None, [])]
    by_team: dict[str, str] = {}
    for row in extract.table("ssd_department").rows:
        team, name = row.get("dept_team_id"), row.get("dept_team_name")
        if team is None or name is None:
            rows.append((row.line, None, f"{'dept_team_id' if team is None else 'dept_team_name'}: missing", row.raw))
            continue
        agency = council.key("team", team)
        rows.append((row.line, {"agency_id": agency, "name": f"{council.name} children's social care: {name}",
                                "kind": SERVICE, "la_code": council.la_code}, None, row.raw))
        by_team[team.lower()] = by_team[name.lower()] = agency
    return rows, by_team


def practitioners(extract: Extract, council: Council, by_team: dict[str, str]) -> Iterator[Entry]:
    """ssd_professionals as practitioners of their team (or of the council's social care, if it names none)."""
    for row in extract.table("ssd_professionals").rows:
        worker, name = row.get("prof_professional_id"), row.get("prof_professional_name")
        if worker is None or name is None:
            missing = "prof_professional_id" if worker is None else "prof_professional_name"
            yield row.line, None, f"{missing}: missing", row.raw
            continue
        team = (row.get("prof_professional_department") or "").lower()
        yield row.line, {"practitioner_id": council.key("worker", worker), "name": name,
                         "job_title": row.get("prof_professional_job_title") or NOT_RECORDED,
                         "agency_id": by_team.get(team, council.agency_id)}, None, row.raw


def involvements(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_involvements: a worker of the council working with a child, from when to when."""
    for row in extract.table("ssd_involvements").rows:
        person, worker = row.get("invo_person_id"), row.get("invo_professional_id")
        try:
            since, until = start_of(row, "invo_involvement_start_date"), date_of(row, "invo_involvement_end_date")
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = people.refuse("invo_person_id", person) or (None if worker else "invo_professional_id: missing")
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, {"practitioner_id": council.key("worker", worker), **council.child(person),
                         "service": SERVICE, "since": since, "until": until}, None, row.raw


def _plan(council: Council, person: str, kind: str, since: date | None, until: date | None,
          category: str | None = None, other: bool = False) -> dict[str, Any]:
    return {**council.child(person), "la_code": council.la_code, "kind": kind, "since": since, "until": until,
            "category": category, "other_authority": other}


def cin_needs(extract: Extract, people: People, rejects: Rejects) -> tuple[dict[str, tuple[Row, str | None]], set[str]]:
    """Each CIN episode (by referral id) with its need mapped; an episode with an unknown need code or a bad
    date is rejected. Also the referrals that led to a plan or to care (they are not a period of their own)."""
    episodes: dict[str, tuple[Row, str | None]] = {}
    for row in extract.table("ssd_cin_episodes").rows:
        try:
            need = codes.code("cine_cin_primary_need_code", row.get("cine_cin_primary_need_code"),
                              codes.CIN_NEED, "CIN need")
            start_of(row, "cine_referral_date"), date_of(row, "cine_close_date")
            codes.flag("cine_referral_nfa", row.get("cine_referral_nfa"))
        except ValueError as exc:
            rejects.append(("ssd_cin_episodes.csv", row.line, str(exc), row.raw))
            continue
        episodes[row.get("cine_referral_id") or f"line-{row.line}"] = (row, need)
    planned = {r.get(col) for table, col in (("ssd_cin_plans", "cinp_referral_id"), ("ssd_cp_plans", "cppl_referral_id"),
                                             ("ssd_cla_episodes", "clae_referral_id"))
               for r in extract.table(table).rows if r.get(col)}
    return episodes, planned


def cin_episode_periods(extract: Extract, council: Council, people: People, rejects: Rejects) -> Iterator[Entry]:
    """A referral accepted (not no-further-action) that led to no plan and no care is a child-in-need period of
    its own, from referral to closure."""
    episodes, planned = cin_needs(extract, people, rejects)
    for referral, (row, need) in episodes.items():
        if referral in planned or codes.flag("cine_referral_nfa", row.get("cine_referral_nfa")):
            continue
        person = row.get("cine_person_id")
        reason = people.refuse("cine_person_id", person)
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, _plan(council, person, "child_in_need", date_of(row, "cine_referral_date"),
                              date_of(row, "cine_close_date"), need), None, row.raw


def cin_plans(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_cin_plans as child-in-need periods, with the need of their referral."""
    needs: dict[str, str | None] = {}
    for row in extract.table("ssd_cin_episodes").rows:
        try:
            needs[row.get("cine_referral_id") or ""] = codes.code(
                "cine_cin_primary_need_code", row.get("cine_cin_primary_need_code"), codes.CIN_NEED, "CIN need")
        except codes.UnknownCode:
            continue
    for row in extract.table("ssd_cin_plans").rows:
        person = row.get("cinp_person_id")
        try:
            since, until = start_of(row, "cinp_cin_plan_start_date"), date_of(row, "cinp_cin_plan_end_date")
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = people.refuse("cinp_person_id", person)
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, _plan(council, person, "child_in_need", since, until,
                              needs.get(row.get("cinp_referral_id") or "")), None, row.raw


def cp_plans(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_cp_plans as CP plans, with the latest category (or the initial one) and whether another authority
    holds the plan."""
    for row in extract.table("ssd_cp_plans").rows:
        person = row.get("cppl_person_id")
        try:
            since, until = start_of(row, "cppl_cp_plan_start_date"), date_of(row, "cppl_cp_plan_end_date")
            initial = codes.code("cppl_cp_plan_initial_category", row.get("cppl_cp_plan_initial_category"),
                                 codes.CP_CATEGORY, "CP category")
            latest = codes.code("cppl_cp_plan_latest_category", row.get("cppl_cp_plan_latest_category"),
                                codes.CP_CATEGORY, "CP category")
            other = codes.flag("cppl_cp_plan_ola", row.get("cppl_cp_plan_ola")) or False
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = people.refuse("cppl_person_id", person)
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, _plan(council, person, "cp_plan", since, until, latest or initial, other), None, row.raw


def legal_statuses(extract: Extract, rejects: Rejects) -> dict[str, list[tuple[date, date | None, str]]]:
    """Each person's legal statuses (start, end, status) from ssd_legal_status; a bad code or date rejects its row."""
    out: dict[str, list[tuple[date, date | None, str]]] = defaultdict(list)
    for row in extract.table("ssd_legal_status").rows:
        try:
            status = codes.code("lega_legal_status", row.get("lega_legal_status"), codes.LEGAL_STATUS, "legal status")
            since, until = date_of(row, "lega_legal_status_start_date"), date_of(row, "lega_legal_status_end_date")
        except ValueError as exc:
            rejects.append(("ssd_legal_status.csv", row.line, str(exc), row.raw))
            continue
        if row.get("lega_person_id") and status and since:
            out[row.get("lega_person_id")].append((since, until, status))
    return out


def _status_at(statuses: list[tuple[date, date | None, str]], since: date) -> str | None:
    """The legal status in force on the day a period of care began (the latest to start on or before it)."""
    current = [(s, status) for s, u, status in statuses if s <= since and (u is None or u >= since)]
    return max(current)[1] if current else None


def cla_periods(extract: Extract, council: Council, people: People, rejects: Rejects) -> Iterator[Entry]:
    """ssd_cla_episodes as looked-after periods: the episodes of one period of care (clae_cla_id) are one
    period, from its first start to its last ceased date (open while any episode is); its category is the
    legal status in force when it began. An episode with a bad date or need code is rejected on its own."""
    statuses = legal_statuses(extract, rejects)
    periods: dict[tuple[str, str], list[tuple[Row, date, date | None]]] = defaultdict(list)
    for row in extract.table("ssd_cla_episodes").rows:
        person = row.get("clae_person_id")
        try:
            codes.code("clae_cla_primary_need_code", row.get("clae_cla_primary_need_code"), codes.CIN_NEED, "CIN need")
            since, until = start_of(row, "clae_cla_episode_start_date"), date_of(row, "clae_cla_episode_ceased_date")
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = people.refuse("clae_person_id", person)
        if reason:
            yield row.line, None, reason, row.raw
            continue
        periods[(person, row.get("clae_cla_id") or row.get("clae_cla_episode_id") or str(row.line))].append(
            (row, since, until))
    for (person, _), episodes in periods.items():
        first = min(episodes, key=lambda e: (e[1], e[0].line))
        open_ = any(until is None for _, _, until in episodes)
        until = None if open_ else max(u for _, _, u in episodes if u is not None)
        yield first[0].line, _plan(council, person, "looked_after", first[1], until,
                                   _status_at(statuses.get(person, []), first[1])), None, first[0].raw


def placements(extract: Extract, council: Council, people: People) -> tuple[list[Entry], list[Entry]]:
    """ssd_cla_placement as placement addresses (the postcode and the placement's type, nothing else) and the
    looked-after child's residence there: each placement move is a move."""
    places: list[Entry] = []
    lived: list[Entry] = []
    for row in extract.table("ssd_cla_placement").rows:
        person = row.get("clap_person_id")
        try:
            kind = codes.code("clap_cla_placement_type", row.get("clap_cla_placement_type"), codes.PLACEMENT_TYPE,
                              "placement type")
            since = start_of(row, "clap_cla_placement_start_date")
            until = date_of(row, "clap_cla_placement_end_date")
        except ValueError as exc:
            places.append((row.line, None, str(exc), row.raw))
            continue
        placement = row.get("clap_cla_placement_id")
        reason = (people.refuse("clap_person_id", person)
                  or (None if placement else "clap_cla_placement_id: missing")
                  or (None if row.get("clap_cla_placement_postcode") else "clap_cla_placement_postcode: missing"))
        values = None
        if reason is None:
            line1 = f"Placement: {(kind or 'type not recorded').replace('_', ' ')}"
            values, reason = address_values(council, council.key("placement", placement),
                                            row.get("clap_cla_placement_postcode"), {}, line1)
        if reason or values is None:
            places.append((row.line, None, reason, row.raw))
            continue
        places.append((row.line, values, None, row.raw))
        lived.append((row.line, {**council.child(person), "address_id": values["address_id"], "since": since,
                                 "until": until}, None, row.raw))
    return places, lived


def missing(extract: Extract, council: Council, people: People) -> Iterator[Entry]:
    """ssd_missing as missing episodes (kept minimally: when, how long, which kind, the return interview)."""
    for row in extract.table("ssd_missing").rows:
        person = row.get("miss_person_id")
        try:
            kind = codes.code("miss_missing_episode_type", row.get("miss_missing_episode_type") or "M",
                              codes.MISSING_TYPE, "missing episode type")
            since = start_of(row, "miss_missing_episode_start_date")
            until = date_of(row, "miss_missing_episode_end_date")
            offered = codes.flag("miss_missing_rhi_offered", row.get("miss_missing_rhi_offered"))
            accepted = codes.flag("miss_missing_rhi_accepted", row.get("miss_missing_rhi_accepted"))
        except ValueError as exc:
            yield row.line, None, str(exc), row.raw
            continue
        reason = people.refuse("miss_person_id", person)
        if reason:
            yield row.line, None, reason, row.raw
            continue
        yield row.line, {**council.child(person), "la_code": council.la_code, "kind": kind, "since": since,
                         "until": until, "return_interview_offered": offered,
                         "return_interview_accepted": accepted}, None, row.raw
