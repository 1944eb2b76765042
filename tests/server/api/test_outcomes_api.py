"""The outcome in the API: a session's commits and outcome, and the outcomes analytics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from agent_trace.server.api import models
from tests.fixtures.outcomes import outcome_store
from tests.server.conftest import make_client

DAY = "2026-02-02"  # T0's day (UTC)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings, store = outcome_store(tmp_path_factory.mktemp("outcomes-api"))
    with make_client(settings, store, "api") as client:
        yield client
    store.close()


def test_session_detail_has_commits_and_outcome(api: TestClient) -> None:
    replay = api.get("/v1/sessions/s1").json()
    models.Replay.model_validate(replay)
    by_sha = {c["sha"]: c for c in replay["commits"]}
    agent = by_sha["a" * 40]
    assert (agent["prompt_id"], agent["agent_lines"], agent["lines_added"], agent["by_agent"]) == (
        "p1",
        5,
        6,
        True,
    )
    assert agent["pr"] is None
    person = by_sha["b" * 40]
    assert (person["agent_lines"], person["by_agent"]) == (0, False)
    assert replay["outcome"]["label"] == "committed"
    spun = api.get("/v1/sessions/s2").json()["outcome"]
    loop = next(s for s in spun["signals"] if s["name"] == "loop")
    assert spun["label"] == "spun" and len(loop["evidence"]) == 5
    listed = {s["session_id"]: s for s in api.get("/v1/sessions").json()["sessions"]}
    assert (listed["s1"]["outcome"], listed["s1"]["commits"]) == ("committed", 2)


def test_outcomes_analytics(api: TestClient) -> None:
    response = api.get("/v1/analytics/outcomes", params={"since": DAY, "until": DAY, "tz": "UTC"})
    assert response.status_code == 200, response.text
    data = response.json()
    models.OutcomeAnalytics.model_validate(data)
    totals = data["totals"]
    assert totals["sessions"] == 2 and totals["commits"] == 2 and totals["cost_usd"] == 8.0
    assert totals["cost_per_commit_usd"] == 4.0
    assert totals["cost_per_merged_pr_usd"] is None
    assert totals["cost_per_agent_line_usd"] == 8.0 / 5
    assert totals["labels"] == {"shipped": 0, "committed": 1, "no-commit": 0, "spun": 1}
    assert [(m["model"], m["sessions"]) for m in data["by_model"]] == [
        ("claude-opus-4-5", 1),
        ("claude-sonnet-4-5", 1),
    ]
    assert [w["week"] for w in data["by_week"]] == ["2026-02-02"]
    assert [(u["session_id"], u["label"], u["cost_usd"]) for u in data["unshipped"]] == [("s2", "spun", 5.0)]
    bad = api.get("/v1/analytics/outcomes", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "since"
