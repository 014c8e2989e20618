"""The dashboard tests' England: the alert situations plus two Birmingham households, one with a shielded child."""

from __future__ import annotations

from datetime import date

from tests.factories import BIRMINGHAM, LEEDS, MANCHESTER, SHEFFIELD, Feeds
from tests.scenarios.situations import build

# Real-looking national grid coordinates for the child who moved across four authorities (for the map).
GRID = {LEEDS: (429_900, 433_800), MANCHESTER: (384_000, 398_000), SHEFFIELD: (435_300, 387_300),
        BIRMINGHAM: (407_000, 286_000)}
# What a viewer who may not see the shielded child must never be shown.
SHIELDED_SECRETS = ("1 Hidden Row", "B1 1AA", "Grace Okafor", "Secretwood Academy")


def households(f: Feeds) -> None:
    """The Bellos (a lead professional, a sensitive service without consent, a sibling to expand to) and the
    Okafors (Sophie shielded by Birmingham; Amelia shares her carer and address)."""
    for aid, name, kind in [("HV-B", "Small Heath Health Visiting", "health_visiting"),
                            ("CAMHS-B", "Forward Thinking CAMHS", "camhs"), ("YH-B", "Digbeth Youth Hub", "voluntary"),
                            ("SCH-S", "Secretwood Academy", "school")]:
        f.agency(aid, name, kind, BIRMINGHAM)
    f.practitioner("P-HV", "Hana Visser", "HV-B", phone="07700 900201")
    f.practitioner("P-CAMHS", "Cal Minter", "CAMHS-B", phone="07700 900202")
    f.practitioner("P-YH", "Rio Mensah", "YH-B", phone="07700 900203")
    f.child("C1", "Amara", "Bello", date(2015, 4, 12), BIRMINGHAM)
    f.child("C2", "Kemi", "Bello", date(2022, 6, 30), BIRMINGHAM)
    home = f.address("ADDR-C", "14 Elm Road", "B13 8JP", BIRMINGHAM)
    for child in ("C1", "C2"):
        f.lives(child, home, date(2015, 5, 1))
        f.carer("K-JOY", "Joy Bello", child, phone="07700 900301")
        f.gp(child, "GP-B", date(2015, 5, 2))
    f.carer("K-TUNDE", "Tunde Bello", "C1", phone="07700 900302")
    f.school("C1", "SCH-B", date(2020, 9, 2))
    f.involve("P-SWB", "C1", "social_care", date(2025, 2, 3), lead=True)
    f.involve("P-POL", "C1", "police", date(2024, 3, 1), until=date(2025, 1, 10))
    f.involve("P-CAMHS", "C1", "camhs", date(2025, 6, 1), sensitive=True, consent=False)
    f.involve("P-YH", "C1", "voluntary", date(2025, 9, 1))
    f.involve("P-HV", "C2", "health_visiting", date(2022, 7, 15))
    f.plan("C1", BIRMINGHAM, "child_in_need", date(2025, 2, 3))
    f.child("S1", "Sophie", "Okafor", date(2016, 7, 2), BIRMINGHAM)
    f.child("A1", "Amelia", "Okafor", date(2014, 5, 1), BIRMINGHAM)
    hidden = f.address("ADDR-S", "1 Hidden Row", "B1 1AA", BIRMINGHAM)
    for child in ("S1", "A1"):
        f.lives(child, hidden, date(2020, 1, 1))
        f.carer("K-GRACE", "Grace Okafor", child, phone="07700 900401")
    f.school("S1", "SCH-S", date(2021, 9, 1))
    f.school("A1", "SCH-B", date(2019, 9, 2))
    f.involve("P-SWB", "A1", "social_care", date(2024, 1, 8))
    f.shield("S1", BIRMINGHAM, date(2024, 1, 8))


def feeds() -> Feeds:
    """Every row of the dashboard tests' England."""
    f, _ = build()
    households(f)
    for row in f.rows["addresses"]:
        if row["address_id"].startswith("ADDR-X1-"):
            row["easting"], row["northing"] = GRID[row["la_code"]]
    return f
