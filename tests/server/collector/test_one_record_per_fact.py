"""One record per fact: the real captures through the collector's HTTP endpoints, in any order,
any number of times, give the records a transcript-only import gives — each fact once, holding
the union of what the three channels (hooks, OTLP, transcript deltas) know."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent_trace.config import Settings
from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.sources.otlp_build import usd_to_nusd
from agent_trace.store.factory import open_store
from tests.backends import POSTGRES, SQLITE, Backend, backend_params
from tests.server.collector.support import (
    REAL_CLIENT,
    SCENARIOS,
    Post,
    delta_posts,
    fingerprint,
    hook_payloads,
    hook_posts,
    otlp_captures,
    otlp_posts,
    running_collector,
    session_of,
    transcript_files,
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent"),
]

# Columns whose merge rule keeps the value that arrived last (or first) while the channels
# disagree on it, so their final value depends on the order of arrival (see docs/collector.md,
# "Known order-dependent columns"). Everything else must be identical whatever the order.
ORDER_DEPENDENT = {
    # OTLP says speed "normal", the transcript "standard"; the api_request log and the
    # llm_request span measure duration a few ms apart. Both merge as "latest".
    "llm_calls": {"speed", "duration_ms"},
    # Hooks, OTLP and the transcript time a tool's duration separately ("latest").
    "tool_calls": {"duration_ms", "input_json"},  # input_json: same JSON, other key order ("longer" tie)
    "file_touches": {"ts_ms"},  # first insert wins
    "session": {"cwd"},  # "latest" by arrival, not by time (real-client/cwd)
}


def _without_order_dependent(fp: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table, value in fp.items():
        drop = ORDER_DEPENDENT.get(table, set())
        if table == "session":
            out[table] = {k: v for k, v in value.items() if k not in drop}
        else:
            out[table] = {key: {k: v for k, v in row.items() if k not in drop} for key, row in value.items()}
    return out


def _collector_settings(settings: Settings) -> Settings:
    return replace(settings, otel_grpc_address="off")


def _feed(settings: Settings, posts: list[Post], session_id: str) -> dict[str, Any]:
    with running_collector(settings) as (client, ctx):
        for post in posts:
            post.send(client)
        return fingerprint(ctx.store, session_id)


def _channels_in_order(scenario: str) -> list[Post]:
    return hook_posts(scenario) + otlp_posts(scenario) + delta_posts(scenario, pieces=3)


def _channels_reversed(scenario: str) -> list[Post]:
    # Deltas of one file keep their order (the hook handler ships them in order); the channels
    # and the requests inside OTLP and hooks arrive backwards.
    return delta_posts(scenario, pieces=5) + otlp_posts(scenario)[::-1] + hook_posts(scenario)[::-1]


def _interleaved_twice(scenario: str) -> list[Post]:
    rng = random.Random(scenario)
    others = (hook_posts(scenario) + otlp_posts(scenario)) * 2
    rng.shuffle(others)
    deltas = delta_posts(scenario, pieces=4) + delta_posts(scenario, pieces=2)  # re-delivered, cut otherwise
    merged: list[Post] = []
    for post in others:
        merged.append(post)
        if deltas and rng.random() < 0.4:
            merged.append(deltas.pop(0))
    return merged + deltas


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_any_order_any_number_of_times_gives_the_same_records(
    scenario: str, settings: Settings, tmp_path: Path
) -> None:
    session_id = session_of(scenario)
    results = []
    for i, order in enumerate((_channels_in_order, _channels_reversed, _interleaved_twice)):
        home = tmp_path / f"home-{i}"
        home.mkdir()
        each = replace(
            _collector_settings(settings), home=home, database_url=f"sqlite:///{home / 'agent-trace.db'}"
        )
        results.append(_without_order_dependent(_feed(each, order(scenario), session_id)))
    assert results[1] == results[0]
    assert results[2] == results[0]


def _import_only(settings: Settings, scenario: str, tmp_path: Path) -> dict[str, Any]:
    home = tmp_path / "import-home"
    home.mkdir()
    store = open_store(f"sqlite:///{home / 'agent-trace.db'}", settings.events_url)
    try:
        Importer(Writer(store, PriceBook(), settings.privacy_tier)).run(transcript_files(scenario))
        return fingerprint(store, session_of(scenario))
    finally:
        store.close()


def _otlp_api_requests(scenario: str) -> dict[str, dict[str, Any]]:
    """request_id → attributes of every OTLP api_request log record of the capture."""
    found: dict[str, dict[str, Any]] = {}
    for capture in otlp_captures(scenario):
        if capture["path"] != "/v1/logs":
            continue
        for resource in capture["body"]["resourceLogs"]:
            for scope in resource["scopeLogs"]:
                for record in scope["logRecords"]:
                    attrs = {a["key"]: next(iter(a["value"].values())) for a in record["attributes"]}
                    if attrs.get("event.name") == "api_request":
                        found[str(attrs["request_id"])] = attrs
    return found


USAGE = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_5m_tokens",
    "cache_1h_tokens",
    "cache_read_tokens",
    "cost_nusd",
)


@pytest.mark.parametrize("backend", backend_params(SQLITE, POSTGRES), indirect=True)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_live_capture_holds_the_facts_of_a_transcript_import_once(
    scenario: str, backend: Backend, tmp_path: Path
) -> None:
    session_id = session_of(scenario)
    imported = _import_only(backend.settings, scenario, tmp_path)
    live = _feed(_collector_settings(backend.settings), _interleaved_twice(scenario), session_id)
    api_requests = _otlp_api_requests(scenario)

    # LLM calls: every call of the transcript, with the very same tokens and computed cost; the
    # only extras are calls that only OTLP reports (the /compact summary request has no
    # assistant record in 2.1.331).
    # A call is keyed by its message id; an OTLP api_request (request id only) merges into the
    # call holding its request id, and stays keyed by the request id only where no transcript
    # record holds it (docs/ARCHITECTURE.md, "LLM call key").
    assert set(imported["llm_calls"]) <= set(live["llm_calls"])
    held = {row["request_id"]: key[0] for key, row in imported["llm_calls"].items() if row["request_id"]}
    otlp_only = set(api_requests) - set(held)
    assert {k[0] for k in live["llm_calls"]} == {k[0] for k in imported["llm_calls"]} | otlp_only
    for key, row in imported["llm_calls"].items():
        assert {c: live["llm_calls"][key][c] for c in USAGE} == {c: row[c] for c in USAGE}, key
        assert live["llm_calls"][key]["message_id"] == row["message_id"]
    # Claude Code's reported cost sits beside the computed one, once per request.
    for request_id, attrs in api_requests.items():
        key = (held.get(request_id, request_id),)
        assert live["llm_calls"][key]["reported_cost_nusd"] == usd_to_nusd(attrs["cost_usd"])

    # Session totals count every call once.
    session = live["session"]
    for column in USAGE:
        assert session[column] == sum(int(r[column] or 0) for r in live["llm_calls"].values()), column
    assert session["n_llm_calls"] == len(live["llm_calls"])

    # Prompts and tool calls: the same facts as the transcript (hooks and OTLP add no duplicates
    # under other keys), each once, with the union of the details.
    assert set(live["prompts"]) == set(imported["prompts"])
    assert set(live["tool_calls"]) == set(imported["tool_calls"])
    hook_tool_ids = {p["tool_use_id"] for p in hook_payloads(scenario) if p.get("tool_use_id")}
    assert hook_tool_ids <= {k[0] for k in live["tool_calls"]}
    for key, row in imported["tool_calls"].items():
        stored = live["tool_calls"][key]
        # The transcript sees a rejected call as an error; OTLP's tool_decision knows it was denied.
        assert stored["status"] == row["status"] or (stored["status"], row["status"]) == (
            "denied",
            "error",
        ), key
        assert stored["tool_name"] == row["tool_name"], key
        assert stored["output_text"], key  # tier 2 keeps outputs
    # Subagents too; hooks add the /compact run, which never gets a transcript file (2.1.331).
    assert set(imported["subagents"]) <= set(live["subagents"])
    for key in set(live["subagents"]) - set(imported["subagents"]):
        assert live["subagents"][key]["is_compaction"] == 1, key


def test_a_session_captured_twice_counts_each_call_once(settings: Settings) -> None:
    """real-client/compact resumed real-client/basic: the same session, its transcript re-shipped
    from offset 0 with more lines appended."""
    session_id = session_of("basic")
    assert session_of("compact") == session_id
    posts = []
    for scenario in ("basic", "compact"):
        posts += hook_posts(scenario) + otlp_posts(scenario) + delta_posts(scenario, pieces=2)
    live = _feed(_collector_settings(settings), posts, session_id)
    expected = set(_otlp_api_requests("basic")) | set(_otlp_api_requests("compact"))
    # One call per request id (keyed by its message id where the transcript holds one).
    assert sorted(r["request_id"] for r in live["llm_calls"].values()) == sorted(expected)
    assert live["session"]["n_llm_calls"] == len(expected)
    assert live["session"]["input_tokens"] == sum(int(r["input_tokens"]) for r in live["llm_calls"].values())
