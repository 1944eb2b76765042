"""The dashboard's pure models: chart scales, Markdown safety, in-session filters, the waterfall,
task notifications and the small formatting filters."""

from __future__ import annotations

import math
import random
from typing import Any

from agent_trace.domain.prompts import task_notification
from agent_trace.server.dashboard.charts import nice_scale
from agent_trace.server.dashboard.formatting import marked, plural, rel_path
from agent_trace.server.dashboard.highlight import Highlighter
from agent_trace.server.dashboard.session_filter import SessionFilter, choices, filter_prompts
from agent_trace.server.dashboard.timeline_view import waterfall


def test_scale_covers_the_value_with_round_steps() -> None:
    rng = random.Random(13)
    values = [10 ** rng.uniform(-3, 9) for _ in range(2000)] + [1, 2, 2.5, 3, 5, 7, 10, 99, 100, 101]
    for value in values:
        for integer in (False, True):
            top, step = nice_scale(value, integer)
            assert top >= value and round(top / step) <= 5, (value, integer)
            mantissa = step / 10 ** math.floor(math.log10(step))
            assert round(mantissa, 6) in (1, 2, 5, 10), (value, step)
            if integer:
                assert step >= 1 and float(step).is_integer()


def test_count_axes_never_label_half_steps() -> None:
    assert nice_scale(5, integer=True) == (6, 2)  # 0 2 4 6, never a "2" drawn at 2.5
    assert nice_scale(3, integer=True) == (3, 1)


def test_markdown_renders_structure_and_never_raw_html() -> None:
    html = str(
        Highlighter().markdown(
            "## Plan\n\n**bold** `code` [doc](https://e.com/x) [bad](javascript:alert(1))"
            " ![img](https://e.com/i.png)\n\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n"
        )
    )
    assert "<h2>Plan</h2>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert 'href="https://e.com/x"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")  # kept as text only
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert ' style="' not in html and " on" not in html.replace(" onerror=alert(1)&gt;", "")


def _replay() -> dict[str, Any]:
    def tool(tid: str, name: str, status: str = "success", sub: Any = None) -> dict[str, Any]:
        return {"tool_use_id": tid, "tool_name": name, "status": status, "subagent": sub}

    sub = {
        "agent_id": "a1",
        "steps": [{"model": "claude-haiku-4-5", "tools": [tool("s1", "Grep")]}],
        "tools": [],
    }
    return {
        "prompts": [
            {
                "prompt_id": "p0",
                "steps": [
                    {
                        "model": "claude-opus-4-6",
                        "text": "x",
                        "tools": [tool("t1", "Bash", "error"), tool("t2", "Read")],
                    },
                    {"model": "claude-opus-4-6", "tools": [tool("t3", "Agent", sub=sub)]},
                ],
                "tools": [tool("t4", "Bash")],
                "subagents": [],
            },
            {
                "prompt_id": "p1",
                "steps": [{"model": "claude-opus-4-6", "tools": [tool("t5", "Read")]}],
                "tools": [],
            },
        ]
    }


def _ids(pairs: list[tuple[int, dict[str, Any]]]) -> list[str]:
    out: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        for s in node.get("steps", []):
            for t in s["tools"]:
                out.append(t["tool_use_id"])
                if t.get("subagent"):
                    walk(t["subagent"])
        for t in node.get("tools", []):
            out.append(t["tool_use_id"])

    for _, p in pairs:
        walk(p)
    return out


def test_session_filters() -> None:
    replay = _replay()
    assert _ids(filter_prompts(replay, SessionFilter(tool="Bash"))) == ["t1", "t4"]
    assert [i for i, _ in filter_prompts(replay, SessionFilter(tool="Read"))] == [0, 1]  # indexes kept
    assert _ids(filter_prompts(replay, SessionFilter(failed=True))) == ["t1"]
    # A subagent's match is reached through its Agent call, whatever the parent call's model.
    assert _ids(filter_prompts(replay, SessionFilter(model="claude-haiku-4-5"))) == ["t3", "s1"]
    assert _ids(filter_prompts(replay, SessionFilter(tool="Grep"))) == ["t3", "s1"]
    assert filter_prompts(replay, SessionFilter(tool="Nope")) == []
    assert choices(replay) == {
        "tool": ["Agent", "Bash", "Grep", "Read"],
        "model": ["claude-haiku-4-5", "claude-opus-4-6"],
    }


def test_waterfall_stacks_parallel_calls_and_shows_gaps() -> None:
    def ev(kind: str, i: str, ts: int, dur: int | None = None, **kw: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "id": i,
            "ts_ms": ts,
            "duration_ms": dur,
            "prompt_id": "p0",
            "agent_id": None,
            **kw,
        }

    events = [
        ev("prompt", "p0", 0, None, name="prompt"),
        ev("llm_call", "c1", 1_000, None),
        ev("tool_call", "a", 2_000, 5_000, name="Bash"),
        ev("tool_call", "b", 3_000, 5_000, name="Grep", status="error"),
        ev("tool_call", "c", 600_000, 1_000, name="Read"),
    ]
    w = waterfall("s", events)
    bars = {b.href.rsplit("tool=", 1)[-1]: b for b in w.bars if "tool=" in b.href}
    assert bars["a"].y != bars["b"].y and bars["c"].y == bars["a"].y  # parallel: stacked; later: reused
    assert "failed" in bars["b"].css
    assert len(w.gaps) == 1 and w.gaps[0].label == "idle 9m52s"
    assert all(b.w >= 2 for b in w.bars)
    assert w.ticks[0] == (150.0, "0")
    zoomed = waterfall("s", events, (590_000, 700_000))
    assert {b.href.rsplit("tool=", 1)[-1] for b in zoomed.bars if "tool=" in b.href} == {"c"}


def test_task_notification_fields() -> None:
    text = (
        "<task-notification>\n<task-id>b1</task-id>\n<status>completed</status>\n"
        '<summary>Background command "x" completed (exit code 0)</summary>\n</task-notification>\nRead it.'
    )
    assert task_notification(text) == {
        "task-id": "b1",
        "status": "completed",
        "summary": 'Background command "x" completed (exit code 0)',
        "note": "Read it.",
    }
    assert task_notification("a normal prompt") is None


def test_small_filters() -> None:
    assert plural(1, "prompt") == "1 prompt" and plural(2, "prompt") == "2 prompts"
    assert plural(1204, "match", "matches") == "1,204 matches"
    assert rel_path("/home/u/p/src/a.py", "/home/u/p") == "src/a.py"
    assert rel_path("/home/u/p2/a.py", "/home/u/p") == "/home/u/p2/a.py"  # not under the root
    assert rel_path("/etc/x", None) == "/etc/x"
    assert str(marked("a <b> c", [[2, 5]])) == "a <mark>&lt;b&gt;</mark> c"
    assert str(marked("abc", [[1, 9]])) == "abc"  # marks past the end are ignored
