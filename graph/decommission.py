"""Decommissioning: destroy everything the directory holds on this machine, and certify it.

ContactPoint's data had to be destroyed within two months of its switch-off. `contactpoint decommission` does it
for a local installation: it reads what the store holds and the audit trail's head (after recording the
decommission itself as the trail's last event), stops the DBMS, then overwrites and deletes:

- in the DBMS home: the store (data/databases: every database, the system one with its users included), the
  transaction logs (data/transactions), the server's logs (query and debug logs carry parameters), bulk-import
  files and reports, the import staging area, dumps and backups kept there, run files and configuration: every
  entry but the Neo4j jars (`dist`, software, no data);
- the project's own folder of files (var/): generated and received feeds and their rejects files, the API's and
  dashboard's logs and run files, screenshots of records, the matching model, caches and results.

Subject access exports are sent to the requester's browser and never stored here; downloaded copies are outside
its reach (docs/privacy.md). Overwriting a file before deleting it defeats undelete tools, not a copy-on-write
or wear-levelled disk: the certificate says so, and the volume's own destruction (or its encryption key's) is
the guarantee on such disks.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neo4j import Driver

from graph import audit, schema
from graph.config import GraphSettings

# What each entry found is, for the certificate (anything else is named by its path).
KNOWN = {
    "data": "the store and transaction logs (every database, users included)",
    "logs": "the DBMS's logs (query, debug, security, import report)",
    "bulk-csv": "bulk-import files", "import-staging": "bulk-import staging store", "run": "run files",
    "conf": "DBMS configuration", "backups": "backups", "dumps": "database dumps",
    "demo": "feeds and their rejects files", "log": "API and dashboard logs", "cache": "caches",
    "screenshots": "screenshots of records", "matching": "the matching model", "results": "test and benchmark results",
}
COUNT_CHILDREN = """
RETURN COUNT { MATCH (c:Child) } AS live, COUNT { MATCH (c:ArchivedChild) } AS archived,
       COUNT { MATCH (t:DestroyedChild) } AS tombstones, COUNT { MATCH (e:AuditEvent) } AS audit_events
"""
DISK_NOTE = ("Files were overwritten with zeros before deletion where overwriting was on. On copy-on-write, "
             "journalling or wear-levelled storage (SSDs, cloud volumes) old blocks can survive: destroy the volume, "
             "or its encryption key, as well.")


class DecommissionError(Exception):
    """Decommissioning cannot go ahead; nothing has been destroyed. The message is one line."""


@dataclass
class Destroyed:
    """One entry destroyed: where, what it was, how many files and bytes."""

    path: str
    what: str
    files: int
    bytes: int


@dataclass
class Holdings:
    """What the store holds, read before anything is destroyed."""

    children: int
    archived: int
    tombstones: int
    audit_events: int
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)

    @property
    def phrase(self) -> str:
        """What the operator must type to confirm."""
        return f"destroy {self.children + self.archived} children"


def targets(settings: GraphSettings, var_dir: Path) -> list[Path]:
    """Every entry that will be destroyed: the DBMS home's but its jars, and the project's var/ folder's."""
    keep = {settings.dist_root.resolve()}
    found = []
    if settings.home.is_dir():
        found += sorted(p for p in settings.home.iterdir() if p.resolve() not in keep)
    if var_dir.is_dir():
        found += sorted(var_dir.iterdir())
    return found


def holdings(driver: Driver, *, database: str) -> Holdings:
    """Counts of what the store holds (children live and archived, tombstones, audit events, every label)."""
    records, _, _ = driver.execute_query(COUNT_CHILDREN, database_=database)
    row = records[0]
    state = schema.status(driver, database=database)
    return Holdings(children=row["live"], archived=row["archived"], tombstones=row["tombstones"],
                    audit_events=row["audit_events"], nodes=state.nodes, relationships=state.relationships)


def seal_trail(driver: Driver, *, database: str, actor: audit.Actor, held: Holdings) -> dict[str, Any]:
    """Verify the chain, then append the decommission as its last event; gives the final head for the certificate."""
    checked = audit.verify(driver, database=database)
    with driver.session(database=database) as session:
        last = session.execute_write(lambda tx: audit.append(
            tx, viewer=actor, action="decommission", children=[], purpose="decommissioning: every record destroyed",
            request_id=f"decommission-{int(time.time())}",
            detail={"children": held.children, "archived": held.archived, "audit_events": held.audit_events}))
    return {"verified_before": checked.ok, "problem": checked.problem, "events": checked.events + 1,
            "head_seq": last.seq, "head_hash": last.hash, "previous_hash": last.prev_hash}


def _shred(path: Path, overwrite: bool) -> tuple[int, int]:
    """Overwrite (optionally) and delete a file or a folder; gives (files, bytes)."""
    files = [path] if path.is_file() or path.is_symlink() else [p for p in path.rglob("*") if p.is_file()]
    size = 0
    for file in files:
        if file.is_symlink():
            continue
        length = file.stat().st_size
        size += length
        if overwrite and length:
            with file.open("r+b", buffering=0) as handle:
                zeros = b"\0" * (1 << 20)
                for offset in range(0, length, len(zeros)):
                    handle.write(zeros[:min(len(zeros), length - offset)])
                os.fsync(handle.fileno())
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    return len(files), size


def destroy(paths: list[Path], *, overwrite: bool) -> list[Destroyed]:
    """Overwrite and delete every path; gives what each was."""
    done = []
    for path in paths:
        files, size = _shred(path, overwrite)
        done.append(Destroyed(str(path), KNOWN.get(path.name, "other files"), files, size))
    return done


def certificate(*, settings: GraphSettings, var_dir: Path, held: Holdings, trail: dict[str, Any],
                destroyed: list[Destroyed], remaining: list[Path], started: datetime, actor: audit.Actor,
                overwrite: bool, phrase: str) -> dict[str, Any]:
    """The destruction certificate: what was destroyed, counts, when, by whom, and the final audit head."""
    body = {
        "certificate": "ContactPoint graph explorer: destruction of a directory",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "operator": actor.user_id, "host": platform.node(),
        "dbms_home": str(settings.home), "database": settings.database, "var_dir": str(var_dir),
        "confirmation": phrase,
        "held": asdict(held),
        "audit_trail": trail,
        "destroyed": [asdict(d) for d in destroyed],
        "files": sum(d.files for d in destroyed), "bytes": sum(d.bytes for d in destroyed),
        "overwritten_before_deletion": overwrite,
        "remaining": [str(p) for p in remaining],
        "note": DISK_NOTE,
    }
    body["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


def check_certificate_path(path: Path, *, settings: GraphSettings, var_dir: Path) -> Path:
    """The certificate's place, resolved, if it is outside what will be destroyed.

    Raises:
        DecommissionError: the path is inside the DBMS home or var/.
    """
    target = path.resolve()
    for doomed in (settings.home.resolve(), var_dir.resolve()):
        if target == doomed or doomed in target.parents:
            raise DecommissionError(f"the certificate cannot be written inside {doomed}: it is being destroyed")
    return target


def write_certificate(path: Path, body: dict[str, Any], *, settings: GraphSettings, var_dir: Path) -> Path:
    """Write the certificate, refusing a place that is itself being destroyed (see check_certificate_path)."""
    target = check_certificate_path(path, settings=settings, var_dir=var_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return target
