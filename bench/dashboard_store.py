"""The dashboard benchmark's store: 10,000 sessions and 1,000,000 LLM + tool-call records,
generated as canonical records (not transcripts) and written through `Store.write` in big batches.

A team of 25 over 30 days, 300 projects, three models, tool calls with realistic inputs and
outputs (and the files they touch), plus one session of 2,000 tool calls and 1,000 LLM calls
whose replay bench/dashboard.py measures. Deterministic (seeded), so runs compare.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from agent_trace.config import load_settings
from agent_trace.domain.records import (
    AGENT_CLAUDE_CODE,
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Session,
    ToolCall,
    Usage,
)
from agent_trace.store.factory import open_store
from agent_trace.store.port import SessionQuery

REPO = Path(__file__).resolve().parents[1]

BIG_TOOLS = 2000
DAY_MS = 86_400_000
MODELS = (("claude-opus-4-6", 0.7), ("claude-sonnet-4-5", 0.2), ("claude-haiku-4-5", 0.1))
# $/Mtok (input, output, cache write, cache read): plausible list prices, enough for a bench.
PRICES = {
    "claude-opus-4-6": (5.0, 25.0, 6.25, 0.5),
    "claude-sonnet-4-5": (3.0, 15.0, 3.75, 0.3),
    "claude-haiku-4-5": (1.0, 5.0, 1.25, 0.1),
}
TOOLS = (
    ("Bash", 0.34),
    ("Read", 0.25),
    ("Edit", 0.14),
    ("Grep", 0.08),
    ("Glob", 0.05),
    ("Write", 0.05),
    ("Task", 0.03),
    ("WebFetch", 0.02),
    ("TodoWrite", 0.02),
    ("mcp__github__search_issues", 0.02),
)
WORDS = [
    "parser",
    "cache",
    "login",
    "schema",
    "migration",
    "index",
    "query",
    "handler",
    "router",
    "widget",
    "invoice",
    "export",
    "retry",
    "timeout",
    "session",
    "token",
    "billing",
    "report",
    "chart",
    "search",
    "upload",
    "worker",
    "queue",
]


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in table], [weight for _, weight in table])[0]


def _cost(model: str, u: Usage) -> int:
    p_in, p_out, p_write, p_read = PRICES[model]
    usd_micro = (
        u.input_tokens * p_in
        + u.output_tokens * p_out
        + u.cache_creation_tokens * p_write
        + u.cache_read_tokens * p_read
    )
    return int(usd_micro * 1000)  # $/Mtok × tokens = µ$; × 1000 = n$


def _tool_io(rng: random.Random, name: str, project: str, big: bool) -> tuple[str, str, str | None]:
    """(input JSON, output text, a file path it touches)."""
    word = rng.choice(WORDS)
    path = f"{project}/src/{word}/{rng.choice(WORDS)}.py"
    lines = 60 if big else 4
    code = "\n".join(f"    {rng.choice(WORDS)} = {rng.choice(WORDS)}({i})  # {word}" for i in range(lines))
    if name == "Bash":
        return (
            orjson.dumps({"command": f"pytest -q tests/test_{word}.py -k {rng.choice(WORDS)}"}).decode(),
            (f"{lines} passed in 0.{rng.randint(10, 99)}s\n" + code[: 400 if big else 80]),
            None,
        )
    if name == "Read":
        out = "\n".join(f"{i + 1:6d}→{line}" for i, line in enumerate(code.split("\n")))
        return orjson.dumps({"file_path": path}).decode(), out, path
    if name == "Edit":
        return (
            orjson.dumps(
                {
                    "file_path": path,
                    "old_string": code[:200],
                    "new_string": code[:200].replace(word, word.upper()),
                }
            ).decode(),
            "The file has been updated.",
            path,
        )
    if name == "Write":
        return orjson.dumps({"file_path": path, "content": code}).decode(), "File created successfully", path
    if name in ("Grep", "Glob"):
        return (
            orjson.dumps({"pattern": f"def {word}", "path": project}).decode(),
            f"{path}:12:def {word}():",
            None,
        )
    if name == "Task":
        return (
            orjson.dumps({"description": f"review {word}", "prompt": f"Review the {word} module"}).decode(),
            (f"The {word} module looks fine."),
            None,
        )
    if name == "WebFetch":
        return (
            orjson.dumps({"url": f"https://docs.example.com/{word}", "prompt": "summarise"}).decode(),
            (f"Docs about {word}."),
            None,
        )
    if name == "TodoWrite":
        return orjson.dumps({"todos": [{"content": f"fix {word}", "status": "pending"}]}).decode(), "ok", None
    return orjson.dumps({"query": word}).decode(), f'{{"items": ["{word}"]}}', None


@dataclass
class Plan:
    sessions: int
    records: int
    start_ms: int
    big_session: str


def _session_batch(
    rng: random.Random, plan: Plan, index: int, n_records: int, start_ms: int, big: bool
) -> RecordBatch:
    user = f"dev{index % 25:02d}"
    project = f"/home/{user}/projects/{['api', 'web', 'infra', 'mobile', 'data', 'docs', 'sdk', 'cli', 'ml', 'ops', 'auth', 'pay'][index % 12]}"
    sid = plan.big_session if big else f"bench-{index:05d}-0000-4000-8000-{index:012d}"
    model = _pick(rng, MODELS)
    n_tools = BIG_TOOLS if big else max(1, int(n_records * 0.6))
    n_calls = max(1, (n_tools // 2) if big else n_records - n_tools)
    n_prompts = 8 if big else rng.randint(1, 5)
    batch = RecordBatch()
    ts = start_ms
    prompt_ids = [f"{sid}-p{p}" for p in range(n_prompts)]
    for p, pid in enumerate(prompt_ids):
        text = f"Please {rng.choice(['fix', 'add', 'refactor', 'test'])} the {rng.choice(WORDS)} in {rng.choice(WORDS)} ({p})"
        batch.prompts.append(Prompt(pid, sid, ts + p * 60_000, "prompt", text))
    span_ms = n_prompts * 60_000
    # Tools per call: 2 on average; the big session's last prompt holds half its tool calls.
    tool_index = 0
    for c in range(n_calls):
        if big:
            prompt = n_prompts - 1 if c >= n_calls // 2 else c * (n_prompts - 1) // max(n_calls // 2, 1)
        else:
            prompt = c * n_prompts // n_calls
        call_ts = ts + prompt * 60_000 + (c % 50) * 900
        # The whole session id: the big session's last 12 characters equal an ordinary one's,
        # whose calls then merged into it (the store holding 119 records fewer than planned).
        call_id = f"req_{sid}_{c:05d}"
        u = Usage(
            input_tokens=rng.randint(2, 40),
            output_tokens=rng.randint(50, 900),
            cache_creation_tokens=(w := rng.randint(0, 3000)),
            cache_5m_tokens=w,
            cache_read_tokens=rng.randint(5_000, 60_000),
        )
        batch.llm_calls.append(
            LlmCall(
                call_id,
                sid,
                message_id=f"msg_{call_id}",
                request_id=call_id,
                prompt_id=prompt_ids[prompt],
                model=model,
                ts_ms=call_ts,
                usage=u,
                cost_nusd=_cost(model, u),
                stop_reason="tool_use",
            )
        )
        per_call = 2 if c < n_calls - 1 else n_tools - tool_index
        for _ in range(per_call):
            if tool_index >= n_tools:
                break
            name = _pick(rng, TOOLS)
            inp, out, path = _tool_io(rng, name, project, big)
            tid = f"toolu_{sid}_{tool_index:05d}"
            failed = rng.random() < 0.03
            batch.tool_calls.append(
                ToolCall(
                    tid,
                    sid,
                    name,
                    prompt_id=prompt_ids[prompt],
                    call_id=call_id,
                    started_ms=call_ts + 50,
                    ended_ms=call_ts + 450,
                    duration_ms=400,
                    status="error" if failed else "success",
                    # Errors name a test and a value, as real failures do: what full-text search finds.
                    error=(
                        f"Exit code 1\nFAILED tests/test_{rng.choice(WORDS)}.py - AssertionError: "
                        f"expected {rng.randrange(1_000_000):06d}"
                    )
                    if failed
                    else None,
                    input_json=inp,
                    output_text=out,
                )
            )
            if path:
                op = "read" if name == "Read" else "write"
                batch.file_touches.append(FileTouch(tid, path, op, sid, call_ts + 50))
            tool_index += 1
    batch.sessions.append(
        Session(
            sid,
            AGENT_CLAUDE_CODE,
            project,
            project,
            user,
            "2.1.331",
            "cli",
            None,
            ts,
            ts + span_ms,
            git_branch=rng.choice(["main", "feature/" + rng.choice(WORDS)]),
        )
    )
    return batch


def _record_counts(plan: Plan) -> Iterator[int]:
    """Records per ordinary session: varied, summing to the planned total (minus the big one)."""
    rng = random.Random(7)
    ordinary = plan.sessions - 1
    budget = plan.records - (BIG_TOOLS + BIG_TOOLS // 2)
    weights = [rng.uniform(0.3, 1.7) for _ in range(ordinary)]
    scale = budget / sum(weights)
    counts = [max(2, int(w * scale)) for w in weights]
    counts[-1] += budget - sum(counts)
    yield from counts


def build(db_url: str, plan: Plan, events_url: str | None = None) -> None:
    """Write the plan's records into the store at `db_url` (+ ClickHouse at `events_url`)."""
    env = {"AGENT_TRACE_DATABASE_URL": db_url, "HOME": str(REPO), "AGENT_TRACE_HOME": str(REPO)}
    if events_url:
        env["AGENT_TRACE_EVENTS_URL"] = events_url
    settings = load_settings(env)
    store = open_store(settings.database_url, settings.events_url)
    rng = random.Random(42)
    batch = RecordBatch()
    started = time.perf_counter()
    written = 0
    counts = list(_record_counts(plan))
    span = 30 * DAY_MS
    for index in range(plan.sessions):
        big = index == plan.sessions // 2
        n = 0 if big else counts[index - (1 if index > plan.sessions // 2 else 0)]
        start_ms = plan.start_ms + int(index * span / plan.sessions) + rng.randint(0, 600_000)
        batch.extend(_session_batch(rng, plan, index, n, start_ms, big))
        if len(batch) >= 40_000 or index == plan.sessions - 1:
            written += len(batch.llm_calls) + len(batch.tool_calls)
            store.write(batch)
            batch = RecordBatch()
            rate = written / (time.perf_counter() - started)
            print(f"\r  wrote {written:,} LLM + tool-call records ({rate:,.0f}/s)", end="", flush=True)
    print()
    t = time.perf_counter()
    store.refresh_derived()
    print(f"  derived data refreshed in {time.perf_counter() - t:.1f} s")
    store.close()


def shape_matches(db_url: str, plan: Plan, events_url: str | None = None) -> bool:
    try:
        env = {"AGENT_TRACE_DATABASE_URL": db_url, "HOME": str(REPO), "AGENT_TRACE_HOME": str(REPO)}
        if events_url:
            env["AGENT_TRACE_EVENTS_URL"] = events_url
        settings = load_settings(env)
        store = open_store(settings.database_url, settings.events_url)
        counts = store.counts()
        big = store.list_sessions(SessionQuery(limit=1, session_ids=(plan.big_session,))).sessions
        store.close()
    except Exception:
        return False
    return (
        counts["sessions"] == plan.sessions
        and counts["llm_calls"] + counts["tool_calls"] == plan.records
        and bool(big)
        and big[0].tool_calls == BIG_TOOLS
    )


# Full-text searches the benches time (bench/dashboard.py over HTTP, bench/search.py per backend):
# (label, query). `ERROR_QUERY` is filled from the store (a value one failed call really has).
SEARCHES = (
    ("a file path", "infra/src/billing/chart.py"),
    ("a command", "pytest -q tests/test_parser.py"),
    ("one common word", "migration"),
)


def error_query(db_url: str, events_url: str | None = None) -> str:
    """`expected NNNNNN` of one stored failure (found through the store's own search)."""
    from agent_trace.store.port import SearchQuery

    env = {"AGENT_TRACE_DATABASE_URL": db_url, "HOME": str(REPO), "AGENT_TRACE_HOME": str(REPO)}
    if events_url:
        env["AGENT_TRACE_EVENTS_URL"] = events_url
    opened = load_settings(env)
    store = open_store(opened.database_url, opened.events_url)
    try:
        hits = store.search(SearchQuery("AssertionError expected", kinds=frozenset({"tool_call"}), limit=1))
    finally:
        store.close()
    words = hits[0].snippet.replace("\x02", "").replace("\x03", "").split() if hits else []
    return "expected " + (words[-1] if words else "000000")
