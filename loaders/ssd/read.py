"""Read an SSD extract: one CSV per table, comma or pipe delimited, UTF-8 with or without a BOM."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from graph.instants import uk_day, utc

# The tables the import reads, in the order it needs them; ssd_person is the one it cannot do without.
USED = (
    "ssd_person", "ssd_linked_identifiers", "ssd_address", "ssd_department", "ssd_professionals",
    "ssd_family", "ssd_mother", "ssd_involvements", "ssd_cin_episodes", "ssd_cin_plans", "ssd_cp_plans",
    "ssd_cla_episodes", "ssd_cla_placement", "ssd_legal_status", "ssd_missing",
)
REQUIRED = "ssd_person"

# A field holding bytes that are not UTF-8 decodes to these lone surrogates.
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")


class ExtractError(Exception):
    """The extract cannot be imported at all (no ssd_person table, no such folder)."""


@dataclass
class Row:
    """One record of a table: its line in the file, its cells by column (blank cells left out), as read."""

    line: int
    cells: dict[str, str]
    raw: list[str]

    def get(self, column: str) -> str | None:
        return self.cells.get(column)


@dataclass
class Table:
    """The records of one table, and the lines that could not be read at all (with the reason)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    unreadable: list[tuple[int, str, list[str]]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


def parse_date(value: str) -> date:
    """A date as the SSD exports write it: ISO or dd/mm/yyyy, with or without a time (a time with a UTC
    offset is that instant's UK day; without, the day as written).

    Raises:
        ValueError: anything else, naming the value.
    """
    text = value.strip()
    if _ISO.match(text):
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return uk_day(utc(moment)) if moment.tzinfo is not None else moment.date()
    else:
        match = _UK.match(text)
        if match:
            try:
                return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
            except ValueError:
                pass
    raise ValueError(f"not a date: {value!r} (expected YYYY-MM-DD or dd/mm/yyyy, with or without a time)")


def _delimiter(header: str) -> str:
    return "|" if header.count("|") > header.count(",") else ","


def read_table(path: Path) -> Table:
    """Every record of one table file; a record with the wrong number of fields or bytes that are not UTF-8
    is kept aside as unreadable, with the reason.

    Raises:
        ExtractError: the file is empty or has no header.
    """
    table = Table(path.name.removesuffix(".csv"))
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        first = handle.readline()
        if not first.strip():
            raise ExtractError(f"{path.name}: the file is empty (a header row is required)")
        handle.seek(0)
        reader = csv.reader(handle, delimiter=_delimiter(first))
        header = [h.strip().lower() for h in next(reader)]
        last = reader.line_num
        while True:
            line = last + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                last = reader.line_num
                table.unreadable.append((line, f"malformed CSV ({exc})", []))
                continue
            last = reader.line_num
            if not fields or fields == [""]:
                continue
            if len(fields) != len(header):
                table.unreadable.append((line, f"expected {len(header)} fields, found {len(fields)}", fields))
                continue
            bad = next((h for h, v in zip(header, fields) if _UNDECODABLE.search(v)), None)
            if bad is not None:
                table.unreadable.append((line, f"{bad}: not valid UTF-8", fields))
                continue
            cells = {h: v.strip() for h, v in zip(header, fields) if v.strip() and v.strip().upper() != "NULL"}
            table.rows.append(Row(line, cells, fields))
    return table


@dataclass
class Extract:
    """The tables of one extract folder that the import uses, and the names of those it ignores."""

    folder: Path
    tables: dict[str, Table]
    ignored: list[str]
    absent: list[str]

    def table(self, name: str) -> Table:
        """A table, empty when the extract does not have it (every table but ssd_person is optional)."""
        return self.tables.get(name) or Table(name)


def read_extract(folder: Path) -> Extract:
    """Read the used tables of an extract folder; the other CSVs are listed as ignored.

    Raises:
        ExtractError: no such folder, or no ssd_person.csv in it (or an empty one).
    """
    if not folder.is_dir():
        raise ExtractError(f"{folder}: no such folder")
    files = {p.name.lower().removesuffix(".csv"): p for p in sorted(folder.glob("*.csv")) if p.is_file()}
    if REQUIRED not in files:
        raise ExtractError(f"{folder}: no {REQUIRED}.csv (the SSD's person table is required; "
                           f"found: {', '.join(sorted(files)) or 'no CSV files'})")
    tables = {}
    for name in USED:
        if name not in files:
            continue
        try:
            tables[name] = read_table(files[name])
        except ExtractError as exc:  # an empty optional table is its own one reject, not the whole extract's
            if name == REQUIRED:
                raise
            tables[name] = Table(name, unreadable=[(1, f"file refused, no row loaded: {exc}", [])])
    ignored = sorted(n for n in files if n not in USED and n != "rejects" and not n.startswith("."))
    absent = [n for n in USED if n not in files]
    return Extract(folder, tables, ignored, absent)
