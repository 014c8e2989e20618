"""Pseudonyms and small-cell suppression: no withheld count can be worked back from what is published."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.privacy import SMALL, WITHHELD, pseudonym, suppress_table

KEY = b"k" * 32


def test_pseudonyms_are_stable_keyed_and_separate_kinds() -> None:
    p = pseudonym(KEY, "child", "C00000042")
    assert p == pseudonym(KEY, "child", "C00000042")
    assert p.startswith("ch-") and len(p) == 23
    assert "C00000042" not in p
    assert pseudonym(b"x" * 32, "child", "C00000042") != p
    assert pseudonym(KEY, "practitioner", "C00000042") != p
    assert pseudonym(KEY, "child", "C00000043") != p


def _table(draw: st.DrawFn) -> list[list[int]]:
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(1, 5))
    cell = st.one_of(st.integers(0, 6), st.integers(0, 60))
    return [[draw(cell) for _ in range(cols)] for _ in range(rows)]


tables = st.composite(_table)


def _published(table: list[list[int]], row_totals: bool, col_totals: bool):
    cells, row_out, col_out, grand = suppress_table(table, row_totals=row_totals, col_totals=col_totals)
    rows, cols = len(table), len(table[0])
    true: dict[tuple[int, int], int] = {(i, j): table[i][j] for i in range(rows) for j in range(cols)}
    shown: dict[tuple[int, int], int | str] = {(i, j): cells[i][j] for i in range(rows) for j in range(cols)}
    lines = []
    if row_totals:
        assert row_out is not None
        for i in range(rows):
            true[(i, cols)] = sum(table[i])
            shown[(i, cols)] = row_out[i]
            lines.append([(i, j) for j in range(cols + 1)])
    if col_totals:
        assert col_out is not None
        for j in range(cols):
            true[(rows, j)] = sum(table[i][j] for i in range(rows))
            shown[(rows, j)] = col_out[j]
            lines.append([(i, j) for i in range(rows + 1)])
    if row_totals and col_totals:
        true[(rows, cols)] = sum(map(sum, table))
        shown[(rows, cols)] = grand
        lines.append([(rows, j) for j in range(cols + 1)])
        lines.append([(i, cols) for i in range(rows + 1)])
    return true, shown, lines


def _determined(lines: list[list[tuple[int, int]]], hidden: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Hidden entries fixed by the line equations: zero in every null-space vector (SVD, not a rank test)."""
    if not hidden:
        return set()
    a = np.array([[1.0 if h in line else 0.0 for h in hidden] for line in lines] or [[0.0] * len(hidden)])
    _, s, vt = np.linalg.svd(a)
    rank = int((s > 1e-9).sum())
    null = vt[rank:]
    return {h for n, h in enumerate(hidden) if null.shape[0] == 0 or np.all(np.abs(null[:, n]) < 1e-9)}


@settings(max_examples=300, deadline=None)
@given(tables(), st.booleans(), st.booleans())
def test_no_withheld_count_can_be_derived(table: list[list[int]], row_totals: bool, col_totals: bool) -> None:
    true, shown, lines = _published(table, row_totals, col_totals)
    hidden = sorted(k for k, v in shown.items() if isinstance(v, str))
    for cell, value in shown.items():
        if true[cell] < 5:
            assert value == SMALL, (cell, true[cell], value)
        elif isinstance(value, str):
            assert value == WITHHELD
        else:
            assert value == true[cell]
    for line in lines:  # subtraction: a line with one withheld entry gives it away
        assert sum(1 for k in line if k in hidden) != 1, (line, shown)
    assert not _determined(lines, hidden), shown  # nor does any sum or difference of lines


def test_secondary_suppression_takes_the_next_smallest() -> None:
    cells, _, totals, _ = suppress_table([[3], [7], [50], [9]], col_totals=True)
    assert [c[0] for c in cells] == [SMALL, WITHHELD, 50, 9]
    assert totals == [69]


def test_a_line_of_one_count_withholds_its_total() -> None:
    cells, _, totals, _ = suppress_table([[2]], col_totals=True)
    assert cells == [[SMALL]] and totals == [SMALL]
    cells, _, totals, _ = suppress_table([[12]], col_totals=True)
    assert cells == [[12]] and totals == [12]
