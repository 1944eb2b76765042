"""Spend per budget equals the reports' numbers; the hook decision for each scope and mode."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent_trace.config import Settings
from agent_trace.domain.budgets import make_budget
from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.hook.budget import decide as decide_from_doc
from agent_trace.reports.analytics import cost_daily
from agent_trace.server.budgets.guard import BudgetGuard
from agent_trace.server.budgets.report import budgets_report, current_statuses
from agent_trace.server.budgets.spend import period_bounds
from agent_trace.store.port import Filters
from tests.server.collector.support import running_collector

BERLIN = ZoneInfo("Europe/Berlin")


def ms(text: str) -> int:
    value = parse_iso_ms(text)
    assert value is not None
    return value


NOW = ms("2026-03-29T12:00:00Z")  # a Sunday; DST started in Berlin at 01:00 UTC that day


def _call(call_id: str, sid: str, when: str, cost: int, tokens: int = 10) -> LlmCall:
    usage = Usage(input_tokens=tokens, output_tokens=1, cache_read_tokens=2)
    return LlmCall(call_id, sid, model="m", ts_ms=ms(when), usage=usage, cost_nusd=cost)


@pytest.fixture
def spend(store: Any) -> Any:
    sessions = [
        Session("s-ana", user_id="ana", project="/home/ana/api"),
        Session("s-bob", user_id="bob", project="/home/bob/web"),
        Session("s-old", user_id="ana", project="/home/ana/api"),
    ]
    calls = [
        _call("c1", "s-ana", "2026-03-28T23:30:00Z", 100),  # Berlin 00:30 on the 29th: today
        _call("c2", "s-ana", "2026-03-29T10:00:00Z", 20),
        _call("c3", "s-bob", "2026-03-29T11:00:00Z", 3_000),
        _call("c4", "s-bob", "2026-03-28T22:30:00Z", 5),  # Berlin 23:30 on the 28th: yesterday, same week
        _call("c5", "s-old", "2026-03-02T09:00:00Z", 70_000),  # this month, an earlier week
        _call("c6", "s-old", "2026-02-27T09:00:00Z", 900_000),  # last month
    ]
    store.write(RecordBatch(sessions=sessions, llm_calls=calls))
    return store


def test_period_bounds_follow_the_time_zone() -> None:
    start, end, key = period_bounds("day", NOW, BERLIN)
    assert (start, end, key) == (ms("2026-03-28T23:00:00Z"), ms("2026-03-29T22:00:00Z"), "2026-03-29")
    assert period_bounds("week", NOW, BERLIN)[2] == "2026-03-23"
    assert period_bounds("month", NOW, BERLIN)[:2] == (ms("2026-02-28T23:00:00Z"), ms("2026-03-31T22:00:00Z"))


def test_spend_per_scope_and_period_equals_the_report(spend: Any) -> None:
    for scope, period in [("all", "day"), ("all", "week"), ("all", "month"), ("user:ana", "month"),
                          ("project:api", "month"), ("project:/home/bob/web", "day")]:  # fmt: skip
        spend.save_budget(make_budget(scope, period, usd="1"))
    spend.save_budget(make_budget("user:bob", "week", tokens="1m"))
    spend.save_budget(make_budget("session", "session", usd="1"))
    got = {s.budget.budget_id: s.spent for s in current_statuses(BudgetGuard(spend, BERLIN), NOW)}
    assert got == {
        "all/day/usd": 3_120,
        "all/week/usd": 3_125,
        "all/month/usd": 73_125,
        "user:ana/month/usd": 70_120,
        "project:api/month/usd": 70_120,
        "project:/home/bob/web/day/usd": 3_000,
        "user:bob/week/tokens": 26,  # 2 calls x (10 input + 1 output + 2 cache read)
        "session/session/usd": 970_000,  # the largest session
    }
    report = cost_daily(spend, date(2026, 3, 29), date(2026, 3, 29), BERLIN, "Europe/Berlin", Filters())
    assert report["days"][0]["cost_nusd"] == got["all/day/usd"]


def test_decisions_per_scope_and_mode(spend: Any) -> None:
    guard = BudgetGuard(spend, BERLIN, contact="ask ops@example.com")
    spend.save_budget(make_budget("user:ana", "month", usd="0.00007", mode="block"))  # ana: 70,120 nano-USD
    spend.save_budget(make_budget("project:web", "day", usd="0.000002", mode="warn"))
    guard.refresh(NOW)
    refused = guard.decide("UserPromptSubmit", "s-new", "ana", "/home/ana/api")
    assert refused is not None and refused["decision"] == "block"
    assert refused["reason"] == (
        "agent-trace budget blocked: user:ana USD budget for this month (2026-03) is spent: $0.00007012 of "
        "$0.00007. To raise it: ask ops@example.com."
    )
    tool = guard.decide("PreToolUse", "s-ana", None, None)  # user and project from the stored session
    assert tool is not None and tool["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert guard.decide("PostToolUse", "s-ana", "ana", None) is None
    warned = guard.decide("UserPromptSubmit", "s-bob", "bob", "/home/bob/web")
    assert (
        warned is not None and set(warned) == {"systemMessage"} and "project:web" in warned["systemMessage"]
    )
    assert guard.decide("PreToolUse", "s-bob", "bob", "/home/bob/web") is None  # warnings: prompts only
    assert guard.decide("UserPromptSubmit", "s-x", "carol", "/srv/other") is None

    spend.allow_session("s-ana")
    guard.refresh(NOW)
    allowed = guard.decide("UserPromptSubmit", "s-ana", "ana", None)
    assert allowed is not None and "decision" not in allowed and "budget blocked" in allowed["systemMessage"]
    spend.save_budget(make_budget("user:ana", "month", usd="1", mode="block"))  # the admin raised it
    guard.refresh(NOW)
    assert guard.decide("UserPromptSubmit", "s-new", "ana", None) is None


def test_team_scope_resolves_members_through_one_function(spend: Any) -> None:
    teams = {"web": frozenset({"bob"})}
    guard = BudgetGuard(spend, BERLIN, members_of=lambda _store, team: teams.get(team, frozenset()))
    spend.save_budget(make_budget("team:web", "day", usd="0.000001", mode="block"))
    guard.refresh(NOW)
    assert guard.decide("UserPromptSubmit", "s-bob", "bob", None) is not None
    assert guard.decide("UserPromptSubmit", "s-ana", "ana", None) is None
    # Until issue 15's teams are wired in, a team has no members (and blocks nobody).
    assert BudgetGuard(spend, BERLIN).refresh(NOW).snap.members == {"web": frozenset()}


def test_per_session_budget_counts_each_session_alone(spend: Any) -> None:
    spend.save_budget(make_budget("session", None, usd="0.000050", mode="block"))
    guard = BudgetGuard(spend, BERLIN)
    guard.refresh(NOW)
    doc = guard.state_doc("ana")
    assert [r["session_ids"] for r in doc["rules"]] == [["s-old"]]  # s-ana spent 120: under
    assert decide_from_doc(doc, "PreToolUse", "s-old", None) is not None
    assert decide_from_doc(doc, "PreToolUse", "s-ana", None) is None
    assert guard.state_doc("bob")["rules"] == []  # s-bob spent 3,005


def test_budgets_report_shape(spend: Any) -> None:
    spend.save_budget(make_budget("all", "month", usd="0.0001", thresholds="50,100", mode="block"))
    report = budgets_report(spend, BERLIN, now_ms=NOW)
    (b,) = report["budgets"]
    assert (b["id"], b["spent"], b["limit"], b["percent"], b["crossed"], b["exhausted"]) == (
        "all/month/usd", "$0.000073125", "$0.0001", 73, [50], False,
    )  # fmt: skip


# -- over HTTP ------------------------------------------------------------------------------------


def test_api_puts_lists_and_removes_budgets(settings: Settings, store: Any) -> None:
    from tests.server.conftest import make_client

    with make_client(settings, store, "api") as api:
        put = api.put(
            "/v1/budgets",
            json={
                "scope": "team:web",
                "period": "week",
                "usd": 12.5,
                "thresholds": [80, 100],
                "mode": "block",
            },
        )
        assert put.status_code == 200, put.text
        assert put.json()["id"] == "team:web/week/usd" and put.json()["limit"] == "$12.50"
        bad = api.put("/v1/budgets", json={"scope": "team:web", "usd": 1, "tokens": 2})
        assert bad.status_code == 400 and "exactly one limit" in bad.json()["error"]["message"]
        listed = api.get("/v1/budgets").json()
        assert [b["id"] for b in listed["budgets"]] == ["team:web/week/usd"]
        assert set(listed) == {"budgets", "alerts", "deliveries", "allowed_sessions"}
        assert api.post("/v1/budgets/allow", json={"session_id": "s1"}).status_code == 200
        assert api.get("/v1/budgets").json()["allowed_sessions"] == ["s1"]
        assert api.delete("/v1/budgets/team:web/week/usd").status_code == 204
        assert api.delete("/v1/budgets/team:web/week/usd").status_code == 404


def test_collector_answers_hooks_with_the_decision(settings: Settings) -> None:
    now = time.time_ns() // 1_000_000
    collector_settings = replace(settings, otel_grpc_address="off")
    with running_collector(collector_settings) as (client, ctx):
        ctx.store.write(RecordBatch(
            sessions=[Session("s1", user_id="dev", project="/w/api")],
            llm_calls=[LlmCall("c1", "s1", model="m", ts_ms=now, usage=Usage(5, 5), cost_nusd=2_000_000_000)],
        ))  # fmt: skip
        payload = {
            "session_id": "s2",
            "transcript_path": "/t.jsonl",
            "cwd": "/w/api",
            "hook_event_name": "UserPromptSubmit",
            "prompt": "hi",
        }
        assert client.post("/v1/hooks", json=payload).status_code == 204  # no budget yet
        ctx.store.save_budget(make_budget("project:api", "day", usd="1", mode="block"))
        ctx.services.budget_guard.refresh(now)
        answer = client.post("/v1/hooks", json=payload)
        assert answer.status_code == 200 and answer.json()["decision"] == "block"
        assert "$2.00 of $1.00" in answer.json()["reason"]
        other = client.post("/v1/hooks", json={**payload, "cwd": "/w/web"})
        assert other.status_code == 204
        state = client.get("/v1/budgets/state", params={"user": "dev"}).json()
        assert [(r["budget_id"], r["match"], r["project"]) for r in state["rules"]] == [
            ("project:api/day/usd", "project", "api")
        ]
        many = client.post("/v1/hooks", json=[payload])  # a batch from the handler's spool: never a decision
        assert many.status_code == 200 and set(many.json()) == {"accepted", "rejected"}


def test_an_idle_store_is_not_summed_again(spend: Any) -> None:
    spend.save_budget(make_budget("all", "month", usd="1"))
    spend.save_budget(make_budget("all", "day", usd="1"))
    guard = BudgetGuard(spend, BERLIN)
    state = guard.refresh(NOW)
    first = state.snap
    again = guard.refresh(NOW + 1_000)
    assert again.snap.periods["month"] is first.periods["month"]  # nothing written: reused
    assert again.sessions is state.sessions
    spend.write(RecordBatch(llm_calls=[_call("c9", "s-bob", "2026-03-29T11:30:00Z", 7)]))
    third = guard.refresh(NOW + 2_000)
    assert third.snap.periods["month"] is not first.periods["month"]
    by_id = {b.budget_id: b for b in third.snap.budgets}
    assert third.snap.period_spent(by_id["all/month/usd"]) == 73_132
    assert third.snap.period_spent(by_id["all/day/usd"]) == 3_127
    # Only the changed session was read again, and it carries the new call.
    assert third.sessions["s-bob"].cost_nusd == state.sessions["s-bob"].cost_nusd + 7
    assert third.sessions["s-ana"] is state.sessions["s-ana"]
