"""/openapi.json documents every endpoint, its parameters, its response model and its errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

ENDPOINTS = {
    "/health": None,
    "/v1/sessions": "SessionList",
    "/v1/sessions/{session_id}": "Replay",
    "/v1/sessions/stream": None,
    "/v1/timeline": "Timeline",
    "/v1/analytics/cost/daily": "CostDaily",
    "/v1/analytics/tools": "ToolAnalytics",
}


def test_every_endpoint_is_documented(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert set(ENDPOINTS) <= set(paths)
    for path, model in ENDPOINTS.items():
        responses = paths[path]["get"]["responses"]
        if model:
            schema = responses["200"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/" + model), path
        if path.startswith("/v1"):
            assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorResponse"
            )
    assert "text/event-stream" in paths["/v1/sessions/stream"]["get"]["responses"]["200"]["content"]
    params = {p["name"] for p in paths["/v1/sessions"]["get"]["parameters"]}
    assert {
        "since",
        "until",
        "project",
        "user",
        "agent",
        "model",
        "q",
        "sort",
        "limit",
        "cursor",
        "tz",
    } <= params
    stream_params = {p["name"] for p in paths["/v1/sessions/stream"]["get"]["parameters"]}
    assert "Last-Event-ID" in stream_params
    schemas = spec["components"]["schemas"]
    assert {"SessionRow", "ToolCallView", "SubagentView", "PromptView", "ErrorBody"} <= set(schemas)
