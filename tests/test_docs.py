"""The repository stands on its own: nothing points outside it, every link in its pages leads somewhere, the
architecture page names code that exists, and the README's test command needs no root."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.config import PROJECT_ROOT

# [text](target) and ![alt](target), not inside code; the target up to a space or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
OUTSIDE = re.compile(r"\.\./shared|shared/DESIGN\.md|/work/shared")


def _tracked() -> list[Path]:
    """The files git tracks (what a clone has), text only."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    paths = [PROJECT_ROOT / p for p in out.decode().split("\0") if p]
    return [p for p in paths if p.is_file() and p.suffix not in {".png", ".jpg", ".ico"}]


def _pages() -> list[Path]:
    return [p for p in _tracked() if p.suffix == ".md"]


def _links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation but underscores dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)}


@pytest.fixture(scope="module")
def tracked() -> list[Path]:
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    return _tracked()


def test_no_tracked_file_points_outside_the_repository(tracked: list[Path]) -> None:
    """A clone has only the repository: no file may name the workspace's shared folder."""
    found = []
    for path in tracked:
        if path.resolve() == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, "files pointing outside the repository:\n" + "\n".join(found)


def test_no_markdown_link_escapes_the_repository(tracked: list[Path]) -> None:
    escaping = []
    for page in [p for p in tracked if p.suffix == ".md"]:
        for target in _links(page):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            resolved = (page.parent / target.split("#", 1)[0]).resolve()
            if not resolved.is_relative_to(PROJECT_ROOT.resolve()):
                escaping.append(f"{page.relative_to(PROJECT_ROOT)}: {target}")
    assert not escaping, "links leaving the repository:\n" + "\n".join(escaping)


def test_every_relative_link_in_the_pages_resolves(tracked: list[Path]) -> None:
    """Every relative link of the README and docs/ names a file that exists, and an anchor a heading it has."""
    broken = []
    for page in [p for p in tracked if p.suffix == ".md"]:
        for target in _links(page):
            if "://" in target or target.startswith("mailto:"):
                continue
            file_part, _, anchor = target.partition("#")
            goal = (page.parent / file_part).resolve() if file_part else page
            if not goal.exists():
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {target} (no such file)")
            elif anchor and goal.suffix == ".md" and anchor not in _anchors(goal):
                broken.append(f"{page.relative_to(PROJECT_ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_points_to_the_architecture_page() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme


def test_the_architecture_page_names_code_that_exists() -> None:
    """Where each rule lives, by module and name: a renamed or moved function fails here until the page follows."""
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = ("graph", "api", "analytics", "loaders", "dashboard", "contactpoint")
    spans = [s.strip("`") for s in CODE.findall(FENCE.sub("", text))]
    missing = []
    for span in spans:
        name = span.split("(", 1)[0]
        if re.fullmatch(rf"(?:{'|'.join(packages)})(?:\.\w+)+", name):
            parts = name.split(".")
            for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
                try:
                    target: object = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                try:
                    for attr in parts[cut:]:
                        target = getattr(target, attr)
                except AttributeError:
                    missing.append(span)
                break
            else:
                missing.append(span)
        elif re.fullmatch(rf"(?:{'|'.join(packages)})/[\w/.]*", span):
            path = PROJECT_ROOT / span
            if not (path.exists() or path.with_suffix(".py").exists()):
                missing.append(span)
    assert spans and not missing, f"docs/architecture.md names code that does not exist: {missing}"


@pytest.mark.parametrize("target", ["test", "test-fast"])
def test_the_test_commands_need_no_root(target: str) -> None:
    """`make test` and `make test-fast` install nothing with apt-get and never ask for sudo."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    plan = subprocess.run(["make", "-n", target], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    commands = plan.stdout
    assert "pytest" in commands
    assert "apt-get" not in commands and "sudo" not in commands, commands
