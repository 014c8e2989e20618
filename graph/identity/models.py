"""The matching model kept in the graph: one store for a council to run, versioned, exported on request.

A model is stored whole (its JSON, as matching.model.save writes it, with the population's name
frequencies) in a (:MatchModel {version, trained_at, trained_on, stored_at, json}) node; the newest stored
is the one in use. The first load of a population trains one on the records being loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from neo4j import Driver, ManagedTransaction

from graph.identity import store
from graph.instants import NOW
from matching import model as matching_model
from matching.records import prepare

# Fewer records than this give the model too few pairs to estimate its m values from.
MIN_TRAINING_RECORDS = 1_000

STORE = f"""
MERGE (m:MatchModel {{version: $version}})
  ON CREATE SET m.trained_at = datetime($trained_at), m.trained_on = $trained_on, m.json = $json,
                m.stored_at = {NOW}
"""
CURRENT = "MATCH (m:MatchModel) RETURN m.json AS json ORDER BY m.stored_at DESC, m.version DESC LIMIT 1"


class MatchError(Exception):
    """Matching cannot run (no model and too few records to train one); nothing was changed."""


def stored(tx: ManagedTransaction) -> matching_model.Model | None:
    """The model in use (the newest stored), or None if none is stored.

    Raises:
        ValueError: the stored model's content does not match its version.
    """
    record = tx.run(CURRENT).single()
    return None if record is None else matching_model.from_json(record["json"], "the stored matching model")


def store_model(tx: ManagedTransaction, *, model: matching_model.Model) -> None:
    """Keep a model in the graph; from now on it is the one in use."""
    tx.run(STORE, version=model.version, trained_at=model.trained_at, trained_on=model.trained_on,
           json=matching_model.to_json(model)).consume()


def train(driver: Driver, *, database: str, threads: int = 2, memory_limit: str = "8GB",
          progress: Callable[[str], None] | None = None) -> matching_model.Model:
    """Train a model on every record in the graph (the loaded population) and store it as the one in use.

    Raises:
        MatchError: fewer than MIN_TRAINING_RECORDS records, or none that could be one child (nothing to learn).
    """
    with driver.session(database=database) as session:
        records = session.execute_read(store.all_records)
    if len(records) < MIN_TRAINING_RECORDS:
        raise MatchError(f"no matching model yet, and {len(records):,} records are too few to train one (at least "
                         f"{MIN_TRAINING_RECORDS:,}): load more person records, or store a model trained elsewhere "
                         "with `contactpoint match model --import FILE`")
    if progress:
        progress(f"training the matching model on {len(records):,} records")
    prepared = prepare(records.drop(columns=["child_id"]))
    try:
        model = matching_model.train(prepared.records, con=matching_model.connect(threads=threads,
                                                                                memory_limit=memory_limit))
    except ValueError as exc:  # Splink's EM finds no pair that could be one child (a single source, say)
        raise MatchError(f"no matching model yet, and one cannot be trained on these {len(records):,} records "
                         f"({exc}): no two of them look like the same child (one source alone). Load another "
                         "source's records first, or store a model trained elsewhere with "
                         "`contactpoint match model --import FILE`") from None
    with driver.session(database=database) as session:
        session.execute_write(store_model, model=model)
    return model


def current_or_train(driver: Driver, *, database: str, threads: int = 2, memory_limit: str = "8GB",
                     progress: Callable[[str], None] | None = None) -> tuple[matching_model.Model, bool]:
    """The model in use, training and storing one first if there is none; (model, whether it was trained now)."""
    with driver.session(database=database) as session:
        model = session.execute_read(stored)
    if model is not None:
        return model, False
    return train(driver, database=database, threads=threads, memory_limit=memory_limit, progress=progress), True
