"""The answer cache is exact: a replay is rebuilt as soon as its session changes (and only then);
analytics as soon as anything changes; a write landing mid-computation is never lost."""

from __future__ import annotations

from typing import Any

from agent_trace.domain.records import Prompt, RecordBatch, Session
from agent_trace.server.api import service
from agent_trace.server.api.cache import ChangeValidatedCache
from agent_trace.server.api.params import parse_day_range


def write_prompt(store: Any, session_id: str, prompt_id: str, ts_ms: int = 1_770_804_000_000) -> None:
    store.write(
        RecordBatch(
            sessions=[Session(session_id, user_id="dev", started_ms=ts_ms)],
            prompts=[Prompt(prompt_id, session_id, ts_ms=ts_ms, kind="prompt", text=f"text of {prompt_id}")],
        )
    )


def test_a_replay_is_kept_until_its_session_changes(sqlite_store: Any) -> None:
    write_prompt(sqlite_store, "s1", "p1")
    write_prompt(sqlite_store, "s2", "q1")
    cache = ChangeValidatedCache(sqlite_store)
    builds: list[str] = []

    def get(sid: str) -> bytes:
        def build() -> bytes:
            builds.append(sid)
            return service.session_replay_json(sqlite_store, sid)

        return cache.get(("replay", sid), sid, build)

    first = get("s1")
    assert get("s1") is first and builds == ["s1"]
    write_prompt(sqlite_store, "s2", "q2")  # another session: s1's replay still holds
    assert get("s1") is first and builds == ["s1"]
    write_prompt(sqlite_store, "s1", "p2")  # its own session changed: rebuilt, with the change
    again = get("s1")
    assert builds == ["s1", "s1"] and b"text of p2" in again


def test_analytics_are_rebuilt_after_any_change(sqlite_store: Any) -> None:
    write_prompt(sqlite_store, "s1", "p1")
    cache = ChangeValidatedCache(sqlite_store)
    days = parse_day_range({"since": "2026-02-10", "until": "2026-02-12"}, "UTC")
    first = service.analytics_cost_daily_json(sqlite_store, days, cache=cache)
    assert service.analytics_cost_daily_json(sqlite_store, days, cache=cache) is first
    write_prompt(sqlite_store, "s9", "z1")
    rebuilt = service.analytics_cost_daily_json(sqlite_store, days, cache=cache)
    assert rebuilt is not first and b'"prompts":2' in rebuilt


def test_a_write_during_the_build_is_seen_next_time(sqlite_store: Any) -> None:
    write_prompt(sqlite_store, "s1", "p1")
    cache = ChangeValidatedCache(sqlite_store)

    def racing_build() -> bytes:
        stale = service.session_replay_json(sqlite_store, "s1")
        write_prompt(sqlite_store, "s1", "p2")  # lands after the data was read
        return stale

    stale = cache.get(("replay", "s1"), "s1", racing_build)
    assert b"text of p2" not in stale
    fresh = cache.get(("replay", "s1"), "s1", lambda: service.session_replay_json(sqlite_store, "s1"))
    assert b"text of p2" in fresh


def test_the_replay_summary_is_always_fresh(sqlite_store: Any) -> None:
    write_prompt(sqlite_store, "s1", "p1")
    cache = ChangeValidatedCache(sqlite_store)
    replay = service.session_replay(sqlite_store, "s1", cache)
    assert replay["summary"]["session_id"] == "s1" and replay["prompts"][0]["text"] == "text of p1"
    assert service.session_replay(sqlite_store, "s1", cache) == replay


def test_size_limit_evicts_least_recently_used(sqlite_store: Any) -> None:
    cache = ChangeValidatedCache(sqlite_store, max_bytes=400)
    for key in "abcde":  # 5 × 90 bytes > 400: the first one goes
        cache.get(key, None, lambda k=key: k.encode() * 90)
    builds: list[str] = []
    cache.get("e", None, lambda: builds.append("e") or b"e" * 90)
    cache.get("a", None, lambda: builds.append("a") or b"a" * 90)
    assert builds == ["a"]  # "a" had been evicted; "e" was still there
