"""docs/feeds.md documents every column of every feed, in the load order."""

from __future__ import annotations

import re

from graph.config import PROJECT_ROOT
from loaders.feeds import FEEDS


def _sections() -> dict[str, str]:
    text = (PROJECT_ROOT / "docs" / "feeds.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\S+\.csv)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_feed_is_documented_in_load_order() -> None:
    assert list(_sections()) == [spec.filename for spec in FEEDS]


def test_every_column_is_documented_with_whether_it_is_required() -> None:
    sections = _sections()
    for spec in FEEDS:
        rows = dict(re.findall(r"^\| (\w+) \| (yes|no) \|", sections[spec.filename], flags=re.MULTILINE))
        assert set(rows) == set(spec.columns), spec.filename
        required = {name for name, flag in rows.items() if flag == "yes"}
        assert required == set(spec.required), spec.filename
