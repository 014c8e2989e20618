"""Hostile feeds: every bad row rejected with its reason, every good row loaded, nothing crashes."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo4j import Driver

from graph.config import GraphSettings
from loaders.load import MAX_FIELD_CHARS, load_dir
from tests.conftest import fresh_db

CHILDREN_HEADER = "child_id,given_name,family_name,dob,gender,la_code"
BIRMINGHAM = "E08000025"
BASE_CHILDREN = 1000
SCHOOLS = 20


def _rejects(path: Path) -> dict[int, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {int(r["line"]): r["reason"] for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def base(driver: Driver, neo4j_settings: GraphSettings, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two authorities, twenty schools, a GP practice, a hospital, and 1,000 children for the other feeds to name."""
    db = neo4j_settings.database
    fresh_db(driver, db)
    folder = tmp_path_factory.mktemp("base")
    (folder / "authorities.csv").write_text(
        "code,name,region\nE08000025,Birmingham,West Midlands\nE08000035,Leeds,Yorkshire and The Humber\n")
    agencies = [f"SCH{i},School {i},school,,,{BIRMINGHAM}" for i in range(SCHOOLS)] + [f"GP0,Surgery,gp_practice,,,{BIRMINGHAM}",
                                                                                  f"AE0,Hospital,unscheduled_care,,,{BIRMINGHAM}"]
    (folder / "agencies.csv").write_text("agency_id,name,kind,phone,email,la_code\n" + "\n".join(agencies) + "\n")
    rows = [f"B{i},Child,Number,2015-01-01,female,{BIRMINGHAM}" for i in range(BASE_CHILDREN)]
    (folder / "children.csv").write_text(CHILDREN_HEADER + "\n" + "\n".join(rows) + "\n")
    report = load_dir(driver, folder, database=db)
    assert report.rejected == 0 and report.loaded == 2 + SCHOOLS + 2 + BASE_CHILDREN
    return db


_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass
class Feed:
    """A feed file built record by record, knowing which are good and why each bad one is bad."""

    header: str
    data: bytearray = field(default_factory=bytearray)
    good: list[str] = field(default_factory=list)
    bad: dict[int, str] = field(default_factory=dict)  # line -> what the reason must say
    ends: int = 0  # line ends so far, counted as CSV does (a lone carriage return is one)

    def __post_init__(self) -> None:
        self.data += self.header.encode() + b"\n"
        self.ends = 1 + len(_LINE_END.findall(self.header.encode()))

    @property
    def line(self) -> int:
        """The line the next record starts on."""
        return self.ends + 1

    def refused(self, reason: str) -> None:
        """The whole file is refused: one reject, on line 1."""
        self.bad = {1: reason}

    def add(self, record: str | bytes, *, key: str | None = None, reason: str | None = None,
            newline: bool = True) -> None:
        """A good record names its key; a bad one what its reason says."""
        assert (key is None) != (reason is None)
        if reason is not None:
            self.bad[self.line] = reason
        else:
            self.good.append(key)  # type: ignore[arg-type]
        chunk = (record if isinstance(record, bytes) else record.encode()) + (b"\n" if newline else b"")
        self.data += chunk
        self.ends += len(_LINE_END.findall(chunk))

    def child(self, child_id: str, given: str = "Amelia", family: str = "Okafor") -> None:
        self.add(f"{child_id},{given},{family},2015-03-02,female,{BIRMINGHAM}", key=child_id)


def _load(driver: Driver, db: str, folder: Path, feed: Feed, name: str = "children") -> dict[int, str]:
    """Load the one feed; the lines rejected with their reasons, after checking the good rows are in."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_bytes(bytes(feed.data))
    report = load_dir(driver, folder, database=db, only=[name])
    rejected = _rejects(report.rejects_path)
    assert set(rejected) == set(feed.bad), rejected
    for line, says in feed.bad.items():
        assert says in rejected[line], (line, rejected[line])
    if feed.good and name == "children":
        rows, _, _ = driver.execute_query("UNWIND $ids AS id MATCH (c:Child {id: id}) RETURN count(c) AS n",
                                          ids=feed.good, database_=db)
        assert rows[0]["n"] == len(feed.good)
    return rejected


def test_truncated_files(base: str, driver: Driver, tmp_path: Path) -> None:
    feed = Feed(CHILDREN_HEADER)
    for i in range(5):
        feed.child(f"T{i}")
    feed.add("T5,Ame", reason="expected 6 fields, found 2")
    _load(driver, base, tmp_path / "mid-row", feed)

    quoted = Feed(CHILDREN_HEADER)
    quoted.child("TQ0")
    quoted.add('TQ1,"Ame', reason="malformed CSV", newline=False)
    _load(driver, base, tmp_path / "mid-quote", quoted)

    header = Feed("child_id,given_name,fam")
    header.refused("file refused, no row loaded: children.csv line 1: unknown columns fam")
    _load(driver, base, tmp_path / "mid-header", header)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "children.csv").write_bytes(b"")
    report = load_dir(driver, empty, database=base, only=["children"])
    assert "the file is empty" in _rejects(report.rejects_path)[1]


def test_wrong_encodings(base: str, driver: Driver, tmp_path: Path) -> None:
    feed = Feed(CHILDREN_HEADER)
    feed.child("E0", given="Zoë", family="Brontë")
    feed.add(f"E1,Zoë,Okafor,2015-03-02,female,{BIRMINGHAM}".encode("latin-1"), reason="given_name: not valid UTF-8")
    feed.add(f"E2,Amelia,O\u2019Neill,2015-03-02,female,{BIRMINGHAM}".encode("cp1252"),
             reason="family_name: not valid UTF-8")
    feed.child("E3")
    _load(driver, base, tmp_path / "latin1", feed)

    wide = tmp_path / "utf16"
    wide.mkdir()
    (wide / "children.csv").write_bytes(f"{CHILDREN_HEADER}\nE9,Amelia,Okafor,2015-03-02,female,{BIRMINGHAM}\n"
                                        .encode("utf-16"))
    report = load_dir(driver, wide, database=base, only=["children"])
    assert list(_rejects(report.rejects_path)) == [1] and "file refused" in _rejects(report.rejects_path)[1]
    assert driver.execute_query("MATCH (c:Child {id: 'E9'}) RETURN c", database_=base)[0] == []


def test_byte_order_marks(base: str, driver: Driver, tmp_path: Path) -> None:
    feed = Feed(CHILDREN_HEADER)
    feed.data[:0] = b"\xef\xbb\xbf"  # at the start of the file: accepted
    feed.child("M0")
    feed.add(f"\ufeffM1,Amelia,Okafor,2015-03-02,female,{BIRMINGHAM}", reason="child_id: String should match")
    feed.child("M2")
    _load(driver, base, tmp_path / "bom", feed)


def test_embedded_newlines_and_quotes(base: str, driver: Driver, tmp_path: Path, neo4j_settings: GraphSettings) -> None:
    feed = Feed(CHILDREN_HEADER)
    feed.add(f'Q0,Amelia,"O\'Neill, ""Jr""",2015-03-02,female,{BIRMINGHAM}', key="Q0")
    feed.add(f'Q1,"Ame\nlia",Okafor,2015-03-02,female,{BIRMINGHAM}', reason="given_name: Value error, contains a control")
    feed.child("Q2")
    feed.add(f'Q3,"Ame"lia,Okafor,2015-03-02,female,{BIRMINGHAM}', reason="malformed CSV")
    feed.add(f'Q4,Amelia,O"Neill,2015-03-02,female,{BIRMINGHAM}', key="Q4")
    feed.add(f"Q5,Amelia\r,Okafor,2015-03-02,female,{BIRMINGHAM}", reason="expected 6 fields, found 2")
    feed.bad[feed.line - 1] = "expected 6 fields, found 5"  # a lone carriage return ends a record, as in CSV
    feed.add(f'Q6,"Ame\tlia",Okafor,2015-03-02,female,{BIRMINGHAM}', reason="given_name: Value error, contains a control")
    feed.child("Q7")
    _load(driver, base, tmp_path / "quotes", feed)
    rows, _, _ = driver.execute_query("MATCH (c:Child) WHERE c.id IN ['Q0', 'Q4'] RETURN c.id AS id, "
                                      "c.family_name AS family ORDER BY id", database_=base)
    assert [r["family"] for r in rows] == ['O\'Neill, "Jr"', 'O"Neill']


def test_huge_fields(base: str, driver: Driver, tmp_path: Path) -> None:
    feed = Feed(CHILDREN_HEADER)
    feed.child("H0")
    feed.add(f"H1,{'a' * (MAX_FIELD_CHARS * 2)},Okafor,2015-03-02,female,{BIRMINGHAM}",
             reason=f"given_name: longer than {MAX_FIELD_CHARS} characters")
    feed.add(f"H2,Amelia,{'b' * 300},2015-03-02,female,{BIRMINGHAM}", reason="family_name: String should have at most 200")
    feed.add(f"H3,Amelia,{'c' * 2_000_000},2015-03-02,female,{BIRMINGHAM}", reason="field larger than field limit")
    feed.child("H4")
    _load(driver, base, tmp_path / "huge", feed)


def test_wrong_types(base: str, driver: Driver, tmp_path: Path) -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    feed = Feed(CHILDREN_HEADER)
    feed.child("W0")
    for i, (dob, gender, la, says) in enumerate([
        ("2015-13-45", "female", BIRMINGHAM, "dob: Input should be a valid date"),
        ("yesterday", "female", BIRMINGHAM, "dob: Input should be a valid date"),
        (tomorrow, "female", BIRMINGHAM, "dob: Value error, date is in the future"),
        ("2015-03-02", "robot", BIRMINGHAM, "gender: Input should be"),
        ("2015-03-02", "female", "12345", "la_code: String should match"),
        ("2015-03-02", "female", "E06000999", "la_code: unknown local authority 'E06000999'"),
        ("1990-01-01", "female", BIRMINGHAM, "dob makes the child older than 25"),
    ], start=1):
        feed.add(f"W{i},Amelia,Okafor,{dob},{gender},{la}", reason=says)
    feed.add("W9,Amelia,Okafor,2015-03-02,female", reason="expected 6 fields, found 5")
    feed.add(f"W10,Amelia,Okafor,2015-03-02,female,{BIRMINGHAM},extra", reason="expected 6 fields, found 7")
    feed.child("W11")
    _load(driver, base, tmp_path / "types", feed)


def test_wrong_types_of_time(base: str, driver: Driver, tmp_path: Path) -> None:
    """Date-times Python reads but Neo4j cannot store (an offset past 18 hours) are rejected, not a crash."""
    feed = Feed("child_id,agency_id,at,reason")
    feed.add("B1,AE0,2024-05-01T10:00:00,injury", key="B1")
    for at, says in [("2024-05-01T10:00:00+23:00", "at: Value error, the UTC offset must be between -18:00 and +18:00"),
                     ("2024-05-01T25:00:00", "at: Input should be a valid datetime"),
                     ("2999-05-01T10:00:00", "at is in the future"),
                     ("1 May 2024", "at: Input should be a valid datetime")]:
        feed.add(f"B2,AE0,{at},injury", reason=says)
    feed.add("B3,AE0,2024-05-01T10:00:00+01:00,fall", key="B3")
    _load(driver, base, tmp_path / "times", feed, name="attendances")
    rows, _, _ = driver.execute_query("MATCH (c:Child)-[v:ATTENDED]->() WHERE c.id IN ['B1', 'B3'] RETURN count(v) AS n",
                                      database_=base)
    assert rows[0]["n"] == 2


def test_duplicate_keys(base: str, driver: Driver, tmp_path: Path) -> None:
    feed = Feed(CHILDREN_HEADER)
    feed.child("D0")
    feed.child("D1")
    feed.add(f"D0,Other,Name,2016-01-01,male,{BIRMINGHAM}", reason="duplicate child_id (first at line 2)")
    _load(driver, base, tmp_path / "keys", feed)
    rows, _, _ = driver.execute_query("MATCH (c:Child {id: 'D0'}) RETURN c.given_name AS given", database_=base)
    assert [r["given"] for r in rows] == ["Amelia"]

    columns = Feed("child_id,given_name,family_name,dob,gender,la_code,given_name")
    columns.refused("repeated columns given_name")
    _load(driver, base, tmp_path / "columns", columns)


def test_a_100k_row_file_with_10_percent_bad_rows(base: str, driver: Driver, tmp_path: Path) -> None:
    """School enrolments: 90,000 good rows loaded, 10,000 bad rows of ten kinds each rejected with its reason."""
    bad_kinds = [
        ("C-NOPE{i},SCH0,2020-09-01,", "child_id: unknown child 'C-NOPE"),
        ("B{child},GP0,{uniq},", "agency_id: agency 'GP0' is a gp_practice, not a school"),
        ("B{child},SCH-NOPE,{uniq},", "agency_id: unknown agency 'SCH-NOPE'"),
        ("B{child},SCH0,2021-09-01,2020-01-01", "until is before since"),
        ("B{child},SCH0,2020-02-30,", "since: Input should be a valid date"),
        ("B{child},SCH0,2999-01-01,", "since: Value error, date is in the future"),
        ("B{child},SCH0", "expected 4 fields, found 2"),
        ("B{child} x,SCH0,2020-09-01,", "child_id: String should match"),
        ("B{dup},SCH0,2000-01-01,", "duplicate child_id/agency_id/since"),  # repeats an earlier good row
        ("B{child},SCH0,2020-09-01,,extra", "expected 4 fields, found 5"),
    ]
    feed = Feed("child_id,agency_id,since,until")
    start = date(2000, 1, 1)
    for i in range(100_000):
        child, school, since = i % BASE_CHILDREN, (i // BASE_CHILDREN) % SCHOOLS, start + timedelta(days=i // 20_000)
        if i % 10 == 9:
            record, says = bad_kinds[(i // 10) % len(bad_kinds)]
            uniq = (date(2001, 1, 1) + timedelta(days=i // BASE_CHILDREN)).isoformat()
            feed.add(record.format(i=i, child=child, dup=child - 1, uniq=uniq), reason=says)
        else:
            feed.add(f"B{child},SCH{school},{since.isoformat()},", key=f"B{child}|SCH{school}|{since}")
    assert len(feed.good) == 90_000 and len(feed.bad) == 10_000
    before = driver.execute_query("MATCH ()-[e:ENROLLED_AT]->() RETURN count(e) AS n", database_=base)[0][0]["n"]
    rejected = _load(driver, base, tmp_path / "big", feed, name="school_enrolments")
    after = driver.execute_query("MATCH ()-[e:ENROLLED_AT]->() RETURN count(e) AS n", database_=base)[0][0]["n"]
    assert after - before == 90_000
    assert len(rejected) == 10_000


HOSTILE = [b'"', b",", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xe9", b"\\", b"'", b";", b"\t"]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(cuts=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 40), st.sampled_from(HOSTILE)), max_size=6),
       truncate=st.integers(0, 2000) | st.none())
def test_randomly_mangled_files_never_crash_the_load(base: str, driver: Driver, tmp_path_factory: pytest.TempPathFactory,
                                                     cuts: list[tuple[int, int, bytes]], truncate: int | None) -> None:
    lines = [CHILDREN_HEADER] + [f"R{i},Amelia,O'Kafor,2015-03-02,female,{BIRMINGHAM}" for i in range(40)]
    data = bytearray("\n".join(lines).encode() + b"\n")
    for at, drop, insert in cuts:
        at = min(at, len(data))
        data[at:at + drop] = insert
    if truncate is not None:
        del data[truncate:]
    folder = tmp_path_factory.mktemp("mangled")
    (folder / "children.csv").write_bytes(bytes(data))
    report = load_dir(driver, folder, database=base, only=["children"])
    [result] = report.results
    rejected = _rejects(report.rejects_path)
    if result.error is not None:
        assert list(rejected) == [1] and rejected[1].startswith("file refused, no row loaded: children.csv")
        return
    assert result.loaded + result.rejected == result.read
    assert len(rejected) == result.rejected and all(reason.strip() for reason in rejected.values())
