"""Network measures on small hand-built graphs whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from analytics.networks import Involvement, bridges, clusters, fragmentation, fragmentation_all, households


def test_households_join_children_through_shared_carers() -> None:
    got = households({"A": ["K1"], "B": ["K1", "K2"], "C": ["K2"], "D": [], "E": ["K9"]})
    assert got == {"A": "A", "B": "A", "C": "A", "D": "D", "E": "E"}


def test_practitioners_on_a_path_of_households_bridge_them() -> None:
    # hhA - P1 - hhB - P2 - hhC, with P1 in agency X and P2 in agency Y: 7 nodes, a tree.
    # Removing P1 leaves {hhA}, {X}, {hhB, P2, Y, hhC}: 1*1 + 1*4 + 1*4 = 9 pairs of 15 -> 0.6.
    invs = [Involvement("A", "P1", "X"), Involvement("B", "P1", "X"), Involvement("B", "P2", "Y"),
            Involvement("C", "P2", "Y")]
    got = bridges(invs, {"A": "A", "B": "B", "C": "C"})
    assert [(k, n, round(s, 6)) for k, n, s in got] == [("practitioner", "P1", 0.6), ("practitioner", "P2", 0.6)]


def test_an_agency_bridges_households_its_practitioners_keep_apart() -> None:
    # hhD - P3 - Z - P4 - hhE: a path of 5. Z lies between {hhD, P3} and {P4, hhE}: 4 of 6 pairs.
    # P3 lies between hhD and {Z, P4, hhE}: 3 of 6 pairs, as does P4.
    invs = [Involvement("D", "P3", "Z"), Involvement("E", "P4", "Z")]
    got = {(k, n): round(s, 6) for k, n, s in bridges(invs, {"D": "D", "E": "E"})}
    assert got == {("agency", "Z"): round(4 / 6, 6), ("practitioner", "P3"): 0.5, ("practitioner", "P4"): 0.5}


def test_a_household_of_siblings_is_one_node() -> None:
    # Two siblings seen by different practitioners of different agencies: nothing bridges two households.
    invs = [Involvement("S1", "P1", "X"), Involvement("S2", "P2", "Y")]
    got = bridges(invs, households({"S1": ["K"], "S2": ["K"]}))
    # X - P1 - hh - P2 - Y, a path of 5: P1 lies between X and the other three (3 of 6 pairs).
    # (As two households, X - P1 - hhS1 and Y - P2 - hhS2 apart, P1 would score 1 of 10 pairs.)
    assert [(k, n, round(s, 6)) for k, n, s in got] == [("practitioner", "P1", 0.5), ("practitioner", "P2", 0.5)]
    apart = bridges(invs, {"S1": "S1", "S2": "S2"})
    assert [round(s, 6) for _, _, s in apart] == [0.1, 0.1]


def test_clusters_of_households_sharing_practitioners_or_addresses() -> None:
    household_of = {"A1": "A1", "A2": "A1", "B1": "B1", "C1": "C1", "D1": "D1", "E1": "E1"}
    invs = [Involvement("A1", "P", "X"), Involvement("B1", "P", "X"), Involvement("E1", "Q", "X")]
    addresses = {"A1": "H1", "A2": "H1", "B1": "H2", "C1": "H3", "D1": "H3", "E1": "H4"}
    got = clusters(household_of, invs, addresses)
    assert [(c.households, c.children, c.shared_practitioners, c.shared_addresses) for c in got] == [
        (("A1", "B1"), 3, ("P",), ()), (("C1", "D1"), 2, (), ("H3",))]
    # B1 moving in with C1 joins the two clusters into one.
    addresses["B1"] = "H3"
    [joined] = clusters(household_of, invs, addresses)
    assert joined.households == ("A1", "B1", "C1", "D1") and joined.shared_addresses == ("H3",)


@pytest.mark.parametrize(("others", "lead", "want"), [
    # Agencies S, H, Q around child X. Y is seen by S and H together: S-H in contact, Q alone.
    ([Involvement("Y", "P1", "S"), Involvement("Y", "P2", "H")], False, (3, 2, 1, 0.5)),
    # Nobody works together anywhere else: three islands, the most fragmented.
    ([], False, (3, 3, 3, 1.0)),
    # Z is seen by all three: fully connected.
    ([Involvement("Z", "P1", "S"), Involvement("Z", "P2", "H"), Involvement("Z", "P3", "Q")], False, (3, 1, 0, 0.0)),
    # A lead professional holds the agencies together whatever else: no fragmentation.
    ([], True, (3, 3, 3, 0.0)),
])
def test_fragmentation(others: list[Involvement], lead: bool, want: tuple[int, int, int, float]) -> None:
    mine = [Involvement("X", "P1", "S", lead), Involvement("X", "P2", "H"), Involvement("X", "P3", "Q")]
    f = fragmentation("X", mine + others)
    assert (f.agencies, f.groups, f.isolated, f.score) == want
    assert f.lead is lead
    everyone = fragmentation_all(mine + others)
    assert everyone["X"] == f and set(everyone) == {"X"} | {i.child for i in others}


def test_one_agency_is_not_fragmented() -> None:
    f = fragmentation("X", [Involvement("X", "P1", "S"), Involvement("X", "P9", "S")])
    assert (f.agencies, f.groups, f.score) == (1, 1, 0.0)
