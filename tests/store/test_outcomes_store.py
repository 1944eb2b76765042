"""Outcomes as derived data, on every backend: commit links, agent lines, pull requests, labels."""

from __future__ import annotations

import json
from typing import Any

from agent_trace.domain.provenance import text_keys
from agent_trace.domain.records import (
    Commit,
    LlmCall,
    Prompt,
    PullRequest,
    PushedCommit,
    RecordBatch,
    Session,
    ToolCall,
    pr_key,
)
from agent_trace.store.port import SessionQuery

T0 = 1_770_000_000_000
CONTENT = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"
REPO = "github.com/acme/app"


def _session_with_commits() -> RecordBatch:
    write = ToolCall(
        "t-write",
        "s1",
        tool_name="Write",
        prompt_id="p1",
        started_ms=T0 + 1_000,
        ended_ms=T0 + 1_100,
        status="success",
        input_json=json.dumps({"file_path": "/w/app/src/add.py", "content": CONTENT}),
    )
    commit_call = ToolCall(
        "t-commit",
        "s1",
        tool_name="Bash",
        prompt_id="p1",
        started_ms=T0 + 2_000,
        ended_ms=T0 + 3_000,
        status="success",
        input_json=json.dumps({"command": "git add -A && git commit -m 'add'"}),
    )
    # The commit adds the written file plus one line the agent never wrote.
    agent_files = {"src/add.py": text_keys(CONTENT), "README": text_keys("by hand\n")}
    return RecordBatch(
        sessions=[Session("s1", project="/w/app", started_ms=T0, user_id="dev")],
        prompts=[
            Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="write add"),
            Prompt("p2", "s1", ts_ms=T0 + 10_000, kind="prompt", text="thanks"),
        ],
        llm_calls=[LlmCall("c1", "s1", ts_ms=T0 + 11_000, stop_reason="end_turn", prompt_id="p2")],
        tool_calls=[write, commit_call],
        commits=[
            Commit(
                "a" * 40,
                session_id="s1",
                repo=REPO,
                branch="feature",
                ts_ms=T0 + 2_000,
                insertions=6,
                files_json=json.dumps(agent_files),
            ),
            Commit(
                "b" * 40,
                session_id="s1",
                repo=REPO,
                branch="feature",
                ts_ms=T0 + 12_000,
                insertions=1,
                files_json=json.dumps({"notes.txt": text_keys("a person's line\n")}),
            ),
        ],
    )


def _spinning_session() -> RecordBatch:
    calls = [
        ToolCall(
            f"t-run{i}",
            "s2",
            tool_name="Bash",
            prompt_id="q1",
            started_ms=T0 + i * 1000,
            ended_ms=T0 + i * 1000 + 500,
            status="error",
            error=f"Exit code 1\nFAILED test_x.py::test_a - assert 1 == 2 in 0.0{i}s",
            input_json=json.dumps({"command": "pytest -q test_x.py", "description": f"run {i}"}),
        )
        for i in range(5)
    ]
    return RecordBatch(
        sessions=[Session("s2", project="/w/app", started_ms=T0)],
        prompts=[Prompt("q1", "s2", ts_ms=T0, kind="prompt", text="fix it")],
        tool_calls=calls,
    )


def test_commit_links_agent_lines_and_spun_label(store: Any) -> None:
    store.write(_session_with_commits())
    store.write(_spinning_session())
    store.refresh_derived()
    detail = store.session_detail("s1")
    commits = {c["sha"]: c for c in detail.commits}
    agent, person = commits["a" * 40], commits["b" * 40]
    assert (agent["prompt_id"], agent["tool_use_id"], agent["agent_lines"]) == ("p1", "t-commit", 5)
    assert (person["prompt_id"], person["tool_use_id"], person["agent_lines"]) == ("p2", None, 0)
    assert detail.session["outcome_label"] == "committed"
    assert detail.session["n_commits"] == 2 and detail.session["agent_lines"] == 5

    spun = store.session_detail("s2").session
    assert spun["outcome_label"] == "spun"
    loop = next(s for s in json.loads(spun["outcome_signals"]) if s["name"] == "loop")
    assert [e["id"] for e in loop["evidence"]] == [f"t-run{i}" for i in range(5)]
    assert loop["value"] == 5

    listed = {s.session_id: s for s in store.list_sessions(SessionQuery()).sessions}
    assert (listed["s1"].outcome, listed["s1"].commits) == ("committed", 2)
    assert listed["s2"].outcome == "spun"


def test_a_merged_pull_request_ships_the_session_and_replays_change_nothing(store: Any) -> None:
    store.write(_session_with_commits())
    pr = PullRequest(
        pr_key("github", REPO, 7),
        "github",
        REPO,
        7,
        state="merged",
        head_ref="feature",
        head_sha="c" * 40,
        merged_ms=T0 + 60_000,
        updated_ms=T0 + 60_000,
    )
    # The PR's head is a later commit; the session's commits reach it through a push to its branch.
    batch = RecordBatch(pull_requests=[pr], pushed_commits=[PushedCommit(REPO, "feature", "a" * 40)])
    store.write(batch)
    store.refresh_derived()
    first = store.session_detail("s1")
    assert first.session["outcome_label"] == "shipped"
    assert first.session["merged_prs"] == 1
    assert [p["number"] for p in first.pull_requests] == [7]
    assert {c["sha"]: c["pr_id"] for c in first.commits}["a" * 40] == "github:github.com/acme/app#7"
    # An older "open" delivery arriving late does not reopen a merged pull request.
    stale = PullRequest(pr.pr_id, "github", REPO, 7, state="open", updated_ms=T0)
    store.write(RecordBatch(pull_requests=[stale]))
    store.write(batch)
    store.refresh_derived()
    again = store.session_detail("s1")
    assert again.session == {**first.session, "updated_ms": again.session["updated_ms"]}
    assert again.pull_requests == first.pull_requests
