"""A full relink, after a model change: every matched record matched afresh, the merges and splits it would
make shown first, and applied only when asked.

Applying keeps every child that can be kept: each new group of records becomes the child that already holds
most of them (a group holding the directory's own record of a child becomes that child), and only a group
with no such child left gets a new directory id. Records whose child changes move with the relationships
written through them; a child left with no record is merged into the one that took them (graph.identity.merge).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pandas as pd
from neo4j import Driver

from graph.identity import models, run, store
from graph.identity.rows import DIRECTORY
from matching import engine
from matching.decide import Thresholds
from matching.model import Model, connect
from matching.records import COLUMNS


@dataclass
class RelinkPlan:
    """What a relink would do: the matcher's resolution, its merges and splits, and the child each group becomes."""

    model: Model
    resolution: engine.Resolution
    diff: engine.Diff
    targets: dict[str, str]  # group -> an existing child's id, or the group itself for a new child
    moves: int  # records that would identify another child


def plan(driver: Driver, *, database: str, thresholds: Thresholds = Thresholds(), threads: int = 2,
         memory_limit: str = "8GB") -> RelinkPlan:
    """Match every matched record afresh with the model in use; change nothing.

    Raises:
        models.MatchError: no model is stored.
    """
    with driver.session(database=database) as session:
        model = session.execute_read(models.stored)
        records = session.execute_read(store.all_records)
        cannot = session.execute_read(store.all_not_same)
    if model is None:
        raise models.MatchError("no matching model is stored: train one (`contactpoint match model --train`)")
    matched = records[records["child_id"] != ""] if len(records) else pd.DataFrame(columns=[*COLUMNS, "child_id"])
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        res = engine.relink(model, records=matched[[*COLUMNS, "child_id"]], thresholds=thresholds, con=con,
                            cannot_link=cannot)
    finally:
        con.close()
    targets = _targets(res.links)
    moving = res.links["child_id"].map(targets) != res.links["current_child_id"]
    return RelinkPlan(model=model, resolution=res, diff=engine.diff(res), targets=targets, moves=int(moving.sum()))


def _targets(links: pd.DataFrame) -> dict[str, str]:
    """The child each group becomes: its directory record's child, else the child holding most of its records
    that no other group has taken, else a new child (the group key)."""
    taken: set[str] = set()
    targets: dict[str, str] = {}
    directory = links[links["record_key"].str.startswith(f"{DIRECTORY}|")]
    for group, rows in directory.sort_values("current_child_id").groupby("child_id", sort=True):
        free = [c for c in rows["current_child_id"] if c not in taken]
        if free:
            targets[group] = free[0]
            taken.add(free[0])
    # Bigger groups choose first; between equals, the one whose first record sorts first (so a plan is repeatable).
    order = links.groupby("child_id")["record_key"].agg(["size", "min"]).sort_values(["size", "min"],
                                                                                    ascending=[False, True])
    for group in order.index:
        if group in targets:
            continue
        held = Counter(links.loc[links["child_id"] == group, "current_child_id"])
        free = sorted((c for c in held if c and c not in taken), key=lambda c: (-held[c], c))
        targets[group] = free[0] if free else group
        if free:
            taken.add(free[0])
    return targets


def apply(driver: Driver, *, database: str, planned: RelinkPlan) -> run.RunSummary:
    """Make the merges and splits a plan lists (a MatchRun records it)."""
    began = time.perf_counter()
    links = planned.resolution.links
    target = links["child_id"].map(planned.targets)
    moving = links[target != links["current_child_id"]].assign(child_id=target[target != links["current_child_id"]])
    summary = run.RunSummary(run_id=str(uuid.uuid4()), model=planned.model.version)
    new = sorted({t for t in moving["child_id"] if t.startswith(engine.NEW_PREFIX)})
    with driver.session(database=database) as session:
        session.run(store.START_RUN, id=summary.run_id, model=summary.model).consume()
        ids = dict(zip(new, session.execute_write(store.allocate_ids, count=len(new))))
        rows = run.link_rows(moving.assign(new_child=moving["child_id"].isin(new)),
                             links.set_index("record_key")["current_child_id"], ids, summary.model, summary.run_id)
        moves: Counter[tuple[str, str]] = Counter()
        for part in run.batches(rows):
            session.execute_write(run.write_links, rows=part)
            moves.update((r["from"], r["child_id"]) for r in part if r["moved"])
        summary.merged = run.merge_emptied(session, moves, summary.run_id)
        summary.records = summary.moved = sum(moves.values())
        summary.new_children = len(new)
        summary.seconds = round(time.perf_counter() - began, 1)
        session.run(store.FINISH_RUN, id=summary.run_id, counts=summary.counts(), state="done").consume()
    return summary
