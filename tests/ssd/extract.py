"""A small SSD extract by hand: every table the import uses, one ignored, written as a council's export would."""

from __future__ import annotations

import copy
import csv
from datetime import date
from pathlib import Path
from typing import Any

NHS_OLIVER = "9434765919"  # passes Modulus 11
UPN_OLIVER = "A123456789012"
FORMER_UPN_PRIYA = "B123456789013"

Tables = dict[str, list[dict[str, Any]]]


def tables() -> Tables:
    """Oliver (on a CP plan, at two addresses), his brother Jack (a closed CIN episode) and their mother, Priya
    (a CIN plan, an ended CP plan held by another authority) and Ruby (looked after: two placements)."""
    return copy.deepcopy({
        "ssd_person": [
            dict(pers_person_id="P1", pers_forename="Oliver", pers_surname="Hughes", pers_sex="M",
                 pers_dob=date(2015, 4, 7), pers_upn=UPN_OLIVER, pers_is_mother="N"),
            dict(pers_person_id="P2", pers_forename="Priya", pers_surname="Shah", pers_sex="F",
                 pers_dob=date(2011, 11, 30)),
            dict(pers_person_id="P3", pers_forename="Jack", pers_surname="Hughes", pers_sex="1",
                 pers_dob=date(2018, 6, 1)),
            dict(pers_person_id="M1", pers_forename="Sarah", pers_surname="Hughes", pers_sex="F",
                 pers_dob=date(1985, 1, 1), pers_is_mother="Y"),
            dict(pers_person_id="P4", pers_forename="Ruby", pers_surname="Price", pers_sex="Female",
                 pers_dob=date(2009, 3, 3)),
        ],
        "ssd_linked_identifiers": [
            dict(link_table_id="L1", link_person_id="P1", link_identifier_type="NHS Number",
                 link_identifier_value="943 476 5919", link_valid_from_date=date(2015, 4, 8)),
            dict(link_table_id="L2", link_person_id="P2", link_identifier_type="Former Unique Pupil Number",
                 link_identifier_value=FORMER_UPN_PRIYA, link_valid_from_date=date(2016, 9, 1)),
        ],
        "ssd_address": [
            dict(addr_table_id="A1", addr_person_id="P1", addr_address_postcode="LS6 2AB",
                 addr_address_start_date=date(2015, 4, 7), addr_address_end_date=date(2020, 1, 31)),
            dict(addr_table_id="A2", addr_person_id="P1", addr_address_postcode="ls11aa",
                 addr_address_start_date=date(2020, 2, 1),
                 addr_address_json='{"HOUSE": "12", "STREET": "Park Row", "TOWN": "Leeds"}'),
            dict(addr_table_id="A3", addr_person_id="P2", addr_address_postcode="LS1 4AP",
                 addr_address_start_date=date(2011, 11, 30)),
            dict(addr_table_id="A4", addr_person_id="M1", addr_address_postcode="LS1 1AA",
                 addr_address_start_date=date(2010, 1, 1)),
            dict(addr_table_id="A5", addr_person_id="P4", addr_address_postcode="LS9 8AB",
                 addr_address_start_date=date(2009, 3, 3), addr_address_end_date=date(2023, 5, 1)),
        ],
        "ssd_department": [
            dict(dept_team_id="T1", dept_team_name="Assessment East"),
            dict(dept_team_id="T2", dept_team_name="Children in Care"),
        ],
        "ssd_professionals": [
            dict(prof_professional_id="W1", prof_professional_name="Amy Clarke",
                 prof_professional_job_title="Social Worker", prof_professional_department="T1"),
            dict(prof_professional_id="W2", prof_professional_name="Ben Ode",
                 prof_professional_job_title="Senior Practitioner", prof_professional_department="children in care"),
            dict(prof_professional_id="W3", prof_professional_name="Cara Dunn"),
        ],
        "ssd_involvements": [
            dict(invo_involvements_id="I1", invo_professional_id="W1", invo_person_id="P1",
                 invo_involvement_start_date=date(2024, 1, 10)),
            dict(invo_involvements_id="I2", invo_professional_id="W2", invo_person_id="P4",
                 invo_involvement_start_date=date(2023, 5, 1), invo_involvement_end_date=date(2024, 2, 1)),
            dict(invo_involvements_id="I3", invo_professional_id="W3", invo_person_id="P2",
                 invo_involvement_start_date=date(2024, 3, 1)),
        ],
        "ssd_cin_episodes": [
            dict(cine_referral_id="R1", cine_person_id="P2", cine_referral_date=date(2024, 2, 1),
                 cine_cin_primary_need_code="N4", cine_referral_nfa="N"),
            dict(cine_referral_id="R2", cine_person_id="P1", cine_referral_date=date(2024, 1, 5),
                 cine_cin_primary_need_code="N1", cine_referral_nfa="N"),
            dict(cine_referral_id="R3", cine_person_id="P3", cine_referral_date=date(2024, 6, 1),
                 cine_cin_primary_need_code="N0", cine_referral_nfa="Y"),
            dict(cine_referral_id="R5", cine_person_id="P3", cine_referral_date=date(2023, 6, 1),
                 cine_cin_primary_need_code="N5", cine_referral_nfa="N", cine_close_date=date(2023, 9, 1)),
            dict(cine_referral_id="R4", cine_person_id="P4", cine_referral_date=date(2023, 4, 20),
                 cine_cin_primary_need_code="N1", cine_referral_nfa="N"),
        ],
        "ssd_cin_plans": [
            dict(cinp_cin_plan_id="CINP1", cinp_referral_id="R1", cinp_person_id="P2",
                 cinp_cin_plan_start_date=date(2024, 3, 1)),
        ],
        "ssd_cp_plans": [
            dict(cppl_cp_plan_id="CP1", cppl_referral_id="R2", cppl_person_id="P1",
                 cppl_cp_plan_start_date=date(2024, 2, 15), cppl_cp_plan_ola="N",
                 cppl_cp_plan_initial_category="NEG", cppl_cp_plan_latest_category="EMO"),
            dict(cppl_cp_plan_id="CP2", cppl_person_id="P2", cppl_cp_plan_start_date=date(2022, 1, 1),
                 cppl_cp_plan_end_date=date(2022, 12, 1), cppl_cp_plan_ola="Y", cppl_cp_plan_initial_category="PHY"),
        ],
        "ssd_cla_episodes": [
            dict(clae_cla_episode_id="E1", clae_person_id="P4", clae_cla_id="CLA1", clae_referral_id="R4",
                 clae_cla_episode_start_date=date(2023, 5, 1), clae_cla_episode_ceased_date=date(2023, 11, 1),
                 clae_cla_primary_need_code="N1"),
            dict(clae_cla_episode_id="E2", clae_person_id="P4", clae_cla_id="CLA1", clae_referral_id="R4",
                 clae_cla_episode_start_date=date(2023, 11, 1), clae_cla_primary_need_code="N1"),
        ],
        "ssd_cla_placement": [
            dict(clap_cla_placement_id="PL1", clap_cla_id="CLA1", clap_person_id="P4", clap_cla_placement_type="U4",
                 clap_cla_placement_start_date=date(2023, 5, 1), clap_cla_placement_end_date=date(2023, 11, 1),
                 clap_cla_placement_postcode="LS8 1AA", clap_cla_placement_provider="A foster carer's name"),
            dict(clap_cla_placement_id="PL2", clap_cla_id="CLA1", clap_person_id="P4", clap_cla_placement_type="K2",
                 clap_cla_placement_start_date=date(2023, 11, 1), clap_cla_placement_postcode="BD1 1AA"),
        ],
        "ssd_legal_status": [
            dict(lega_legal_status_id="LS1", lega_person_id="P4", lega_legal_status="V2",
                 lega_legal_status_start_date=date(2023, 5, 1), lega_legal_status_end_date=date(2023, 8, 1)),
            dict(lega_legal_status_id="LS2", lega_person_id="P4", lega_legal_status="C2",
                 lega_legal_status_start_date=date(2023, 8, 2)),
        ],
        "ssd_family": [
            dict(fami_table_id="F1a", fami_family_id="F1", fami_person_id="P1"),
            dict(fami_table_id="F1b", fami_family_id="F1", fami_person_id="P3"),
            dict(fami_table_id="F1c", fami_family_id="F1", fami_person_id="M1"),
            dict(fami_table_id="F2a", fami_family_id="F2", fami_person_id="P2"),
        ],
        "ssd_mother": [
            dict(moth_table_id="MO1", moth_person_id="M1", moth_childs_person_id="P1", moth_childs_dob=date(2015, 4, 7)),
            dict(moth_table_id="MO2", moth_person_id="M1", moth_childs_person_id="P3"),
        ],
        "ssd_missing": [
            dict(miss_table_id="MS1", miss_person_id="P4", miss_missing_episode_start_date=date(2024, 3, 1),
                 miss_missing_episode_end_date=date(2024, 3, 2), miss_missing_episode_type="M",
                 miss_missing_rhi_offered="Y", miss_missing_rhi_accepted="N"),
        ],
        "ssd_contacts": [
            dict(cont_contact_id="C1", cont_person_id="P1", cont_contact_date=date(2024, 1, 2)),
        ],
    })


def _cell(value: Any, uk_dates: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y 00:00:00") if uk_dates else value.isoformat()
    return str(value)


def write(folder: Path, data: Tables, *, delimiter: str = ",", bom: bool = False, uk_dates: bool = False) -> Path:
    """Each table as `<table>.csv` with a header of the union of its rows' columns."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c), uk_dates) for c in columns])
    return folder
