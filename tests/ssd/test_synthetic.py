"""The generator's SSD extract of a council: deterministic, and every row of every table passes the import's checks
(the import of an extract on Neo4j is tested by hand-made extracts in test_import.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from loaders.generate import generate
from loaders.ssd.importer import _steps, _validated
from loaders.ssd.people import Council, People
from loaders.ssd.read import read_extract
from loaders.synth import ssd as synth_ssd
from tests.factories import LEEDS


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-child England's children, all as Leeds's (the generator's large-council mode)."""
    england = tmp_path_factory.mktemp("england-300")
    generate(england, children=300, seed=11)
    out = england / "ssd"
    synth_ssd.write(england, out, LEEDS, seed=3, whole=True)
    return out


def test_the_same_feeds_and_seed_give_the_same_extract(extract: Path, tmp_path: Path):
    again = synth_ssd.write(extract.parent, tmp_path, LEEDS, seed=3, whole=True)
    for name in again:
        assert (tmp_path / f"{name}.csv").read_bytes() == (extract / f"{name}.csv").read_bytes(), name


def test_every_row_of_the_synthetic_extract_passes_the_import_checks(extract: Path):
    found = read_extract(extract)
    assert found.ignored == ["ssd_contacts"] and found.absent == []
    who, side = People(), []
    made: dict[str, int] = {}
    for step in _steps(found, Council(LEEDS, "Leeds"), who, side):
        entries = list(_validated(step))
        bad = [(step.table, line, reason) for line, row, reason, _ in entries if row is None]
        assert bad == [], bad[:5]
        made[f"{step.feed} <- {step.table}"] = len(entries)
    assert side == []
    people = pd.read_csv(extract / "ssd_person.csv", dtype=str, keep_default_na=False)
    assert made["person_records <- ssd_person"] == (people["pers_is_mother"] == "N").sum()
    assert len(who.adults) == (people["pers_is_mother"] == "Y").sum() > 0
    for feed, table in (("plans", "ssd_cp_plans"), ("plans", "ssd_cin_plans"), ("involvements", "ssd_involvements"),
                        ("residences", "ssd_cla_placement"), ("missing_episodes", "ssd_missing")):
        assert made[f"{feed} <- {table}"] == len(pd.read_csv(extract / f"{table}.csv")) > 0, table
