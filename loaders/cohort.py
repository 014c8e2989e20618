"""The targeted cohort of a folder of feeds, decided before any row is written.

The children feed comes before the plans feed in load order, yet whether a child may be stored depends on its
plans. Loading every child provisionally and pruning after the plans would write children outside the cohort
into the store and its transaction logs (which keep them until they rotate) for the length of a load. So the
plans file is read first, on its own: the children with a cohort plan on the day (graph.cohort) are the cohort;
then the residences file gives the addresses where those children, or children already held, live. Rows that
fail validation here are simply not counted in; the load itself rejects them with the reason.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from neo4j import Driver
from pydantic import ValidationError

from graph import admission
from graph.cohort import Scope
from graph.identity.rows import record_key
from loaders.feeds import PlanRow

_BATCH = 5000


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The data rows of a feed file as text, blank cells left out ({} for a file that cannot be read)."""
    if not path.is_file():
        return
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield {k.strip(): v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
    except (OSError, csv.Error, UnicodeError):
        return


def plan_cohort(directory: Path, scope: Scope) -> tuple[frozenset[str], frozenset[str]]:
    """The children, and the person records (source_id|local_id), whose valid plans in `directory/plans.csv` keep
    them in the cohort on the scope's day (a plan may name its child by the record a source sent)."""
    by_child, by_record = [], []
    for row in _rows(directory / "plans.csv"):
        try:
            plan = PlanRow.model_validate(row).model_dump()
        except ValidationError:
            continue
        if plan["child_id"] is None:
            by_record.append({**plan, "child_id": record_key(plan["source_id"], plan["local_id"])})
        else:
            by_child.append(plan)
    return scope.cohort(by_child), scope.cohort(by_record)


def targeted_cohort(driver: Driver, directory: Path, *, database: str, scope: Scope) -> admission.Cohort:
    """The cohort of a targeted load: children and records from the plans, addresses from the residences (see the
    module)."""
    children, records = plan_cohort(directory, scope)
    addresses: set[str] = set()
    pending: list[tuple[str, str]] = []

    def settle() -> None:
        with driver.session(database=database) as session:
            held = session.execute_read(admission.held_children, ids=sorted({c for c, _ in pending}))
        addresses.update(a for c, a in pending if c in held)
        pending.clear()

    for row in _rows(directory / "residences.csv"):
        child, address = row.get("child_id"), row.get("address_id")
        if not child and row.get("source_id") and row.get("local_id"):
            if record_key(row["source_id"], row["local_id"]) in records and address:
                addresses.add(address)
            continue
        if not child or not address:
            continue
        if child in children:
            addresses.add(address)
        else:
            pending.append((child, address))
            if len(pending) >= _BATCH:
                settle()
    if pending:
        settle()
    return admission.Cohort(children=children, addresses=frozenset(addresses), records=records)
