"""Session ids stored with a `/` (accepted before ids were limited to URL-safe characters) are
reachable through the API and the dashboard, percent-encoded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_trace.config import load_settings
from agent_trace.domain.records import Prompt, RecordBatch, Session
from agent_trace.store.factory import open_store
from tests.server.conftest import make_client

SID = "team/alpha/s1"
ENCODED = "team%2Falpha%2Fs1"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    tmp: Path = tmp_path_factory.mktemp("slash")
    settings = load_settings({"AGENT_TRACE_HOME": str(tmp / "home"), "HOME": str(tmp), "USER": "dev"})
    store = open_store(settings.database_url, settings.events_url)
    # Written through the store, as the collector did before issue 9 checked ids at the edge.
    store.write(
        RecordBatch(
            sessions=[Session(SID, project="/p", started_ms=1_770_000_000_000)],
            prompts=[Prompt("p1", SID, ts_ms=1_770_000_000_000, text="hello slash")],
        )
    )
    store.write(RecordBatch(sessions=[Session("plain", started_ms=1_770_000_000_000)]))
    yield settings, store
    store.close()


def test_api_answers_a_percent_encoded_id_with_a_slash(stored: tuple[Any, Any]) -> None:
    with make_client(*stored, "api") as api:
        replay = api.get(f"/v1/sessions/{ENCODED}")
        assert replay.status_code == 200, replay.text
        assert replay.json()["session"]["session_id"] == SID
        assert api.get(f"/v1/timeline?session_id={ENCODED}").status_code == 200
        assert api.get("/v1/sessions/plain").json()["session"]["session_id"] == "plain"
        assert "sessions" in api.get("/v1/sessions").json()
        assert api.get("/v1/sessions/team%2Fnone").status_code == 404


def test_dashboard_pages_of_a_session_with_a_slash(stored: tuple[Any, Any]) -> None:
    with make_client(*stored, "dashboard") as dash:
        listed = dash.get("/sessions")
        assert listed.status_code == 200 and f"/sessions/{ENCODED}" in listed.text
        page = dash.get(f"/sessions/{ENCODED}")
        assert page.status_code == 200 and "hello slash" in page.text
        timeline = dash.get(f"/sessions/{ENCODED}/timeline")
        assert timeline.status_code == 200 and SID in timeline.text
        assert dash.get("/sessions/plain").status_code == 200
