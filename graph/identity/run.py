"""The matching run: decide which child each pending record is, and write it, in batches.

Pending records (new, or changed since they were last matched) are matched by matching.engine.resolve
against their candidates only: the children identified by a matched record that shares a blocking key with
one of them, with all those children's records. So the cost grows with the batch, not the directory. Each
record then identifies one child: one already in the directory, or a new one (a new directory id); a pair
between the thresholds becomes a MatchReview. A changed record that now identifies another child takes the
relationships written through it along; a child left with no record is merged into the one that took them.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import pandas as pd
from neo4j import Driver, ManagedTransaction

from graph.identity import merge, models, store
from matching import engine
from matching.decide import Thresholds
from matching.model import Model, connect
from matching.records import BLOCKING_KEYS, COLUMNS

CHUNK = 1_000_000  # pending records matched in one go (memory: about 2 GB of Python and DuckDB per million)
WRITE_BATCH = 10_000  # records linked per transaction
METHODS = {engine.NEW_CHILD: "new"}  # the engine's names, as IDENTIFIES.method says them

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    """What a matching run did."""

    run_id: str
    model: str
    trained: bool = False  # the model was trained on this load's records first
    records: int = 0  # pending records decided
    linked: int = 0  # joined a child already in the directory
    new_children: int = 0
    in_new_children: int = 0  # records identifying a child made in this run
    review: int = 0  # pairs put in the review queue
    rejected: int = 0  # records matching refused (kept, state 'refused', with the reason)
    guarded: int = 0  # pairs a guard kept apart (different NHS numbers, twins, ...)
    moved: int = 0  # changed records that now identify another child
    merged: int = 0  # children left without a record, merged into the child that took them
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """The counts, as the MatchRun node keeps them."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, int) and not isinstance(v, bool)}


def pending_count(driver: Driver, *, database: str) -> int:
    """How many records wait to be matched."""
    with driver.session(database=database) as session:
        return session.execute_read(store.pending_count)


def match_pending(driver: Driver, *, database: str, thresholds: Thresholds = Thresholds(), chunk: int = CHUNK,
                  threads: int = 2, memory_limit: str = "8GB", progress: Progress | None = None) -> RunSummary:
    """Match every pending record; the first run on a population with no model trains and stores one.

    Raises:
        models.MatchError: no model is stored and there are too few records to train one.
    """
    began = time.perf_counter()
    if pending_count(driver, database=database) == 0:
        return RunSummary(run_id="", model="")
    model, trained = models.current_or_train(driver, database=database, threads=threads,
                                             memory_limit=memory_limit, progress=progress)
    summary = RunSummary(run_id=str(uuid.uuid4()), model=model.version, trained=trained)
    with driver.session(database=database) as session:
        session.run(store.START_RUN, id=summary.run_id, model=model.version).consume()
    state, last = "failed", None
    try:
        while True:
            with driver.session(database=database) as session:
                batch = session.execute_read(store.pending, limit=chunk)
            if batch.empty:
                break
            batch = batch.drop_duplicates("record_key")
            keys = frozenset(batch["record_key"])
            if keys == last:
                raise RuntimeError("matching made no progress: the same records are still pending")
            last = keys
            _match(driver, database, model, batch, thresholds, summary, threads, memory_limit, progress)
        state = "done"
    finally:
        summary.seconds = round(time.perf_counter() - began, 1)
        with driver.session(database=database) as session:
            session.run(store.FINISH_RUN, id=summary.run_id, counts=summary.counts(), state=state).consume()
    return summary


def _match(driver: Driver, database: str, model: Model, batch: pd.DataFrame, thresholds: Thresholds,
           summary: RunSummary, threads: int, memory_limit: str, progress: Progress | None) -> None:
    """One chunk of pending records: candidates, resolve, then write links, reviews and refusals."""
    say = progress or (lambda _: None)
    with driver.session(database=database) as session:
        candidates = session.execute_read(store.candidate_children, keys=batch[list(BLOCKING_KEYS)])
        current = set(batch.loc[batch["child_id"] != "", "child_id"])
        existing = session.execute_read(store.records_of_children, ids=sorted(candidates | current))
        if existing.empty:
            existing = pd.DataFrame(columns=[*COLUMNS, "child_id"])
        cannot = session.execute_read(store.not_same_pairs,
                                      keys=sorted(set(batch["record_key"]) | set(existing["record_key"])))
    say(f"matching {len(batch):,} records against {len(candidates):,} candidate children "
        f"({len(existing):,} records)")
    con = connect(threads=threads, memory_limit=memory_limit)
    try:
        res = engine.resolve(model, existing=existing[[*COLUMNS, "child_id"]], new=batch[list(COLUMNS)],
                             thresholds=thresholds, con=con, population_tf=True, cannot_link=cannot)
    finally:
        con.close()
    with driver.session(database=database) as session:
        if len(res.rejected):
            session.execute_write(lambda tx: tx.run(store.REFUSE, rows=res.rejected.rename(
                columns={"record_key": "key"}).to_dict("records")).consume())
        groups = sorted(res.links.loc[res.links["new_child"], "child_id"].unique())
        ids = dict(zip(groups, session.execute_write(store.allocate_ids, count=len(groups))))
    rows = link_rows(res.links, batch.set_index("record_key")["child_id"], ids, model.version, summary.run_id)
    say(f"writing {len(rows):,} links ({len(groups):,} new children)")
    moves: Counter[tuple[str, str]] = Counter()
    with driver.session(database=database) as session:
        for part in batches(rows):
            session.execute_write(write_links, rows=part)
            moves.update((r["from"], r["child_id"]) for r in part if r["moved"])
        summary.merged += merge_emptied(session, moves, summary.run_id)
        summary.review += sum(session.execute_write(_write_reviews, rows=part)
                              for part in _slices(_review_rows(res.review, model.version), WRITE_BATCH))
    summary.records += len(res.links) + len(res.rejected)
    summary.rejected += len(res.rejected)
    summary.guarded += len(res.refusals)
    summary.linked += int((~res.links["new_child"] & (res.links["method"] != engine.UNCHANGED)).sum())
    summary.in_new_children += int(res.links["new_child"].sum())
    summary.new_children += len(groups)
    summary.moved += sum(moves.values())


def _number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def link_rows(links: pd.DataFrame, current: pd.Series, ids: dict[str, str], model: str, run: str) -> list[dict]:
    """One row per record decided, sorted by the child it identifies (a new child's records stay together)."""
    rows = []
    for link in links.to_dict("records"):
        target = ids.get(link["child_id"], link["child_id"])
        before = current.get(link["record_key"], "") or None
        rows.append({"key": link["record_key"], "child_id": target, "new": bool(link["new_child"]),
                     "from": before, "moved": before is not None and before != target,
                     "keep": link["method"] == engine.UNCHANGED, "method": METHODS.get(link["method"], link["method"]),
                     "weight": _number(link["weight"]), "probability": _number(link["probability"]),
                     "model": model, "run": run})
    return sorted(rows, key=lambda r: r["child_id"])


def batches(rows: list[dict]) -> Iterator[list[dict]]:
    """Batches of about WRITE_BATCH rows that never split one child's records."""
    part: list[dict] = []
    for row in rows:
        if len(part) >= WRITE_BATCH and row["child_id"] != part[-1]["child_id"]:
            yield part
            part = []
        part.append(row)
    if part:
        yield part


def _slices(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def write_links(tx: ManagedTransaction, *, rows: list[dict]) -> None:
    """Link one batch in one transaction: records leave their old child, identify their new one (made here if
    new) and take the relationships written through them; every child touched is refreshed."""
    moved = [{"key": r["key"], "from": r["from"], "to": r["child_id"]} for r in rows if r["moved"]]
    if moved:
        tx.run(store.UNLINK_FROM, rows=moved).consume()
    tx.run(store.NEW_CHILDREN, ids=sorted({r["child_id"] for r in rows if r["new"]})).consume()
    tx.run(store.LINK, rows=[r for r in rows if not r["keep"]]).consume()
    kept = [r["key"] for r in rows if r["keep"]]
    if kept:
        tx.run(store.KEEP, keys=kept, run=rows[0]["run"]).consume()
    merge.move_via(tx, moves=moved)
    store.refresh_children(tx, ids=sorted({r["child_id"] for r in rows} | {m["from"] for m in moved}))


def merge_emptied(session, moves: Counter[tuple[str, str]], run: str) -> int:
    """Merge each child that lost every record into the child that took most of them; returns how many."""
    taken: dict[str, Counter[str]] = {}
    for (before, after), n in moves.items():
        taken.setdefault(before, Counter())[after] += n
    empty = session.execute_read(lambda tx: [r["id"] for r in tx.run(store.WITHOUT_RECORDS, ids=sorted(taken))])
    for child in empty:
        survivor = taken[child].most_common(1)[0][0]

        def one(tx: ManagedTransaction, child: str = child, survivor: str = survivor) -> None:
            merge.merge(tx, merged=child, survivor=survivor, by=f"matching run {run}",
                        reason=f"every record of {child} now identifies {survivor}")
            store.refresh_children(tx, ids=[survivor])

        session.execute_write(one)
    return len(empty)


def _review_rows(review: pd.DataFrame, model: str) -> list[dict]:
    rows = []
    for pair in review.to_dict("records"):
        a, b = pair["record_key"], pair["candidate_key"]
        evidence = {"prior": _number(pair["prior_weight"]), "comparisons": pair["evidence"]}
        rows.append({"key": "||".join(sorted((a, b))), "record_key": a, "candidate_key": b,
                     "weight": _number(pair["weight"]), "probability": _number(pair["probability"]),
                     "reason": pair["reason"], "evidence_json": json.dumps(evidence, default=_number), "model": model})
    return rows


def _write_reviews(tx: ManagedTransaction, *, rows: list[dict]) -> int:
    return tx.run(store.REVIEW, rows=rows).single(strict=True)["written"]
