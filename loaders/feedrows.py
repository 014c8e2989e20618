"""Read a feed file: the header checked, each record validated by its model, keys de-duplicated, rejects kept."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from graph.identity import rows as identity_rows
from loaders.feeds import FeedSpec

# One CSV field may be at most this long; longer ones are rejected, not loaded.
MAX_FIELD_CHARS = 10_000
csv.field_size_limit(1_000_000)

# A field holding bytes that are not UTF-8 decodes to these lone surrogates.
_UNDECODABLE = re.compile("[\udc80-\udcff]")

# Columns that identify a row: a second row with the same key in one file is rejected.
KEYS: dict[str, tuple[str, ...]] = {
    "authorities": ("code",),
    "agencies": ("agency_id",),
    "practitioners": ("practitioner_id",),
    "children": ("child_id",),
    "sources": ("source_id",),
    "person_records": ("source_id", "local_id"),
    "addresses": ("address_id",),
    "residences": ("child_id", "address_id", "since"),
    "carers": ("carer_id", "child_id", "since"),
    "school_enrolments": ("child_id", "agency_id", "since"),
    "gp_registrations": ("child_id", "agency_id", "since"),
    "involvements": ("practitioner_id", "child_id", "service", "since"),
    "plans": ("child_id", "la_code", "kind", "since"),
    "missing_episodes": ("child_id", "la_code", "since"),
    "attendances": ("child_id", "agency_id", "at"),
    "shielding": ("child_id", "decided_on"),
}


class FeedError(Exception):
    """A whole feed file cannot be read (its header is wrong); no row of it is loaded."""



@dataclass
class Rejects:
    """The rejects file, written as rows are rejected."""

    path: Path
    _writer: Any = None
    _file: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Rejects:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8", errors="backslashreplace")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["file", "line", "reason", "row"])
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def add(self, filename: str, line: int, reason: str, raw: str) -> None:
        with self._lock:
            self._writer.writerow([filename, line, reason, raw])


def raw_text(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(fields)
    return out.getvalue().rstrip("\r\n")


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return max(count - 1, 0)


def _header(spec: FeedSpec, path: Path, header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    unknown = [n for n in names if n not in spec.columns]
    missing = [n for n in spec.required if n not in names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if unknown:
        problems.append(f"unknown columns {', '.join(unknown)}")
    if missing:
        problems.append(f"missing required columns {', '.join(missing)}")
    if duplicated:
        problems.append(f"repeated columns {', '.join(duplicated)}")
    if problems:
        raise FeedError(f"{path.name} line 1: {'; '.join(problems)} (expected: {', '.join(spec.columns)})")
    return names


def read_rows(spec: FeedSpec, path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, list[str]]]:
    """Yield (line, validated row or None, reject reason or None, raw fields) for each record.

    Raises:
        FeedError: the file is empty or its header names wrong columns.
    """
    seen: dict[tuple[Any, ...], int] = {}
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = _header(spec, path, next(reader))
        except StopIteration:
            raise FeedError(f"{path.name}: the file is empty (a header row is required)") from None
        except csv.Error as exc:
            raise FeedError(f"{path.name} line 1: unreadable header ({exc})") from None
        width = len(header)
        last_line = reader.line_num
        while True:
            line = last_line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = reader.line_num
                yield line, None, f"malformed CSV ({exc})", []
                continue
            last_line = reader.line_num
            if not fields or fields == [""]:
                continue
            if len(fields) != width:
                yield line, None, f"expected {width} fields, found {len(fields)}", fields
                continue
            joined = "\x1f".join(fields)
            if _UNDECODABLE.search(joined):
                bad = next(name for name, value in zip(header, fields) if _UNDECODABLE.search(value))
                yield line, None, f"{bad}: not valid UTF-8", fields
                continue
            if len(joined) > MAX_FIELD_CHARS and max(map(len, fields)) > MAX_FIELD_CHARS:
                long = next(name for name, value in zip(header, fields) if len(value) > MAX_FIELD_CHARS)
                yield line, None, f"{long}: longer than {MAX_FIELD_CHARS} characters", fields
                continue
            # blank cells are left out, so optional columns take their defaults
            row, reason = validate_row(spec, {k: v for k, v in zip(header, fields) if v and not v.isspace()},
                                       line=line, seen=seen)
            yield line, row, reason, fields


def validate_row(spec: FeedSpec, values: dict[str, Any], *, line: int,
                 seen: dict[tuple[Any, ...], int]) -> tuple[dict[str, Any] | None, str | None]:
    """One feed row checked by its model and against the keys `seen` earlier in its file: (row, None) or
    (None, reason). Values left out take the model's defaults; `seen` is updated with the row's key."""
    keys = KEYS[spec.name]
    try:
        model = spec.model.model_validate(values)
    except ValidationError as exc:
        return None, _reason(exc)
    row = model.model_dump()
    key = tuple(_key_part(row, k) for k in keys)
    first = seen.get(key)
    if first is not None:
        return None, f"duplicate {'/'.join(keys)} (first at line {first})"
    seen[key] = line
    row["line"] = line
    if spec.name == "children":  # no former names: no property (as the bulk importer writes it)
        row["former_names"] = list(row["former_names"]) or None
        row["former_names_text"] = " ".join(row["former_names"] or ()) or None
    return row, None


def _key_part(row: dict[str, Any], column: str) -> Any:
    """A key column's value; a child named by its record counts as that record (source_id|local_id)."""
    if column == "child_id" and row.get("child_id") is None and "local_id" in row:
        return identity_rows.record_key(row["source_id"], row["local_id"])
    return row[column]
