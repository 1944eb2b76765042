"""Effectiveness signals and the outcome label: each rule and its evidence."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from agent_trace.domain.outcomes import LABELS, assess, fail_retries, loops, oscillations


def _tool(
    i: int, name: str, data: dict[str, object], status: str = "success", error: str | None = None
) -> dict[str, object]:
    return {
        "tool_use_id": f"t{i}",
        "tool_name": name,
        "started_ms": i * 1000,
        "status": status,
        "error": error,
        "input_json": json.dumps(data),
        "prompt_id": "p1",
    }


def test_the_same_failing_command_five_times_is_a_loop_and_spun() -> None:
    tools = [
        _tool(i, "Bash", {"command": "pytest", "description": str(i)}, "error", f"1 failed in 0.{i}s")
        for i in range(5)
    ]
    (loop,) = loops(tools)
    assert [r["tool_use_id"] for r in loop] == [f"t{i}" for i in range(5)]
    outcome = assess([{"prompt_id": "p1", "ts_ms": 0, "kind": "prompt"}], [], tools, [], set())
    assert outcome.label == "spun"
    names = {s.name for s in outcome.signals}
    assert {"loop", "fail_retry", "tool_error_rate", "abandoned"} <= names


def test_different_failures_are_not_a_loop() -> None:
    tools = [_tool(i, "Bash", {"command": "pytest"}, "error", f"test_{'abc'[i]} failed") for i in range(3)]
    assert loops(tools) == []
    assert len(fail_retries(tools)) == 2


def test_edit_back_and_forth_is_an_oscillation() -> None:
    tools = [
        _tool(1, "Edit", {"file_path": "/a.py", "old_string": "x = 1", "new_string": "x = 2"}),
        _tool(2, "Edit", {"file_path": "/a.py", "old_string": "x = 2", "new_string": "x = 1"}),
        # The same change in another file is no reversal; a MultiEdit edit can undo an Edit.
        _tool(3, "Edit", {"file_path": "/b.py", "old_string": "x = 2", "new_string": "x = 1"}),
        _tool(4, "MultiEdit", {"file_path": "/c.py", "edits": [{"old_string": "a", "new_string": "b"}]}),
        _tool(5, "Edit", {"file_path": "/c.py", "old_string": "b", "new_string": "a"}),
        _tool(6, "Write", {"file_path": "/d.py", "content": "A"}),
        _tool(7, "Write", {"file_path": "/d.py", "content": "B"}),
        _tool(8, "Write", {"file_path": "/d.py", "content": "A"}),  # whole files: not a region
    ]
    assert [(a["tool_use_id"], b["tool_use_id"]) for a, b in oscillations(tools)] == [
        ("t1", "t2"),
        ("t4", "t5"),
    ]


def test_a_merged_commit_ships_and_a_one_shot_prompt_scores() -> None:
    prompts = [{"prompt_id": "p1", "ts_ms": 0, "kind": "prompt"}]
    commits = [
        {"sha": "s1", "prompt_id": "p1", "tool_use_id": "t9", "files_json": json.dumps({"x.py": ["k"]})}
    ]
    outcome = assess(prompts, [], [], commits, {"s1"})
    assert outcome.label == "shipped"
    assert {s.name: s.points for s in outcome.signals} == {"shipped": 40, "one_shot": 10}
    assert outcome.score == 100
    reverted = assess(prompts, [], [], [{**commits[0], "reverted_by": "r"}], set())
    assert reverted.label in ("no-commit", "spun")


STATUSES = st.sampled_from(["success", "error", "denied", "interrupted"])


@given(
    st.lists(st.tuples(st.sampled_from(["Bash", "Edit", "Read"]), st.integers(0, 3), STATUSES), max_size=40)
)
def test_score_is_bounded_and_the_sum_of_named_signals(calls: list[tuple[str, int, str]]) -> None:
    tools = [
        _tool(
            i,
            name,
            {"command": f"pytest {n}", "file_path": "/f", "old_string": str(n), "new_string": str(n + 1)},
            status,
            "boom",
        )
        for i, (name, n, status) in enumerate(calls)
    ]
    outcome = assess([{"prompt_id": "p1", "ts_ms": 0, "kind": "prompt"}], [], tools, [], set())
    assert outcome.label in LABELS
    assert outcome.score == max(0, min(100, 50 + sum(s.points for s in outcome.signals)))
    for signal in outcome.signals:
        assert all(e.kind in ("tool_call", "prompt", "commit") for e in signal.evidence)


RUNNERS = [
    "pytest",
    "py.test -x",
    "tox",
    "nox -s t",
    "python -m unittest",
    "jest",
    "vitest run",
    "mocha",
    "phpunit",
    "rspec",
    "ctest",
    "npm test",
    "pnpm run build",
    "yarn test",
    "bun build",
    "cargo check",
    "go  vet ./...",
    "go build",
    "make",
    "cmake ..",
    "gradle",
    "./gradlew check",
    "mvn -q",
    "dotnet test",
    "tsc -p .",
    "mypy src",
    "ruff check",
    "bazel test //...",
    "git commit -m x",
    "git -c a=b commit",
    "ls",
    "echo hi",
]
WORDS = st.sampled_from(RUNNERS)


def test_every_runner_is_recognised() -> None:
    from agent_trace.domain.outcomes import is_test_or_build

    for command in RUNNERS[:-4]:
        assert is_test_or_build({"tool_name": "Bash", "input_json": json.dumps({"command": command})}), (
            command
        )


@given(st.lists(WORDS, min_size=1, max_size=4), st.sampled_from([" && ", "; ", " | "]))
def test_the_database_filter_keeps_every_command_a_rule_reads(parts: list[str], glue: str) -> None:
    from agent_trace.domain.outcomes import BASH_RULE_WORDS, is_test_or_build
    from agent_trace.domain.provenance import is_git_commit

    command = glue.join(parts)
    row = {"tool_name": "Bash", "input_json": json.dumps({"command": command})}
    if is_test_or_build(row) or is_git_commit(command):
        assert any(word in row["input_json"] for word in BASH_RULE_WORDS)
