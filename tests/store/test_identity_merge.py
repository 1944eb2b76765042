"""Who a session belongs to, whichever channel names the developer first."""

from __future__ import annotations

from typing import Any

from agent_trace.domain.records import RecordBatch, Session


def _user_of(store: Any, session_id: str) -> str | None:
    detail = store.session_detail(session_id)
    return None if detail is None else detail.session["user_id"]


def test_a_real_identity_replaces_the_anonymous_telemetry_hash(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s1", user_id="otel:8036bd")]))
    store.write(RecordBatch(sessions=[Session("s1", user_id="dev@example.com")]))
    store.write(RecordBatch(sessions=[Session("s1", user_id="otel:8036bd")]))
    assert _user_of(store, "s1") == "dev@example.com"


def test_the_first_real_identity_stays(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s2", user_id="alice")]))
    store.write(RecordBatch(sessions=[Session("s2", user_id="bob")]))
    store.write(RecordBatch(sessions=[Session("s2", user_id="otel:ffff")]))
    assert _user_of(store, "s2") == "alice"


# -- migration 0006_i11: sessions without a real user, back-filled where the store can tell --------


def _calls(session_id: str, tokens: int) -> list[Any]:
    from agent_trace.domain.records import LlmCall, Usage

    return [
        LlmCall(
            f"req_{session_id}",
            session_id,
            model="claude-sonnet-4-5",
            ts_ms=1_770_000_000_000,
            usage=Usage(input_tokens=tokens),
            cost_nusd=tokens,
        )
    ]


def _input_tokens(store: Any, user: str) -> int:
    from agent_trace.store.port import Filters

    return sum(b.input_tokens for b in store.usage_buckets(Filters(user=user)))


def _rerun_backfill(store: Any) -> None:
    store.runner.execute(
        "INSERT INTO instance_settings (key, value, updated_ms) VALUES ('backfill_users', 'pending', 0)"
    )
    store.migrate()


def test_the_backfill_gives_a_single_users_store_one_user(store: Any) -> None:
    for sid, user, tokens in (("b1", "dev@example.com", 1), ("b2", None, 10), ("b3", "otel:abc", 100)):
        store.write(RecordBatch(sessions=[Session(sid, user_id=user)], llm_calls=_calls(sid, tokens)))
    assert _input_tokens(store, "dev@example.com") == 1
    _rerun_backfill(store)
    assert [_user_of(store, s) for s in ("b1", "b2", "b3")] == ["dev@example.com"] * 3
    assert _input_tokens(store, "dev@example.com") == 111  # the rollups follow the user
    assert "backfill_users" not in store.instance_settings()


def test_the_backfill_guesses_nothing_among_several_users(store: Any) -> None:
    for sid, user in (("c1", "alice"), ("c2", "bob"), ("c3", None), ("c4", "otel:abc")):
        store.write(RecordBatch(sessions=[Session(sid, user_id=user)], llm_calls=_calls(sid, 5)))
    _rerun_backfill(store)
    assert [_user_of(store, s) for s in ("c1", "c2", "c3", "c4")] == ["alice", "bob", None, "otel:abc"]
    assert "backfill_users" not in store.instance_settings()
