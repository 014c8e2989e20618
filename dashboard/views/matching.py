"""The data team's pages: the matching review queue (compare, accept, reject) and merge, split and unmerge."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import figures, labels, roles, session
from dashboard.views.common import CHILD_ID, not_available

PAGE_SIZE = 20
DEFAULT_PURPOSE = "Working my authority's matching review queue"
FIELDS = (("Source", lambda r: f"{r['source']['name']} ({r['source']['kind'].replace('_', ' ')})"),
          ("Local id", lambda r: r.get("local_id")), ("Given name", lambda r: r.get("given_name")),
          ("Family name", lambda r: r.get("family_name")), ("Other names", lambda r: "; ".join(r.get("other_names") or [])),
          ("Date of birth", lambda r: labels.day(r.get("dob"))), ("Sex", lambda r: r.get("sex")),
          ("Postcode", lambda r: "withheld" if r.get("postcode_withheld") else r.get("postcode")),
          ("NHS number", lambda r: _identifier(r.get("nhs_number"), r.get("nhs_number_valid"))),
          ("UPN", lambda r: _identifier(r.get("upn"), r.get("upn_valid"))),
          ("Council person id", lambda r: r.get("council_person_id")))


def _identifier(value: str | None, valid: bool | None) -> str:
    return "" if not value else value if valid is not False else f"{value} (fails its check: not used)"


def _reason(text: str, key: str) -> str | None:
    """The reason typed, or None with a warning when it is too short to record."""
    reason = text.strip()
    if len(reason) < 5:
        st.warning("Give the reason for this decision (at least a few words): it is recorded.", icon=":material/edit:")
        return None
    return reason


def review_page() -> None:
    """The authority's open pairs, strongest first; one opened field by field with its waterfall."""
    viewer = session.require_role(roles.MATCHERS)
    st.title("Matching review")
    st.caption(f"Pairs of records the matcher could not decide, in {viewer.get('authority') or viewer['la_code']}'s "
               "queue. A shielded child's pairs are worked by the holding authority's management team only.")
    session.show_flash()
    place = session.inputs("review")
    place.setdefault("skip", 0)
    place.setdefault("purpose", DEFAULT_PURPOSE)
    params = {"limit": PAGE_SIZE, "skip": place["skip"]}
    found = session.fetch(("review", tuple(params.items()), place["purpose"]),
                          lambda api: api.get("/identity/reviews", purpose=place["purpose"], params=params),
                          spinner="Reading the queue…")
    if found is None:
        return
    st.metric("Open pairs", found["total"])
    if not found["items"]:
        not_available("No open pairs in your authority's queue.")
        return
    choices = {item["id"]: item for item in found["items"]}
    chosen = st.selectbox("Open a pair", list(choices), format_func=lambda i: _title(choices[i]),
                          index=list(choices).index(place["id"]) if place.get("id") in choices else 0)
    place["id"] = chosen
    _entry(chosen, place["purpose"])


def _title(item: dict[str, Any]) -> str:
    one, two = item["child"], item["candidate_child"]
    return (f"{one['given_name']} {one['family_name']} ({item['record']['source']}) ~ "
            f"{two['given_name']} {two['family_name']} ({item['candidate']['source']}) · weight {item['weight']:.1f}")


def _entry(review_id: str, purpose: str) -> None:
    entry = session.fetch(("review-entry", review_id, purpose),
                          lambda api: api.get(f"/identity/reviews/{review_id}", purpose=purpose),
                          spinner="Opening the pair…")
    if entry is None:
        return
    records, kids = entry["records"], entry["children"]
    st.subheader("The two records, as their sources sent them")
    st.table([{"field": name, "record": _text(show(records[0])), "candidate": _text(show(records[1]))}
              for name, show in FIELDS])
    st.subheader("The two children, as their cards show them")
    st.table([{"": f"{c['given_name']} {c['family_name']}", "directory ID": c["id"],
               "known as": "; ".join(c.get("known_names") or []), "born": labels.day(c.get("dob")),
               "home": "withheld" if (c.get("address") or {}).get("withheld")
               else " ".join(filter(None, [(c.get("address") or {}).get("town"), (c.get("address") or {}).get("postcode")]))
               or "—", "known to": ", ".join(s["name"] for s in c.get("known_to") or [])} for c in kids])
    st.subheader(f"Match weight {entry['weight']:.1f} (probability {entry['probability']:.3f})")
    st.caption(f"Why it is here: {entry.get('reason') or 'between the thresholds'}. Each bar is one comparison's "
               "weight of evidence; green for the same child, red against.")
    st.plotly_chart(figures.waterfall_figure(entry["waterfall"]), key=f"fall-{review_id}", config={"displaylogo": False})
    with st.form(f"decide-{review_id}"):
        reason = st.text_area("Reason (recorded)", max_chars=500, key=f"w.review.reason.{review_id}")
        accept, reject = st.columns(2)
        accepted = accept.form_submit_button("Accept: one child (merge)", type="primary")
        rejected = reject.form_submit_button("Reject: two children")
    if not (accepted or rejected):
        return
    why = _reason(reason, review_id)
    if why is None:
        return
    action = "accept" if accepted else "reject"
    done = session.call(lambda api: api.post(f"/identity/reviews/{review_id}/{action}", purpose=purpose,
                                             json={"reason": why}), spinner="Saving…")
    if done is not None:
        session.forget("review", "review-entry", "card", "search")
        session.flash(done["message"])
        st.rerun()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def records_page() -> None:
    """Merge two children, split records off a child, or undo a merge: each with a recorded reason."""
    session.require_role(roles.MATCHERS)
    st.title("Merge and split")
    st.caption("For records your authority holds. A merge leaves the merged directory ID leading to the survivor; "
               "both can be undone. Twins and children with different NHS numbers are never merged.")
    session.show_flash()
    purpose = st.text_input("Purpose (recorded)", value=DEFAULT_PURPOSE, max_chars=200, key="w.records.purpose")
    merge, split, unmerge = st.tabs(["Merge", "Split", "Undo a merge"])
    with merge, st.form("merge"):
        left, right = st.columns(2)
        survivor = left.text_input("Directory ID that stays", max_chars=64)
        merged = right.text_input("Directory ID merged into it", max_chars=64)
        reason = st.text_area("Reason (recorded)", max_chars=500, key="w.merge.reason")
        if st.form_submit_button("Merge", type="primary"):
            _submit("/identity/merge", {"survivor": survivor.strip(), "merged": merged.strip()}, reason, purpose,
                    ids=(survivor, merged))
    with split, st.form("split"):
        child = st.text_input("Directory ID of the child", max_chars=64)
        keys = st.text_area("Records that are another child (source id|local id, one a line)", max_chars=4000)
        reason = st.text_area("Reason (recorded)", max_chars=500, key="w.split.reason")
        if st.form_submit_button("Split", type="primary"):
            record_keys = [k.strip() for k in keys.splitlines() if k.strip()]
            if not record_keys:
                st.warning("Name at least one record, as source id|local id.")
            else:
                _submit("/identity/split", {"child_id": child.strip(), "record_keys": record_keys}, reason, purpose,
                        ids=(child,))
    with unmerge, st.form("unmerge"):
        merged = st.text_input("Merged directory ID", max_chars=64)
        reason = st.text_area("Reason (recorded)", max_chars=500, key="w.unmerge.reason")
        if st.form_submit_button("Undo the merge", type="primary"):
            _submit("/identity/unmerge", {"merged": merged.strip()}, reason, purpose, ids=(merged,))


def _submit(path: str, body: dict[str, Any], reason: str, purpose: str, *, ids: tuple[str, ...]) -> None:
    if not all(CHILD_ID.fullmatch(i.strip()) for i in ids):
        st.warning("Enter directory IDs (letters and digits).")
        return
    why = _reason(reason, path)
    if why is None:
        return
    done = session.call(lambda api: api.post(path, purpose=purpose.strip() or DEFAULT_PURPOSE,
                                             json={**body, "reason": why}), spinner="Saving…")
    if done is not None:
        session.forget("review", "review-entry", "card", "search", "network", "moves")
        session.flash(done["message"])
        st.rerun()
