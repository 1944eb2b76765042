"""Effectiveness signals and the session outcome: named rules over a session's records, each with
the evidence (tool calls, prompts, commits) a person can check. No model calls, no hidden weights;
docs/outcomes.md states every rule and threshold below.

Input rows are the store's plain rows (dicts with the canonical field names), so every backend
gives the same answer from the same records.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_trace.domain.provenance import commit_files, is_git_commit, tool_input

LOOP_MIN_REPEATS = 3  # the same failing call this many times is a loop
FAIL_RETRY_MIN = 2  # failed test/build runs, each followed by another run
SPIN_FAIL_RETRY = 3  # fail-retry cycles that alone make a session without commits `spun`
SPIN_OSCILLATIONS = 2
MAX_EVIDENCE = 50
_FAILED = ("error",)
# Test and build runners: the first word(s) of a Bash command that runs tests or a build.
TEST_BUILD_RE = re.compile(
    r"(?:^|[\s;&|(/])(?:pytest|py\.test|tox|nox|unittest|jest|vitest|mocha|phpunit|rspec|ctest|"
    r"(?:npm|pnpm|yarn|bun)\s+(?:run\s+)?(?:test|build)|cargo\s+(?:test|build|check)|go\s+(?:test|build|vet)|"
    r"make|cmake|gradle|gradlew|mvn|dotnet\s+(?:test|build)|tsc|mypy|ruff|bazel)\b"
)
# Every command TEST_BUILD_RE or `git commit` matches contains one of these (tests prove it):
# stores read only the Bash calls that mention one (or failed), a cheap filter in the database.
BASH_RULE_WORDS = (
    "test",
    "build",
    "check",
    "vet",
    "tox",
    "nox",
    "jest",
    "mocha",
    "phpunit",
    "rspec",
    "make",
    "gradle",
    "mvn",
    "tsc",
    "mypy",
    "ruff",
    "bazel",
    "commit",
)
_NUMBERS = re.compile(r"\d+(?:\.\d+)?")

LABELS = ("shipped", "committed", "no-commit", "spun")


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # tool_call | prompt | commit | pull_request
    id: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id}


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    value: float
    points: int  # what it adds to (or takes from) the score
    evidence: tuple[Evidence, ...] = ()
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "points": self.points,
            "detail": self.detail,
            "evidence": [e.as_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    score: int
    signals: tuple[Signal, ...] = field(default_factory=tuple)

    def signals_json(self) -> str:
        return json.dumps([s.as_dict() for s in self.signals], separators=(",", ":"), sort_keys=True)


def _time_then_id(time_key: str, id_key: str) -> Any:
    def key(row: dict[str, object]) -> tuple[int, int, str]:
        ts = row.get(time_key)
        return (0 if isinstance(ts, int) else -1, ts if isinstance(ts, int) else 0, str(row.get(id_key)))

    return key


def _parse_input(raw: object) -> dict[str, object]:
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _canonical_input(row: dict[str, object]) -> str:
    data = tool_input(row)
    if data:
        data = {k: v for k, v in data.items() if k != "description"}  # Bash's free-text label
        return json.dumps(data, sort_keys=True, separators=(",", ":"))
    return str(row.get("input_json") or "")


def _failure(row: dict[str, object]) -> str:
    """The failure text with numbers blanked (timings, pids, line counts vary between runs)."""
    return _NUMBERS.sub("#", str(row.get("error") or row.get("output_text") or "")[:2000])


def _ids(
    rows: list[dict[str, object]], kind: str = "tool_call", key: str = "tool_use_id"
) -> tuple[Evidence, ...]:
    return tuple(Evidence(kind, str(r[key])) for r in rows[:MAX_EVIDENCE])


class _InOrder(list[dict[str, object]]):
    """Tool calls already in time order (assess sorts once; the rules then skip the sort)."""


def _ordered(tool_calls: list[dict[str, object]]) -> list[dict[str, object]]:
    if isinstance(tool_calls, _InOrder):
        return tool_calls

    def key(r: dict[str, object]) -> tuple[int, str]:
        ts = r.get("started_ms") if isinstance(r.get("started_ms"), int) else r.get("ended_ms")
        return (ts if isinstance(ts, int) else 0, str(r.get("tool_use_id")))

    return _InOrder(sorted(tool_calls, key=key))


def loops(tool_calls: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """Groups of >= LOOP_MIN_REPEATS failed calls with the same tool, input and failure."""
    groups: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
    for row in _ordered(tool_calls):
        if row.get("status") in _FAILED:
            groups[(str(row.get("tool_name")), _canonical_input(row), _failure(row))].append(row)
    return [g for g in groups.values() if len(g) >= LOOP_MIN_REPEATS]


def is_test_or_build(row: dict[str, object]) -> bool:
    if row.get("tool_name") != "Bash":
        return False
    command = str(tool_input(row).get("command") or "")
    return bool(command) and TEST_BUILD_RE.search(command) is not None and not is_git_commit(command)


def fail_retries(tool_calls: list[dict[str, object]]) -> list[dict[str, object]]:
    """Failed test/build runs that were followed by another test/build run (per agent thread)."""
    out: list[dict[str, object]] = []
    by_thread: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in _ordered(tool_calls):
        if is_test_or_build(row):
            by_thread[str(row.get("agent_id") or "")].append(row)
    for runs in by_thread.values():
        for first, _ in itertools.pairwise(runs):
            if first.get("status") in _FAILED:
                out.append(first)
    return out


def oscillations(tool_calls: list[dict[str, object]]) -> list[tuple[dict[str, object], dict[str, object]]]:
    """Edits that undo an earlier edit of the same file region: an Edit/MultiEdit edit (A→B)
    later followed by (B→A) in the same file."""
    pairs: list[tuple[dict[str, object], dict[str, object]]] = []
    seen: dict[tuple[str, str, str], dict[str, object]] = {}  # (path, old, new) → first edit
    for row in _ordered(tool_calls):
        name = row.get("tool_name")
        if name not in ("Edit", "MultiEdit") or row.get("status") in ("error", "denied"):
            continue
        data = tool_input(row)
        path = data.get("file_path")
        if not isinstance(path, str):
            continue
        if name == "Edit":
            edits: list[object] = [data]
        else:
            multi = data.get("edits")
            edits = multi if isinstance(multi, list) else []
        for edit in edits:
            if not isinstance(edit, dict):
                continue
            old, new = str(edit.get("old_string") or ""), str(edit.get("new_string") or "")
            if old == new:
                continue
            undone = seen.get((path, new, old))
            if undone is not None:
                pairs.append((undone, row))
            seen.setdefault((path, old, new), row)
    return pairs


def _final_answer(llm_calls: list[dict[str, object]], prompts: list[dict[str, object]]) -> bool:
    """Did the main thread's last model call end its turn (and come after the last prompt)?"""
    main = [c for c in llm_calls if not c.get("agent_id") and isinstance(c.get("ts_ms"), int)]
    if not main:
        return False
    last = max(main, key=lambda c: (int(c["ts_ms"]), str(c.get("call_id"))))  # type: ignore[call-overload]
    typed = [p for p in prompts if p.get("kind") == "prompt" and isinstance(p.get("ts_ms"), int)]
    if typed:
        last_prompt = max(typed, key=lambda p: int(p["ts_ms"]))  # type: ignore[call-overload]
        if last_prompt.get("interrupted"):
            return False
        if int(last_prompt["ts_ms"]) > int(last["ts_ms"]):  # type: ignore[call-overload]
            return False
    if last.get("stop_reason") is not None:
        return last.get("stop_reason") in ("end_turn", "stop_sequence")
    return last.get("tool_use_ids") in (None, "", "[]", (), [])


def one_shots(
    prompts: list[dict[str, object]], tool_calls: list[dict[str, object]], commits: list[dict[str, object]]
) -> list[str]:
    """Prompts whose commits (the agent's, callers pass those) no later prompt corrected: no
    later prompt's Write/Edit/MultiEdit touched a file of those commits."""
    out: list[str] = []
    by_prompt: dict[str, list[dict[str, object]]] = defaultdict(list)
    for c in commits:
        if c.get("prompt_id"):
            by_prompt[str(c["prompt_id"])].append(c)
    order = {
        str(p["prompt_id"]): int(p["ts_ms"])  # type: ignore[call-overload]
        for p in prompts
        if isinstance(p.get("ts_ms"), int)
    }
    for prompt_id, made in by_prompt.items():
        files: set[str] = set()
        for c in made:
            files.update(commit_files(c.get("files_json")) or {})
        start = order.get(prompt_id)
        corrected = False
        for row in tool_calls:
            pid = row.get("prompt_id")
            if not pid or pid == prompt_id or start is None or order.get(str(pid), -1) <= start:
                continue
            path = tool_input(row).get("file_path")
            edits = row.get("tool_name") in ("Write", "Edit", "MultiEdit") and isinstance(path, str)
            if edits and any(path == f or str(path).endswith("/" + f) for f in files):
                corrected = True
                break
        if not corrected:
            out.append(prompt_id)
    return sorted(out, key=lambda p: (order.get(p, 0), p))


def commit_state(commit: dict[str, object], merged_prs: set[str]) -> str:
    """reverted | shipped | committed, for one commit row (fates from git scan and webhooks)."""
    if commit.get("reverted_by"):
        return "reverted"
    if str(commit["sha"]) in merged_prs or commit.get("on_default"):
        return "shipped"
    return "committed"


def assess(
    prompts: list[dict[str, object]],
    llm_calls: list[dict[str, object]],
    tool_calls: list[dict[str, object]],
    commits: list[dict[str, object]],
    merged_shas: set[str],
    tool_count: int | None = None,
) -> Outcome:
    """The session's signals, label and score. `commits` carry their derived `prompt_id`;
    `merged_shas` are the session's commits contained in a merged pull/merge request.
    `tool_calls` may be only the calls a rule can name (writes, Bash, every call that did not
    succeed) when `tool_count` gives how many calls the session made in all."""
    signals: list[Signal] = []
    tool_calls = _ordered(tool_calls)  # every rule reads the calls in time order
    # Prompts and commits in time order too (then by id), whatever order a store returned them
    # in: the evidence lists come out the same on every backend.
    prompts = sorted(prompts, key=_time_then_id("ts_ms", "prompt_id"))
    commits = sorted(commits, key=_time_then_id("ts_ms", "sha"))
    for row in tool_calls:  # parsed once, here, with the fast parser; the rules read the cache
        if "_input" not in row:
            row["_input"] = _parse_input(row.get("input_json"))
    states = {str(c["sha"]): commit_state(c, merged_shas) for c in commits}
    shipped = [s for s, v in states.items() if v == "shipped"]
    kept = [s for s, v in states.items() if v != "reverted"]
    signals.extend(_commit_signals(states))
    found_loops = loops(tool_calls)
    if found_loops:
        rows = [r for g in found_loops for r in g]
        longest = max(len(g) for g in found_loops)
        signals.append(
            Signal(
                "loop",
                longest,
                -min(30, 10 * len(found_loops)),
                _ids(rows),
                f"{len(found_loops)} repeated failing call(s), longest run {longest}",
            )
        )
    osc = oscillations(tool_calls)
    if osc:
        rows = [r for pair in osc for r in pair]
        signals.append(Signal("edit_oscillation", len(osc), -min(20, 5 * len(osc)), _ids(rows)))
    retries = fail_retries(tool_calls)
    if len(retries) >= FAIL_RETRY_MIN:
        signals.append(Signal("fail_retry", len(retries), -min(20, 5 * (len(retries) - 1)), _ids(retries)))
    signals.extend(_status_signals(tool_calls, prompts, tool_count))
    if not kept and (prompts or llm_calls) and not _final_answer(llm_calls, prompts):
        signals.append(Signal("abandoned", 1, -20, (), "no commit and no final answer"))
    # Only the agent's own commits (made by a `git commit` tool call) make a prompt one-shot.
    shots = one_shots(
        prompts, tool_calls, [c for c in commits if str(c["sha"]) in kept and c.get("tool_use_id")]
    )
    if shots:
        signals.append(
            Signal(
                "one_shot", len(shots), min(20, 10 * len(shots)), tuple(Evidence("prompt", p) for p in shots)
            )
        )
    if shipped:
        label = "shipped"
    elif kept:
        label = "committed"
    elif found_loops or len(osc) >= SPIN_OSCILLATIONS or len(retries) >= SPIN_FAIL_RETRY:
        label = "spun"
    else:
        label = "no-commit"
    score = max(0, min(100, 50 + sum(s.points for s in signals)))
    return Outcome(label, score, tuple(signals))


def _commit_signals(states: dict[str, str]) -> list[Signal]:
    """shipped (or else committed) and reverted, from each commit's state."""
    shipped = [s for s, v in states.items() if v == "shipped"]
    kept = [s for s, v in states.items() if v != "reverted"]
    reverted = [s for s, v in states.items() if v == "reverted"]
    signals: list[Signal] = []
    if shipped:
        signals.append(Signal("shipped", len(shipped), 40, tuple(Evidence("commit", s) for s in shipped)))
    elif kept:
        signals.append(Signal("committed", len(kept), 20, tuple(Evidence("commit", s) for s in kept)))
    if reverted:
        signals.append(Signal("reverted", len(reverted), -10, tuple(Evidence("commit", s) for s in reverted)))
    return signals


def _status_signals(
    tool_calls: list[dict[str, object]], prompts: list[dict[str, object]], tool_count: int | None
) -> list[Signal]:
    """tool_error_rate, interruptions and permission_denials, from the calls' statuses."""
    signals: list[Signal] = []
    total = max(tool_count or 0, len(tool_calls))
    if total:
        errors = [r for r in tool_calls if r.get("status") == "error"]
        rate = round(len(errors) / total, 3)
        signals.append(Signal("tool_error_rate", rate, -round(20 * rate), _ids(errors)))
    interrupted = [r for r in tool_calls if r.get("status") == "interrupted"]
    stopped_prompts = [p for p in prompts if p.get("interrupted")]
    if interrupted or stopped_prompts:
        ev = _ids(interrupted) + tuple(Evidence("prompt", str(p["prompt_id"])) for p in stopped_prompts)
        n = len(interrupted) + len(stopped_prompts)
        signals.append(Signal("interruptions", n, -min(15, 5 * n), ev[:MAX_EVIDENCE]))
    denied = [r for r in tool_calls if r.get("status") == "denied"]
    if denied:
        signals.append(Signal("permission_denials", len(denied), -min(15, 5 * len(denied)), _ids(denied)))
    return signals
