"""/v1/analytics/cost/daily and /v1/analytics/tools: days in a time zone, breakdowns, totals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agent_trace.server.api import models
from tests.server.conftest import error_of
from tests.server.dataset import Dataset

RANGE = {"since": "2026-02-08", "until": "2026-02-13"}


def test_cost_daily_days_are_contiguous_and_add_up(api: TestClient, dataset: Dataset) -> None:
    response = api.get("/v1/analytics/cost/daily", params={**RANGE, "tz": "UTC"})
    assert response.status_code == 200
    body = response.json()
    models.CostDaily.model_validate(body)
    assert [d["date"] for d in body["days"]] == [f"2026-02-{d:02d}" for d in range(8, 14)]
    sessions = api.get("/v1/sessions").json()["sessions"]
    assert body["totals"]["cost_nusd"] == sum(s["cost_nusd"] for s in sessions)
    assert body["totals"]["llm_calls"] == sum(s["llm_calls"] for s in sessions)
    assert sum(d["cost_nusd"] for d in body["days"]) == body["totals"]["cost_nusd"]
    assert body["totals"]["sessions"] == 4
    assert body["totals"]["tool_calls"] == sum(s["tool_calls"] for s in sessions)
    by_day = {d["date"]: d for d in body["days"]}
    assert by_day["2026-02-09"]["sessions"] == 1  # alpha_late, 23:30 UTC
    assert by_day["2026-02-08"]["cost_usd"] == 0.0 and by_day["2026-02-08"]["by_model"] == []
    assert {m["model"] for m in by_day["2026-02-10"]["by_model"]} == {"claude-haiku-4-5"}


def test_per_day_project_and_user_splits_on_request(api: TestClient, dataset: Dataset) -> None:
    plain = api.get("/v1/analytics/cost/daily", params=RANGE).json()
    assert all(d["by_project"] is None and d["by_user"] is None for d in plain["days"])
    full = api.get("/v1/analytics/cost/daily", params={**RANGE, "breakdown": "project,user"}).json()
    models.CostDaily.model_validate(full)
    for day in full["days"]:
        for group in ("by_model", "by_project", "by_user"):
            assert sum(g["cost_nusd"] for g in day[group]) == day["cost_nusd"]
    assert {p["project"] for d in full["days"] for p in d["by_project"]} == {
        p["project"] for p in full["by_project"]
    }
    bad = api.get("/v1/analytics/cost/daily", params={"breakdown": "planet"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "breakdown"


def test_cost_daily_breakdowns(api: TestClient, dataset: Dataset) -> None:
    body = api.get("/v1/analytics/cost/daily", params=RANGE).json()
    assert {u["user"] for u in body["by_user"]} == {"dev", "alice", "bob"}
    assert {p["project"] for p in body["by_project"]} == {
        "/home/dev/showcase",
        "/home/alice/alpha",
        "/srv/beta",
    }
    assert {m["model"] for m in body["by_model"]} == {
        "claude-opus-4-6",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    }
    assert [a["agent"] for a in body["by_agent"]] == ["claude-code"]
    for group in ("by_user", "by_project", "by_model", "by_agent"):
        assert sum(g["cost_nusd"] for g in body[group]) == body["totals"]["cost_nusd"]
        costs = [g["cost_nusd"] for g in body[group]]
        assert costs == sorted(costs, reverse=True)  # ranked by cost


def test_cost_daily_groups_days_in_the_requested_zone(api: TestClient, dataset: Dataset) -> None:
    utc = {
        d["date"]: d
        for d in api.get("/v1/analytics/cost/daily", params={**RANGE, "tz": "UTC"}).json()["days"]
    }
    berlin_body = api.get("/v1/analytics/cost/daily", params={**RANGE, "tz": "Europe/Berlin"}).json()
    berlin = {d["date"]: d for d in berlin_body["days"]}
    assert berlin_body["timezone"] == "Europe/Berlin"
    # alpha_late ran at 23:30 UTC on the 9th: 00:30 on the 10th in Berlin.
    assert utc["2026-02-09"]["sessions"] == 1 and berlin["2026-02-09"]["sessions"] == 0
    assert berlin["2026-02-10"]["sessions"] == utc["2026-02-10"]["sessions"] + 1
    assert (
        berlin["2026-02-10"]["cost_nusd"] == utc["2026-02-10"]["cost_nusd"] + utc["2026-02-09"]["cost_nusd"]
    )


def test_cost_daily_filters(api: TestClient, dataset: Dataset) -> None:
    alice = api.get("/v1/analytics/cost/daily", params={**RANGE, "user": "alice"}).json()
    assert {u["user"] for u in alice["by_user"]} == {"alice"}
    assert alice["totals"]["sessions"] == 2
    haiku = api.get("/v1/analytics/cost/daily", params={**RANGE, "model": "haiku"}).json()
    assert {m["model"] for m in haiku["by_model"]} == {"claude-haiku-4-5"}


def test_cost_daily_errors(api: TestClient) -> None:
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-02-31"}, "until"),
        ({"since": "2026-02-10", "until": "2026-02-01"}, "until"),
        ({"since": "2000-01-01", "until": "2026-01-01"}, "since"),
        ({"tz": "Not/AZone"}, "tz"),
    ):
        response = api.get("/v1/analytics/cost/daily", params=params)
        assert response.status_code == 400, params
        assert error_of(response)["field"] == field


def test_tools_analytics(api: TestClient, dataset: Dataset) -> None:
    response = api.get("/v1/analytics/tools", params=RANGE)
    assert response.status_code == 200
    body = response.json()
    models.ToolAnalytics.model_validate(body)
    tools = {t["tool_name"]: t for t in body["tools"]}
    # showcase: 3 main Bash + 1 in its subagent; alpha 1 + 2; beta 3.
    assert tools["Bash"]["calls"] == 4 + 3 + 3
    assert tools["Bash"]["errors"] == 1
    assert tools["mcp__github__create_issue"]["is_mcp"] is True
    assert body["totals"]["calls"] == sum(t["calls"] for t in body["tools"])
    assert [t["calls"] for t in body["tools"]] == sorted((t["calls"] for t in body["tools"]), reverse=True)
    assert sum(d["calls"] for d in body["days"]) == body["totals"]["calls"]
