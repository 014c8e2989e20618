"""Network measures on an authority's involvement subgraph (NetworkX; no database).

The subgraph is what graph.analytics.subgraph fetches: for each child living in the authority, its
current address, its carers and its current involvements (practitioner, agency, lead). From it:

- households: children linked through a shared carer;
- bridges: betweenness of practitioners and agencies in the household-practitioner-agency graph, so the
  people and services through whom otherwise separate households connect rank first;
- clusters: households joined by a shared practitioner or a shared current address;
- fragmentation: per child, how far its involved agencies are from one another when no one leads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import networkx as nx

EXACT_BETWEENNESS_NODES = 2000  # above this, betweenness is estimated from a fixed sample of sources
SAMPLE_SOURCES = 500


@dataclass(frozen=True)
class Involvement:
    """A current involvement: a practitioner of an agency working with a child (lead or not)."""

    child: str
    practitioner: str
    agency: str
    lead: bool = False


@dataclass(frozen=True)
class Cluster:
    """Households joined by shared practitioners or addresses."""

    households: tuple[str, ...]
    children: int
    shared_practitioners: tuple[str, ...]
    shared_addresses: tuple[str, ...]


@dataclass(frozen=True)
class Fragmentation:
    """How fragmented the agencies around one child are.

    `score` is 0 when a lead professional is recorded or fewer than two agencies are involved; otherwise
    (groups - 1) / (agencies - 1), where a group is a set of the child's agencies whose practitioners are
    connected by working together on other children: 1 when no two agencies share practitioner contact.
    """

    agencies: int
    groups: int
    isolated: int
    lead: bool
    score: float


def households(carers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Child -> household key (the smallest child id of the household): children sharing any carer."""
    g = nx.Graph()
    for child, kids_carers in carers.items():
        g.add_node(("child", child))
        for carer in kids_carers:
            g.add_edge(("child", child), ("carer", carer))
    out: dict[str, str] = {}
    for part in nx.connected_components(g):
        kids = sorted(name for kind, name in part if kind == "child")
        for kid in kids:
            out[kid] = kids[0]
    return out


def bridge_graph(involvements: Iterable[Involvement], household_of: Mapping[str, str]) -> nx.Graph:
    """Households, practitioners and agencies; a practitioner links the households it works with and its agency."""
    g = nx.Graph()
    for inv in involvements:
        hh = ("household", household_of.get(inv.child, inv.child))
        g.add_edge(hh, ("practitioner", inv.practitioner))
        g.add_edge(("practitioner", inv.practitioner), ("agency", inv.agency))
    return g


def bridges(involvements: Iterable[Involvement], household_of: Mapping[str, str],
            top: int = 10) -> list[tuple[str, str, float]]:
    """The practitioners and agencies with the highest betweenness: (kind, id, score), highest first.

    Exact up to EXACT_BETWEENNESS_NODES nodes; beyond that, estimated from a fixed sample of sources
    (seeded, so the same graph gives the same answer).
    """
    g = bridge_graph(involvements, household_of)
    if g.number_of_nodes() <= EXACT_BETWEENNESS_NODES:
        scores = nx.betweenness_centrality(g, normalized=True)
    else:
        scores = nx.betweenness_centrality(g, k=SAMPLE_SOURCES, normalized=True, seed=7)
    ranked = sorted(((kind, name, score) for (kind, name), score in scores.items()
                     if kind != "household" and score > 0), key=lambda x: (-x[2], x[0], x[1]))
    return ranked[:top]


def clusters(household_of: Mapping[str, str], involvements: Iterable[Involvement],
             address_of: Mapping[str, str | None]) -> list[Cluster]:
    """Groups of two or more households that share a practitioner or a current address, largest first."""
    by_practitioner: dict[str, set[str]] = {}
    for inv in involvements:
        by_practitioner.setdefault(inv.practitioner, set()).add(household_of.get(inv.child, inv.child))
    by_address: dict[str, set[str]] = {}
    for child, address in address_of.items():
        if address is not None:
            by_address.setdefault(address, set()).add(household_of.get(child, child))
    g = nx.Graph()
    links: list[tuple[str, str, set[str]]] = [("practitioner", k, v) for k, v in by_practitioner.items()]
    links += [("address", k, v) for k, v in by_address.items()]
    shared: dict[tuple[str, str], set[str]] = {}
    for kind, key, group in links:
        if len(group) > 1:
            shared[(kind, key)] = group
            for a, b in combinations(sorted(group), 2):
                g.add_edge(a, b)
    sizes: dict[str, int] = {}
    for hh in household_of.values():
        sizes[hh] = sizes.get(hh, 0) + 1
    out = []
    for part in nx.connected_components(g):
        members = tuple(sorted(part))
        out.append(Cluster(
            households=members, children=sum(sizes.get(h, 1) for h in members),
            shared_practitioners=tuple(sorted(k for (kind, k), grp in shared.items()
                                              if kind == "practitioner" and grp <= part)),
            shared_addresses=tuple(sorted(k for (kind, k), grp in shared.items() if kind == "address" and grp <= part)),
        ))
    return sorted(out, key=lambda c: (-len(c.households), c.households))


def fragmentation(child: str, involvements: Sequence[Involvement]) -> Fragmentation:
    """The fragmentation of the agencies currently involved with `child` (see Fragmentation)."""
    return fragmentation_all(involvements, only={child}).get(child, Fragmentation(0, 0, 0, False, 0.0))


def fragmentation_all(involvements: Sequence[Involvement], only: set[str] | None = None) -> dict[str, Fragmentation]:
    """The fragmentation of every involved child (or of those in `only`), in one pass over the involvements.

    Two of a child's agencies are in contact when their practitioners work together on another child;
    an index from agency to children keeps that to the children who share an agency with it.
    """
    agencies_of: dict[str, set[str]] = {}
    lead: dict[str, bool] = {}
    children_of: dict[str, set[str]] = {}
    for inv in involvements:
        agencies_of.setdefault(inv.child, set()).add(inv.agency)
        lead[inv.child] = lead.get(inv.child, False) or inv.lead
        children_of.setdefault(inv.agency, set()).add(inv.child)
    out: dict[str, Fragmentation] = {}
    for child in sorted(agencies_of if only is None else only & set(agencies_of)):
        mine = agencies_of[child]
        if len(mine) < 2:
            out[child] = Fragmentation(len(mine), len(mine), 0, lead[child], 0.0)
            continue
        g = nx.Graph()
        g.add_nodes_from(mine)
        others = set().union(*(children_of[a] for a in mine)) - {child}
        for other in others:
            for a, b in combinations(sorted(agencies_of[other] & mine), 2):
                g.add_edge(a, b)
        groups = nx.number_connected_components(g)
        isolated = sum(1 for a in mine if g.degree(a) == 0)
        score = 0.0 if lead[child] else (groups - 1) / (len(mine) - 1)
        out[child] = Fragmentation(len(mine), groups, isolated, lead[child], round(score, 4))
    return out
