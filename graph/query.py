"""One statement with its parameters and the shaping of its records, runnable sync or async.

The hot read routes run on the API's event loop through the async driver, the rest of the code
through the sync one; a Query lets both run the same Cypher and the same shaping, written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from neo4j import Record

T = TypeVar("T")


@dataclass(frozen=True)
class Query(Generic[T]):
    """A statement, its parameters, and what its records become."""

    text: str
    params: Mapping[str, Any]
    shape: Callable[[list[Record]], T]

    def run(self, tx: Any) -> T:
        """Run in a transaction or a session of the sync driver."""
        return self.shape(list(tx.run(self.text, self.params)))

    async def run_async(self, tx: Any) -> T:
        """Run in a transaction or a session of the async driver."""
        result = await tx.run(self.text, self.params)
        return self.shape([record async for record in result])


def first(records: list[Record]) -> Record | None:
    """The one record a single-row statement returns, or None."""
    return records[0] if records else None
