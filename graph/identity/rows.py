"""Source records as the graph stores them: what the source sent, its validity flags and blocking keys.

Pure Python (no Cypher): the online loader, the bulk importer and the matching run all build a
SourceRecord's properties here, so the three agree. The blocking keys come from matching.records, so a
record is found as a candidate exactly when the matching model's blocking rules would pair it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from matching.records import BLOCKING_KEYS, COLUMNS, blocking_keys, prepare

DIRECTORY = "directory"  # the built-in source of the feeds keyed by child_id
DIRECTORY_NAME = "Directory (feeds keyed by child_id)"
# What a SourceRecord keeps as sent (besides its key, source and local id).
SENT = ("given_name", "family_name", "other_names", "dob", "sex", "postcode", "nhs_number", "upn",
        "council_person_id")
# Every property a record row sets (the upserts write them with `x += r.props`).
PROPERTIES = (*SENT, "nhs_number_valid", "upn_valid", "fingerprint", *BLOCKING_KEYS)


def record_key(source_id: str, local_id: str) -> str:
    """A source record's key: its source and its local id (source ids never contain '|')."""
    return f"{source_id}|{local_id}"


def fingerprint(sent: dict[str, Any]) -> str:
    """A short hash of what the source sent: a record sent again unchanged is not matched again."""
    parts = []
    for k in SENT:
        v = sent.get(k)
        parts.append("\x1e".join(v) if isinstance(v, (list, tuple)) else ("\x00" if v is None else _text(v)))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def _sent(row: dict[str, Any]) -> dict[str, Any]:
    other = row.get("other_names")
    return {k: row.get(k) for k in SENT} | {"other_names": list(other) if other else None}


def props(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The properties of each row's SourceRecord, and the lines matching would refuse, with the reason.

    Each row holds ``source_id``, ``local_id``, ``line`` and the SENT fields (dob a date, other_names a
    sequence). Validity flags and blocking keys use matching.records' own checks and normalisation.
    """
    if not rows:
        return [], {}
    sent = [_sent(r) for r in rows]
    frame = pd.DataFrame({
        "record_key": [record_key(r["source_id"], r["local_id"]) for r in rows],
        "source_id": [r["source_id"] for r in rows], "source_kind": "", "local_id": [r["local_id"] for r in rows],
        **{c: [_text(s[c]) for s in sent] for c in COLUMNS if c in SENT and c != "other_names"},
        "other_names": [s["other_names"] or [] for s in sent],
    })
    prepared = prepare(frame)
    refused = dict(zip(prepared.rejected["record_key"], prepared.rejected["reason"]))
    keys = blocking_keys(prepared.records)
    columns = {name: keys[name].to_numpy(dtype=object) for name in BLOCKING_KEYS}
    valid_nhs = prepared.records["nhs_valid"].to_numpy(dtype=object)
    valid_upn = prepared.records["upn_valid"].to_numpy(dtype=object)
    by_key = {key: {"nhs_number_valid": _blank_none(valid_nhs[i]) is not None,
                    "upn_valid": _blank_none(valid_upn[i]) is not None,
                    **{name: _blank_none(columns[name][i]) for name in BLOCKING_KEYS}}
              for i, key in enumerate(prepared.records["record_key"].tolist())}
    out, reasons = [], {}
    for row, values, key in zip(rows, sent, frame["record_key"]):
        if key in refused:
            reasons[row["line"]] = refused[key]
            continue
        out.append({"line": row["line"], "key": key, "source_id": row["source_id"], "local_id": row["local_id"],
                    "props": {**values, "fingerprint": fingerprint(values), **by_key[key]}})
    return out, reasons


def directory_rows(children: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The directory's own record of each children.csv row: what it says of the child, keyed by child_id."""
    rows = [{"line": c["line"], "source_id": DIRECTORY, "local_id": c["child_id"], "given_name": c.get("given_name"),
             "family_name": c.get("family_name"), "other_names": c.get("former_names"), "dob": c.get("dob"),
             "sex": c.get("gender"), "postcode": None, "nhs_number": c.get("nhs_number"), "upn": c.get("upn"),
             "council_person_id": c.get("la_child_id")} for c in children]
    out, _ = props(rows)
    return out


def _blank_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)
