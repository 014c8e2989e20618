"""The matcher's entry points: resolve a batch against the directory, relink everything, and diff.

Input records are pandas DataFrames with the columns of ``matching.records.COLUMNS`` (a pyarrow Table
is accepted too); existing records also carry ``child_id``. Everything returned is a DataFrame so the
graph wiring can write it in batches. Every instant is UTC, ISO 8601 with a Z.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
from splink import DuckDBAPI, Linker

from matching import decide
from matching.model import Model, as_table, connect, linker, tf_columns, tf_tables
from matching.records import Prepared, RecordError, prepare

# What a reviewer is shown for each comparison: the prepared columns compared.
EVIDENCE_COLUMNS = {
    "given_name": ("given",), "family_name": ("family",), "dob": ("dob_str",), "postcode": ("postcode_full",),
    "sex_norm": ("sex_norm",), "identifiers": ("nhs_valid", "upn_valid"),
}
NEW_CHILD = "new_child"
UNCHANGED = "unchanged"  # a changed record that was its child's only record keeps that child
NEW_PREFIX = "new:"


@dataclass
class Resolution:
    """What matching decided for a batch.

    links: one row per record decided (record_key, child_id, new_child, weight, probability, method
        'exact_nhs'|'exact_upn'|'model'|'new_child'|'unchanged', matched_record_key, model_version,
        decided_at).
        ``child_id`` is an existing child's id, or for a new child its group key "new:<record_key>".
    review: pairs for a person (record_key, child_id, candidate_key, candidate_child_id, weight,
        probability, reason, prior_weight, evidence: a list of {comparison, value_l, value_r, level,
        weight} whose weights with the prior add up to the pair's weight: a waterfall).
    new_children: group_key, record_key for each record of each new child.
    refusals: pairs the rules or the model would have joined but a guard refused
        (record_key, other_key, weight, method, reason).
    rejected: records refused before matching (record_key, reason).
    """

    links: pd.DataFrame
    review: pd.DataFrame
    new_children: pd.DataFrame
    refusals: pd.DataFrame
    rejected: pd.DataFrame
    model_version: str
    decided_at: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pairs(con: duckdb.DuckDBPyConnection, predictions) -> pd.DataFrame:
    sql = f"SELECT record_key_l AS key_l, record_key_r AS key_r, match_weight AS weight FROM {predictions.physical_name}"
    return con.execute(sql).df()


def _evidence(con: duckdb.DuckDBPyConnection, model: Model, tables: list, review: pd.DataFrame) -> list[list[dict]]:
    """Field-by-field evidence for each review pair, read back from the scored predictions."""
    if review.empty:
        return []
    wanted = pd.DataFrame({"a": pd.concat([review["record_key"], review["candidate_key"]]),
                           "b": pd.concat([review["candidate_key"], review["record_key"]])})
    con.register("review_wanted", wanted)
    union = " UNION ALL ".join(f"SELECT * FROM {t.physical_name}" for t in tables)
    # Both orders are in review_wanted, so one equi-join finds each pair (an OR join would scan them all).
    rows = con.execute(f"SELECT p.* FROM ({union}) p JOIN review_wanted w ON p.record_key_l = w.a "
                       "AND p.record_key_r = w.b").df()
    con.unregister("review_wanted")
    by_pair = {}
    for row in rows.to_dict("records"):
        by_pair[(row["record_key_l"], row["record_key_r"])] = row
        by_pair[(row["record_key_r"], row["record_key_l"])] = {**row, "_swap": True}
    out = []
    for a, b in zip(review["record_key"], review["candidate_key"]):
        row = by_pair.get((a, b))
        out.append(_waterfall(model, row) if row is not None else [])
    return out


def _waterfall(model: Model, row: dict) -> list[dict]:
    """Each comparison's level and match weight (log2 of its Bayes factor, term frequency included)."""
    swap = row.get("_swap", False)
    bars = []
    for comp in model.settings["comparisons"]:
        name = comp["output_column_name"]
        gamma = int(row[f"gamma_{name}"])
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        level = "null" if gamma == -1 else levels[len(levels) - 1 - gamma].get("label_for_charts", "")
        weight = float(row[f"mw_{name}"]) + _number(row.get(f"mw_tf_adj_{name}"))
        cols = EVIDENCE_COLUMNS.get(name, ())
        left = [row.get(f"{c}_{'r' if swap else 'l'}") for c in cols]
        right = [row.get(f"{c}_{'l' if swap else 'r'}") for c in cols]
        bars.append({"comparison": name, "value_l": _show(left), "value_r": _show(right), "level": level,
                     "weight": weight})
    return bars


def _number(value) -> float:
    return 0.0 if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _show(values: list) -> str:
    return " / ".join("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values)


def _register(db: DuckDBAPI, con: duckdb.DuckDBPyConnection, name: str, prepared: pd.DataFrame):
    con.register(f"{name}_arrow", as_table(prepared))
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")
    return db.register(name, table_name=f"{name}_input")


def _decide(r: decide.Records, model: Model, thresholds: decide.Thresholds, scored: pd.DataFrame,
            exact: pd.DataFrame, decide_for: np.ndarray, decided_at: str,
            cannot_link: pd.DataFrame | None = None) -> tuple[pd.DataFrame, ...]:
    """Cluster, then shape links, new children, refusals and review pairs for the records in ``decide_for``."""
    pairs = [] if cannot_link is None else list(zip(cannot_link.iloc[:, 0], cannot_link.iloc[:, 1]))
    outcome = decide.cluster(r, scored, exact, thresholds, cannot_link=pairs)
    root = outcome.root
    child_of_root: dict[int, str] = {}
    for i in np.flatnonzero(r.child != ""):
        child_of_root.setdefault(int(root[i]), r.child[i])
    group_of_root: dict[int, str] = {}
    for i in decide_for:
        rt = int(root[i])
        if rt not in child_of_root and rt not in group_of_root:
            group_of_root[rt] = NEW_PREFIX + r.keys[i]
    rows = []
    for i in decide_for:
        rt = int(root[i])
        child = child_of_root.get(rt) or group_of_root[rt]
        w, method, other = outcome.joined_by.get(int(i), (float("nan"), NEW_CHILD, -1))
        rows.append((r.keys[i], child, rt not in child_of_root, w, decide.Thresholds.probability(w),
                     method, r.keys[other] if other >= 0 else None))
    links = pd.DataFrame(rows, columns=["record_key", "child_id", "new_child", "weight", "probability", "method",
                                        "matched_record_key"])
    links["model_version"], links["decided_at"] = model.version, decided_at
    new = links[links["new_child"]]
    new_children = pd.DataFrame({"group_key": new["child_id"], "record_key": new["record_key"]})
    refusals = pd.DataFrame([(r.keys[i], r.keys[j], w, m, why) for i, j, w, m, why in outcome.refusals],
                            columns=["record_key", "other_key", "weight", "method", "reason"])

    def label(i: int) -> str:
        rt = int(root[i])
        return child_of_root.get(rt) or group_of_root.get(rt) or NEW_PREFIX + r.keys[i]

    review = pd.DataFrame([(r.keys[i], label(i), r.keys[j], label(j), w, decide.Thresholds.probability(w), why)
                           for i, j, w, why in outcome.review],
                          columns=["record_key", "child_id", "candidate_key", "candidate_child_id", "weight",
                                   "probability", "reason"])
    review["prior_weight"] = model.prior_match_weight
    return links, new_children.reset_index(drop=True), refusals, review


def resolve(model: Model, *, existing: pd.DataFrame | Prepared, new: pd.DataFrame,
            thresholds: decide.Thresholds = decide.Thresholds(), con: duckdb.DuckDBPyConnection | None = None,
            population_tf: bool = False, cannot_link: pd.DataFrame | None = None) -> Resolution:
    """Match a day's new or changed records against every record already in the directory and against
    each other, without relinking the existing ones.

    ``existing`` is the directory's records with their child_id, raw or already prepared (the
    ``Prepared`` that ``records.prepare`` returned for them: the directory can keep its records
    normalised, so a daily batch does not prepare millions again). A record in ``new`` whose record_key
    is already in ``existing`` is a changed record: its old version is set aside and the new one
    matched afresh. Existing records keep their child_id; two existing children are never merged here
    (a strong pair between them goes to review). Only the new records get a link row. A changed record
    that was its child's only record, and matches nothing else, keeps its child (method 'unchanged').

    ``existing`` need not be the whole directory: the graph passes only the children a batch could join
    (those sharing a blocking key with it). Then ``population_tf`` weighs names by how common they are in
    the population the model was trained on (``model.meta``), not in the records given, which share the
    batch's names. ``cannot_link`` (record_key_l, record_key_r) lists pairs a person decided are two
    children: no child is ever made to hold both, and neither pair is proposed for review again.

    Raises:
        RecordError: a batch is unreadable, or an existing record has no child_id.
    """
    decided_at = _now()
    fresh = prepare(new)
    old = existing if isinstance(existing, Prepared) else prepare(existing)
    if (old.records["child_id"] == "").any():
        key = old.records.loc[old.records["child_id"] == "", "record_key"].iloc[0]
        raise RecordError(f"existing record {key!r} has no child_id")
    changed = old.records["record_key"].isin(fresh.records["record_key"])
    kept = old.records[~changed]
    # A changed record that was its child's only record has nothing left to match: it keeps its child.
    only = old.records[changed & ~old.records["child_id"].isin(kept["child_id"])]
    keeps_child = dict(zip(only["record_key"], only["child_id"]))
    batch = fresh.records.assign(child_id="")
    if batch.empty:
        return _empty(model, decided_at, fresh)
    con = con or connect()
    db = DuckDBAPI(con)
    new_sdf = _register(db, con, "new_records", batch)
    tables = []
    if len(kept):
        old_sdf = _register(db, con, "existing_records", kept)
        con.execute("CREATE VIEW all_records AS SELECT * FROM existing_records UNION ALL SELECT * FROM new_records")
        link = Linker(db.register("all_records", table_name="all_input"), _spec(model), log_level=None)
    else:
        link = Linker(db.register("new_records", table_name="all_input"), _spec(model), log_level=None)
    tf = model_tf_tables(model, pd.concat([kept, batch], ignore_index=True)) if population_tf else None
    for col in tf_columns(model.settings):
        if tf is not None and col in tf:
            con.register(f"tf_lookup_{col}", tf[col])
            con.execute(f"CREATE TABLE tf_input_{col} AS SELECT * FROM tf_lookup_{col}")
            con.unregister(f"tf_lookup_{col}")
            link.table_management.register_term_frequency_lookup(
                db.register(f"tf_input_{col}", table_name=f"tf_registered_{col}"), col)
        else:
            link.table_management.compute_tf_table(col)
    tables.append(link.inference.predict_within(new_sdf, threshold_match_weight=thresholds.review,
                                                warning_mode="never"))
    if len(kept):
        tables.append(link.inference.predict_between(new_sdf, old_sdf, threshold_match_weight=thresholds.review,
                                                     warning_mode="never"))
    scored = pd.concat([_pairs(con, t) for t in tables], ignore_index=True)
    # Only the children the batch touches matter: those with a record scored against it or sharing an
    # NHS number or UPN with it, with all their records (the guards look at whole children).
    shares_id = kept["nhs_valid"].isin(batch["nhs_valid"].dropna()) | kept["upn_valid"].isin(batch["upn_valid"].dropna())
    touched = set(kept.loc[shares_id | kept["record_key"].isin(scored["key_l"]) | kept["record_key"].isin(scored["key_r"]),
                           "child_id"])
    involved = kept[kept["child_id"].isin(touched)]
    everyone = pd.concat([involved, batch], ignore_index=True)
    exact = decide.exact_pairs(everyone)
    keys_new = set(batch["record_key"])
    # Exact pairs among existing records were decided before; only those touching the batch matter.
    exact = exact[exact["key_l"].isin(keys_new) | exact["key_r"].isin(keys_new)]
    r = decide.Records.of(everyone)
    decide_for = np.arange(len(involved), len(everyone))
    links, new_children, refusals, review = _decide(r, model, thresholds, scored, exact, decide_for, decided_at,
                                                    cannot_link)
    if keeps_child:
        size = links.groupby("child_id")["record_key"].transform("size")
        alone = links["new_child"] & (size == 1) & links["record_key"].isin(keeps_child)
        links.loc[alone, "child_id"] = links.loc[alone, "record_key"].map(keeps_child)
        links.loc[alone, ["new_child", "method"]] = [False, UNCHANGED]
        new_children = new_children[~new_children["record_key"].isin(links.loc[alone, "record_key"])]
    review["evidence"] = _evidence(con, model, tables, review)
    return Resolution(links=links, review=review, new_children=new_children.reset_index(drop=True),
                      refusals=refusals, rejected=fresh.rejected, model_version=model.version, decided_at=decided_at)


def relink(model: Model, *, records: pd.DataFrame, thresholds: decide.Thresholds = decide.Thresholds(),
           con: duckdb.DuckDBPyConnection | None = None, cannot_link: pd.DataFrame | None = None) -> Resolution:
    """Match every record afresh (after a model change, or for a first load): one row per record in
    ``links``, with new group keys for every child. ``diff`` says what that would change."""
    decided_at = _now()
    prepared = prepare(records)
    everyone = prepared.records.assign(child_id="")
    if everyone.empty:
        return _empty(model, decided_at, prepared)
    con = con or connect()
    link = linker(everyone, model, DuckDBAPI(con), name="relink_records")
    predictions = link.inference.predict(threshold_match_weight=thresholds.review, warning_mode="never")
    scored = _pairs(con, predictions)
    r = decide.Records.of(everyone)
    links, new_children, refusals, review = _decide(r, model, thresholds, scored, decide.exact_pairs(everyone),
                                                    np.arange(len(everyone)), decided_at, cannot_link)
    review["evidence"] = _evidence(con, model, [predictions], review)
    current = prepared.records.set_index("record_key")["child_id"]
    links["current_child_id"] = current.reindex(links["record_key"]).to_numpy()
    return Resolution(links=links, review=review, new_children=new_children, refusals=refusals,
                      rejected=prepared.rejected, model_version=model.version, decided_at=decided_at)


@dataclass
class Diff:
    """What a relink would change: merges (several current children become one) and splits (one current
    child's records go to several children), each as a DataFrame of record_key, current_child_id, group."""

    merges: pd.DataFrame
    splits: pd.DataFrame
    unchanged_children: int


def diff(relinked: Resolution) -> Diff:
    """Compare a relink's children with the current child_id of each record (blank: not linked yet)."""
    links = relinked.links[["record_key", "child_id", "current_child_id"]].rename(columns={"child_id": "group"})
    known = links[links["current_child_id"].fillna("") != ""]
    currents_per_group = known.groupby("group")["current_child_id"].nunique()
    groups_per_current = known.groupby("current_child_id")["group"].nunique()
    merging = currents_per_group[currents_per_group > 1].index
    splitting = groups_per_current[groups_per_current > 1].index
    merges = known[known["group"].isin(merging)].sort_values(["group", "current_child_id", "record_key"])
    splits = known[known["current_child_id"].isin(splitting)].sort_values(["current_child_id", "group", "record_key"])
    touched = set(merges["current_child_id"]) | set(splits["current_child_id"])
    unchanged = int(known["current_child_id"].nunique() - len(touched))
    return Diff(merges=merges.reset_index(drop=True), splits=splits.reset_index(drop=True),
                unchanged_children=unchanged)


def _spec(model: Model) -> dict:
    import json

    return json.loads(json.dumps(model.settings))


def model_tf_tables(model: Model, prepared: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    """The population's term frequencies (kept with the model) for the values in these prepared records."""
    return tf_tables(model, {col: prepared[col] for col in tf_columns(model.settings) if col in prepared})


def _empty(model: Model, decided_at: str, prepared: Prepared) -> Resolution:
    return Resolution(
        links=pd.DataFrame(columns=["record_key", "child_id", "new_child", "weight", "probability", "method",
                                    "matched_record_key", "model_version", "decided_at"]),
        review=pd.DataFrame(columns=["record_key", "child_id", "candidate_key", "candidate_child_id", "weight",
                                     "probability", "reason", "prior_weight", "evidence"]),
        new_children=pd.DataFrame(columns=["group_key", "record_key"]),
        refusals=pd.DataFrame(columns=["record_key", "other_key", "weight", "method", "reason"]),
        rejected=prepared.rejected, model_version=model.version, decided_at=decided_at)
