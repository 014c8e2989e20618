"""The generator's identity mode: England as its sources see it, with no directory id in any feed.

The same seed gives the same England in both modes, so the sources mode's relationship rows, read through
its truth (record -> child), must be exactly the directory mode's rows.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from loaders.feeds import FEEDS_BY_NAME
from loaders.generate import UNWRITTEN, generate
from loaders.synth.by_source import SENDERS

CHILDREN, SEED = 600, 11


def _rows(folder: Path, feed: str) -> list[dict[str, str]]:
    with (folder / f"{feed}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory, sources = tmp_path_factory.mktemp("directory"), tmp_path_factory.mktemp("sources")
    generate(directory, children=CHILDREN, seed=SEED)
    generate(sources, children=CHILDREN, seed=SEED, identity="sources")
    return directory, sources


def test_no_feed_names_a_child_by_directory_id(both):
    _, sources = both
    assert not (sources / "children.csv").exists()
    keys = {(r["source_id"], r["local_id"]) for r in _rows(sources, "person_records")}
    for feed in SENDERS:
        rows = _rows(sources, feed)
        assert rows, feed
        assert "child_id" not in rows[0], feed
        unwritten = UNWRITTEN.get(feed, ())  # columns only other sources send (the SSD's plan category)
        assert list(rows[0]) == [c for c in FEEDS_BY_NAME[feed].by_record if c not in unwritten], feed
        unknown = {(r["source_id"], r["local_id"]) for r in rows} - keys
        assert not unknown, f"{feed}: rows naming records never sent: {sorted(unknown)[:3]}"


def test_the_truth_names_every_record_and_every_child(both):
    directory, sources = both
    records = [f"{r['source_id']}|{r['local_id']}" for r in _rows(sources, "person_records")]
    truth = _rows(sources, "truth")
    assert len(set(records)) == len(records)
    assert sorted(r["record_key"] for r in truth) == sorted(records)
    children = {r["child_id"] for r in _rows(directory, "children")}
    per_child = Counter(r["child_id"] for r in truth)
    assert set(per_child) == children  # every child is seen by a source, and no record is of a child not made
    assert max(per_child.values()) <= 5
    assert sum(per_child.values()) > 2 * len(children)  # most children are known to more than one source


@pytest.mark.parametrize("feed", sorted(SENDERS))
def test_each_relationship_is_the_directory_modes_read_through_the_truth(both, feed: str):
    directory, sources = both
    child_of = {r["record_key"]: r["child_id"] for r in _rows(sources, "truth")}

    def as_child(row: dict[str, str]) -> tuple:
        row = dict(row)
        row["child_id"] = child_of[f"{row.pop('source_id')}|{row.pop('local_id')}"]
        return tuple(sorted(row.items()))

    assert Counter(map(as_child, _rows(sources, feed))) == Counter(
        tuple(sorted(r.items())) for r in _rows(directory, feed))


@pytest.mark.parametrize("feed,kind", [("gp_registrations", "gp_system"), ("school_enrolments", "school_census"),
                                       ("attendances", "emergency_department"), ("plans", "council_case_system"),
                                       ("shielding", "council_case_system")])
def test_a_row_is_sent_by_the_kind_of_source_that_holds_it(both, feed: str, kind: str):
    _, sources = both
    kinds = {r["source_id"]: r["kind"] for r in _rows(sources, "sources")}
    assert {kinds[r["source_id"]] for r in _rows(sources, feed)} == {kind}


def test_plans_come_from_the_responsible_authoritys_council(both):
    _, sources = both
    la_of = {r["source_id"]: r["la_code"] for r in _rows(sources, "sources")}
    rows = _rows(sources, "plans")
    same = sum(la_of[r["source_id"]] == r["la_code"] for r in rows)
    assert same / len(rows) > 0.9  # a child placed out of area may be known only to another council's system


def test_the_sources_mode_is_deterministic_and_says_so_in_its_manifest(both, tmp_path: Path):
    _, sources = both
    again = tmp_path / "again"
    generate(again, children=CHILDREN, seed=SEED, identity="sources")
    for name in ("person_records", "truth", "involvements", "manifest"):
        suffix = ".json" if name == "manifest" else ".csv"
        assert (again / f"{name}{suffix}").read_bytes() == (sources / f"{name}{suffix}").read_bytes(), name
    assert '"identity": "sources"' in (sources / "manifest.json").read_text()


def test_an_unknown_mode_or_sources_by_region_is_refused_and_writes_nothing(tmp_path: Path):
    with pytest.raises(ValueError, match="identity must be one of directory, sources, not 'upstream'"):
        generate(tmp_path / "a", children=50, seed=1, identity="upstream")
    with pytest.raises(ValueError, match="cannot be combined with by_region"):
        generate(tmp_path / "b", children=50, seed=1, identity="sources", by_region=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
