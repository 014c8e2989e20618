"""Synthetic England straight into Neo4j bulk-import files (graph.bulk.GROUPS), region by region.

Each feed the generator builds is turned into the nodes and relationships graph/ingest.py would write for
it, without the feed files in between: the same keys, properties and types, the newest shielding decision of
a child standing, a carer's details from their last row. tests/test_bulk.py proves the imported graph equal
to the one the online loader makes from the same England written as feeds (``generate --by-region``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter, ValidationError

from graph.bulk import GROUPS
from graph.cohort import COHORT_PLANS, Scope
from graph.identity import rows as identity_rows
from graph.shielding import FEED_USER
from loaders.csvout import CsvFiles, csv_lines
from loaders.feeds import Instant
from loaders.generate import DEFAULT_AS_OF, GENERATED, GENERATOR_VERSION, TEXT, Columns, Part, Progress, england
from matching.records import BLOCKING_KEYS
from loaders.synth.fmt import quote

MANIFEST = "bulk-manifest.json"
FORMAT = "neo4j-admin database import full (5.x CSV)"
Rows = dict[str, list[np.ndarray]]  # group file -> its cells in header order (already quoted where needed)

_GROUP = {g.file: g for g in GROUPS}


def write_bulk(
    out_dir: Path,
    *,
    children: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    progress: Progress | None = None,
    scope: Scope | None = None,
) -> dict[str, int]:
    """Write every bulk file, then ``bulk-manifest.json``, into ``out_dir``; return rows per file.

    The England is the one ``generate --by-region`` writes as feeds for the same arguments, and the files
    are byte-identical for the same arguments. Memory is bounded by the largest region. In targeted mode
    (``scope``) only the cohort's children are written, as the online loader would store them (`_Cohort`).

    Raises:
        ValueError: children below 1, or a negative seed.
    """
    scope = Scope(scope.mode, scope.months, as_of) if scope is not None else Scope(as_of=as_of)
    parts = england(children, seed, as_of=as_of, by_region=True, progress=progress)
    return write_parts(out_dir, parts, {"generator_version": GENERATOR_VERSION, "seed": seed, "children": children,
                                        "as_of": as_of.isoformat(), "scope": scope.mode,
                                        "targeted_months": scope.months if scope.targeted else None},
                       scope=scope)


def write_parts(out_dir: Path, parts: Iterable[Part], about: dict[str, object],
                scope: Scope | None = None) -> dict[str, int]:
    """Write the bulk files of these parts' feed tables, then the manifest (``about`` and the rows per file).

    The tables are feed text as the generator writes it (or as a source sends it): each is turned into what
    graph/ingest.py would write for it. In targeted mode the rows outside the cohort are left out and counted in
    the manifest's ``out_of_scope``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    counts = {g.file: 0 for g in GROUPS}
    # The instants of the directory's records: the day the England is as of (so the files stay deterministic).
    received = f"{about.get('as_of', DEFAULT_AS_OF.isoformat())}T00:00:00Z"
    dropped = {spec.name: 0 for spec in GENERATED}
    with CsvFiles(out, {g.file: g.file for g in GROUPS}) as files:
        for g in GROUPS:
            files.write(g.file, (",".join(g.header) + "\n").encode())
        counts["sources.csv"] += _append(files, "sources.csv", [np.array([c], dtype=object) for c in (
            identity_rows.DIRECTORY, identity_rows.DIRECTORY, quote(np.array([identity_rows.DIRECTORY_NAME],
                                                                            dtype=object))[0], received)])
        for part in parts:
            cohort = _Cohort(part, scope) if scope is not None and scope.targeted else None

            def table(name: str, part: Part = part, cohort: _Cohort | None = cohort) -> Columns:
                columns = cohort.take(name) if cohort is not None else part.tables.pop(name)()
                if cohort is not None:
                    columns, left_out = cohort.keep(name, columns)
                    dropped[name] += left_out
                return columns

            # Shielding first: a child's node carries the outcome of its decisions.
            shielding = _last_decisions(table("shielding"))
            for spec in GENERATED:
                if spec.name == "shielding":
                    rows = {"shielded_by.csv": shielding["rows"]}
                elif spec.name == "children":
                    raw = table(spec.name)
                    rows = {**_TRANSFORMS[spec.name](_quoted(spec.name, raw), shielding),
                            **_directory_records(raw, received)}
                else:
                    rows = _TRANSFORMS[spec.name](_quoted(spec.name, table(spec.name)), shielding)
                for file, cells in rows.items():
                    counts[file] += _append(files, file, cells)
                if part.progress is not None:
                    part.progress(spec.filename, 1, 1)
    manifest = {"format": FORMAT, **about, "rows": counts,
                **({"out_of_scope": dropped} if scope is not None and scope.targeted else {})}
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return counts


class _Cohort:
    """One part's targeted cohort, as the online loader decides it (graph/cohort.py, loaders/cohort.py): the children
    with a cohort plan on the day or within the months before it, and the addresses they live or lived at."""

    def __init__(self, part: Part, scope: Scope) -> None:
        self.part, self.ready = part, {}
        plans = self.take("plans")
        kind, since = np.asarray(plans["kind"], dtype=object), np.asarray(plans["since"], dtype=object)
        until = np.asarray(plans["until"], dtype=object)
        day, cutoff = scope.day.isoformat(), scope.cutoff.isoformat()  # ISO dates compare as text
        held = [k in COHORT_PLANS and s <= day and (u == "" or u >= cutoff)
                for k, s, u in zip(kind.tolist(), since.tolist(), until.tolist())]
        self.children = set(np.asarray(plans["child_id"], dtype=object)[np.asarray(held, dtype=bool)].tolist())
        homes = self.take("residences")
        self.addresses = {a for c, a in zip(np.asarray(homes["child_id"], dtype=object).tolist(),
                                            np.asarray(homes["address_id"], dtype=object).tolist())
                          if c in self.children}

    def take(self, name: str) -> Columns:
        """A feed's table, built once (the plans and residences are needed before their turn)."""
        if name not in self.ready:
            self.ready[name] = self.part.tables.pop(name)()
        return self.ready[name]

    def keep(self, name: str, columns: Columns) -> tuple[Columns, int]:
        """The rows of a table in scope, and how many were left out (feeds naming no child are kept whole)."""
        self.ready.pop(name, None)
        key, allowed = ("address_id", self.addresses) if name == "addresses" else ("child_id", self.children)
        if key not in columns:
            return columns, 0
        mask = np.array([v in allowed for v in np.asarray(columns[key], dtype=object).tolist()], dtype=bool)
        return {k: np.asarray(v, dtype=object)[mask] for k, v in columns.items()}, int(len(mask) - mask.sum())


def read_manifest(out_dir: Path) -> dict[str, object]:
    """The manifest of a finished write_bulk in out_dir ({} if there is none)."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _quoted(feed: str, columns: Columns) -> Columns:
    """CSV-quote the feed's free-text columns (the only ones that can hold a comma or a quote)."""
    return {k: quote(v) if k in TEXT.get(feed, ()) else v for k, v in columns.items()}


def _append(files: CsvFiles, file: str, cells: list[np.ndarray]) -> int:
    width = len(_GROUP[file].header)
    if len(cells) != width:
        raise RuntimeError(f"{file}: {len(cells)} columns for a header of {width}")
    rows = len(cells[0])
    for _, data in csv_lines(cells, rows):
        files.write(file, data)
    return rows


def _last_decisions(columns: Columns) -> dict:
    """The decision that stands for each child, as the online loader applies them: the newest (an older one
    never overrides it). The generator sends one authority's decisions per child, so none is refused.

    Returns the children shielded in the end, their SHIELDED_BY rows (since the decision, its reason, the
    feed as its maker), and each decided child's `shield_decided_on`.
    """
    child = np.asarray(columns["child_id"], dtype=object)
    decided = np.asarray(columns["decided_on"], dtype=object)
    keys = child.astype(str)
    order = np.lexsort((decided.astype(str), keys))  # ISO dates sort as they fall
    newest = np.append(keys[order][1:] != keys[order][:-1], True) if len(order) else np.zeros(0, dtype=bool)
    last = np.sort(order[newest])
    final = last[np.asarray(columns["shielded"], dtype=object)[last] == "true"]
    reason = quote(np.asarray(columns["reason"], dtype=object)[final])
    return {
        "shielded": np.asarray(child[final], dtype=object),
        "decided_on": dict(zip(child[last].tolist(), decided[last].tolist())),
        "rows": [child[final], np.asarray(columns["la_code"], dtype=object)[final], decided[final], reason,
                 np.full(len(final), FEED_USER, dtype=object)],
    }


def _authorities(c: Columns, _: dict) -> Rows:
    return {"authorities.csv": [c["code"], c["name"], c["region"], c["team_phone"], c["team_email"]]}


def _agencies(c: Columns, _: dict) -> Rows:
    return {"agencies.csv": [c["agency_id"], c["name"], c["kind"], c["phone"], c["email"], c["la_code"]],
            "agency_in.csv": [c["agency_id"], c["la_code"]]}


def _practitioners(c: Columns, _: dict) -> Rows:
    return {"practitioners.csv": [c["practitioner_id"], c["name"], c["job_title"], c["phone"], c["email"]],
            "works_for.csv": [c["practitioner_id"], c["agency_id"]]}


def _children(c: Columns, shielding: dict) -> Rows:
    child = c["child_id"]
    # A set, not np.isin: on object arrays np.isin compares every child with every shielded one.
    final = set(shielding["shielded"].tolist())
    shielded = np.array(["true" if k in final else "false" for k in child.tolist()], dtype=object)
    decided = shielding["decided_on"]
    decided_on = np.array([decided.get(k, "") for k in child.tolist()], dtype=object)
    # Online, the text of former names is the names joined by spaces; with none, neither property is set.
    # Swapping the separator inside an already quoted cell leaves it quoted correctly.
    former = np.asarray(c["former_names"], dtype=object)
    text = np.char.replace(former.astype(str), ";", " ").astype(object) if len(former) else former
    return {
        "children.csv": [child, c["given_name"], c["family_name"], former, text, c["dob"], c["gender"],
                         c["nhs_number"], c["upn"], c["la_child_id"], c["status"], shielded, decided_on],
        "held_by.csv": [child, c["la_code"]],
    }


def _directory_records(c: Columns, received: str) -> Rows:
    """The directory's own record of each child, with what children.csv makes online (the same properties,
    blocking keys and fingerprint, from graph.identity.rows); `received`, `changed` and `since` are the
    England's day rather than the moment of loading."""
    text = {k: np.asarray(c[k], dtype=object) for k in ("child_id", "given_name", "family_name", "former_names",
                                                           "dob", "gender", "nhs_number", "upn", "la_child_id")}
    children = [{"line": i, "child_id": text["child_id"][i], "given_name": text["given_name"][i] or None,
                 "family_name": text["family_name"][i] or None,
                 "former_names": [n for n in text["former_names"][i].split(";") if n] or None,
                 "dob": date.fromisoformat(text["dob"][i]), "gender": text["gender"][i] or None,
                 "nhs_number": text["nhs_number"][i] or None, "upn": text["upn"][i] or None,
                 "la_child_id": text["la_child_id"][i] or None} for i in range(len(text["child_id"]))]
    records = identity_rows.directory_rows(children)
    n = len(records)

    def column(name: str) -> np.ndarray:
        return np.array(["" if r["props"].get(name) is None else r["props"][name] for r in records], dtype=object)

    def flag(name: str) -> np.ndarray:
        return np.array(["true" if r["props"][name] else "false" for r in records], dtype=object)

    key = np.array([r["key"] for r in records], dtype=object)
    child = np.array([r["local_id"] for r in records], dtype=object)
    by_child = {ch: i for i, ch in enumerate(text["child_id"].tolist())}
    rows = np.array([by_child[ch] for ch in child.tolist()], dtype=np.int64)
    instant = np.full(n, received, dtype=object)
    return {
        "source_records.csv": [
            key, np.full(n, identity_rows.DIRECTORY, dtype=object), child,
            quote(text["given_name"][rows]), quote(text["family_name"][rows]), quote(text["former_names"][rows]),
            text["dob"][rows], column("sex"), column("nhs_number"), column("upn"), column("council_person_id"),
            flag("nhs_number_valid"), flag("upn_valid"), column("fingerprint"),
            *(quote(column(k)) for k in BLOCKING_KEYS), np.full(n, "matched", dtype=object), instant, instant],
        "record_from.csv": [key, np.full(n, identity_rows.DIRECTORY, dtype=object)],
        "identifies.csv": [key, child, np.full(n, "directory", dtype=object), instant],
    }


def _addresses(c: Columns, _: dict) -> Rows:
    return {"addresses.csv": [c["address_id"], c["line1"], c["line2"], c["town"], c["postcode"], c["la_code"],
                              c["easting"], c["northing"]],
            "address_in.csv": [c["address_id"], c["la_code"]]}


def _carers(c: Columns, _: dict) -> Rows:
    """One node per carer, with the details of their last row (each row sets them online)."""
    carer = np.asarray(c["carer_id"], dtype=object)
    _, first_from_end = np.unique(carer.astype(str)[::-1], return_index=True)  # fixed-width: sorted in C
    last = np.sort(len(carer) - 1 - first_from_end)
    return {
        "carers.csv": [carer[last], *(np.asarray(c[k], dtype=object)[last] for k in ("name", "phone", "email"))],
        "cares_for.csv": [carer, c["child_id"], c["since"], c["until"], c["relationship"],
                          c["parental_responsibility"]],
    }


def _spells(file: str) -> Callable[[Columns, dict], Rows]:
    return lambda c, _: {file: [c["child_id"], c["agency_id"], c["since"], c["until"]]}


def _residences(c: Columns, _: dict) -> Rows:
    return {"lived_at.csv": [c["child_id"], c["address_id"], c["since"], c["until"]]}


def _involvements(c: Columns, _: dict) -> Rows:
    return {"involved_with.csv": [c["practitioner_id"], c["child_id"], c["service"], c["since"], c["until"],
                                  c["lead"], c["sensitive"], c["consent"]]}


def _plans(c: Columns, _: dict) -> Rows:
    return {"has_plan.csv": [c["child_id"], c["la_code"], c["kind"], c["since"], c["until"]]}


def _attendances(c: Columns, _: dict) -> Rows:
    return {"attended.csv": [c["child_id"], c["agency_id"], utc_texts(c["at"]), c["reason"]]}


_INSTANT = TypeAdapter(Instant)


def utc_texts(values: np.ndarray) -> np.ndarray:
    """Feed times as the importer's UTC text (``2025-10-26T00:30:00Z``): the instants the online loader stores.

    The generator already writes that form (to the second), so its cells pass as they are; any other spelling
    (another offset, none, a fraction of a second) is read by the online loader's own type (feeds.Instant).

    Raises:
        ValueError: a cell the online loader would reject as a time.
    """
    out = np.asarray(values, dtype=object)
    odd = [i for i, v in enumerate(out.tolist()) if not (len(v) == 20 and v[-1] == "Z" and v[10] == "T")]
    if odd:
        out = out.copy()
        for i in odd:
            try:
                instant = _INSTANT.validate_python(out[i])
            except ValidationError as exc:
                raise ValueError(f"attendances: at {out[i]!r}: {exc.errors()[0]['msg']}") from None
            out[i] = instant.isoformat().replace("+00:00", "Z")
    return out


_TRANSFORMS: dict[str, Callable[[Columns, dict], Rows]] = {
    "authorities": _authorities,
    "agencies": _agencies,
    "practitioners": _practitioners,
    "children": _children,
    "addresses": _addresses,
    "residences": _residences,
    "carers": _carers,
    "school_enrolments": _spells("enrolled_at.csv"),
    "gp_registrations": _spells("registered_with.csv"),
    "involvements": _involvements,
    "plans": _plans,
    "attendances": _attendances,
}
