"""Outcomes in the dashboard: list columns, the replay's commits/outcome panel, the outcomes page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.outcomes import outcome_store
from tests.server.conftest import make_client


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings, store = outcome_store(tmp_path_factory.mktemp("outcomes-dashboard"))
    with make_client(settings, store, "dashboard") as client:
        yield client
    store.close()


def test_the_list_shows_outcome_and_commits(dashboard: TestClient) -> None:
    html = dashboard.get("/sessions").text
    assert "<th>outcome</th>" in html and '<th class="num">commits</th>' in html
    row = re.search(r'<tr class="row[^"]*" data-session-id="s1".*?</tr>', html, re.S)
    assert row is not None
    assert 'class="outcome o-committed"' in row.group(0)
    assert '<td class="num" data-label="commits">2</td>' in row.group(0)


def test_the_replay_links_each_commit_to_its_prompt_and_tool_call(dashboard: TestClient) -> None:
    html = dashboard.get("/sessions/s1").text
    agent_row = re.search(r'<tr id="commit-a{40}">.*?</tr>', html, re.S)
    assert agent_row is not None
    assert 'href="/sessions/s1/tools/t-commit">agent</a>' in agent_row.group(0)
    assert 'href="#p0">prompt #1</a>' in agent_row.group(0)
    assert '<td class="num">5</td>' in agent_row.group(0)  # agent lines
    person_row = re.search(r'<tr id="commit-b{40}">.*?</tr>', html, re.S)
    assert person_row is not None and "person" in person_row.group(0)
    assert 'href="#p1">prompt #2</a>' in person_row.group(0)


def test_the_loop_evidence_is_named_for_highlighting(dashboard: TestClient) -> None:
    html = dashboard.get("/sessions/s2").text
    found = re.search(r'data-loop-evidence="([^"]*)"', html)
    assert found is not None and found.group(1).split() == [f"t-run{i}" for i in range(5)]
    assert 'class="outcome o-spun"' in html
    assert html.count('href="/sessions/s2/tools/t-run') >= 5


def test_the_outcomes_page(dashboard: TestClient) -> None:
    response = dashboard.get("/outcomes", params={"since": "2026-02-01", "until": "2026-02-03"})
    assert response.status_code == 200
    html = response.text
    assert "costly sessions that shipped nothing" in html
    assert re.search(r'<a href="/sessions/s2">s2</a>.*?\$5\.00', html, re.S)
    assert "cost per merged PR" in html
    assert "sessions per outcome, by week" in html and "<svg" in html
    bad = dashboard.get("/outcomes", params={"since": "nope"})
    assert bad.status_code == 400 and "since" in bad.text
