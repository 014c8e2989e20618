"""Keyed pseudonyms and small-cell suppression for reviewer analytics (pure Python, no database).

Pseudonyms are HMAC-SHA256 of a kind and an id under a secret key: stable for as long as the key is,
not reversible without it, and different across kinds, so a practitioner and a child with the same id
never share one. Suppression follows the usual statistical-disclosure practice: counts under 5 are shown
as "<5" (primary); then further cells are withheld ("c") until no withheld count can be worked out from
the published totals by any sum or difference of rows and columns (secondary).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np

THRESHOLD = 5
SMALL = "<5"
WITHHELD = "c"
PREFIXES = {"child": "ch", "practitioner": "pr", "agency": "ag", "household": "hh", "carer": "ca"}

Cell = tuple[int, int]


def pseudonym(key: bytes, kind: str, value: str) -> str:
    """A stable, keyed pseudonym such as 'ch-3f9c0a...': 80 bits of HMAC-SHA256 over kind and value.

    Raises:
        KeyError: an unknown kind.
    """
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{PREFIXES[kind]}-{digest[:20]}"


def _lines(rows: int, cols: int, row_totals: bool, col_totals: bool) -> list[list[Cell]]:
    """The additive relations of a table with its margins: each line's entries sum to its last entry."""
    lines: list[list[Cell]] = []
    if row_totals:
        lines += [[(i, j) for j in range(cols)] + [(i, cols)] for i in range(rows)]
    if col_totals:
        lines += [[(i, j) for i in range(rows)] + [(rows, j)] for j in range(cols)]
    if row_totals and col_totals:
        lines.append([(rows, j) for j in range(cols)] + [(rows, cols)])
        lines.append([(i, cols) for i in range(rows)] + [(rows, cols)])
    return lines


def _derivable(lines: list[list[Cell]], hidden: set[Cell], cell: Cell) -> bool:
    """True if the hidden `cell` is a linear combination of the published lines (rank test)."""
    unknowns = sorted(hidden)
    index = {k: n for n, k in enumerate(unknowns)}
    equations = [[1.0 if k in line else 0.0 for k in unknowns] for line in lines if any(k in hidden for k in line)]
    if not equations:
        return False
    a = np.array(equations)
    target = np.zeros(len(unknowns))
    target[index[cell]] = 1.0
    return int(np.linalg.matrix_rank(np.vstack([a, target]))) == int(np.linalg.matrix_rank(a))


def suppress(values: dict[Cell, int], lines: list[list[Cell]], threshold: int = THRESHOLD) -> dict[Cell, str]:
    """Which entries to withhold: {cell: "<5" | "c"} for the primary and secondary suppressions.

    Every count under `threshold` is withheld. Then, while some withheld entry can be derived from the
    published entries of the lines (a line with one withheld entry, or any combination of lines), the
    smallest published entry of a line through it is withheld too (smallest: least information lost).
    """
    marks = {cell: SMALL for cell, v in values.items() if v < threshold}
    # Where no entry lies on two lines, the lines are independent equations and a line with two or
    # more withheld entries gives none away: the rank test is only needed when lines cross.
    crossing = len({k for line in lines for k in line}) < sum(len(line) for line in lines)
    while True:
        hidden = set(marks)
        exposed = next((k for line in lines for k in line if k in hidden
                        and sum(1 for x in line if x in hidden) == 1), None)
        if exposed is None and crossing:
            exposed = next((k for k in sorted(hidden) if _derivable(lines, hidden, k)), None)
        if exposed is None:
            return marks
        open_ = [k for line in lines if exposed in line for k in line if k not in hidden]
        if not open_:  # nothing left to withhold beside it: the whole line is already withheld
            return marks
        marks[min(open_, key=lambda k: (values[k], k))] = WITHHELD


def suppress_table(
    table: Sequence[Sequence[int]], *, row_totals: bool = False, col_totals: bool = True,
    threshold: int = THRESHOLD,
) -> tuple[list[list[int | str]], list[int | str] | None, list[int | str] | None, int | str | None]:
    """Publish a table of counts with its totals: (cells, row totals, column totals, grand total).

    Withheld entries become "<5" (under the threshold) or "c" (withheld so the others cannot be
    worked back); a total is part of the table and may be withheld too.
    """
    rows = len(table)
    cols = len(table[0]) if rows else 0
    values: dict[Cell, int] = {(i, j): int(table[i][j]) for i in range(rows) for j in range(cols)}
    if row_totals:
        values.update({(i, cols): sum(table[i]) for i in range(rows)})
    if col_totals:
        values.update({(rows, j): sum(table[i][j] for i in range(rows)) for j in range(cols)})
    if row_totals and col_totals:
        values[(rows, cols)] = sum(sum(r) for r in table)
    marks = suppress(values, _lines(rows, cols, row_totals, col_totals), threshold)

    def shown(cell: Cell) -> int | str:
        return marks.get(cell, values[cell])

    cells = [[shown((i, j)) for j in range(cols)] for i in range(rows)]
    row_out = [shown((i, cols)) for i in range(rows)] if row_totals else None
    col_out = [shown((rows, j)) for j in range(cols)] if col_totals else None
    grand = shown((rows, cols)) if row_totals and col_totals else None
    return cells, row_out, col_out, grand
