"""The synthetic England generator: deterministic, valid, connected, and true to its sources."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from loaders.generate import GENERATED as FEEDS  # the feeds the generator writes (no identity feeds)
from loaders.generate import DEFAULT_AS_OF, MANIFEST, generate, written_columns
from loaders.load import KEYS

AS_OF = DEFAULT_AS_OF


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen-3000")
    generate(out, children=3_000, seed=42)
    return out


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("gen-20000")
    generate(out, children=20_000, seed=2024)
    return {spec.name: _rows(out, spec.name) for spec in FEEDS}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    runs = {}
    for label, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(tmp_path / label, children=1_500, seed=seed)
        runs[label] = {p.name: p.read_bytes() for p in sorted((tmp_path / label).iterdir())}
    assert runs["a"] == runs["b"]
    assert runs["a"]["children.csv"] != runs["c"]["children.csv"]
    assert runs["a"]["residences.csv"] != runs["c"]["residences.csv"]
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


def test_an_interrupted_run_leaves_no_manifest(tmp_path: Path) -> None:
    generate(tmp_path, children=300, seed=1)
    assert (tmp_path / MANIFEST).exists()

    def stop_midway(stage: str, done: int, total: int) -> None:
        if stage == "carers.csv":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, children=300, seed=2, progress=stop_midway)
    assert not (tmp_path / MANIFEST).exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_date_is_after_a_custom_as_of(tmp_path: Path) -> None:
    as_of = date(2025, 3, 31)
    generate(tmp_path, children=1_000, seed=3, as_of=as_of)
    assert json.loads((tmp_path / MANIFEST).read_text())["as_of"] == "2025-03-31"
    for spec in FEEDS:
        for row in _rows(tmp_path, spec.name):
            for column in ("dob", "since", "until", "decided_on"):
                assert row.get(column, "") <= as_of.isoformat(), (spec.name, row)
            assert row.get("at", "")[:10] <= as_of.isoformat()


def test_manifest_is_written_last_and_counts_rows(small: Path) -> None:
    manifest = json.loads((small / MANIFEST).read_text())
    assert manifest["seed"] == 42 and manifest["children"] == 3_000 and manifest["as_of"] == AS_OF.isoformat()
    assert manifest["generator_version"]
    newest_feed = max((small / spec.filename).stat().st_mtime_ns for spec in FEEDS)
    assert (small / MANIFEST).stat().st_mtime_ns >= newest_feed
    for spec in FEEDS:
        assert manifest["rows"][spec.name] == len(_rows(small, spec.name))


def test_every_row_validates_against_its_feed_model(small: Path) -> None:
    for spec in FEEDS:
        with (small / spec.filename).open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f, strict=True)
            assert tuple(next(reader)) == written_columns(spec), spec.name
            seen = set()
            for line, fields in enumerate(reader, start=2):
                assert len(fields) == len(written_columns(spec)), (spec.name, line)
                # As loaders/load.py does: blank cells are left out, so optional fields take defaults.
                row = spec.model.model_validate({k: v for k, v in zip(written_columns(spec), fields) if v}).model_dump()
                key = tuple(row[k] for k in KEYS[spec.name])
                assert key not in seen, (spec.name, line, "duplicate key")
                seen.add(key)
                for value in row.values():
                    if isinstance(value, datetime):
                        assert value.date() <= AS_OF, (spec.name, line)
                    elif isinstance(value, date):
                        assert value <= AS_OF, (spec.name, line)


def test_fields_needing_quotes_are_quoted(small: Path) -> None:
    text = (small / "authorities.csv").read_text(encoding="utf-8")
    assert '"Bristol, City of"' in text
    names = {r["family_name"] for r in _rows(small, "children")}
    assert any("'" in n for n in names) and any("-" in n for n in names)


def test_every_reference_resolves(small: Path) -> None:
    rows = {spec.name: _rows(small, spec.name) for spec in FEEDS}
    las = {r["code"] for r in rows["authorities"]}
    assert len(las) == 153
    agencies = {r["agency_id"]: r["kind"] for r in rows["agencies"]}
    practitioners = {r["practitioner_id"] for r in rows["practitioners"]}
    children = {r["child_id"] for r in rows["children"]}
    addresses = {r["address_id"] for r in rows["addresses"]}
    assert len(children) == 3_000
    all_ids = [*las, *agencies, *practitioners, *children, *addresses, *{r["carer_id"] for r in rows["carers"]}]
    assert len(all_ids) == len(set(all_ids)), "ids must be unique across the run"
    for name, column, known in (
        ("agencies", "la_code", las), ("practitioners", "agency_id", agencies), ("children", "la_code", las),
        ("addresses", "la_code", las), ("residences", "child_id", children), ("residences", "address_id", addresses),
        ("carers", "child_id", children), ("school_enrolments", "child_id", children),
        ("school_enrolments", "agency_id", agencies), ("gp_registrations", "child_id", children),
        ("gp_registrations", "agency_id", agencies), ("involvements", "child_id", children),
        ("involvements", "practitioner_id", practitioners), ("plans", "child_id", children),
        ("plans", "la_code", las), ("attendances", "child_id", children), ("attendances", "agency_id", agencies),
        ("shielding", "child_id", children), ("shielding", "la_code", las),
    ):
        missing = {r[column] for r in rows[name]} - set(known)
        assert not missing, (name, column, sorted(missing)[:3])
    for name, kind in (("school_enrolments", "school"), ("gp_registrations", "gp_practice"),
                       ("attendances", "unscheduled_care")):
        assert {agencies[r["agency_id"]] for r in rows[name]} == {kind}
    assert {r["child_id"] for r in rows["residences"]} == children


def _current(rows: list[dict[str, str]], kind: str) -> set[str]:
    return {r["child_id"] for r in rows if r["kind"] == kind and not r["until"]}


def test_plan_and_shielding_rates_follow_the_published_figures(region: dict) -> None:
    n = len(region["children"])
    plans = region["plans"]
    assert 0.0040 <= len(_current(plans, "cp_plan")) / n <= 0.0045
    assert 0.0068 <= len(_current(plans, "looked_after")) / n <= 0.0073
    in_need = _current(plans, "cp_plan") | _current(plans, "looked_after") | _current(plans, "child_in_need")
    assert 0.030 <= len(in_need) / n <= 0.035
    assert {r["until"] != "" for r in plans} == {True, False}
    shielded = {r["child_id"] for r in region["shielding"] if r["shielded"] == "true"}
    assert 0 < len(shielded) / n < 0.005


def test_households_and_moves_look_like_england(region: dict) -> None:
    children = {r["child_id"]: r for r in region["children"]}
    year_ago = (AS_OF - timedelta(days=365)).isoformat()
    moved = {r["child_id"] for r in region["residences"]
             if r["since"] > year_ago and r["since"] != children[r["child_id"]]["dob"]}
    over_one = [c for c, r in children.items() if r["dob"] <= year_ago]
    assert 0.08 <= len(moved & set(over_one)) / len(over_one) <= 0.13
    current = [r for r in region["residences"] if not r["until"]]
    per_home = Counter(r["address_id"] for r in current)
    assert 1.6 <= len(current) / len(per_home) <= 2.0
    la_of = {r["address_id"]: r["la_code"] for r in region["addresses"]}
    history = defaultdict(list)
    for r in sorted(region["residences"], key=lambda r: (r["child_id"], r["since"])):
        history[r["child_id"]].append(la_of[r["address_id"]])
    steps = [(a, b) for las in history.values() for a, b in zip(las, las[1:])]
    assert 0.15 <= sum(a != b for a, b in steps) / len(steps) <= 0.4
    statuses = Counter(r["status"] for r in region["children"])
    assert statuses["no_known_address"] > 0 and statuses["left_england"] > 0


def test_the_patterns_the_product_must_find_are_present(region: dict) -> None:
    children = {r["child_id"]: r for r in region["children"]}
    plans = region["plans"]
    on_plan = {r["child_id"] for r in plans if not r["until"]}
    on_roll = {r["child_id"] for r in region["school_enrolments"] if not r["until"]}
    assert {c for c in on_plan if children[c]["upn"] and c not in on_roll}, "plan children off every roll"
    assert any(r["la_code"] != children[r["child_id"]]["la_code"] for r in plans if not r["until"])
    involvements = region["involvements"]
    current = [r for r in involvements if not r["until"]]
    leads = {r["child_id"] for r in current if r["lead"] == "true"}
    agencies_of = defaultdict(set)
    for r in current:
        agencies_of[r["child_id"]].add(r["service"])
    assert any(len(s) >= 3 and c not in leads for c, s in agencies_of.items()), "multi-agency without a lead"
    sensitive = [r for r in involvements if r["sensitive"] == "true"]
    assert {r["consent"] for r in sensitive} == {"true", "false"}
    assert {r["service"] for r in sensitive} <= {"camhs", "sexual_health", "substance_misuse"}
    visits = defaultdict(list)
    for r in region["attendances"]:
        visits[r["child_id"]].append(r["at"])
    year_ago = (AS_OF - timedelta(days=365)).isoformat()
    assert any(sum(at >= year_ago for at in ats) >= 3 for ats in visits.values())
    under_five = {c for c, r in children.items() if r["dob"] > (AS_OF - timedelta(days=5 * 365 - 30)).isoformat()
                  and r["status"] == "active"}
    visited = {r["child_id"] for r in current if r["service"] == "health_visiting"}
    assert len(under_five & visited) / len(under_five) > 0.95
    registered = {r["child_id"] for r in region["gp_registrations"] if not r["until"]}
    assert 0.95 <= len(registered) / len(children) < 1.0
    carers = Counter(r["relationship"] for r in region["carers"])
    assert carers["foster_carer"] > 0 and carers["step_parent"] > 0 and carers["grandparent"] > 0
