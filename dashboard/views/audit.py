"""The auditor's pages: who looked at what, when and why; and whether the hash chain is intact."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from time import monotonic, sleep
from typing import Any

import streamlit as st

from dashboard import labels, roles, session
from dashboard.views.common import not_available

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
PAGE_SIZE = 100


def audit_page() -> None:
    """Search the trail by child, user and dates (from the start of the first day to the end of the last)."""
    session.require_role(roles.AUDITORS)
    st.title("Audit search")
    asked = session.inputs("audit")
    with st.form("audit-search"):
        one, two = st.columns(2)
        child = one.text_input("Child directory ID", value=asked.get("child_id", ""), max_chars=64)
        user = two.text_input("User id", value=asked.get("user_id", ""), max_chars=64)
        three, four = st.columns(2)
        since = three.date_input("From", value=date.fromisoformat(asked["since"]) if asked.get("since") else None,
                                 format="DD/MM/YYYY")
        until = four.date_input("To", value=date.fromisoformat(asked["until"]) if asked.get("until") else None,
                                format="DD/MM/YYYY")
        searched = st.form_submit_button("Search the trail", type="primary")
    if searched:
        for value, what in ((child, "child directory ID"), (user, "user id")):
            if value.strip() and not KEY.fullmatch(value.strip()):
                st.warning(f"That {what} has characters an ID never has.")
                return
        if since and until and until < since:
            st.warning("The 'To' date is before the 'From' date.")
            return
        asked.clear()
        asked.update(child_id=child.strip(), user_id=user.strip(), since=since.isoformat() if since else "",
                     until=until.isoformat() if until else "", skip=0)
    if not asked:
        not_available("Search by child, user or dates — or leave them empty for the latest events.")
        return
    params = {"child_id": asked["child_id"], "user_id": asked["user_id"], "limit": PAGE_SIZE, "skip": asked["skip"],
              "since": _instant(asked["since"]), "until": _instant(asked["until"], next_day=True)}
    found = session.fetch(("audit", tuple(params.items())), lambda api: api.get("/audit", params=params),
                          spinner="Searching the audit trail…")
    if found is None:
        return
    events = found["events"]
    if not events:
        not_available("No audit event matches.")
        return
    st.caption(f"{len(events)} events, newest first" + (" (more: narrow the search or page on)"
                                                         if len(events) == PAGE_SIZE else ""))
    st.dataframe([{"seq": e["seq"], "when": labels.day(e["at"]), "user": e["user_id"], "role": e["role"],
                   "authority": e["la_code"], "action": e["action"], "children": ", ".join(e["children"]),
                   "purpose": e["purpose"], "outcome": e["outcome"], "flagged": "⚑" if e["flagged"] else ""}
                  for e in events], hide_index=True, key="audit-events")
    if len(events) == PAGE_SIZE and st.button("Older events"):
        asked["skip"] += PAGE_SIZE
        st.rerun()


def _instant(day: str, *, next_day: bool = False) -> str:
    """Midnight on the UK clock at the start of a day (or of the day after), as the API's date-time."""
    if not day:
        return ""
    start = date.fromisoformat(day) + timedelta(days=1 if next_day else 0)
    return datetime.combine(start, time(0), tzinfo=labels.UK).isoformat()


# How long the page waits for a run it started before showing its progress instead (a small trail takes
# well under a second; a national one hours, which the page then shows as a run in progress).
WAIT_SECONDS = 15.0


def _run_and_wait(api: Any, *, full: bool) -> Any:
    """Start a run in the background, then read the stored result until that run has finished or the wait ends."""
    started = api.post(f"/audit/verify?full={'true' if full else 'false'}")
    deadline = monotonic() + WAIT_SECONDS
    result = started
    while monotonic() < deadline:
        sleep(0.3)
        result = api.get("/audit/verify")
        if result["state"] != "running" and result.get("finished_at") != started.get("finished_at"):
            break
    return result


def verify_page() -> None:
    """Verify the hash chain in the background and say whether any event was edited, removed or reordered."""
    session.require_role(roles.AUDITORS)
    st.title("Chain verification")
    st.caption("Every audit event carries the hash of the one before it. A full run recomputes the whole chain; "
               "checking new events starts from the last verified point (an edit before it is found only by a "
               "full run). Runs go on in the background.")
    one, two, three = st.columns(3)
    asked = None
    if one.button("Verify the chain now", type="primary", icon=":material/verified:"):
        asked = lambda api: _run_and_wait(api, full=True)  # noqa: E731
    elif two.button("Check new events", icon=":material/update:"):
        asked = lambda api: _run_and_wait(api, full=False)  # noqa: E731
    elif three.button("Refresh", icon=":material/refresh:"):
        asked = lambda api: api.get("/audit/verify")  # noqa: E731
    if asked is not None:
        result = session.call(asked, spinner="Verifying the hash chain…")
        if result is not None:
            session.remember(("verify",), result)
    result = session.recall(("verify",))
    if result is None:
        not_available("Not verified in this session yet.")
        return
    with st.container(key="verify-result"):
        _show(result)


def _show(result: dict[str, Any]) -> None:
    """The last finished run, the one in progress, the last verified point and the redactions."""
    if result["running"]:
        run = result["running"]
        total = run["total"] or 0
        st.info(f"A {run['mode']} run is in progress: seq {run['done']:,} of {total:,}. Refresh to follow it.",
                icon=":material/pending:")
        if total:
            st.progress(min(run["done"] / total, 1.0))
    if result["ok"] is None:
        not_available("No run has finished yet.")
        return
    scope = "the whole chain" if result["mode"] == "full" else f"the events after seq {result['from_seq']:,}"
    if result["ok"]:
        st.success(f"**Chain intact.** {result['events']:,} events verified up to seq {result['head_seq']:,} "
                   f"({scope}) in {result['seconds']:.1f} s.", icon=":material/check_circle:")
    else:
        st.error(f"**The trail has been tampered with** ({result['kind']}, at seq {result['seq']}): "
                 f"{result['problem']}", icon=":material/gpp_bad:")
    redacted = ", ".join(f"{n:,} {reason}" for reason, n in result["redacted"].items()) or "none"
    mark = result["checkpoint"]
    st.caption(f"Head hash {result['head_hash'][:16]}… · finished {labels.day(result['finished_at'])} · "
               f"redacted events: {redacted}"
               + (f" · last verified point seq {mark['seq']:,}" if mark else ""))
