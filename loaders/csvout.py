"""CSV files written as a set: under temporary names, renamed into place together only if all were written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_CHUNK = 200_000


class CsvFiles:
    """Files written under temporary names and renamed into place together only if all were written."""

    def __init__(self, folder: Path, names: dict[str, str]):
        self.folder, self.names = folder, names
        self.handles: dict[str, Any] = {}

    def _tmp(self, key: str) -> Path:
        return self.folder / f".{self.names[key]}.tmp"

    def __enter__(self) -> CsvFiles:
        for key in self.names:
            self.handles[key] = self._tmp(key).open("wb")
        return self

    def write(self, key: str, data: bytes, digest: Any = None) -> None:
        self.handles[key].write(data)
        if digest is not None:
            digest.update(data)

    def __exit__(self, kind: object, *exc: object) -> None:
        for handle in self.handles.values():
            handle.close()
        try:
            if kind is None:
                for key, name in self.names.items():
                    os.replace(self._tmp(key), self.folder / name)
        finally:
            for key in self.names:
                self._tmp(key).unlink(missing_ok=True)


def csv_lines(cells: list[np.ndarray], rows: int) -> Iterator[tuple[int, bytes]]:
    """Rows of already formatted cells as UTF-8 CSV lines, in blocks: (rows so far, block)."""
    for start in range(0, rows, _CHUNK):
        block = [np.asarray(c[start:start + _CHUNK]).tolist() for c in cells]
        yield min(start + _CHUNK, rows), ("\n".join(map(",".join, zip(*block))) + "\n").encode("utf-8")
