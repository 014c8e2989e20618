"""Helpers to run the dashboard in AppTest: a page alone with a signed-in session, or the whole app."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from graph.config import PROJECT_ROOT

TIMEOUT = 60
APP = str(PROJECT_ROOT / "dashboard" / "app.py")


def _page_script(key: str) -> None:
    from dashboard import nav

    nav.run_page(key)


def page(key: str, auth: dict[str, Any] | None, **state: Any) -> AppTest:
    """One page run on its own, as the user `auth` describes (None: nobody signed in)."""
    at = AppTest.from_function(_page_script, args=(key,), default_timeout=TIMEOUT)
    if auth is not None:
        at.session_state["auth"] = auth
    for name, value in state.items():
        at.session_state[name] = value
    return at.run()


def app(**state: Any) -> AppTest:
    """The whole app (navigation built from the role) with some session state."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for name, value in state.items():
        at.session_state[name] = value
    return at.run()


def texts(at: AppTest) -> str:
    """Every text the run put on the page (markdown, alerts, headings, tables, labels), joined."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "metric", "text"):
        for element in getattr(at, kind):
            out.append(str(getattr(element, "value", "")))
            out.append(str(getattr(element, "label", "")))
    for element in list(at.table) + list(at.dataframe):
        out.append(element.value.to_string())
    return "\n".join(out)


def by_label(elements: Any, label: str) -> Any:
    """The widget with this label."""
    for element in elements:
        if element.label == label:
            return element
    raise AssertionError(f"no widget labelled {label!r} among {[e.label for e in elements]}")
