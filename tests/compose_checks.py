"""The compose stack's checks, made without Docker: each reads the files of a checkout and says what is wrong.

tests/test_compose.py runs them on the repository, and on copies changed one way each to show every check can fail.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from api.config import ApiSettings
from contactpoint.cli import app
from dashboard.config import DashboardSettings

SERVICES = ("neo4j", "seed", "api", "dashboard")
# Who waits for whom, and for what: the seed needs a healthy Neo4j; the API a loaded one; the dashboard the API.
START_ORDER = {
    "seed": {"neo4j": "service_healthy"},
    "api": {"neo4j": "service_healthy", "seed": "service_completed_successfully"},
    "dashboard": {"api": "service_healthy"},
}
HEALTH_PATHS = {"api": "/health", "dashboard": "/_stcore/health"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.IGNORECASE)
# `$$` is a literal dollar (left for the container's shell); `${...}` and `$NAME` are read from .env.
REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
FORM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?(.*)", re.DOTALL)
REQUIRED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")
COPIED_FOR_THE_BUILD = ("pyproject.toml", "README.md")


@dataclass(frozen=True)
class Project:
    """The files the compose stack is made of, read from one checkout (or a mutated copy of one)."""

    root: Path
    compose_text: str
    compose: dict[str, Any]
    dockerfile: str
    env_example: str
    packages: tuple[str, ...]

    @classmethod
    def read(cls, root: Path) -> Project:
        text = (root / "docker-compose.yml").read_text()
        include = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
        packages = sorted(d.name for d in root.iterdir() if (d / "__init__.py").is_file()
                          and any(fnmatch(d.name, pattern) for pattern in include["include"]))
        return cls(root, text, yaml.safe_load(text), (root / "Dockerfile").read_text(),
                   (root / ".env.example").read_text(), tuple(packages))

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.compose.get("services") or {}


def resolve(value: str) -> str:
    """A value as compose would pass it with an empty .env: defaults taken, required values a stand-in."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, rest = FORM.fullmatch(match.group(1) or match.group(2)).groups()  # type: ignore[union-attr]
        return rest if op in (":-", "-") else "x" * 40 if op in (":?", "?") else ""
    return REFERENCE.sub(one, value)


def references(text: str) -> list[tuple[str, str | None, str]]:
    """(name, operator, the reference) of every variable the compose file takes from .env."""
    found = []
    for match in REFERENCE.finditer(text):
        if match.group(0) != "$$":
            name, op, _ = FORM.fullmatch(match.group(1) or match.group(2)).groups()  # type: ignore[union-attr]
            found.append((name, op, match.group(0)))
    return found


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    """A service's environment, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: None if value is None else str(value) for key, value in env.items()}


def conditions(service: dict[str, Any]) -> dict[str, str]:
    """What a service waits for (the list form of depends_on only waits for a start)."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}


def networks(service: dict[str, Any]) -> set[str]:
    return set(service.get("networks") or ["default"])


def one_shots(project: Project) -> set[str]:
    return {name for service in project.services.values() for name, condition in conditions(service).items()
            if condition == "service_completed_successfully"}


def listens_on(service: dict[str, Any]) -> int | None:
    """The port a service's contactpoint command listens on (given with --port), if it takes one."""
    command = service.get("command")
    context, _ = parse_command(command if isinstance(command, list) else shlex.split(command or ""))
    return None if context is None else context.params.get("port")


def parse_command(words: list[str]) -> tuple[Any, list[str]]:
    """Parse a service's command with the real CLI, as `contactpoint` would, without running it: (context, problems)."""
    if not words or words[0] != "contactpoint":
        return None, [f"{words[:1]} is not the contactpoint command"]
    command = typer.main.get_command(app)
    path, args = [], [resolve(word) for word in words[1:]]
    while args and args[0] in (getattr(command, "commands", None) or {}):
        path.append(args[0])
        command = command.commands[args.pop(0)]
    named = f"'contactpoint {' '.join(words[1:])}'"
    if getattr(command, "commands", None) is not None:
        return None, [f"{named}: no such command under 'contactpoint {' '.join(path)}'"]
    helped = CliRunner().invoke(app, [*path, "--help"])
    if helped.exit_code != 0:
        return None, [f"{named}: 'contactpoint {' '.join(path)} --help' exits {helped.exit_code}"]
    try:
        return command.make_context(f"contactpoint {' '.join(path)}", args), []
    except Exception as exc:  # the CLI's usage errors (Typer's own or Click's, by version) say what was wrong
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return None, [f"{named}: {message}"]


# -- the checks: each returns what is wrong, in words ---------------------------------------------------------------


def check_services(project: Project) -> list[str]:
    return [f"no '{name}' service" for name in SERVICES if name not in project.services]


def check_builds(project: Project) -> list[str]:
    problems = []
    for name, service in project.services.items():
        image, build = service.get("image"), service.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            dockerfile = project.root / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: no Dockerfile at {dockerfile}")
        elif not image:
            problems.append(f"{name}: neither an image nor a build")
        elif ":" not in image or image.endswith(":latest"):
            problems.append(f"{name}: image '{image}' is not pinned to a version")
    return problems


def check_healthchecks(project: Project) -> list[str]:
    problems, once = [], one_shots(project)
    for name, service in project.services.items():
        check = service.get("healthcheck") or {}
        if name in once:
            if service.get("restart", "no") != "no":
                problems.append(f"{name}: a one-shot service must not restart")
            continue
        test = check.get("test")
        if not test or check.get("disable") or test in (["NONE"], "NONE"):
            problems.append(f"{name}: a long-running service without a health check")
            continue
        path, port = HEALTH_PATHS.get(name), listens_on(service)
        asked = rf"http://(?:127\.0\.0\.1|localhost):{port}{re.escape(path or '')}(?![\w/])"
        if path and not re.search(asked, " ".join(test) if isinstance(test, list) else test):
            problems.append(f"{name}: the health check does not ask {path} on the port it serves ({port})")
    return problems


def check_start_order(project: Project) -> list[str]:
    problems = []
    for name, wanted in START_ORDER.items():
        have = conditions(project.services.get(name) or {})
        problems += [f"{name} must wait for {dep} ({condition}), not {have.get(dep, 'nothing')}"
                     for dep, condition in wanted.items() if have.get(dep) != condition]
    return problems


def check_ports(project: Project) -> list[str]:
    """Published on 127.0.0.1 only, each to the port its service listens on."""
    problems = []
    for name, service in project.services.items():
        if service.get("network_mode") == "host":
            problems.append(f"{name}: host networking publishes every port on every address")
        port = listens_on(service)
        for published in service.get("ports") or []:
            if isinstance(published, dict):
                host_ip, target = published.get("host_ip"), str(published.get("target"))
            else:
                parts = resolve(str(published)).split(":")
                host_ip, target = parts[0] if len(parts) == 3 else None, parts[-1]
            if host_ip != "127.0.0.1":
                problems.append(f"{name}: port {published} is not published on 127.0.0.1 only")
            if port is not None and target != str(port):
                problems.append(f"{name}: port {published} is not the one it listens on ({port})")
    return problems


def check_secrets(project: Project) -> list[str]:
    """A secret comes from .env and is required there: never a default, a literal, or silently empty."""
    problems = [f"{ref} has a default or may be empty: write ${{{name}:?message}}"
                for name, op, ref in references(project.compose_text)
                if SECRET_NAME.search(name) and op not in (":?", "?")]
    for service_name, service in project.services.items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and (value is None or not REQUIRED.fullmatch(value)):
                problems.append(f"{service_name}: {key} must be exactly ${{VAR:?message}}, not {value!r}")
    return problems


def check_commands(project: Project) -> list[str]:
    problems = []
    for name, service in project.services.items():
        if service.get("build") is None:
            continue  # an upstream image runs its own command
        command = service.get("command")
        words = command if isinstance(command, list) else shlex.split(command or "")
        problems += [f"{name}: {problem}" for problem in parse_command(words)[1]]
    return problems


def check_production(project: Project) -> list[str]:
    """The API in production mode with both secrets; the dashboard a client that may reach only the API."""
    api, dashboard = project.services.get("api") or {}, project.services.get("dashboard") or {}
    api_env, dash_env = environment(api), environment(dashboard)
    problems = [f"api: {key} is not set" for key in ("CP_API_JWT_SECRET", "CP_API_PSEUDONYM_KEY")
                if not api_env.get(key)]
    if resolve(api_env.get("CP_API_DEMO_MODE") or "false").lower() not in ("false", "0", "no", "off"):
        problems.append("api: demo mode is on")
    serve, _ = parse_command(list(api.get("command") or []))
    if serve is not None:
        if serve.params.get("demo"):
            problems.append("api: served with --demo")
        try:
            ApiSettings(host=serve.params["host"], port=serve.params["port"], demo_mode=False,
                        jwt_secret=secrets.token_hex(32), pseudonym_key=secrets.token_hex(32))
        except ValidationError as exc:
            problems.append(f"api: the settings are refused: {exc}")
    problems += [f"dashboard: holds {key}" for key in dash_env if SECRET_NAME.search(key) or key.startswith("NEO4J")]
    if networks(dashboard) & networks(project.services.get("neo4j") or {}):
        problems.append("dashboard: shares a network with neo4j")
    served, _ = parse_command(list(dashboard.get("command") or []))
    if served is not None:
        try:
            DashboardSettings(api_url=served.params["api_url"],
                              plain_http_hosts=resolve(dash_env.get("CP_DASHBOARD_PLAIN_HTTP_HOSTS") or ""))
        except ValidationError as exc:
            problems.append(f"dashboard: the settings are refused: {exc}")
    return problems


def check_dockerfile(project: Project) -> list[str]:
    """The image is built from every package pyproject.toml includes (pip install . finds only what was copied)."""
    copied: set[str] = set()
    for line in re.sub(r"\\\n", " ", project.dockerfile).splitlines():
        if line.strip().upper().startswith(("COPY ", "ADD ")):
            rest = line.strip()[4:].strip()
            words = json.loads(rest) if rest.startswith("[") else \
                [word for word in shlex.split(rest) if not word.startswith("--")]
            copied |= {w.removeprefix("./").rstrip("/") or "." for w in words[:-1]}
    if "." in copied:
        return []
    return [f"the Dockerfile does not copy {name}" for name in (*COPIED_FOR_THE_BUILD, *project.packages)
            if name not in copied]


def env_example(project: Project) -> dict[str, str]:
    return dict(line.split("=", 1) for line in project.env_example.splitlines()
                if line.strip() and not line.lstrip().startswith("#"))


def check_env_example(project: Project) -> list[str]:
    """.env.example names every variable the compose file reads, and no secret value."""
    listed, used = env_example(project), {name for name, _, _ in references(project.compose_text)}
    return ([f".env.example does not name {name}" for name in sorted(used - listed.keys())]
            + [f".env.example names {name}, which the compose file does not use"
               for name in sorted(listed.keys() - used)]
            + [f".env.example gives {name} a value" for name, value in listed.items()
               if SECRET_NAME.search(name) and value.strip()])


CHECKS: list[Callable[[Project], list[str]]] = [
    check_services, check_builds, check_healthchecks, check_start_order, check_ports, check_secrets,
    check_commands, check_production, check_dockerfile, check_env_example,
]
