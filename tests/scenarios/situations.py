"""The situations: feeds written through graph.ingest, and what each must raise as of AS_OF.

Dates of birth never coincide with any other date in the feeds, so a test can look for them in a response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD, Feeds

AS_OF = date(2026, 10, 31)


@dataclass
class Expected:
    """What one child must raise: alerts as (kind, authority addressed), and pattern flags."""

    alerts: list[tuple[str, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    lives_in: str = BIRMINGHAM
    studied: bool = True  # appears in reviewers' cases (not shielded, no shielded household member)


def services(f: Feeds) -> None:
    """The agencies and practitioners every situation uses."""
    f.authorities()
    for aid, name, kind, la in [
        ("SCH-L1", "Larchfield Primary", "school", LEEDS), ("GP-L1", "Kirkgate Surgery", "gp_practice", LEEDS),
        ("SC-L", "Leeds Children's Social Work", "social_care", LEEDS),
        ("ED-M", "Manchester Royal Emergency", "unscheduled_care", MANCHESTER),
        ("HOU-M", "Manchester Housing Options", "housing", MANCHESTER),
        ("ED-S", "Sheffield Northern Emergency", "unscheduled_care", SHEFFIELD),
        ("HOU-S", "Sheffield Housing Solutions", "housing", SHEFFIELD),
        ("POL-B", "West Midlands Police Hub", "police", BIRMINGHAM),
        ("SCH-B", "Bordesley Academy", "school", BIRMINGHAM), ("GP-B", "Edgbaston Surgery", "gp_practice", BIRMINGHAM),
        ("SC-B", "Birmingham Children's Trust", "social_care", BIRMINGHAM),
        ("ED-B", "Heartlands Emergency", "unscheduled_care", BIRMINGHAM),
    ]:
        f.agency(aid, name, kind, la)
    for pid, name, agency in [("P-SWL", "Lorna Casey", "SC-L"), ("P-HM", "Hamid Mansour", "HOU-M"),
                              ("P-HS", "Hattie Sorensen", "HOU-S"), ("P-POL", "Paul Oduya", "POL-B"),
                              ("P-SWB", "Bea Whitfield", "SC-B")]:
        f.practitioner(pid, name, agency)


def lost_across_four_authorities(f: Feeds, cid: str, family: str, dob: date) -> None:
    """A child on a Leeds CP plan moves Leeds -> Manchester -> Sheffield -> Birmingham in ten months:
    seen at two hospitals, referred by two housing departments, off the school roll since the first
    move, no lead professional, and nothing recorded in Manchester within 15 working days."""
    f.child(cid, "Zara", family, dob, LEEDS)
    homes = [(LEEDS, "LS1 1AA", date(2019, 3, 4)), (MANCHESTER, "M1 1AA", date(2026, 1, 5)),
             (SHEFFIELD, "S1 1AA", date(2026, 5, 11)), (BIRMINGHAM, "B5 4TR", date(2026, 10, 20))]
    for n, (la, postcode, since) in enumerate(homes):
        address = f.address(f"ADDR-{cid}-{n}", f"{n + 1} {family} Court", postcode, la)
        until = homes[n + 1][2] if n + 1 < len(homes) else None
        f.lives(cid, address, since, until)
    f.carer(f"K-{cid}", f"Yasmin {family}", cid, phone="07700 900321")
    f.plan(cid, LEEDS, "cp_plan", date(2025, 6, 2))
    f.school(cid, "SCH-L1", date(2019, 9, 2), date(2026, 1, 5))
    f.gp(cid, "GP-L1", date(2014, 3, 3))
    f.involve("P-SWL", cid, "social_care", date(2025, 6, 2))
    f.involve("P-HM", cid, "housing", date(2026, 2, 16), until=date(2026, 5, 11))
    f.involve("P-HS", cid, "housing", date(2026, 5, 13))
    f.involve("P-POL", cid, "police", date(2026, 10, 22))
    for agency, at in [("ED-M", datetime(2026, 2, 10, 19, 30)), ("ED-S", datetime(2026, 6, 1, 21, 0)),
                       ("ED-S", datetime(2026, 7, 15, 18, 10))]:
        f.attend(cid, agency, at)


FOUR_AUTHORITIES_ALERTS = [
    ("protected_move", MANCHESTER), ("protected_move", LEEDS),  # 5 January: Leeds -> Manchester
    ("protected_move", SHEFFIELD), ("protected_move", LEEDS),  # 11 May: Manchester -> Sheffield
    ("protected_move", BIRMINGHAM), ("protected_move", LEEDS),  # 20 October: Sheffield -> Birmingham
    ("transfer_in_overdue", MANCHESTER), ("transfer_in_overdue", LEEDS),  # due 26 January, first record 16 February
    ("no_school_roll", LEEDS),
    ("repeat_emergency", BIRMINGHAM), ("repeat_emergency", LEEDS),
    *[("emergency_attendance", LEEDS)] * 3,  # each of the three visits, to the authority of the CP plan
]
FOUR_AUTHORITIES_FLAGS = {"moved_authority", "transfer_gap", "no_school_roll", "repeat_emergency",
                          "no_lead_professional"}


def _all_to(holder: str) -> list[tuple[str, str]]:
    """The four-authorities alerts of a protected child: one per kind and fact, all to the holding team."""
    return [("protected_move", holder)] * 3 + [("transfer_in_overdue", holder), ("no_school_roll", holder),
                                               ("repeat_emergency", holder)] + [("emergency_attendance", holder)] * 3


def looked_after_off_registers(f: Feeds, cid: str) -> None:
    """A looked-after 15-year-old moved between three placements in Birmingham, left school at the last
    move and was never registered with a GP; a lead social worker is recorded."""
    f.child(cid, "Tyler", "Brook", date(2011, 4, 14), BIRMINGHAM, gender="male")
    for n, (since, until) in enumerate([(date(2024, 9, 2), date(2025, 12, 1)), (date(2025, 12, 1), date(2026, 6, 15)),
                                        (date(2026, 6, 15), None)]):
        f.lives(cid, f.address(f"ADDR-{cid}-{n}", f"{n + 7} Placement Road", "B12 9QH", BIRMINGHAM), since, until)
    f.plan(cid, BIRMINGHAM, "looked_after", date(2024, 9, 2))
    f.school(cid, "SCH-B", date(2024, 9, 3), date(2026, 6, 15))
    f.involve("P-SWB", cid, "social_care", date(2024, 9, 2), lead=True)
    f.attend(cid, "ED-B", datetime(2026, 3, 3, 22, 15))
    f.attend(cid, "ED-B", datetime(2026, 8, 8, 1, 5))


def quiet_children(f: Feeds) -> dict[str, Expected]:
    """Near misses that must raise no alert: a child in need who moved (not a protected plan), a
    17-year-old off roll (above school age), a 4-year-old on a CP plan not at school, two visits in a
    year plus one older."""
    f.child("Q1", "Quinn", "Harte", date(2010, 1, 20), LEEDS)
    f.lives("Q1", f.address("ADDR-Q1-0", "4 Quiet Lane", "LS6 2AB", LEEDS), date(2015, 1, 1), date(2026, 3, 2))
    f.lives("Q1", f.address("ADDR-Q1-1", "5 Calm Street", "M4 1HN", MANCHESTER), date(2026, 3, 2))
    f.plan("Q1", LEEDS, "child_in_need", date(2025, 11, 3))
    f.school("Q1", "SCH-L1", date(2021, 9, 1))
    f.gp("Q1", "GP-L1", date(2010, 2, 1))
    for at in (datetime(2025, 8, 1, 10, 0), datetime(2026, 1, 9, 10, 0), datetime(2026, 9, 9, 10, 0)):
        f.attend("Q1", "ED-M", at)
    f.child("Q2", "Rory", "Vance", date(2009, 3, 1), LEEDS, gender="male")
    f.lives("Q2", f.address("ADDR-Q2-0", "6 Calm Street", "LS7 3CD", LEEDS), date(2012, 5, 5))
    f.plan("Q2", LEEDS, "child_in_need", date(2026, 2, 2))
    f.gp("Q2", "GP-L1", date(2012, 5, 6))
    f.child("Q3", "Ivy", "Small", date(2022, 6, 6), BIRMINGHAM)
    f.lives("Q3", f.address("ADDR-Q3-0", "8 Cradle Row", "B15 2TT", BIRMINGHAM), date(2022, 6, 7))
    f.plan("Q3", BIRMINGHAM, "cp_plan", date(2026, 4, 20))
    f.gp("Q3", "GP-B", date(2022, 6, 20))
    return {"Q1": Expected(flags={"moved_authority", "transfer_gap"}, lives_in=MANCHESTER),
            "Q2": Expected(lives_in=LEEDS), "Q3": Expected()}


def build() -> tuple[Feeds, dict[str, Expected]]:
    """Every situation in one England, with what each child must raise."""
    f = Feeds()
    services(f)
    expected: dict[str, Expected] = {}
    lost_across_four_authorities(f, "X1", "Nomad", date(2014, 2, 11))
    expected["X1"] = Expected(FOUR_AUTHORITIES_ALERTS, FOUR_AUTHORITIES_FLAGS)
    # Shielded by Leeds, the holding authority: every alert goes to Leeds only.
    lost_across_four_authorities(f, "X2", "Wren", date(2014, 8, 23))
    f.shield("X2", LEEDS, date(2025, 1, 13))
    expected["X2"] = Expected(_all_to(LEEDS), FOUR_AUTHORITIES_FLAGS, studied=False)
    # Not shielded, but a sibling (same carer) is, by Birmingham: alerts go to Birmingham's team only.
    lost_across_four_authorities(f, "X3", "Lark", date(2013, 12, 29))
    f.child("X3S", "Mo", "Lark", date(2016, 11, 17), BIRMINGHAM)
    f.carer("K-X3", "Yasmin Lark", "X3S", phone="07700 900321")
    f.lives("X3S", f.address("ADDR-X3S", "12 Refuge Close", "B29 6BD", BIRMINGHAM), date(2024, 2, 19))
    f.shield("X3S", BIRMINGHAM, date(2024, 2, 19))
    expected["X3"] = Expected(_all_to(BIRMINGHAM), FOUR_AUTHORITIES_FLAGS, studied=False)
    expected["X3S"] = Expected(studied=False)
    looked_after_off_registers(f, "Y1")
    expected["Y1"] = Expected([("no_school_roll", BIRMINGHAM), ("no_gp", BIRMINGHAM)]
                              + [("emergency_attendance", BIRMINGHAM)] * 2,  # two visits while looked after
                              {"no_school_roll", "no_gp"})
    expected.update(quiet_children(f))
    return f, expected
