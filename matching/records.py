"""Person records as sources send them, checked and normalised into the columns the model compares.

A batch of records is a pandas DataFrame (a pyarrow Table is accepted and converted) with the
columns in ``COLUMNS``; blank cells may be None, NaN or "". ``child_id`` is needed only on records
already in the directory. ``prepare`` returns the records fit to match, normalised, and the ones
refused with a reason; nothing is changed in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from matching import names

COLUMNS = (
    "record_key", "source_id", "source_kind", "local_id", "given_name", "family_name", "other_names", "dob",
    "sex", "postcode", "nhs_number", "upn", "council_person_id",
)
OPTIONAL = ("child_id",)
SOURCE_KINDS = (
    "council_case_system", "school_census", "nhs_demographics", "gp_system", "emergency_department", "police",
    "housing", "voluntary", "early_years", "youth_justice", "health_visiting",
)
SEXES = ("female", "male", "not_known", "not_specified")
# The columns of a prepared record the model reads (besides record_key).
MODEL_COLUMNS = (
    "given", "family", "given_relatives", "name_tokens", "family_names", "dob_str", "sex_norm", "postcode_full",
    "postcode_sector", "postcode_district", "nhs_valid", "upn_valid", "council_id",
)

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])([A-Z]{2})$")
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE: I, O and S are never used
_UPN = re.compile(r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$")


@dataclass(frozen=True)
class Prepared:
    """Records fit to match (normalised, indexed by nothing in particular) and those refused."""

    records: pd.DataFrame
    rejected: pd.DataFrame  # record_key, reason


class RecordError(ValueError):
    """A batch that cannot be read at all (a missing column, duplicate keys): nothing is prepared."""


def nhs_number_valid(value: str | None) -> bool:
    """Ten digits whose tenth is the Modulus 11 check digit of the first nine (NHS Data Dictionary).

    Weights 10 down to 2; the check digit is 11 minus the remainder, 11 becomes 0 and 10 is never issued.
    """
    if value is None:
        return False
    digits = re.sub(r"[\s-]", "", str(value))
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def upn_valid(value: str | None) -> bool:
    """A DfE Unique Pupil Number whose first character is the Modulus 23 check letter of the rest.

    Characters 2-13 are weighted 2..13; a temporary UPN's final letter counts as its place in the check
    alphabet (A=0 ... Z=22, without I, O and S), per the DfE UPN specification (Data Standards Catalogue
    "Unique Pupil Number" 2.0).
    """
    if value is None:
        return False
    upn = str(value).strip().upper()
    if not _UPN.match(upn):
        return False
    total = sum(int(c) * w for c, w in zip(upn[1:12], range(2, 13)))
    last = upn[12]
    total += 13 * (int(last) if last.isdigit() else _UPN_LETTERS.index(last))
    return _UPN_LETTERS[total % 23] == upn[0]


def upn_temporary(value: str) -> bool:
    """A temporary UPN ends in a letter; a school replaces it with a permanent one."""
    return bool(value) and value[-1].isalpha()


def postcode_parts(value: str | None) -> tuple[str, str, str] | None:
    """A UK postcode as (full "B1 1AA", sector "B1 1", district "B1"), or None if it is not one."""
    if value is None:
        return None
    match = _POSTCODE.match(re.sub(r"\s+", "", str(value).upper()))
    if match is None:
        return None
    outward, sector_digit, unit = match.groups()
    return f"{outward} {sector_digit}{unit}", f"{outward} {sector_digit}", outward


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped strings with "" for blank."""
    if column not in frame:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str).str.strip().astype(object)


def _other_names(column: pd.Series) -> pd.Series:
    """Other names as lists: a list cell as it is, a text cell split at ';'."""
    def one(value: object) -> list[str]:
        if isinstance(value, (list, tuple, np.ndarray)):
            return [str(v).strip() for v in value if v is not None and str(v).strip()]
        if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
            return []
        return [part.strip() for part in str(value).split(";") if part.strip()]

    if column.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
        return column.map(one)
    return _by_unique(column.fillna("").astype(str), one)


def _by_unique(values: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value (names repeat a lot) and spread the answers back."""
    codes, uniques = pd.factorize(values, sort=False)
    mapped = np.array([fn(v) for v in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _dob(values: pd.Series, today: date) -> tuple[pd.Series, pd.Series]:
    """ISO date strings (or blank) and a reason per row where a date was given but is not a past date."""
    parsed = pd.to_datetime(values.where(values != "", None), errors="coerce", format="mixed")
    bad = (values != "") & parsed.isna()
    future = parsed.notna() & (parsed > pd.Timestamp(today))
    text = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), "")
    reason = pd.Series("", index=values.index, dtype=object)
    reason[bad] = "dob: not a date"
    reason[future] = "dob: in the future"
    return text.astype(object), reason


def prepare(batch: pd.DataFrame, *, today: date | None = None) -> Prepared:
    """Check and normalise a batch of person records; refuse, with a reason, those that cannot be matched.

    A record is refused when it has neither a name nor an identifier (valid NHS number, valid UPN or
    council person id), when its date of birth is not a past date, or when its record_key is not
    "{source_id}|{local_id}". An NHS number or UPN that fails its check digit is kept as sent but not
    used for matching (``nhs_valid``/``upn_valid`` stay blank).

    Raises:
        RecordError: a required column is missing, or a record_key appears twice.
    """
    if not isinstance(batch, pd.DataFrame):
        batch = batch.to_pandas()  # a pyarrow Table
    missing = [c for c in COLUMNS if c not in batch.columns]
    if missing:
        raise RecordError(f"person records: missing columns {missing}")
    frame = batch.reset_index(drop=True)
    key = _text(frame, "record_key")
    dupes = key[key.duplicated() & (key != "")]
    if len(dupes):
        raise RecordError(f"person records: record_key {dupes.iloc[0]!r} appears more than once")
    out = pd.DataFrame({c: _text(frame, c) for c in COLUMNS if c != "other_names"})
    out["other_names"] = _other_names(frame["other_names"])
    out["child_id"] = _text(frame, "child_id")

    out["given"] = _by_unique(out["given_name"], lambda v: (names.tokens(v) or [""])[0])
    out["family"] = _by_unique(out["family_name"], names.fold)
    out["given_relatives"] = _by_unique(out["given"], lambda v: sorted(names.relatives(v)))
    joined = out["other_names"].map(";".join)
    other_tokens = _by_unique(joined, lambda v: [t for n in v.split(";") for t in names.tokens(n)])
    own = _by_unique(out["given_name"] + " " + out["family_name"], names.tokens)
    out["name_tokens"] = [sorted(set(a + b)) if b else sorted(set(a)) for a, b in zip(own, other_tokens)]
    # Family names seen: the parts of this one and the last word of each other name it carries.
    fam_parts = _by_unique(out["family_name"], names.tokens)
    other_family = _by_unique(joined, lambda v: [t for n in v.split(";") for t in names.tokens(n)[-1:]])
    out["family_names"] = [sorted(set(a + b)) if b else sorted(set(a)) for a, b in zip(fam_parts, other_family)]

    out["dob_str"], dob_reason = _dob(out["dob"], today or date.today())
    sex = out["sex"].str.lower()
    out["sex_norm"] = sex.where(sex.isin(("female", "male")), None)
    parts = _by_unique(out["postcode"], postcode_parts)
    out["postcode_full"] = parts.map(lambda p: p[0] if p else None)
    out["postcode_sector"] = parts.map(lambda p: p[1] if p else None)
    out["postcode_district"] = parts.map(lambda p: p[2] if p else None)
    nhs = out["nhs_number"].str.replace(r"[\s-]", "", regex=True)
    out["nhs_valid"] = nhs.where(_by_unique(nhs, nhs_number_valid).astype(bool), None)
    upn = out["upn"].str.upper()
    out["upn_valid"] = upn.where(_by_unique(upn, upn_valid).astype(bool), None)
    out["council_id"] = out["council_person_id"].where(out["council_person_id"] != "", None)
    for col in ("given", "family", "dob_str"):
        out[col] = out[col].where(out[col] != "", None)

    reason = pd.Series("", index=out.index, dtype=object)
    reason[(out["source_id"] == "") | (out["local_id"] == "")] = "source_id and local_id are required"
    reason[(reason == "") & (key != out["source_id"] + "|" + out["local_id"])] = \
        "record_key must be '{source_id}|{local_id}'"
    reason[(reason == "") & (dob_reason != "")] = dob_reason
    nameless = out["given"].isna() & out["family"].isna()
    unidentified = out["nhs_valid"].isna() & out["upn_valid"].isna() & out["council_id"].isna()
    reason[(reason == "") & nameless & unidentified] = "neither a name nor an identifier (NHS number, UPN, council id)"
    bad_sex = (sex != "") & ~sex.isin(SEXES)
    reason[(reason == "") & bad_sex] = f"sex must be one of {', '.join(SEXES)}"
    refused = reason != ""
    rejected = pd.DataFrame({"record_key": key[refused].values, "reason": reason[refused].values})
    return Prepared(records=out[~refused].reset_index(drop=True), rejected=rejected)


# The blocking keys of matching.model.PREDICTION_RULES, one text per rule (its parts joined by "|", blank
# when any part is): two records are a candidate pair exactly when they share a key, so a directory that
# stores these on each record finds a record's candidates through one index per key, not by a scan.
# "year" is the first four characters of the date of birth, as the rule's substr(dob_str, 1, 4).
BLOCKING_KEYS: dict[str, tuple[str, ...]] = {
    "bk_nhs": ("nhs_valid",),
    "bk_upn": ("upn_valid",),
    "bk_dob_district": ("dob_str", "postcode_district"),
    "bk_dob_given": ("dob_str", "given"),
    "bk_dob_family": ("dob_str", "family"),
    "bk_name_year": ("given", "family", "year"),
    "bk_name_district": ("given", "family", "postcode_district"),
    "bk_given_postcode": ("given", "postcode_full"),
}


def blocking_keys(prepared: pd.DataFrame) -> pd.DataFrame:
    """Each prepared record's blocking keys (columns of BLOCKING_KEYS; None where a part is blank)."""
    parts = {c: prepared[c].where(prepared[c].notna() & (prepared[c] != ""), None)
             for c in {p for ps in BLOCKING_KEYS.values() for p in ps} - {"year"}}
    parts["year"] = prepared["dob_str"].map(lambda d: d[:4] if isinstance(d, str) and d else None)
    out = pd.DataFrame(index=prepared.index)
    for name, cols in BLOCKING_KEYS.items():
        complete = pd.concat([parts[c].notna() for c in cols], axis=1).all(axis=1)
        joined = parts[cols[0]].fillna("").astype(str)
        for c in cols[1:]:
            joined = joined + "|" + parts[c].fillna("").astype(str)
        out[name] = pd.Series(np.where(complete.to_numpy(), joined.to_numpy(dtype=object), None), index=out.index,
                              dtype=object)
    return out
