"""A small Birmingham for the retention, subject access and rectification tests, written as feed files.

Who is in it, as of AS_OF (2026-10-31):
- R-ADULT, Reuben Ashdown, turned 18 on 2026-06-01: a past home and a carer only he had, a current home and a
  carer shared with his sister R-SIB, a school, a GP, a social worker, a CP plan, three emergency visits.
- R-SIB, Rosa Ashdown, 10: lives with him; R-YOUNG, 7, unrelated.
- R-DEAD, Dara Quill, died on 2026-08-01 aged 11.
- R-LEFT, Lena Voss, left England when her last home ended on 2022-01-10.
- R-LEAP (Leeds), Lucy Leapman, born on 29 February 2008: 18 on 1 March 2026.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

from loaders.feeds import FEEDS
from tests.factories import BIRMINGHAM, LEEDS, Feeds

AS_OF = date(2026, 10, 31)
ADULT_18TH = date(2026, 6, 1)
DIED_ON = date(2026, 8, 1)
LEFT_HOME_ENDED = date(2022, 1, 10)
LEAP_18TH = date(2026, 3, 1)


def world() -> Feeds:
    """The rows of every feed (see the module)."""
    f = Feeds()
    f.authorities()
    for aid, name, kind in [("SCH-B", "Bordesley Academy", "school"), ("GP-B", "Edgbaston Surgery", "gp_practice"),
                            ("SC-B", "Birmingham Children's Trust", "social_care"),
                            ("ED-B", "Heartlands Emergency", "unscheduled_care"),
                            ("CAMHS-B", "Forward Thinking Birmingham", "camhs")]:
        f.agency(aid, name, kind, BIRMINGHAM)
    f.practitioner("P-SWB", "Bea Whitfield", "SC-B")
    f.practitioner("P-CAMHS", "Cal Minter", "CAMHS-B")
    f.child("R-ADULT", "Reuben", "Ashdown", date(2008, 6, 1), BIRMINGHAM, gender="male")
    f.child("R-SIB", "Rosa", "Ashdown", date(2016, 2, 3), BIRMINGHAM)
    f.child("R-YOUNG", "Yusuf", "Marlow", date(2019, 9, 9), BIRMINGHAM, gender="male")
    f.child("R-DEAD", "Dara", "Quill", date(2015, 7, 9), BIRMINGHAM)
    f.rows["children"][-1]["died_on"] = DIED_ON
    f.child("R-LEFT", "Lena", "Voss", date(2014, 4, 4), BIRMINGHAM)
    f.rows["children"][-1]["status"] = "left_england"
    f.child("R-LEAP", "Lucy", "Leapman", date(2008, 2, 29), LEEDS)
    for aid, line1, postcode in [("ADDR-OLD", "3 Old Lane", "B9 4AA"), ("ADDR-HOME", "14 Elm Road", "B13 8JP"),
                                 ("ADDR-Y", "2 Yew Close", "B14 7QH"), ("ADDR-D", "9 Dale End", "B4 7LR"),
                                 ("ADDR-L", "5 Lime Walk", "B15 2TT")]:
        f.address(aid, line1, postcode, BIRMINGHAM)
    f.address("ADDR-LEAP", "1 Leap Row", "LS1 4AP", LEEDS)
    f.lives("R-ADULT", "ADDR-OLD", date(2008, 6, 1), date(2015, 3, 1))
    f.lives("R-ADULT", "ADDR-HOME", date(2015, 3, 1))
    f.lives("R-SIB", "ADDR-HOME", date(2016, 2, 3))
    f.lives("R-YOUNG", "ADDR-Y", date(2019, 9, 9))
    f.lives("R-DEAD", "ADDR-D", date(2015, 7, 9))
    f.lives("R-LEFT", "ADDR-L", date(2014, 4, 4), LEFT_HOME_ENDED)
    f.lives("R-LEAP", "ADDR-LEAP", date(2008, 2, 29))
    f.carer("K-SHARED", "Joy Ashdown", "R-ADULT", phone="07700 900111")
    f.carer("K-SHARED", "Joy Ashdown", "R-SIB", phone="07700 900111")
    f.carer("K-SOLE", "Tunde Ashdown", "R-ADULT", phone="07700 900222", relationship="father")
    f.carer("K-Y", "Mira Marlow", "R-YOUNG", phone="07700 900333")
    f.carer("K-D", "Dina Quill", "R-DEAD", phone="07700 900444")
    f.school("R-ADULT", "SCH-B", date(2019, 9, 1), date(2024, 7, 20))
    f.school("R-SIB", "SCH-B", date(2021, 9, 1))
    f.gp("R-ADULT", "GP-B", date(2008, 7, 1))
    f.gp("R-SIB", "GP-B", date(2016, 3, 1))
    f.involve("P-SWB", "R-ADULT", "social_work", date(2025, 1, 6), lead=True)
    f.involve("P-CAMHS", "R-ADULT", "camhs", date(2025, 3, 3), sensitive=True)
    f.involve("P-SWB", "R-SIB", "social_work", date(2025, 1, 6))
    f.plan("R-ADULT", BIRMINGHAM, "cp_plan", date(2025, 1, 6), date(2026, 5, 1))
    f.plan("R-SIB", BIRMINGHAM, "child_in_need", date(2025, 1, 6))
    for day in (3, 12, 24):
        f.attend("R-ADULT", "ED-B", datetime(2026, 4, day, 22, 15), reason="self-harm")
    return f


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ";".join(value)
    return str(value)


def write_feeds(feeds: Feeds, folder: Path) -> Path:
    """The rows as feed files, as a source would send them (only the feeds that have rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    for spec in FEEDS:
        rows = feeds.rows.get(spec.name)
        if not rows:
            continue
        with (folder / spec.filename).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=spec.columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _cell(row.get(c)) for c in spec.columns})
    return folder
