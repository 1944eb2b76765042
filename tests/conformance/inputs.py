"""The conformance inputs, built once per test run and fed identically to every backend.

- the project's fixtures: the API/dashboard data set (tests/server/dataset.py: four sessions,
  three users, three projects, tier 3) and edge cases written here (streaming duplicates with
  partial usage, a subagent file, a forked copy of a session, an unpriced model, failed and
  denied tools, days around a DST change);
- ../shared/corpus/claude-code: the spotter transcripts and every real-client scenario's
  transcripts, imported;
- the real-client captures through the collector's HTTP endpoints: hook payloads, OTLP
  requests (JSON and protobuf) and transcript deltas carried by hooks.

Files are written once (ids come from a process-wide counter, so writing them again would
change every id), then each backend imports the same files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent_trace.config import Settings
from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage
from tests.server.collector.support import (
    REAL_CLIENT,
    SCENARIOS,
    Post,
    delta_posts,
    hook_posts,
    otlp_posts,
    running_collector,
)

CORPUS = REAL_CLIENT.parent


@dataclass
class Inputs:
    # (folder, user, privacy tier) imported in this order
    imports: list[tuple[Path, str, int]] = field(default_factory=list)
    # requests for the collector, in this order
    posts: list[Post] = field(default_factory=list)
    corpus: bool = False


def _edge_cases(root: Path) -> None:
    """Sessions exercising the merge rules and time zones (written once)."""
    # Streaming duplicates whose early lines carry partial usage; tools that fail and are denied;
    # an unpriced model; a second day.
    a = Transcript(uid(), cwd="/work/edge")
    a.clock = 13 * 3600 + 50 * 60  # 23:50 UTC
    a.prompt("stream and fail", prompt_id=uid())
    t1, t2, t3 = uid("toolu_"), uid("toolu_"), uid("toolu_")
    a.assistant(
        [text_block("thinking aloud"), tool_use("Bash", {"command": "false"}, t1)],
        usage(30, 300, write_5m=100, write_1h=50, read=1000),
        partial_usage=[usage(30, 5, write_5m=100, write_1h=50, read=1000)],
    )
    a.tool_result(t1, "exit 1", is_error=True)
    a.assistant(
        [
            tool_use(
                "Edit", {"file_path": "/work/edge/a.py", "old_string": "x = 1", "new_string": "x = 2"}, t2
            )
        ],
        usage(5, 50),
    )
    a.tool_result(t2, "The user doesn't want to proceed with this tool use.", is_error=True)
    a.assistant(
        [tool_use("Write", {"file_path": "/work/edge/b.py", "content": "print('hi')\n"}, t3)], usage(5, 50)
    )
    a.tool_result(t3, "File created")
    a.prompt("/compact", prompt_id=uid())
    a.assistant([text_block("unpriced")], usage(1, 1), model="claude-made-up-1")
    main = a.write(root / "-work-edge" / f"{a.session_id}.jsonl")
    # A subagent with its own file (sidechain lines), started by a Task call of the main thread.
    s = Transcript(uid(), cwd="/work/edge")
    s.clock = 2 * 3600
    s.prompt("delegate", prompt_id=uid())
    task = uid("toolu_")
    s.assistant(
        [tool_use("Task", {"description": "look", "prompt": "look around", "subagent_type": "Explore"}, task)]
    )
    sub = Transcript(s.session_id, cwd="/work/edge", agent_id="a0edge1")
    sub.clock = s.clock
    sub.prompt("look around")
    sub.assistant([tool_use("Read", {"file_path": "/work/edge/a.py"}, uid("toolu_"))], usage(7, 70, read=500))
    sub.assistant([text_block("found it")], usage(8, 80), model="claude-haiku-4-5")
    s.clock = sub.clock
    s.tool_result(task, "found it")
    s.assistant([text_block("done")], usage(9, 90))
    s.write(root / "-work-edge" / f"{s.session_id}.jsonl")
    sub.write(root / "-work-edge" / s.session_id / "subagents" / "agent-a0edge1.jsonl")
    # A forked copy of the first session under a new id: nothing in it may count twice.
    fork = uid()
    (root / "-work-edge" / f"{fork}.jsonl").write_bytes(
        main.read_bytes().replace(a.session_id.encode(), fork.encode())
    )
    # Issue 10: a resumed copy stamped later whose file sorts first (the original owns the
    # shared calls on every backend), a fast-mode call, an undated call, a call without a
    # model, and a last line without its newline.
    r = Transcript("ffff" + uid()[4:], cwd="/work/edge")
    r.clock = 5 * 3600
    r.prompt("original", prompt_id=uid())
    fast = usage(40, 400)
    fast["speed"] = "fast"
    r.assistant([text_block("fast")], fast)
    r.assistant([text_block("undated")], usage(41, 410))
    r.lines[-1]["timestamp"] = None
    r.assistant([text_block("no model")], usage(42, 420))
    del r.lines[-1]["message"]["model"]
    resumed = Transcript("0000" + uid()[4:], cwd="/work/edge")
    for line in r.lines:
        resumed.raw(dict(line, sessionId=resumed.session_id, timestamp="2026-02-11T20:00:00.000Z"))
    resumed.clock = 10 * 3600
    resumed.prompt("resumed", prompt_id=uid())
    resumed.assistant([text_block("own")], usage(43, 430))
    r.write(root / "-work-edge" / f"{r.session_id}.jsonl")
    path = resumed.write(root / "-work-edge" / f"{resumed.session_id}.jsonl")
    path.write_bytes(path.read_bytes()[:-1])
    # Days around the European DST change (2026-03-29 01:00 UTC).
    d = Transcript(uid(), cwd="/work/dst")
    d.clock = 0
    d.prompt("before the change", prompt_id=uid())
    d.assistant([text_block("ok")], usage(11, 110), model="claude-sonnet-4-5-20250929")
    for line in d.lines:
        line["timestamp"] = "2026-03-29T00:30:" + str(line["timestamp"])[17:]
    d2 = Transcript(d.session_id, cwd="/work/dst")
    d2.prompt("after the change", prompt_id=uid())
    d2.assistant([text_block("ok")], usage(12, 120), model="claude-sonnet-4-5-20250929")
    for line in d2.lines:
        line["timestamp"] = "2026-03-29T22:30:" + str(line["timestamp"])[17:]
    d.lines.extend(d2.lines)
    d.write(root / "-work-dst" / f"{d.session_id}.jsonl")


WEBHOOK_SECRET = "conformance-secret"
OUTCOME_REPO = "github.com/acme/conformance"
CALC = "def add(a, b):\n    return a + b\n"


def _outcome_cases(root: Path) -> list[Post]:
    """Outcomes (issue 14): a session whose agent writes and commits a file, with the commit
    (and a person's) shipped by the hook handler's git enrichment, a merged pull request
    delivered by a signed GitHub webhook, and a session that loops on a failing test."""
    import json

    from agent_trace.domain.provenance import text_keys
    from agent_trace.server.collector.webhooks import github_signature
    from tests.fixtures.transcripts import BASE_TIME

    base_ms = int(BASE_TIME.timestamp() * 1000)
    t = Transcript(uid(), cwd="/work/outcome")
    t.clock = 5 * 3600
    t.prompt("write calc.py and commit it", prompt_id=uid())
    write, commit = uid("toolu_"), uid("toolu_")
    t.assistant(
        [tool_use("Write", {"file_path": "/work/outcome/calc.py", "content": CALC}, write)], usage(3, 30)
    )
    t.tool_result(write, "File created")
    t.assistant([tool_use("Bash", {"command": "git add -A && git commit -m calc"}, commit)], usage(3, 30))
    agent_sha = "a1" * 20
    t.tool_result(commit, f"[feature {agent_sha[:7]}] calc\n 1 file changed, 2 insertions(+)")
    agent_ms = base_ms + t.clock * 1000
    t.assistant([text_block("committed")], usage(3, 30))
    person_ms = base_ms + (t.clock + 30) * 1000
    t.clock += 60
    t.prompt("thanks", prompt_id=uid())
    t.assistant([text_block("welcome")], usage(3, 30))
    t.write(root / "-work-outcome" / f"{t.session_id}.jsonl")
    person_sha = "b2" * 20
    commits = [
        {
            "sha": agent_sha,
            "ts_ms": agent_ms,
            "insertions": 2,
            "deletions": 0,
            "files_changed": 1,
            "parent_sha": "c3" * 20,
            "patch_id": "d4" * 20,
            "co_authored": True,
            "message": "calc",
            "files": {"calc.py": text_keys(CALC)},
        },
        {
            "sha": person_sha,
            "ts_ms": person_ms,
            "insertions": 1,
            "deletions": 0,
            "files_changed": 1,
            "parent_sha": agent_sha,
            "message": "notes",
            "files": {"NOTES": text_keys("by hand\n")},
        },
    ]
    stop = {
        "hook_event_name": "Stop",
        "session_id": t.session_id,
        "cwd": "/work/outcome",
        "agent_trace": {
            "ts_ms": base_ms + t.clock * 1000,
            "user": "erin",
            "git": {
                "repo": OUTCOME_REPO,
                "branch": "feature",
                "head": person_sha,
                "base_sha": "c3" * 20,
                "commits": commits,
            },
        },
    }
    pr = {
        "action": "closed",
        "number": 9,
        "pull_request": {
            "number": 9,
            "state": "closed",
            "merged": True,
            "title": "calc",
            "html_url": "https://github.com/acme/conformance/pull/9",
            "head": {"ref": "feature", "sha": person_sha},
            "base": {"ref": "main"},
            "merge_commit_sha": "e5" * 20,
            "created_at": "2026-02-11T16:00:00Z",
            "updated_at": "2026-02-11T17:00:00Z",
            "merged_at": "2026-02-11T17:00:00Z",
            "user": {"login": "erin"},
        },
        "repository": {"full_name": "acme/conformance", "html_url": "https://github.com/acme/conformance"},
    }
    pr_body = json.dumps(pr).encode()
    push_body = json.dumps(
        {
            "ref": "refs/heads/feature",
            "commits": [{"id": agent_sha, "timestamp": "2026-02-11T15:00:00Z"}],
            "repository": {"html_url": "https://github.com/acme/conformance"},
        }
    ).encode()
    # The loop: the same failing test five times, then giving up.
    spin = Transcript(uid(), cwd="/work/outcome")
    spin.clock = 6 * 3600
    spin.prompt("make the tests pass", prompt_id=uid())
    for i in range(5):
        run = uid("toolu_")
        spin.assistant(
            [tool_use("Bash", {"command": "pytest -q", "description": f"try {i}"}, run)], usage(2, 20)
        )
        spin.tool_result(run, f"FAILED test_calc.py::test_add in 0.0{i}s", is_error=True)
    spin.write(root / "-work-outcome" / f"{spin.session_id}.jsonl")

    def github(event: str, body: bytes, delivery: str) -> Post:
        headers = (
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", github_signature(WEBHOOK_SECRET, body)),
        )
        return Post("/v1/webhooks/github", body, headers=headers)

    return [
        Post("/v1/hooks", json.dumps(stop).encode()),
        github("push", push_body, "conf-1"),
        github("pull_request", pr_body, "conf-2"),
    ]


def build_inputs(root: Path) -> Inputs:
    """Write the fixture files under `root` and list everything to ingest."""
    from tests.fixtures.stores import sqlite_store_at
    from tests.server.dataset import load_dataset

    # The API/dashboard data set writes its files while importing them: import into a scratch
    # store once, then every backend imports the same files.
    scratch = sqlite_store_at(root / "scratch.db")
    load_dataset(scratch, root / "dataset")
    scratch.close()
    inputs = Inputs()
    for user in ("dev", "alice", "bob"):
        inputs.imports.append((root / "dataset" / user, user, 3))
    _edge_cases(root / "edge")
    inputs.posts.extend(_outcome_cases(root / "edge"))
    inputs.imports.append((root / "edge", "erin", 3))
    if CORPUS.is_dir():
        inputs.corpus = True
        inputs.imports.append((CORPUS / "spotter" / "projects", "dev", 2))
        for scenario in SCENARIOS:
            inputs.imports.append((REAL_CLIENT / scenario / "transcripts", "dev", 2))
            inputs.posts.extend(hook_posts(scenario) + otlp_posts(scenario) + delta_posts(scenario, pieces=3))
    return inputs


def ingest(settings: Settings, store: Any, inputs: Inputs, copies_root: Path | None = None) -> None:
    """Import every folder (from a copy under `copies_root` when given: new paths, same
    content, so every record is delivered again) and send every request to the collector."""
    prices = PriceBook()
    for folder, user, tier in inputs.imports:
        source = folder
        if copies_root is not None:
            source = copies_root / f"{len(list(copies_root.iterdir())) if copies_root.exists() else 0}"
            shutil.copytree(folder, source)
        Importer(Writer(store, prices, tier, user)).run([source])
    if inputs.posts:
        collector = replace(settings, otel_grpc_address="off", github_webhook_secret=WEBHOOK_SECRET)
        with running_collector(collector) as (client, _ctx):
            for post in inputs.posts:
                post.send(client)
    store.refresh_derived()
