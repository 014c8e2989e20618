"""The generator's identity mode: England as its sources see it, each relationship sent by a source's record.

No feed names a child by directory id: the children are the person records of loaders.synth.sources (each
child as one to five sources see it, with their errors) and every relationship row names the child by the
record of the source that would send it: the school census its enrolments, a GP system its registrations
and the addresses it holds, an emergency department its attendances, the council's case system its plans,
shielding decisions and carers, and an involvement the system of the practitioner's agency. The GP system,
school census, emergency department and council that send a child's registrations, enrolments, attendances,
plans and shielding always have a record of it; another feed's row goes by the first kind of sender the
child has a record in, else by any of its records. A record in the row's authority is chosen first. The
truth (which records are one child) is written alongside.
"""

from __future__ import annotations

import csv
import hashlib
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from loaders.synth import sources as synth_sources

if TYPE_CHECKING:
    from loaders.generate import Part

DIRECTORY = "directory"
SOURCES = "sources"
MODES = (DIRECTORY, SOURCES)

# The kinds of source that send each feed, most likely first (the first a child has a record in is used).
SENDERS: dict[str, tuple[str, ...]] = {
    "residences": ("gp_system", "council_case_system"),  # GP systems hold the patient's address (PDS)
    "carers": ("council_case_system", "health_visiting", "gp_system"),
    "school_enrolments": ("school_census",),
    "gp_registrations": ("gp_system",),
    "involvements": ("council_case_system", "gp_system"),  # after the practitioner's own agency's (below)
    "plans": ("council_case_system",),
    "attendances": ("emergency_department",),
    "shielding": ("council_case_system",),
}
# The kind of source that records a practitioner's involvement, by the kind of the practitioner's agency.
AGENCY_SOURCE = {
    "school": "school_census", "school_nursing": "school_census", "gp_practice": "gp_system",
    "health_visiting": "health_visiting", "social_care": "council_case_system",
    "youth_justice": "council_case_system", "police": "police", "voluntary": "voluntary",
    "early_years": "early_years", "unscheduled_care": "emergency_department", "housing": "housing",
}
# A child a feed names has a record in the source that sends it (the feed's first sender kind).
REQUIRED = {"gp_system": ("gp_registrations",), "school_census": ("school_enrolments",),
            "emergency_department": ("attendances",), "council_case_system": ("plans", "shielding")}

# Not a rate: so the data teams of the demo's authorities (Birmingham and Leeds, where the demo users are) have
# pairs to decide. In each, this many children known to two or more sources get one record as an emergency
# department might type it at 3 a.m.: no NHS number, UPN nor postcode, and the day of birth one digit out.
# Elsewhere such records happen at the rates of loaders.synth.sources, about one pair in a thousand records.
REVIEW_CASES = {"E08000025": 6, "E08000035": 6}
HARD_CASE_KINDS = ("emergency_department", "early_years", "police", "housing", "voluntary")

Columns = dict[str, np.ndarray]


class Rekey:
    """One generated part as its sources see it: the sources' files, and each feed's rows by record."""

    def __init__(self, part: Part, seed: int, as_of: date):
        tables = part.tables
        named = {kind: [tables[feed]()["child_id"] for feed in feeds] for kind, feeds in REQUIRED.items()}
        self.built = synth_sources.build_part(part, seed, as_of=as_of, required=_masks(part.children, named))
        _hard_cases(self.built, as_of)
        agencies = tables["agencies"]()
        self.agency_la = dict(zip(agencies["agency_id"], agencies["la_code"]))
        self.agency_kind = dict(zip(agencies["agency_id"], agencies["kind"]))
        practitioners = tables["practitioners"]()
        self.practitioner_agency = dict(zip(practitioners["practitioner_id"], practitioners["agency_id"]))
        addresses = tables["addresses"]()
        self.address_la = dict(zip(addresses["address_id"], addresses["la_code"]))
        self._index()

    def _index(self) -> None:
        """Each child's records by (kind, authority), by kind, and any: the first by key is chosen."""
        rec = self.built.records[["record_key", "source_id", "source_kind", "local_id"]].copy()
        rec["child_id"] = self.built.truth.set_index("record_key").loc[rec["record_key"], "child_id"].to_numpy()
        rec["la_code"] = rec["source_id"].str.rsplit("-", n=1).str[-1]
        rec = rec.sort_values("record_key", kind="stable")
        pairs = list(zip(rec["source_id"], rec["local_id"]))
        self.by_kind_la, self.by_kind, self.any = {}, {}, {}
        for (child, kind, la), pair in zip(zip(rec["child_id"], rec["source_kind"], rec["la_code"]), pairs):
            self.by_kind_la.setdefault((child, kind, la), pair)
            self.by_kind.setdefault((child, kind), pair)
            self.any.setdefault(child, pair)

    def _sender(self, child: str, kinds: tuple[str, ...], la: str | None) -> tuple[str, str]:
        for kind in kinds:
            pair = self.by_kind_la.get((child, kind, la)) or self.by_kind.get((child, kind))
            if pair is not None:
                return pair
        return self.any[child]  # every child is seen by some source

    def __call__(self, feed: str, columns: Columns) -> Columns:
        """The feed's columns with child_id replaced by the sending record's source_id and local_id."""
        child = columns["child_id"]
        kinds = [SENDERS[feed]] * len(child)
        if feed in ("school_enrolments", "gp_registrations", "attendances"):
            las = [self.agency_la[a] for a in columns["agency_id"]]
        elif feed == "residences":
            las = [self.address_la[a] for a in columns["address_id"]]
        elif feed in ("plans", "shielding"):
            las = list(columns["la_code"])
        elif feed == "involvements":
            agencies = [self.practitioner_agency[p] for p in columns["practitioner_id"]]
            las = [self.agency_la[a] for a in agencies]
            kinds = [(AGENCY_SOURCE.get(self.agency_kind[a], ""), *SENDERS[feed]) for a in agencies]
        else:
            las = [None] * len(child)
        pairs = [self._sender(c, k, la) for c, k, la in zip(child, kinds, las)]
        out = {name: values for name, values in columns.items() if name != "child_id"}
        out["source_id"] = np.array([p[0] for p in pairs], dtype=object)
        out["local_id"] = np.array([p[1] for p in pairs], dtype=object)
        return out

    def write(self, out: Path, digests: dict) -> dict[str, int]:
        """Write sources.csv, person_records.csv (the feeds' columns) and truth.csv; return rows per file."""
        records = self.built.records.drop(columns=["record_key", "source_kind"])
        counts = {}
        for name, frame in (("sources", self.built.sources), ("person_records", records),
                            ("truth", self.built.truth)):
            data = frame.to_csv(index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").encode("utf-8")
            digests.setdefault(name, hashlib.sha256()).update(data)
            tmp = out / f".{name}.csv.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, out / f"{name}.csv")
            counts[name] = len(frame)
        return counts


def _hard_cases(built: synth_sources.Sources, as_of: date) -> None:
    """Make REVIEW_CASES records in their authorities (the first children by id that qualify); in place."""
    rec, child = built.records, built.truth["child_id"]
    day = rec["dob"].str[8:].astype(int)
    candidates = (rec["source_kind"].isin(HARD_CASE_KINDS) & (child.map(child.value_counts()) >= 2)
                  & (rec["given_name"] != "") & (day % 10 != 0) & (day != 31))
    la = rec["source_id"].str.rsplit("-", n=1).str[-1]
    for code, count in REVIEW_CASES.items():
        rows = pd.DataFrame({"child": child[candidates & (la == code)]}).sort_values("child", kind="stable")
        for i in rows.drop_duplicates("child").index[:count]:
            d = int(rec.at[i, "dob"][8:])
            dob = f"{rec.at[i, 'dob'][:8]}{d - 1 if d % 10 >= 2 else d + 1:02d}"
            if date.fromisoformat(dob) > as_of:
                continue
            rec.loc[i, ["nhs_number", "upn", "postcode", "dob"]] = ["", "", "", dob]


def _masks(children: int, named: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Per kind, which children a feed it sends names (England in one piece numbers them C00000001 on)."""
    masks = {}
    for kind, lists in named.items():
        mask = np.zeros(children, dtype=bool)
        for ids in lists:
            mask[np.array([int(i[1:]) for i in ids], dtype=np.int64) - 1] = True
        masks[kind] = mask
    return masks
