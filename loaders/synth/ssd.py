"""A synthetic Standard Safeguarding Dataset extract of one council, made from a synthetic England's feeds.

The children are the England's: those the council's children's social care knows (a council person id, a
plan of the council, or one of its social workers involved), each under the council's own person id, with
the council's view of them (its addresses, workers, referrals, plans, placements, mothers and families).
Written as a SQL Server export writes it: comma-separated, date-times with milliseconds. Same feeds, council
and seed give the same extract. Shares cited below are the DfE's; the rest are named assumptions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

# Assumption: a council's case system holds the NHS number of 70% of its children (sources.NHS_MISSING).
NHS_SHARE = 0.70
# Assumption: and the UPN of 60% of those with one (sources.COUNCIL_UPN_SHARE).
UPN_SHARE = 0.60
# DfE "Characteristics of children in need" 2023: 57% of episodes have abuse or neglect (N1) as primary need,
# family dysfunction 14%, child's disability 9%, acute stress 8%, parental disability 5%, absent parenting 3%,
# other needs the rest.
NEEDS = (("N1", 0.57), ("N5", 0.14), ("N2", 0.09), ("N4", 0.08), ("N3", 0.05), ("N8", 0.03), ("N6", 0.02),
         ("N0", 0.015), ("N7", 0.005))
# DfE CIN census 2023, CP plans by initial category: neglect 49%, emotional abuse 37%, physical 7%, sexual 4%,
# multiple 3%.
CP_CATEGORIES = (("NEG", 0.49), ("EMO", 0.37), ("PHY", 0.07), ("SAB", 0.04), ("MUL", 0.03))
# Assumption: 1% of CP plans are held by another authority (a child placed here from elsewhere).
OLA_SHARE = 0.01
# DfE "Children looked after in England" 2023 (placements at 31 March): foster care 68% (of which ~20% with
# relatives or friends), children's homes and secure units ~17%, placed with parents 7%, other the rest.
PLACEMENTS = (("U4", 0.30), ("U6", 0.245), ("U1", 0.135), ("K2", 0.17), ("P1", 0.07), ("P2", 0.05),
              ("A3", 0.03))
# DfE CLA 2023: 79% on care orders (C1/C2), 17% accommodated under section 20 (V2), the rest placement orders.
LEGAL = (("C2", 0.55), ("C1", 0.24), ("V2", 0.17), ("E1", 0.04))
# Assumption: 30% of periods of care have a second episode (a change of placement or legal status).
SECOND_EPISODE_SHARE = 0.30
# DfE CLA 2023: 11% of looked-after children had a missing incident in the year; assumption: 1-3 episodes each.
MISSING_SHARE = 0.11
# Assumption: 10% of the children the council knows also had a referral that ended with no further action.
NFA_SHARE = 0.10
TEAMS = (("T01", "Front Door"), ("T02", "Assessment"), ("T03", "Child Protection"), ("T04", "Children in Care"),
         ("T05", "Disabled Children"))
TIME = " 00:00:00.000"  # SQL Server's datetime, as an export writes it


def _rng(seed: int, la_code: str) -> np.random.Generator:
    salt = int.from_bytes(hashlib.sha256(la_code.encode()).digest()[:4], "big")
    return np.random.default_rng([seed, salt, 0x55D])


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    codes, weights = zip(*table)
    p = np.array(weights) / sum(weights)
    return np.array(codes, dtype=object)[rng.choice(len(codes), size=n, p=p)]


def _dt(values: pd.Series) -> pd.Series:
    """Dates as an SSD export's date-times (blank stays blank)."""
    text = values.fillna("").astype(str)
    return text.where(text == "", text + TIME)


def _read(feeds: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(feeds / f"{name}.csv", dtype=str, keep_default_na=False)


def _known(feeds: Path, la_code: str, whole: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The children the council knows, with their plans (of the council) and its social workers' involvements."""
    kids, plans, inv = _read(feeds, "children"), _read(feeds, "plans"), _read(feeds, "involvements")
    workers, agencies = _read(feeds, "practitioners"), _read(feeds, "agencies")
    inv = inv[inv["service"] == "social_care"].merge(workers[["practitioner_id", "agency_id"]], on="practitioner_id")
    inv = inv.merge(agencies[["agency_id", "la_code"]], on="agency_id")
    plans = plans[plans["kind"] != "early_help"]
    if not whole:
        plans, inv = plans[plans["la_code"] == la_code], inv[inv["la_code"] == la_code]
        held = (kids["la_code"] == la_code) & (kids["la_child_id"] != "")
        kids = kids[held | kids["child_id"].isin(plans["child_id"]) | kids["child_id"].isin(inv["child_id"])]
    kids = kids.reset_index(drop=True)
    serial = pd.Series(np.arange(1, len(kids) + 1)).astype(str).str.zfill(7)
    kids["person"] = kids["la_child_id"].where(kids["la_child_id"] != "", la_code + "-S" + serial)
    return kids, plans[plans["child_id"].isin(kids["child_id"])], inv[inv["child_id"].isin(kids["child_id"])]


def build(feeds: Path, la_code: str, seed: int, *, whole: bool = False) -> dict[str, pd.DataFrame]:
    """The extract's tables (``whole``: every child of the feeds, as if this council held them all, for scale)."""
    rng = _rng(seed, la_code)
    kids, plans, inv = _known(feeds, la_code, whole)
    person = dict(zip(kids["child_id"], kids["person"]))
    n = len(kids)
    sex = kids["gender"].map({"male": "M", "female": "F", "not_known": "U", "not_specified": "I"})
    upn = kids["upn"].where(rng.random(n) < UPN_SHARE, "")
    out: dict[str, pd.DataFrame] = {}

    carers = _read(feeds, "carers")
    carers = carers[carers["child_id"].isin(kids["child_id"])]
    mothers = carers[carers["relationship"] == "mother"].drop_duplicates(["carer_id", "child_id"])
    first_dob = kids.set_index("child_id")["dob"]
    mum = mothers.assign(dob=mothers["child_id"].map(first_dob)).groupby("carer_id").agg(
        name=("name", "first"), dob=("dob", "min")).reset_index()
    mum_dob = (pd.to_datetime(mum["dob"]) - pd.DateOffset(years=28)).dt.strftime("%Y-%m-%d")
    names = mum["name"].str.rsplit(" ", n=1, expand=True).reindex(columns=[0, 1]).fillna("")
    out["ssd_person"] = pd.concat([
        pd.DataFrame({"pers_legacy_id": "", "pers_person_id": kids["person"], "pers_upn": upn,
                      "pers_forename": kids["given_name"], "pers_surname": kids["family_name"], "pers_sex": sex,
                      "pers_dob": _dt(kids["dob"]), "pers_is_mother": "N"}),
        pd.DataFrame({"pers_legacy_id": "", "pers_person_id": "M" + mum["carer_id"], "pers_upn": "",
                      "pers_forename": names[0], "pers_surname": names[1], "pers_sex": "F",
                      "pers_dob": _dt(mum_dob), "pers_is_mother": "Y"}),
    ], ignore_index=True)
    has_nhs = (kids["nhs_number"] != "") & (rng.random(n) < NHS_SHARE)
    out["ssd_linked_identifiers"] = pd.DataFrame({
        "link_table_id": "L" + kids.index[has_nhs].astype(str), "link_person_id": kids["person"][has_nhs],
        "link_identifier_type": "NHS Number", "link_identifier_value": kids["nhs_number"][has_nhs],
        "link_valid_from_date": _dt(kids["dob"][has_nhs]), "link_valid_to_date": ""})

    res = _read(feeds, "residences").merge(_read(feeds, "addresses"), on="address_id")
    res = res[res["child_id"].isin(kids["child_id"])].reset_index(drop=True)
    out["ssd_address"] = pd.DataFrame({
        "addr_table_id": "A" + res.index.astype(str), "addr_person_id": res["child_id"].map(person),
        "addr_address_type": "Home", "addr_address_start_date": _dt(res["since"]),
        "addr_address_end_date": _dt(res["until"]), "addr_address_postcode": res["postcode"],
        "addr_address_json": [json.dumps({"STREET": a, "TOWN": t}) for a, t in zip(res["line1"], res["town"])]})

    out["ssd_department"] = pd.DataFrame({"dept_team_id": [t for t, _ in TEAMS], "dept_team_name": [n for _, n in TEAMS],
                                          "dept_team_parent_id": "", "dept_team_parent_name": ""})
    workers = _read(feeds, "practitioners")
    workers = workers[workers["practitioner_id"].isin(inv["practitioner_id"])].reset_index(drop=True)
    out["ssd_professionals"] = pd.DataFrame({
        "prof_professional_id": workers["practitioner_id"], "prof_staff_id": "",
        "prof_professional_name": workers["name"], "prof_professional_job_title": workers["job_title"],
        "prof_professional_department": np.array([t for t, _ in TEAMS])[rng.integers(len(TEAMS), size=len(workers))]})
    inv = inv.reset_index(drop=True)
    out["ssd_involvements"] = pd.DataFrame({
        "invo_involvements_id": "I" + inv.index.astype(str), "invo_professional_id": inv["practitioner_id"],
        "invo_person_id": inv["child_id"].map(person), "invo_involvement_start_date": _dt(inv["since"]),
        "invo_involvement_end_date": _dt(inv["until"])})
    out.update(_casework(rng, plans.reset_index(drop=True), kids, res, person))
    fam = carers.drop_duplicates("child_id")[["carer_id", "child_id"]]
    out["ssd_family"] = pd.DataFrame({"fami_table_id": "F" + fam.index.astype(str), "fami_family_id": fam["carer_id"],
                                      "fami_person_id": fam["child_id"].map(person)})
    out["ssd_mother"] = pd.DataFrame({
        "moth_table_id": "MO" + mothers.index.astype(str), "moth_person_id": "M" + mothers["carer_id"],
        "moth_childs_person_id": mothers["child_id"].map(person), "moth_childs_dob": _dt(mothers["child_id"].map(first_dob))})
    out["ssd_contacts"] = pd.DataFrame({"cont_contact_id": "C" + kids.index.astype(str), "cont_person_id": kids["person"],
                                        "cont_contact_date": _dt(kids["dob"])})
    return out


def _casework(rng: np.random.Generator, plans: pd.DataFrame, kids: pd.DataFrame, res: pd.DataFrame,
              person: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Referrals, CIN and CP plans, periods of care with their episodes, placements, legal statuses, missing."""
    m = len(plans)
    since = pd.to_datetime(plans["since"])
    dob = pd.to_datetime(plans["child_id"].map(kids.set_index("child_id")["dob"]))
    referral = np.maximum(since - timedelta(days=14), dob).dt.strftime("%Y-%m-%d")
    until = pd.to_datetime(plans["until"].replace("", None))
    close = (until + timedelta(days=7)).dt.strftime("%Y-%m-%d").fillna("")
    pid = plans["child_id"].map(person)
    ref = "R" + plans.index.astype(str)
    nfa = kids[rng.random(len(kids)) < NFA_SHARE]
    out = {"ssd_cin_episodes": pd.concat([
        pd.DataFrame({"cine_referral_id": ref, "cine_person_id": pid, "cine_referral_date": _dt(pd.Series(referral)),
                      "cine_cin_primary_need_code": _pick(rng, NEEDS, m), "cine_referral_nfa": "N",
                      "cine_close_date": _dt(pd.Series(close))}),
        pd.DataFrame({"cine_referral_id": "RN" + nfa.index.astype(str), "cine_person_id": nfa["person"],
                      "cine_referral_date": _dt(nfa["dob"]), "cine_cin_primary_need_code": "N0",
                      "cine_referral_nfa": "Y", "cine_close_date": _dt(nfa["dob"])}),
    ], ignore_index=True)}
    cin, cp, la = (plans["kind"] == k for k in ("child_in_need", "cp_plan", "looked_after"))
    out["ssd_cin_plans"] = pd.DataFrame({"cinp_cin_plan_id": "CINP" + plans.index[cin].astype(str),
                                         "cinp_referral_id": ref[cin], "cinp_person_id": pid[cin],
                                         "cinp_cin_plan_start_date": _dt(plans["since"][cin]),
                                         "cinp_cin_plan_end_date": _dt(plans["until"][cin])})
    category = _pick(rng, CP_CATEGORIES, int(cp.sum()))
    out["ssd_cp_plans"] = pd.DataFrame({
        "cppl_cp_plan_id": "CP" + plans.index[cp].astype(str), "cppl_referral_id": ref[cp], "cppl_person_id": pid[cp],
        "cppl_cp_plan_start_date": _dt(plans["since"][cp]), "cppl_cp_plan_end_date": _dt(plans["until"][cp]),
        "cppl_cp_plan_ola": np.where(rng.random(int(cp.sum())) < OLA_SHARE, "Y", "N"),
        "cppl_cp_plan_initial_category": category, "cppl_cp_plan_latest_category": category})
    out.update(_care(rng, plans[la], ref[la], pid[la], res, person))
    return out


def _care(rng: np.random.Generator, plans: pd.DataFrame, ref: pd.Series, pid: pd.Series, res: pd.DataFrame,
          person: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Each period of care as one or two episodes, a placement each (at the child's home then), its legal status
    and missing episodes."""
    episodes, placements, legal, missing = [], [], [], []
    homes = res.assign(person=res["child_id"].map(person)).sort_values("since").groupby("person")
    postcodes = {p: list(zip(g["since"], g["postcode"])) for p, g in homes}
    for i, (who, start, end, referral) in enumerate(zip(pid, plans["since"], plans["until"], ref)):
        first, last = pd.Timestamp(start), pd.Timestamp(end) if end else pd.Timestamp.today().normalize()
        cuts = [start]
        if rng.random() < SECOND_EPISODE_SHARE and (last - first).days > 60:
            cuts.append((first + (last - first) / 2).strftime("%Y-%m-%d"))
        known = [pc for day, pc in postcodes.get(who, []) if day <= start] or [pc for _, pc in postcodes.get(who, [])]
        for j, cut in enumerate(cuts):
            ceased = cuts[j + 1] if j + 1 < len(cuts) else end
            episodes.append((f"E{i}-{j}", who, f"PL{i}-{j}", cut, "N1", ceased, f"CLA{i}", referral))
            placements.append((f"PL{i}-{j}", f"CLA{i}", who, cut, _pick(rng, PLACEMENTS, 1)[0],
                               known[-1] if known else "", ceased))
        legal.append((f"LS{i}", who, _pick(rng, LEGAL, 1)[0], start, end))
        if rng.random() < MISSING_SHARE:
            for k in range(int(rng.integers(1, 4))):
                day = first + timedelta(days=int(rng.integers(0, max((last - first).days, 1))))
                back = day + timedelta(days=int(rng.integers(0, 3)))
                missing.append((f"MS{i}-{k}", who, day.strftime("%Y-%m-%d"), "M" if rng.random() < 0.85 else "A",
                                back.strftime("%Y-%m-%d"), "Y", "Y" if rng.random() < 0.6 else "N"))
    ep = pd.DataFrame(episodes, columns=["clae_cla_episode_id", "clae_person_id", "clae_cla_placement_id",
                                         "clae_cla_episode_start_date", "clae_cla_primary_need_code",
                                         "clae_cla_episode_ceased_date", "clae_cla_id", "clae_referral_id"])
    pl = pd.DataFrame(placements, columns=["clap_cla_placement_id", "clap_cla_id", "clap_person_id",
                                           "clap_cla_placement_start_date", "clap_cla_placement_type",
                                           "clap_cla_placement_postcode", "clap_cla_placement_end_date"])
    lg = pd.DataFrame(legal, columns=["lega_legal_status_id", "lega_person_id", "lega_legal_status",
                                      "lega_legal_status_start_date", "lega_legal_status_end_date"])
    ms = pd.DataFrame(missing, columns=["miss_table_id", "miss_person_id", "miss_missing_episode_start_date",
                                        "miss_missing_episode_type", "miss_missing_episode_end_date",
                                        "miss_missing_rhi_offered", "miss_missing_rhi_accepted"])
    for frame in (ep, pl, lg, ms):
        for col in [c for c in frame.columns if c.endswith("_date")]:
            frame[col] = _dt(frame[col])
    return {"ssd_cla_episodes": ep, "ssd_cla_placement": pl, "ssd_legal_status": lg, "ssd_missing": ms}


def write(feeds: Path, out: Path, la_code: str, seed: int, *, whole: bool = False) -> dict[str, int]:
    """Write the extract's tables as `<table>.csv` into ``out``; return rows per table."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in build(feeds, la_code, seed, whole=whole).items():
        tmp = out / f".{name}.csv.tmp"
        frame.to_csv(tmp, index=False, lineterminator="\n")
        tmp.replace(out / f"{name}.csv")
        counts[name] = len(frame)
    return counts
