"""GET /v1/sessions: filters, search, sort, cursor pagination, summary metrics, clear 400s."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.server.api import models
from tests.server.conftest import error_of
from tests.server.dataset import Dataset


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    models.SessionList.model_validate(response.json())
    return [row["session_id"] for row in response.json()["sessions"]]


def test_latest_first_with_summary_metrics(api: TestClient, dataset: Dataset) -> None:
    response = api.get("/v1/sessions")
    order = ids(response)
    assert order == [dataset.beta, dataset.showcase.session_id, dataset.alpha_docs, dataset.alpha_late]
    rows = {r["session_id"]: r for r in response.json()["sessions"]}
    show = rows[dataset.showcase.session_id]
    assert (show["user"], show["project"], show["project_name"], show["git_branch"]) == (
        "dev",
        "/home/dev/showcase",
        "showcase",
        "main",
    )
    assert show["prompts"] == 2
    assert show["tool_calls"] == 18 and show["tool_errors"] == 1
    assert show["subagents"] == 1
    assert show["cost_usd"] > 0 and show["total_tokens"] > 0
    assert show["duration_ms"] > 0 and show["started_at"].startswith("2026-02-11T10:00")
    assert show["first_prompt"].startswith("Fix the login page")
    assert rows[dataset.beta]["tool_calls"] == 3 and rows[dataset.beta]["user"] == "bob"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"user": "alice"}, {"alpha_late", "alpha_docs"}),
        ({"project": "alpha"}, {"alpha_late", "alpha_docs"}),  # last path component
        ({"project": "/srv/beta"}, {"beta"}),  # full path
        ({"model": "HAIKU"}, {"alpha_docs"}),  # substring, any case
        ({"agent": "claude-code"}, {"alpha_late", "alpha_docs", "beta", "showcase"}),
        ({"q": "parser"}, {"alpha_late", "alpha_docs"}),  # prompt text
        ({"q": "deploy"}, {"beta"}),
        ({"since": "2026-02-10", "until": "2026-02-11"}, {"alpha_docs", "showcase"}),  # whole days, UTC
        (
            {"since": "2026-02-10", "until": "2026-02-11", "tz": "Europe/Berlin"},
            {"alpha_late", "alpha_docs", "showcase"},
        ),
        ({"since": "2026-02-12T00:00:00Z"}, {"beta"}),
        ({"until": "1770681600000"}, {"alpha_late"}),  # epoch ms (2026-02-10T00:00Z)
        ({"user": "alice", "model": "sonnet"}, {"alpha_late"}),
        ({"user": "nobody"}, set()),
    ],
)
def test_filters(api: TestClient, dataset: Dataset, query: dict[str, str], expected: set[str]) -> None:
    names = {
        dataset.showcase.session_id: "showcase",
        dataset.alpha_late: "alpha_late",
        dataset.alpha_docs: "alpha_docs",
        dataset.beta: "beta",
    }
    assert {names[i] for i in ids(api.get("/v1/sessions", params=query))} == expected


def test_session_id_filter_repeated_or_comma_separated(api: TestClient, dataset: Dataset) -> None:
    both = {dataset.beta, dataset.alpha_late}
    assert (
        set(ids(api.get(f"/v1/sessions?session_id={dataset.beta}&session_id={dataset.alpha_late}"))) == both
    )
    assert set(ids(api.get(f"/v1/sessions?session_id={dataset.beta},{dataset.alpha_late}"))) == both


def test_sort(api: TestClient, dataset: Dataset) -> None:
    by_tools = api.get("/v1/sessions", params={"sort": "-tool_calls"}).json()["sessions"]
    assert [r["tool_calls"] for r in by_tools] == sorted((r["tool_calls"] for r in by_tools), reverse=True)
    by_cost = api.get("/v1/sessions", params={"sort": "cost"}).json()["sessions"]
    assert [r["cost_nusd"] for r in by_cost] == sorted(r["cost_nusd"] for r in by_cost)
    assert ids(api.get("/v1/sessions", params={"sort": "started"}))[0] == dataset.alpha_late


def test_cursor_pagination_walks_every_session_once(api: TestClient, dataset: Dataset) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/sessions", params=params).json()
        seen.extend(r["session_id"] for r in body["sessions"])
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 4 and len(seen) == 4 and set(seen) == dataset.all_ids
    assert seen == ids(api.get("/v1/sessions"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "garbage"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-02-12", "until": "2026-02-10"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"sort": "bogus"}, "sort"),
        ({"sort": "--cost"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"q": "x" * 600}, "q"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api: TestClient, query: dict[str, str], field: str) -> None:
    response = api.get("/v1/sessions", params=query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_parameter"
    assert error["field"] == field
    assert error["message"].startswith(field)
    models.ErrorResponse.model_validate(response.json())


def test_unknown_route_uses_the_error_shape(api: TestClient) -> None:
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
