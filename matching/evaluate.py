"""Accuracy of a clustering against the truth: pairwise and B-cubed precision and recall, twins merged."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _pairs(sizes: pd.Series | np.ndarray) -> int:
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def scores(predicted: pd.Series, truth: pd.Series) -> dict[str, float]:
    """Pairwise precision/recall/F1 of "same child" pairs and B-cubed precision/recall/F1.

    ``predicted`` and ``truth`` map the same record keys (their index) to a predicted group and a true child.
    """
    frame = pd.DataFrame({"p": predicted, "t": truth.reindex(predicted.index)})
    both = frame.groupby(["p", "t"], sort=False).size()
    p_sizes = frame.groupby("p", sort=False).size()
    t_sizes = frame.groupby("t", sort=False).size()
    tp, pp, tt = _pairs(both), _pairs(p_sizes), _pairs(t_sizes)
    precision = 1.0 if pp == 0 else tp / pp
    recall = 1.0 if tt == 0 else tp / tt
    # B-cubed: per record, the share of its predicted cluster that is its child, and of its child that
    # is in its predicted cluster; averaged over records.
    n_pt = both.to_numpy(dtype=np.float64)
    p_of = p_sizes.reindex(both.index.get_level_values(0)).to_numpy(dtype=np.float64)
    t_of = t_sizes.reindex(both.index.get_level_values(1)).to_numpy(dtype=np.float64)
    n = len(frame)
    b_precision = float((n_pt * n_pt / p_of).sum() / n)
    b_recall = float((n_pt * n_pt / t_of).sum() / n)
    return {
        "pairwise_precision": precision, "pairwise_recall": recall, "pairwise_f1": _f1(precision, recall),
        "false_links": pp - tp, "missed_links": tt - tp, "true_pairs": tt,
        "bcubed_precision": b_precision, "bcubed_recall": b_recall, "bcubed_f1": _f1(b_precision, b_recall),
    }


def twins_merged(predicted: pd.Series, truth: pd.Series, multiple_birth: pd.Series) -> int:
    """How many twin pairs (children of one multiple birth) share a predicted child."""
    frame = pd.DataFrame({"p": predicted, "t": truth.reindex(predicted.index),
                          "m": multiple_birth.reindex(predicted.index).fillna("")})
    frame = frame[frame["m"] != ""]
    children_per_group = frame.groupby(["m", "p"])["t"].nunique()
    return int((children_per_group - 1).clip(lower=0).sum())


def after_review(predicted: pd.Series, review: pd.DataFrame, truth: pd.Series) -> pd.Series:
    """The groups once a reviewer has worked the queue, deciding each pair as the truth says."""
    groups = predicted.copy()
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    if len(review):
        same = truth.reindex(review["record_key"]).to_numpy() == truth.reindex(review["candidate_key"]).to_numpy()
        for a, b in zip(review["record_key"][same], review["candidate_key"][same]):
            ga, gb = find(groups[a]), find(groups[b])
            if ga != gb:
                parent[gb] = ga
    if parent:
        groups = groups.map(find)
    return groups
