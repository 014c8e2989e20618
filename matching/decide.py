"""Decisions on scored pairs: exact rules, thresholds, guards, and clustering that obeys the guards.

Splink's own clustering (connected components) has no cannot-link constraints: one strong pair
through a third record would join two children whose NHS numbers differ. So clusters are built here
by a union-find written by hand that takes pairs strongest first and refuses any join a guard forbids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.records import upn_temporary

EXACT_NHS, EXACT_UPN, MODEL = "exact_nhs", "exact_upn", "model"


@dataclass(frozen=True)
class Thresholds:
    """Match weights (log2 Bayes factor, prior included) that decide a pair.

    At or above ``link``: the same child, linked automatically. From ``review`` up to ``link``: the
    review queue. Below ``review``: not the same child. Tuned on the synthetic sources at 100,000 children
    (docs/matching.md): of pairs scored 6 to 7 there, about 1 in 100 were two children (before the
    guards); below 2 almost none were one child. The weight includes the prior, which falls as the
    population grows, so retune after a change of scale.
    """

    link: float = 6.0
    review: float = 2.0

    def __post_init__(self) -> None:
        if not self.review <= self.link:
            raise ValueError(f"the review threshold ({self.review}) must not exceed the link threshold ({self.link})")

    @staticmethod
    def probability(weight: float) -> float:
        """The match probability a weight stands for."""
        return float(2.0 ** weight / (1.0 + 2.0 ** weight))


# Refusal reasons.
NHS_CONFLICT = "different valid NHS numbers"
UPN_CONFLICT = "different permanent UPNs"
TWINS = "possible twins: same date of birth and home or family name, clearly different given names"
SAME_SOURCE = ("two records of one source with the same date of birth and home or family name, different given "
               "names and no identifier in common: twins, or the source's own duplicate (a person decides)")
TWO_CHILDREN = "would merge two children already in the directory"
NOT_SAME = "a person decided two of these records are not the same child"


@dataclass
class Records:
    """Per-record features the guards read, by position; ``child`` is an existing child id or ""."""

    keys: np.ndarray
    nhs: np.ndarray
    upn: np.ndarray
    dob: np.ndarray
    postcode: np.ndarray
    family: np.ndarray
    given: np.ndarray
    tokens: np.ndarray
    relatives: np.ndarray
    child: np.ndarray
    source: np.ndarray | None = None  # the sending source of each record (None: the guard on one source is off)
    index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, prepared: pd.DataFrame) -> Records:
        def col(name: str) -> np.ndarray:
            return prepared[name].to_numpy(dtype=object)

        upn = col("upn_valid").copy()
        # A temporary UPN is replaced by a permanent one, so two of them never prove two children.
        upn[[u is not None and upn_temporary(u) for u in upn]] = None
        child = col("child_id") if "child_id" in prepared else np.full(len(prepared), "", dtype=object)
        keys = col("record_key")
        source = col("source_id") if "source_id" in prepared else np.array([k.split("|", 1)[0] for k in keys],
                                                                           dtype=object)
        return cls(keys=keys, nhs=col("nhs_valid"), upn=upn, dob=col("dob_str"), postcode=col("postcode_full"),
                   family=col("family"), given=col("given"), tokens=col("name_tokens"),
                   relatives=col("given_relatives"), child=child, source=source,
                   index={k: i for i, k in enumerate(keys)})


def twins(r: Records, i: int, j: int) -> bool:
    """Could records i and j be twins (and so must not be joined automatically)?

    Same date of birth; same home (postcode) or same family name; given names clearly different:
    neither among the other's names, not nickname forms of each other, neither the start of the other
    ("Alex", "Alexander"), and not a one-letter slip (first letters differ, or two or more edits apart). "Jon" for "John" is a slip; "Ava" and "Eva",
    "Oliver" and "Olivia" are two children.
    """
    if r.dob[i] is None or r.dob[i] != r.dob[j] or r.given[i] is None or r.given[j] is None:
        return False
    same_home = r.postcode[i] is not None and r.postcode[i] == r.postcode[j]
    same_family = r.family[i] is not None and r.family[i] == r.family[j]
    if not (same_home or same_family):
        return False
    a, b = r.given[i], r.given[j]
    if a == b or b in r.tokens[i] or a in r.tokens[j] or b in r.relatives[i] or a.startswith(b) or b.startswith(a):
        return False
    return a[0] != b[0] or edits(a, b) >= 2


def one_source_pair(r: Records, i: int, j: int) -> bool:
    """Do records i and j say "two children" by coming from one source (so must not be joined automatically)?

    One source holding two records (two local ids) with the same date of birth, the same home or family name
    and different given names, and no valid NHS number or permanent UPN in common: a GP practice or a school
    with two such children on its roll has twins ("Freya" and "Freyaa", "Sophie" and "Sophia", which the twin
    guard takes for a slip), or has registered one child twice. Either is a question for a person, never an
    automatic link. Records sharing an identifier are the source's duplicates of one child and are joined.
    """
    if r.source is None or r.source[i] != r.source[j] or r.dob[i] is None or r.dob[i] != r.dob[j]:
        return False
    if r.given[i] is None or r.given[j] is None or r.given[i] == r.given[j]:
        return False
    if (r.nhs[i] is not None and r.nhs[i] == r.nhs[j]) or (r.upn[i] is not None and r.upn[i] == r.upn[j]):
        return False
    same_home = r.postcode[i] is not None and r.postcode[i] == r.postcode[j]
    return same_home or (r.family[i] is not None and r.family[i] == r.family[j])


def edits(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def exact_pairs(prepared: pd.DataFrame) -> pd.DataFrame:
    """Pairs joined by an exact rule: the same valid NHS number, or the same valid UPN.

    Each record is paired with the first record holding its number (a star per number is enough for
    the clustering, which checks the guards across whole clusters). Columns: key_l, key_r, method.
    """
    parts = []
    for column, method in (("nhs_valid", EXACT_NHS), ("upn_valid", EXACT_UPN)):
        has = prepared.loc[prepared[column].notna(), ["record_key", column]]
        first = has.groupby(column)["record_key"].transform("first")
        star = has[has["record_key"] != first]
        parts.append(pd.DataFrame({"key_l": first[star.index].to_numpy(), "key_r": star["record_key"].to_numpy(),
                                   "method": method}))
    return pd.concat(parts, ignore_index=True)


@dataclass
class Outcome:
    """What the clustering decided: a cluster root per record, how each record was joined, what was
    refused, and which pairs a person should look at."""

    root: np.ndarray  # cluster representative per record position
    joined_by: dict[int, tuple[float, str, int]]  # record -> (weight, method, other record) of its best accepted pair
    refusals: list[tuple[int, int, float, str, str]]  # (i, j, weight, method, reason)
    review: list[tuple[int, int, float, str]]  # (i, j, weight, reason) one per pair of clusters


class _Clusters:
    """Union-find whose clusters remember the NHS numbers, UPNs, existing children and members by birthday."""

    def __init__(self, r: Records, cannot_link: list[tuple[str, str]] = ()):
        n = len(r.keys)
        self.r = r
        # Per cluster root: the records a person said are not the same child as one of its members.
        self.apart: dict[int, set[int]] = {}
        for a, b in cannot_link:
            i, j = r.index.get(a), r.index.get(b)
            if i is not None and j is not None and i != j:
                self.apart.setdefault(i, set()).add(j)
                self.apart.setdefault(j, set()).add(i)
        self.parent = list(range(n))
        self.size = [1] * n
        self.nhs: dict[int, object] = {}
        self.upn: dict[int, object] = {}
        self.child: dict[int, str] = {}
        self.by_dob: dict[int, dict[str, list[int]]] = {}
        for i in range(n):
            if r.nhs[i] is not None:
                self.nhs[i] = r.nhs[i]
            if r.upn[i] is not None:
                self.upn[i] = r.upn[i]
            if r.child[i]:
                self.child[i] = r.child[i]
        # Records already in the directory start out joined to their child's other records.
        first: dict[str, int] = {}
        for i in range(n):
            c = r.child[i]
            if c:
                if c in first:
                    self._union(self.find(first[c]), self.find(i))
                else:
                    first[c] = i

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def _members(self, root: int) -> dict[str, list[int]]:
        if root not in self.by_dob:
            dob = self.r.dob[root]
            self.by_dob[root] = {dob: [root]} if dob is not None else {}
        return self.by_dob[root]

    def conflict(self, a: int, b: int) -> str | None:
        """Why clusters a and b (roots) must not be joined, or None."""
        na, nb = self.nhs.get(a), self.nhs.get(b)
        if na is not None and nb is not None and na != nb:
            return NHS_CONFLICT
        ua, ub = self.upn.get(a), self.upn.get(b)
        if ua is not None and ub is not None and ua != ub:
            return UPN_CONFLICT
        ca, cb = self.child.get(a), self.child.get(b)
        if ca and cb and ca != cb:
            return TWO_CHILDREN
        small, large = (a, b) if len(self.apart.get(a, ())) <= len(self.apart.get(b, ())) else (b, a)
        if any(self.find(k) == large for k in self.apart.get(small, ())):
            return NOT_SAME
        ma, mb = self._members(a), self._members(b)
        if len(ma) > len(mb):
            ma, mb = mb, ma
        one_source = None
        for dob, left in ma.items():
            for i in left:
                for j in mb.get(dob, ()):
                    if twins(self.r, i, j):
                        return TWINS
                    if one_source is None and one_source_pair(self.r, i, j):
                        one_source = SAME_SOURCE
        return one_source

    def _union(self, a: int, b: int) -> int:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        for attr in ("nhs", "upn", "child"):
            table = getattr(self, attr)
            if b in table:
                table.setdefault(a, table[b])
                del table[b]
        if b in self.apart:
            self.apart.setdefault(a, set()).update(self.apart.pop(b))
        ma, mb = self._members(a), self.by_dob.pop(b, None) or self._members_of_single(b)
        for dob, ids in mb.items():
            ma.setdefault(dob, []).extend(ids)
        return a

    def _members_of_single(self, b: int) -> dict[str, list[int]]:
        dob = self.r.dob[b]
        return {dob: [b]} if dob is not None else {}

    def join(self, i: int, j: int) -> tuple[bool, str | None]:
        """Join the clusters of i and j unless a guard forbids it; (joined, reason refused)."""
        a, b = self.find(i), self.find(j)
        if a == b:
            return False, None
        reason = self.conflict(a, b)
        if reason is not None:
            return False, reason
        self._union(a, b)
        return True, None


def cluster(r: Records, scored: pd.DataFrame, exact: pd.DataFrame, thresholds: Thresholds,
            cannot_link: list[tuple[str, str]] = ()) -> Outcome:
    """Join records into children, strongest evidence first, never against a guard.

    ``scored`` has key_l, key_r, weight (model pairs at or above the review threshold); ``exact`` has
    key_l, key_r, method. Exact pairs go first, then model pairs from the highest weight down; a pair
    at or above the link threshold is joined unless a guard refuses it. Afterwards every pair of
    clusters still apart with a pair in the review band (or an exact pair the twin guard stopped)
    gives one review item, its strongest pair. ``cannot_link`` pairs (record keys) are never in one cluster,
    and no review item is proposed between clusters holding one.
    """
    idx = r.index
    weight_of = {}
    if len(scored):
        for kl, kr, w in zip(scored["key_l"].to_numpy(), scored["key_r"].to_numpy(), scored["weight"].to_numpy()):
            weight_of[(kl, kr)] = float(w)
            weight_of[(kr, kl)] = float(w)
    edges: list[tuple[float, int, str, int, int]] = []  # (sort key, rank, method, i, j)
    for kl, kr, method in zip(exact["key_l"].to_numpy(), exact["key_r"].to_numpy(), exact["method"].to_numpy()):
        w = weight_of.get((kl, kr), float("nan"))
        edges.append((float("inf"), 0 if method == EXACT_NHS else 1, method, idx[kl], idx[kr]))
    order = np.argsort(-scored["weight"].to_numpy(), kind="stable") if len(scored) else []
    kl_all, kr_all, w_all = (scored[c].to_numpy() for c in ("key_l", "key_r", "weight")) if len(scored) else ([], [], [])
    band: list[tuple[int, int, float]] = []
    for k in order:
        w = float(w_all[k])
        if w >= thresholds.link:
            edges.append((w, 2, MODEL, idx[kl_all[k]], idx[kr_all[k]]))
        elif w >= thresholds.review:
            band.append((idx[kl_all[k]], idx[kr_all[k]], w))
    clusters = _Clusters(r, cannot_link)
    joined_by: dict[int, tuple[float, str, int]] = {}
    refusals: list[tuple[int, int, float, str, str]] = []
    held: list[tuple[int, int, float, str]] = []
    for sort_key, _, method, i, j in edges:
        w = sort_key if method == MODEL else weight_of.get((r.keys[i], r.keys[j]), float("nan"))
        ok, reason = clusters.join(i, j)
        if ok:
            for a, b in ((i, j), (j, i)):
                if a not in joined_by:
                    joined_by[a] = (w, method, b)
        elif reason is not None:
            refusals.append((i, j, w, method, reason))
            # An identifier agreeing where the twin guard refuses, a strong pair between two existing
            # children, or two records of one source, is a question for a person.
            if reason in (TWO_CHILDREN, SAME_SOURCE) or (reason == TWINS and method != MODEL):
                held.append((i, j, w, reason))
    review: dict[tuple[int, int], tuple[int, int, float, str]] = {}
    for i, j, w, reason in held + [(i, j, w, "between the thresholds") for i, j, w in band]:
        a, b = clusters.find(i), clusters.find(j)
        if a == b:
            continue
        reason_now = clusters.conflict(a, b)
        if reason_now in (NHS_CONFLICT, UPN_CONFLICT, NOT_SAME) or (reason_now == TWINS and reason != TWINS):
            continue  # a guard would refuse the join whatever a reviewer says
        pair = (min(a, b), max(a, b))
        if pair not in review or (w == w and w > review[pair][2]):
            review[pair] = (i, j, w, reason)
    root = np.array([clusters.find(i) for i in range(len(r.keys))], dtype=np.int64)
    return Outcome(root=root, joined_by=joined_by, refusals=refusals, review=list(review.values()))
