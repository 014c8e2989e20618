"""Whether two children may be made one by a person: the matcher's guards, applied to the whole of each child.

A person's merge (a review accepted, or a merge through the API) is refused for the same reasons the matcher
never joins two clusters (matching.decide): the two children would hold two different valid NHS numbers or two
different permanent UPNs, they could be twins (docs/architecture.md: twins stay two children, whoever asks), or a person
already decided that a record of one is not the same child as a record of the other. No override: a wrong
merge puts one child's contacts on another's card; a refused one is settled by correcting a source's record
(which is then matched again) or by rejecting the pair.
"""

from __future__ import annotations

import pandas as pd
from neo4j import ManagedTransaction

from graph.identity import store
from matching import decide
from matching.records import COLUMNS, prepare

REASONS = {
    decide.NHS_CONFLICT: "the two children hold different valid NHS numbers",
    decide.UPN_CONFLICT: "the two children hold different permanent UPNs",
    decide.TWINS: ("they could be twins: the same date of birth and home or family name, and clearly different "
                   "given names (twins stay two children)"),
    decide.NOT_SAME: "a person already decided that a record of one is not the same child as a record of the other",
}


def refusal(tx: ManagedTransaction, *, left: str, right: str) -> str | None:
    """Why children `left` and `right` must stay two children, or None if a person may merge them."""
    records = store.records_of_children(tx, ids=[left, right])
    if records.empty:
        return None
    side = dict(zip(records["record_key"], records["child_id"]))
    cannot = store.not_same_pairs(tx, keys=sorted(side))
    for a, b in zip(cannot["record_key_l"], cannot["record_key_r"]):
        if {side.get(a), side.get(b)} == {left, right}:
            return REASONS[decide.NOT_SAME]
    prepared = prepare(records[[*COLUMNS, "child_id"]]).records
    return conflict(prepared, left=left, right=right)


def conflict(prepared: pd.DataFrame, *, left: str, right: str) -> str | None:
    """The guard (as REASONS words it) refusing to join the prepared records of `left` with those of `right`."""
    r = decide.Records.of(prepared)
    ours = [i for i, c in enumerate(r.child) if c == left]
    theirs = [j for j, c in enumerate(r.child) if c == right]
    for field, reason in ((r.nhs, decide.NHS_CONFLICT), (r.upn, decide.UPN_CONFLICT)):
        mine = {field[i] for i in ours if field[i] is not None}
        other = {field[j] for j in theirs if field[j] is not None}
        if mine and other and len(mine | other) > 1:
            return REASONS[reason]
    if any(decide.twins(r, i, j) for i in ours for j in theirs):
        return REASONS[decide.TWINS]
    return None
