"""docker-compose.yml checked without Docker: services, builds, health checks, start order, ports, secrets, commands."""

from __future__ import annotations

import secrets
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from setuptools import find_packages

from graph.config import PROJECT_ROOT
from tests.compose_checks import (
    CHECKS, Project, check_builds, check_commands, check_dockerfile, check_env_example, check_healthchecks,
    check_ports, check_production, check_secrets, check_services, check_start_order, parse_command,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_compose_file_passes(check: Callable[[Project], list[str]]) -> None:
    assert check(Project.read(PROJECT_ROOT)) == []


def test_the_packages_are_those_setuptools_installs() -> None:
    """The Dockerfile check reads the same top-level packages `pip install .` builds from."""
    include = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = {name.split(".")[0] for name in find_packages(where=PROJECT_ROOT, include=include["include"])}
    assert found and set(Project.read(PROJECT_ROOT).packages) == found


def test_the_secrets_file_stays_out_of_git_and_the_image() -> None:
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", ".env"], cwd=PROJECT_ROOT, check=False)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0, ".env is not git-ignored"


def test_the_readme_commands_parse() -> None:
    """Every `docker compose run ... contactpoint ...` in the README is a command the CLI accepts."""
    readme = (PROJECT_ROOT / "README.md").read_text().replace("\\\n", " ")
    lines = [line for line in readme.splitlines() if "docker compose run" in line and "contactpoint" in line]
    assert any("users add" in line for line in lines), "the README does not say how the first user is added"
    for line in lines:
        words = shlex.split(line[line.index("contactpoint"):].split("`")[0])
        assert parse_command(words)[1] == [], line


# -- each check can fail: a copy of the files, changed one way, and the check that must say so -----------------------


def _text(name: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        text = (root / name).read_text()
        assert old in text, f"{old!r} is no longer in {name}: update the mutation"
        (root / name).write_text(text.replace(old, new, 1))
    return mutate


def _yaml(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        data = yaml.safe_load((root / "docker-compose.yml").read_text())
        change(data["services"])
        (root / "docker-compose.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return mutate


def _new_package(root: Path) -> None:
    (root / "newpackage").mkdir()
    (root / "newpackage" / "__init__.py").touch()
    _text("pyproject.toml", "include = [", 'include = ["newpackage*", ')(root)


def _as_list(env: dict[str, Any]) -> list[str]:
    return [*(f"{key}={value}" for key, value in env.items()), "EXTRA_TOKEN"]


def _set(mapping: dict[str, Any], key: str, value: object) -> None:
    mapping[key] = value


JWT = "${CP_API_JWT_SECRET:?"
AUTH = "neo4j/${NEO4J_PASSWORD:?set NEO4J_PASSWORD in .env (see .env.example)}"
MUTATIONS = [
    ("secret with a default", _text("docker-compose.yml", JWT, "${CP_API_JWT_SECRET:-"), check_secrets,
     "has a default"),
    ("secret maybe empty", _text("docker-compose.yml", AUTH, "neo4j/${NEO4J_PASSWORD}"), check_secrets,
     "${NEO4J_PASSWORD} has a default or may be empty"),
    ("secret unbraced", _text("docker-compose.yml", AUTH, "neo4j/$NEO4J_PASSWORD"), check_secrets,
     "$NEO4J_PASSWORD has a default"),
    ("secret literal", _yaml(lambda s: _set(s["api"]["environment"], "CP_API_PSEUDONYM_KEY", secrets.token_hex(32))),
     check_secrets, "CP_API_PSEUDONYM_KEY must be exactly"),
    ("secret from the host", _yaml(lambda s: _set(s["api"], "environment", _as_list(s["api"]["environment"]))),
     check_secrets, "EXTRA_TOKEN must be exactly"),
    ("service missing", _yaml(lambda s: s.pop("dashboard")), check_services, "no 'dashboard'"),
    ("no Dockerfile", _text("docker-compose.yml", "build: .", "build: ./nowhere"), check_builds, "no Dockerfile"),
    ("no image", _yaml(lambda s: s["seed"].pop("build")), check_builds, "neither an image nor a build"),
    ("unpinned image", _yaml(lambda s: _set(s["neo4j"], "image", "neo4j:latest")), check_builds, "not pinned"),
    ("no health check", _yaml(lambda s: s["api"].pop("healthcheck")), check_healthchecks, "api: a long-running"),
    ("disabled health check", _yaml(lambda s: _set(s["neo4j"]["healthcheck"], "disable", True)), check_healthchecks,
     "neo4j: a long-running"),
    ("health check elsewhere", _text("docker-compose.yml", "8501/_stcore/health", "8501/"), check_healthchecks,
     "dashboard: the health check does not ask /_stcore/health"),
    ("one-shot restarts", _yaml(lambda s: _set(s["seed"], "restart", "on-failure")), check_healthchecks,
     "seed: a one-shot"),
    ("api before the seed", _yaml(lambda s: _set(s["api"]["depends_on"]["seed"], "condition", "service_started")),
     check_start_order, "api must wait for seed (service_completed_successfully), not service_started"),
    ("dashboard at once", _yaml(lambda s: s["dashboard"].pop("depends_on")), check_start_order,
     "dashboard must wait for api"),
    ("seed on a start", _yaml(lambda s: _set(s["seed"], "depends_on", ["neo4j"])), check_start_order,
     "seed must wait for neo4j"),
    ("port on every address", _text("docker-compose.yml", '"127.0.0.1:${API_PORT', '"${API_PORT'), check_ports,
     "api: port"),
    ("port long form", _yaml(lambda s: _set(s["dashboard"], "ports", [{"target": 8501, "published": 8501}])),
     check_ports, "dashboard: port"),
    ("port elsewhere", _text("docker-compose.yml", '"--port", "8000"', '"--port", "8080"'), check_ports,
     "api: port 127.0.0.1:${API_PORT:-8000}:8000 is not the one it listens on (8080)"),
    ("health check on another port", _text("docker-compose.yml", "127.0.0.1:8000/health", "127.0.0.1:8080/health"),
     check_healthchecks, "api: the health check does not ask /health on the port it serves (8000)"),
    ("health check path", _text("docker-compose.yml", "8000/health'", "8000/healthz'"), check_healthchecks,
     "api: the health check does not ask /health"),
    ("host networking", _yaml(lambda s: _set(s["seed"], "network_mode", "host")), check_ports, "seed: host"),
    ("no such command", _text("docker-compose.yml", '"api", "serve"', '"api", "run"'), check_commands,
     "no such command under 'contactpoint api'"),
    ("no such option", _text("docker-compose.yml", '"--api-url"', '"--api"'), check_commands, "dashboard:"),
    ("option out of range", _text("docker-compose.yml", "CP_SEED_CHILDREN:-20000", "CP_SEED_CHILDREN:-50"),
     check_commands, "seed:"),
    ("demo mode", _text("docker-compose.yml", 'CP_API_DEMO_MODE: "false"', 'CP_API_DEMO_MODE: "true"'),
     check_production, "api: demo mode is on"),
    ("served with --demo", _yaml(lambda s: s["api"]["command"].append("--demo")), check_production, "--demo"),
    ("no pseudonym key", _yaml(lambda s: s["api"]["environment"].pop("CP_API_PSEUDONYM_KEY")), check_production,
     "CP_API_PSEUDONYM_KEY is not set"),
    ("dashboard holds a password", _yaml(lambda s: _set(s["dashboard"]["environment"], "NEO4J_PASSWORD", "${X:?x}")),
     check_production, "dashboard: holds NEO4J_PASSWORD"),
    ("dashboard beside neo4j", _yaml(lambda s: s["dashboard"]["networks"].append("graph")), check_production,
     "shares a network"),
    ("plain http refused", _yaml(lambda s: s["dashboard"].pop("environment")), check_production,
     "CP_DASHBOARD_PLAIN_HTTP_HOSTS"),
    ("package not copied", _text("Dockerfile", "COPY analytics ./analytics\n", ""), check_dockerfile,
     "does not copy analytics"),
    ("new package", _new_package, check_dockerfile, "does not copy newpackage"),
    ("readme not copied", _text("Dockerfile", "COPY pyproject.toml README.md ./", "COPY pyproject.toml ./"),
     check_dockerfile, "does not copy README.md"),
    ("variable not listed", _text(".env.example", "\nAPI_PORT=", "\n# API_PORT="), check_env_example,
     "does not name API_PORT"),
    ("stale variable", _text(".env.example", "\nAPI_PORT=", "\nUNUSED=1\nAPI_PORT="), check_env_example,
     "names UNUSED"),
    ("secret value", _text(".env.example", "\nCP_API_JWT_SECRET" + "=\n",
                           f"\nCP_API_JWT_SECRET={secrets.token_hex(32)}\n"), check_env_example, "gives CP_API_JWT"),
]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The compose stack's files in a temporary folder, with an empty folder for each package."""
    for name in ("docker-compose.yml", "Dockerfile", ".env.example", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    for package in Project.read(PROJECT_ROOT).packages:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_the_copy_passes_every_check(copy: Path) -> None:
    project = Project.read(copy)
    assert [problem for check in CHECKS for problem in check(project)] == []


@pytest.mark.parametrize(("mutate", "check", "said"), [pytest.param(*m[1:], id=m[0]) for m in MUTATIONS])
def test_each_check_catches_its_mistake(copy: Path, mutate: Callable[[Path], None],
                                        check: Callable[[Project], list[str]], said: str) -> None:
    mutate(copy)
    problems = check(Project.read(copy))
    assert any(said in problem for problem in problems), problems
