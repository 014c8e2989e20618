"""The command line's own errors: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graph.config import PROJECT_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "contactpoint", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_generate_names_a_bad_date(tmp_path: Path) -> None:
    line = _one_error_line(_run("generate", "--out", str(tmp_path), "--children", "10", "--as-of", "31/10/2026"))
    assert "--as-of" in line and "31/10/2026" in line


def test_generate_says_when_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _one_error_line(_run("generate", "--out", str(blocker / "feeds"), "--children", "10"))
    assert "cannot write the feeds" in line


def test_negative_seed_is_refused_by_name(tmp_path: Path) -> None:
    done = _run("generate", "--out", str(tmp_path), "--children", "10", "--seed", "-1")
    assert done.returncode == 2 and "--seed" in done.stderr and "Traceback" not in done.stderr


def test_generate_writes_feeds_and_a_manifest(tmp_path: Path) -> None:
    done = _run("generate", "--out", str(tmp_path), "--children", "200", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "manifest.json").is_file() and (tmp_path / "children.csv").is_file()


def test_import_ssd_names_the_missing_person_table(tmp_path: Path) -> None:
    (tmp_path / "ssd_cp_plans.csv").write_text("cppl_cp_plan_id\n1\n", encoding="utf-8")
    line = _one_error_line(_run("import", "ssd", str(tmp_path), "--la", "E08000035"))
    assert "no ssd_person.csv" in line and "ssd_cp_plans" in line


def test_generate_ssd_says_the_folder_is_not_an_england(tmp_path: Path) -> None:
    line = _one_error_line(_run("generate-ssd", str(tmp_path), "--la", "E08000035"))
    assert "not a synthetic England's feeds" in line
