"""No secrets in the repository: every tracked file scanned for keys and tokens; only documented demo values pass."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from api.config import DEMO_JWT_SECRET, DEMO_PSEUDONYM_KEY
from graph.config import PROJECT_ROOT, GraphSettings
from graph.users import DEMO_USERS

# Shapes that are secrets wherever they appear.
SHAPES = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe key": re.compile(r"\b[sr]k_live_[0-9A-Za-z]{20,}"),
    "PyPI token": re.compile(r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s:@'\"$]{3,}@"),
}
# A quoted value given to something named like a secret: allowed only if it is a documented demo value.
ASSIGNED = re.compile(r"(?i)\b\w*(?:secret|password|passwd|token|api_?key|pseudonym_key)\w*[\"']?\s*[:=]\s*"
                      r"[\"']([^\"'\s]{12,})[\"']")
# Environment settings of the deployment's secrets, as in a .env file or a shell line.
ENVIRONMENT = re.compile(r"\b(?:NEO4J_PASSWORD|CP_NEO4J_PASSWORD|CP_API_JWT_SECRET|CP_API_PSEUDONYM_KEY)="
                         r"(?!\.\.\.)([^\s$\"'{}(),]{3,})(?=\s|$)")

# The README documents these: the demo signing and pseudonym keys (refused outside demo mode), the local
# DBMS's password, the demo users' passwords and TOTP secrets, and the placeholder of the Docker example.
# The tests use the well-known example TOTP secret of the authenticator documentation, and a wrong password.
ALLOWED = {DEMO_JWT_SECRET, DEMO_PSEUDONYM_KEY, GraphSettings().password.get_secret_value(), "change-me",
           *(u.password for u in DEMO_USERS), *(u.totp_secret for u in DEMO_USERS),
           "JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP" * 2, "not-the-password"}


def findings(text: str) -> list[tuple[int, str, str]]:
    """(line, what, the text) of every secret-looking thing in a text that is not an allowed demo value."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, shape in SHAPES.items():
            found += [(number, what, m.group(0)) for m in shape.finditer(line)]
        for pattern, what in ((ASSIGNED, "secret assigned"), (ENVIRONMENT, "secret in the environment")):
            found += [(number, what, m.group(1)) for m in pattern.finditer(line) if m.group(1) not in ALLOWED]
    return found


def _tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [PROJECT_ROOT / name for name in listed.stdout.decode().split("\0") if name]


def test_no_tracked_file_holds_a_secret() -> None:
    problems = []
    for path in _tracked():
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for line, what, value in findings(data.decode("utf-8", errors="replace")):
            problems.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {what}: {value[:12]}...")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("planted", [
    "-----BEGIN " + "RSA PRIVATE KEY-----",
    "key = 'AKIA" + "Q7" * 8 + "'",
    "GH_TOKEN=ghp_" + "a1B2" * 9,
    "token: 'xoxb-" + "1234567890-abcdef'",
    "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiJ1LTEifQ." + "abcdefghijklmnop",
    "NEO4J_URI=bolt://neo4j:" + "hunter22@db.example:7687",
    "jwt_secret = '" + "r3al-l00king-s1gning-k3y-0f-32-chars" + "'",
    "CP_API_JWT_SECRET=" + "Zx9" * 12,
    "password: \"" + "Tr0ub4dor&3-but-longer" + "\"",
])
def test_the_scan_finds_planted_secrets(planted: str) -> None:
    assert findings(planted), planted


def test_the_documented_demo_values_pass() -> None:
    demo = "\n".join([f"jwt_secret = {DEMO_JWT_SECRET!r}", "NEO4J_" + "PASSWORD=change-me docker compose up -d",
                      f"password = {DEMO_USERS[0].password!r}", "NEO4J_" + "PASSWORD=... docker compose up -d",
                      "NEO4J_" + "PASSWORD=settings.password.get_secret_value(),"])
    assert not findings(demo)
