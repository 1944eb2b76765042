"""Commit provenance rules: exact line matching, multisets, prompt links, diff parsing."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from agent_trace.domain.provenance import (
    agent_lines,
    co_authored_by_agent,
    is_git_commit,
    link_commit,
    parse_log_patch,
    text_keys,
)

LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20)


def _write(path: str, content: str, ts: int = 0, tool: str = "Write") -> dict[str, object]:
    data = (
        {"file_path": path, "content": content}
        if tool == "Write"
        else {"file_path": path, "new_string": content}
    )
    return {
        "tool_use_id": f"t{ts}",
        "tool_name": tool,
        "started_ms": ts,
        "status": "success",
        "input_json": json.dumps(data),
    }


@given(st.lists(LINE, max_size=30), st.lists(LINE, max_size=30))
def test_agent_lines_is_the_multiset_intersection(written: list[str], committed: list[str]) -> None:
    content = "".join(line + "\n" for line in written)
    tools = [_write("/w/repo/src/x.py", content)]
    got = agent_lines({"src/x.py": text_keys("".join(c + "\n" for c in committed))}, 10, tools)
    pool = list(written)
    expected = 0
    for line in committed:
        if line in pool:
            pool.remove(line)
            expected += 1
    assert got == expected
    assert 0 <= got <= min(len(written), len(committed))


@given(st.lists(LINE, min_size=1, max_size=30))
def test_a_write_committed_whole_is_all_agent_lines(lines: list[str]) -> None:
    content = "".join(line + "\n" for line in lines)
    assert agent_lines({"a/b.txt": text_keys(content)}, 5, [_write("/r/a/b.txt", content)]) == len(lines)
    # Another file, or a write after the commit, never counts.
    assert agent_lines({"a/c.txt": text_keys(content)}, 5, [_write("/r/a/b.txt", content)]) == 0
    assert agent_lines({"a/b.txt": text_keys(content)}, 5, [_write("/r/a/b.txt", content, ts=60_000)]) == 0


def test_edits_count_their_new_string() -> None:
    tools = [_write("/r/m.py", "x = 2\ny = 3\n", tool="Edit")]
    assert agent_lines({"m.py": text_keys("x = 2\nz = 9\n")}, 1, tools) == 1


def test_commit_links_to_the_git_commit_call_else_the_prompt_before() -> None:
    prompts = [
        {"prompt_id": "p1", "ts_ms": 0, "kind": "prompt"},
        {"prompt_id": "p2", "ts_ms": 100_000, "kind": "prompt"},
    ]
    bash = {
        "tool_use_id": "tb",
        "tool_name": "Bash",
        "prompt_id": "p1",
        "started_ms": 50_000,
        "ended_ms": 52_000,
        "input_json": json.dumps({"command": "git add . && git commit -m x"}),
    }
    assert link_commit(51_000, prompts, [bash]) == ("p1", "tb")
    assert link_commit(90_000, prompts, [bash]) == ("p1", None)
    assert link_commit(150_000, prompts, [bash]) == ("p2", None)
    assert link_commit(None, prompts, [bash]) == (None, None)


def test_git_commit_commands() -> None:
    assert is_git_commit("git commit -m 'x'")
    assert is_git_commit("cd repo && git -c user.name=a commit -am x")
    assert not is_git_commit("git commit-tree abc")
    assert not is_git_commit("echo git")


def test_co_author_trailer_is_a_signal() -> None:
    assert co_authored_by_agent("x\n\nCo-Authored-By: Claude <noreply@anthropic.com>")
    assert not co_authored_by_agent("x\n\nCo-authored-by: Alice <a@example.com>")
    assert not co_authored_by_agent(None)


def test_parse_log_patch() -> None:
    sha = "a" * 40
    text = (
        f"commit {sha}\n\ndiff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/x\n@@ -0,0 +1,2 @@\n+one\n+two\n"
        "diff --git a/y b/y\ndeleted file mode 100644\n--- a/y\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n"
    )
    assert parse_log_patch(text) == {sha: {"x": text_keys("one\ntwo\n")}}


def test_the_call_that_reports_the_sha_made_the_commit_not_its_neighbour() -> None:
    prompts = [{"prompt_id": "p1", "ts_ms": 0, "kind": "prompt"}]
    bash = {
        "tool_use_id": "tb",
        "tool_name": "Bash",
        "prompt_id": "p1",
        "started_ms": 50_000,
        "ended_ms": 51_000,
        "input_json": json.dumps({"command": "git commit -m x"}),
        "output_text": "[main (root-commit) 1a2b3c4] x\n 1 file changed, 1 insertion(+)",
    }
    assert link_commit(51_000, prompts, [bash], "1a2b3c4" + "0" * 33) == ("p1", "tb")
    # A person's commit in the same second is not the one the call reported.
    assert link_commit(51_000, prompts, [bash], "9" * 40) == ("p1", None)
