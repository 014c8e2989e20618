"""The dashboard's pure logic: API errors in plain words, the menu per role, network filters, settings."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from dashboard import figures, nav
from dashboard.client import UNREACHABLE, ApiClient, ApiError, SignedOut
from dashboard.config import DashboardSettings
from dashboard.roles import Role
from dashboard.views.children import check_search
from graph.config import PROJECT_ROOT


def _client(status: int, body: object, content_type: str = "application/problem+json") -> ApiClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"content-type": content_type})
    return ApiClient("http://127.0.0.1:1", token="t", transport=httpx.MockTransport(reply))


def test_problem_details_become_one_plain_sentence() -> None:
    with pytest.raises(ApiError) as refused:
        _client(403, {"title": "Forbidden", "status": 403, "detail": "Your role does not allow this"}).get("/x")
    assert refused.value.plain == "Not available to you: Your role does not allow this"
    with pytest.raises(SignedOut):
        _client(401, {"title": "Unauthorized", "detail": "Invalid or expired token"}).get("/x")
    with pytest.raises(ApiError) as broken:
        _client(500, {"title": "Internal Server Error", "detail": "Traceback (most recent call last)"}).get("/x")
    assert "Traceback" not in broken.value.plain and broken.value.plain.startswith("Something went wrong")


def test_an_unreachable_api_is_said_plainly() -> None:
    with pytest.raises(ApiError) as down:
        ApiClient("http://127.0.0.1:9", timeout=2).get("/health")
    assert down.value.status == 503 and down.value.detail == UNREACHABLE


def test_the_purpose_and_token_travel_as_headers() -> None:
    seen: dict[str, str] = {}

    def reply(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        seen["query"] = request.url.query.decode()
        return httpx.Response(200, json={"ok": True})

    client = ApiClient("http://127.0.0.1:1", token="tok", transport=httpx.MockTransport(reply))
    client.get("/children/search", purpose="home visit", params={"given_name": "A", "dob": "", "gender": None})
    assert seen["authorization"] == "Bearer tok" and seen["x-purpose"] == "home visit"
    assert seen["query"] == "given_name=A"


MENUS = {
    Role.PRACTITIONER: ["search", "card"],
    Role.SAFEGUARDING_LEAD: ["search", "card", "network", "chronology", "moves", "accesses", "alerts"],
    Role.LA_ADMIN: ["search", "card", "network", "chronology", "moves", "accesses", "alerts", "shielding", "users",
                    "matching", "records", "subject_access", "corrections"],
    Role.AUDITOR: ["audit", "verify"],
    Role.REVIEWER: ["patterns", "cases", "measures"],
    Role.ED_CLINICIAN: ["flag"],
    Role.DATA_OFFICER: ["matching", "records"],
}


@pytest.mark.parametrize("role", list(Role))
def test_the_menu_is_built_from_the_role(role: Role) -> None:
    assert [spec.key for spec in nav.pages_for(role)] == MENUS[role]


def test_an_unknown_role_gets_no_page() -> None:
    assert nav.pages_for("superuser") == []


def test_flag_rules() -> None:
    from dashboard.views.flag import check_flag

    names = {"nhs_number": "", "given_name": "Zara", "family_name": "Nomad", "dob": "2014-02-11"}
    assert check_flag(names, "in the ED") is None
    assert check_flag({**names, "given_name": ""}, "in the ED") is not None
    assert "not both" in check_flag({**names, "nhs_number": "9434765919"}, "in the ED")
    nhs = {"nhs_number": "9434765919", "given_name": "", "family_name": "", "dob": ""}
    assert check_flag(nhs, "in the ED") is None
    assert "10 digits" in check_flag({**nhs, "nhs_number": "94347"}, "in the ED")
    assert check_flag(nhs, "") is not None


def test_search_rules() -> None:
    assert check_search({"given_name": "Amara"}, "visit") is not None
    assert "at least two" in check_search({"gender": "female", "dob": ""}, "visit")
    assert check_search({"given_name": "Amara", "family_name": "Bello"}, "") is not None
    assert check_search({"given_name": "Amara", "postcode": "not a postcode"}, "visit") is not None
    assert check_search({"given_name": "Amara", "family_name": "Bello"}, "visit") is None
    assert check_search({"dob": "2015-04-12", "gender": "female"}, "visit") is None


NODES = [{"id": "child:C", "kind": "child", "label": "C"}, {"id": "carer:K", "kind": "carer", "label": "K"},
         {"id": "practitioner:P1", "kind": "practitioner", "label": "P1"},
         {"id": "practitioner:P2", "kind": "practitioner", "label": "P2"},
         {"id": "agency:S", "kind": "agency", "label": "S", "agency_kind": "social_care"},
         {"id": "agency:Q", "kind": "agency", "label": "Q", "agency_kind": "police"},
         {"id": "agency:G", "kind": "agency", "label": "G", "agency_kind": "gp_practice"}]
EDGES = [{"source": "carer:K", "target": "child:C", "type": "cares_for"},
         {"source": "practitioner:P1", "target": "child:C", "type": "involved_with", "current": True, "lead": True},
         {"source": "practitioner:P1", "target": "agency:S", "type": "works_for"},
         {"source": "practitioner:P2", "target": "child:C", "type": "involved_with", "current": False},
         {"source": "practitioner:P2", "target": "agency:Q", "type": "works_for"},
         {"source": "child:C", "target": "agency:G", "type": "registered_with", "current": True}]


def _ids(nodes: list[dict[str, object]]) -> set[str]:
    return {str(n["id"]).split(":")[1] for n in nodes}


def test_network_filters() -> None:
    assert _ids(figures.filter_graph(NODES, EDGES)[0]) == {"C", "K", "P1", "P2", "S", "Q", "G"}
    assert _ids(figures.filter_graph(NODES, EDGES, involvement="current")[0]) == {"C", "K", "P1", "S", "G"}
    assert _ids(figures.filter_graph(NODES, EDGES, involvement="ended")[0]) == {"C", "K", "P2", "Q"}
    nodes, edges = figures.filter_graph(NODES, EDGES, kinds={"police", "gp_practice"})
    assert _ids(nodes) == {"C", "K", "P2", "Q", "G"}
    assert all(e["source"] != "practitioner:P1" for e in edges)


def test_network_figure_marks_the_lead_and_says_which_node_was_clicked() -> None:
    positions = figures.layout(NODES, EDGES, "child:C")
    assert positions["child:C"] == (0.0, 0.0)
    fig = figures.network_figure(NODES, EDGES, positions, root="child:C")
    social = next(t for t in fig.data if t.name == "Social care")
    assert list(social.customdata) == ["practitioner:P1", "agency:S"] and social.marker.symbol[0] == "star"
    assert social.text[0].startswith("★")
    event = {"selection": {"points": [{"curve_number": 3, "point_index": 0, "customdata": "practitioner:P1"}]}}
    assert figures.clicked(event) == "practitioner:P1" and figures.clicked({"selection": {"points": []}}) is None


def test_settings_refuse_plain_http_beyond_this_machine() -> None:
    assert DashboardSettings(api_url="http://127.0.0.1:8000/").api_url == "http://127.0.0.1:8000"
    assert DashboardSettings(api_url="https://api.example.org").api_url == "https://api.example.org"
    with pytest.raises(ValidationError):
        DashboardSettings(api_url="http://api.example.org")
    with pytest.raises(ValidationError):
        DashboardSettings(api_url="ftp://127.0.0.1")


def test_plain_http_reaches_a_host_only_when_it_is_listed_as_private(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="CP_DASHBOARD_PLAIN_HTTP_HOSTS"):
        DashboardSettings(api_url="http://api:8000")
    monkeypatch.setenv("CP_DASHBOARD_PLAIN_HTTP_HOSTS", "api, Reports")
    assert DashboardSettings(api_url="http://api:8000").api_url == "http://api:8000"
    assert DashboardSettings(api_url="http://reports:8000").plain_http_hosts == {"api", "reports"}
    with pytest.raises(ValidationError, match="not 'api.example.org'"):
        DashboardSettings(api_url="http://api.example.org:8000")
    with pytest.raises(ValidationError):
        DashboardSettings(api_url="http://apix:8000")


@pytest.mark.parametrize("listed", ["*", "http://api", "api:8000", "*.internal", "api/", "a b"])
def test_the_private_host_list_takes_only_exact_host_names(listed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CP_DASHBOARD_PLAIN_HTTP_HOSTS", listed)
    with pytest.raises(ValidationError, match="must list host names"):
        DashboardSettings()


def test_the_dashboard_imports_nothing_from_graph_or_api_and_does_nothing_at_import() -> None:
    for path in sorted((PROJECT_ROOT / "dashboard").rglob("*.py")):
        tree = ast.parse(Path(path).read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("graph", "api", "neo4j", "loaders") for n in names), path
        calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
        assert not calls, f"{path} calls something at import time"
