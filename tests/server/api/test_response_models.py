"""Every JSON answer of the API has its shape declared once (server/api/models.py, models_ops.py):
/openapi.json names it, and what the route serves validates against it (the models forbid extra
keys, so a field added to an answer without its model fails here)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from agent_trace.server.api import models
from agent_trace.server.api import models_ops as ops
from agent_trace.store.identity import identity_of
from tests.server.dataset import Dataset

# Answers that are not JSON documents (a download, an event stream, no body).
NOT_JSON = {
    ("get", "/v1/analytics/team.csv"),
    ("get", "/v1/analytics/cost/daily.csv"),
    ("get", "/v1/analytics/tools.csv"),
    ("get", "/v1/sessions/stream"),
    ("delete", "/v1/budgets/{budget_id}"),
}


def test_every_json_answer_declares_its_shape(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    undeclared = []
    for path, operations in paths.items():
        for method, operation in operations.items():
            if (method, path) in NOT_JSON or path == "/openapi.json":
                continue
            schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
            if not schema:
                undeclared.append(f"{method.upper()} {path}")
    assert undeclared == []
    csv = paths["/v1/analytics/team.csv"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in csv


def _valid(shape: Any, body: Any) -> None:
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        shape.model_validate(body)
    else:
        TypeAdapter(shape).validate_python(body)


def test_answers_validate_against_their_declared_shape(
    api: TestClient, dataset: Dataset, loaded: tuple[Any, Any, Dataset]
) -> None:
    store = loaded[1]
    ids = identity_of(store)
    if ids.account("ana") is None:
        ids.add_account("ana", "member", email="ana@example.com", token_hash="0" * 64)
        ids.add_team("web")
        ids.set_team_members("ana", ["web"])
        ids.append_audit("dev", "user_add", "ana", {"role": "member"})
    put = api.put("/v1/budgets", json={"scope": "all", "period": "day", "usd": 5, "mode": "warn"})
    assert put.status_code == 200, put.text
    session_id = dataset.showcase.session_id
    allowed = api.post("/v1/budgets/allow", json={"session_id": session_id})
    checks: list[tuple[Any, Any]] = [
        (ops.BudgetView, put.json()),
        (ops.SessionAllowed, allowed.json()),
    ]
    for path, shape in (
        ("/health", ops.Health),
        ("/v1/me", ops.Me),
        ("/v1/users", list[ops.Account]),
        ("/v1/teams", list[ops.TeamInfo]),
        ("/v1/audit", ops.Audit),
        ("/v1/analytics/team?by=team", ops.TeamAnalytics),
        ("/v1/analytics/team", ops.TeamAnalytics),
        ("/v1/analytics/rollups", ops.Rollups),
        (f"/v1/analytics/reported-calls?session_id={session_id}", ops.ReportedCalls),
        ("/v1/budgets", ops.Budgets),
        ("/v1/sessions", models.SessionList),
        (f"/v1/sessions/{session_id}", models.Replay),
        (f"/v1/timeline?session_id={session_id}", models.Timeline),
        ("/v1/search?q=test", models.SearchResults),
        ("/v1/analytics/cost/daily", models.CostDaily),
        ("/v1/analytics/tools", models.ToolAnalytics),
        ("/v1/analytics/outcomes", models.OutcomeAnalytics),
    ):
        response = api.get(path)
        assert response.status_code == 200, (path, response.text)
        checks.append((shape, response.json()))
    for shape, body in checks:
        _valid(shape, body)
    # Not vacuous: the lists the shapes describe hold rows here.
    bodies = {getattr(shape, "__name__", str(shape)): body for shape, body in checks}
    assert bodies["Budgets"]["budgets"] and bodies["Rollups"]["usage"] and bodies["Audit"]["entries"]
    assert any(row["name"] == "ana" for row in api.get("/v1/users").json())
