"""Dependency audit for CI: pip-audit, with PyPI's project documents where its per-release queries go unanswered.

pip-audit asks PyPI for each installed release's known vulnerabilities (/pypi/NAME/VERSION/json); where that
answers, its verdict stands. Some mirrors and proxies serve only the project documents (/pypi/NAME/json), and
pip-audit then skips every dependency as "not found" and passes having audited nothing. For those, a release
that is PyPI's latest is checked against the project document's own list of the latest release's known
vulnerabilities (the same advisory data); an older release that neither source covers is named in the output.
Exits 1 if any installed release has a known vulnerability, 2 if the audit could not run.

    .venv/bin/python tools/audit_deps.py        (make audit; .ci/run runs it before the tests)
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any

from packaging.utils import canonicalize_name

PROJECT = "https://pypi.org/pypi/{name}/json"


def pip_audit() -> list[dict[str, Any]]:
    """pip-audit's verdict on every installed distribution but the project itself (editable)."""
    done = subprocess.run([sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off",
                           "--format", "json"], capture_output=True, text=True)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        sys.exit(f"pip-audit did not run: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)["dependencies"]


def project(name: str) -> dict[str, Any] | None:
    """PyPI's project document (latest release, its known vulnerabilities), or None if it cannot be had."""
    try:
        with urllib.request.urlopen(PROJECT.format(name=name), timeout=60) as response:  # noqa: S310 (fixed host)
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def main() -> None:
    dependencies = pip_audit()
    found = [(d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions") or []) or "no fix yet")
             for d in dependencies for v in d.get("vulns", [])]
    audited = [d["name"] for d in dependencies if "skip_reason" not in d]
    skipped = [d["name"] for d in dependencies if "skip_reason" in d and "editable" not in d["skip_reason"]]
    installed = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    with ThreadPoolExecutor(8) as pool:
        documents = dict(zip(skipped, pool.map(project, skipped)))
    latest_checked, uncovered = [], []
    for name in skipped:
        version, document = installed.get(canonicalize_name(name)), documents[name]
        if document is None or version is None:
            uncovered.append(f"{name} (no data)")
        elif document["info"]["version"] != version:
            uncovered.append(f"{name} {version} (PyPI's latest is {document['info']['version']})")
        else:
            latest_checked.append(name)
            found += [(name, version, v["id"], ", ".join(v.get("fixed_in") or []) or "no fix yet")
                      for v in document.get("vulnerabilities") or [] if not v.get("withdrawn")]
    print(f"{len(dependencies)} installed dependencies: {len(audited)} audited by pip-audit per release, "
          f"{len(latest_checked)} at PyPI's latest release checked against its project data, "
          f"{len(uncovered)} not covered by either")
    for line in uncovered:
        print(f"  not covered: {line}")
    for name, version, advisory, fixed in found:
        print(f"VULNERABLE {name} {version}: {advisory} (fixed in {fixed})")
    if not audited and not latest_checked:
        sys.exit("no dependency could be audited: is PyPI reachable?")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
