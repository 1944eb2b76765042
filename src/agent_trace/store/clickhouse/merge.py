"""The merge rules of store/sql/statements.py, in Python, for the ClickHouse writer.

The SQL store merges a new copy of a record into the stored one with `INSERT … ON CONFLICT DO
UPDATE SET col = <rule>`; ClickHouse has no such statement, so the writer loads the stored state,
applies the very same rules here, in the same arrival order, and writes the result. Every SET
expression of the SQL statement reads the OLD row (`table.col`) and the NEW copy (`excluded.col`);
the functions below do the same, computing every column from `old` and `new`, never from a
half-updated row. tests/store/test_merge_rules.py replays random copies through SQLite and
through these functions and requires identical rows.

Rows are dicts keyed by the SQL column names (adapter's `_prompt_row` etc. build them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_trace.domain.records import BUCKET_MS, SIDECHAIN_AGENT
from agent_trace.store.sql import statements as st

Row = dict[str, Any]


def _first(old: Any, new: Any) -> Any:
    return old if old is not None else new


def _latest(old: Any, new: Any) -> Any:
    return new if new is not None else old


def _min(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b < a else a


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b > a else a


def _longer(old: str | None, new: str | None) -> str | None:
    # SQLite's and PostgreSQL's LENGTH count characters, as len() does. Equal lengths keep the
    # smaller text: Python compares code points, as SQLite, PostgreSQL under "C" and ClickHouse do.
    if new is None:
        return old
    if old is None:
        return new
    if len(new) > len(old) or (len(new) == len(old) and new < old):
        return new
    return old


def sql_bucket(ts: int | None) -> int | None:
    """`ts - ts % BUCKET_MS` as SQL computes it (the remainder takes the dividend's sign)."""
    if ts is None:
        return None
    remainder = abs(ts) % BUCKET_MS
    return ts - (remainder if ts >= 0 else -remainder)


def _agent(old: str | None, new: str | None) -> str | None:
    if new is None:
        return old
    if old is None:
        return new
    if new.startswith(SIDECHAIN_AGENT) and not old.startswith(SIDECHAIN_AGENT):
        return old
    return new


_RULES: dict[str, Callable[[Any, Any], Any]] = {
    "agent": _agent,
    "first": _first,
    "latest": _latest,
    "min": _min,
    "max": _max,
    "longer": _longer,
}


def _apply(old: Row, new: Row, rules: dict[str, str]) -> Row:
    merged = dict(old)
    for column, rule in rules.items():
        merged[column] = _RULES[rule](old[column], new[column])
    return merged


def _check(rules: dict[str, str]) -> dict[str, str]:
    # A rule written as literal SQL in statements.py has no Python twin: fail at import, loudly.
    unknown = {c: r for c, r in rules.items() if r not in _RULES}
    if unknown:
        raise ValueError(
            f"merge rules without a Python equivalent (add them to store/clickhouse/merge.py): {unknown}"
        )
    return rules


_PROMPT_RULES = _check(st.PROMPT_RULES)


def merge_prompt(old: Row, new: Row) -> Row:
    merged = _apply(old, new, _PROMPT_RULES)
    merged["ts_ms"] = _min(old["ts_ms"], new["ts_ms"])
    merged["bucket_ms"] = sql_bucket(merged["ts_ms"])
    return merged


USAGE_COLUMNS = st.USAGE_COLUMNS
_LLM_RULES = _check(st.LLM_CALL_RULES)


def usage_wins(old: Row, new: Row) -> bool:
    """statements._USAGE_WINS: the new copy's usage replaces the stored one's."""
    return bool(new["has_usage"] == 1) and bool(
        old["has_usage"] == 0
        or new["usage_total"] > old["usage_total"]
        or (
            new["usage_total"] == old["usage_total"]
            and (
                (old["is_sidechain"] == 1 and new["is_sidechain"] == 0)
                or new["cache_1h_tokens"] > old["cache_1h_tokens"]
            )
        )
    )


def merge_llm_call(old: Row, new: Row) -> Row:
    merged = _apply(old, new, _LLM_RULES)
    wins = usage_wins(old, new)
    for column in (*USAGE_COLUMNS, "usage_total", "is_sidechain", "has_usage"):
        merged[column] = new[column] if wins else old[column]
    if wins or (old["cost_nusd"] is None and new["usage_total"] == old["usage_total"]):
        merged["cost_nusd"] = new["cost_nusd"]
    else:
        merged["cost_nusd"] = old["cost_nusd"]
    merged["unpriced_reason"] = (
        None if merged["cost_nusd"] is not None else _latest(old["unpriced_reason"], new["unpriced_reason"])
    )
    merged["ts_ms"] = _min(old["ts_ms"], new["ts_ms"])
    merged["bucket_ms"] = sql_bucket(merged["ts_ms"])
    return merged


_TOOL_RULES = _check(st.TOOL_CALL_RULES)
_STATUS_RANK = {"denied": 4, "interrupted": 3, "error": 2}


def _status(old: str | None, new: str | None) -> str | None:
    """The most telling status wins whatever the order: denied > interrupted > error > success."""
    if new is None:
        return old
    if old is None:
        return new
    return new if _STATUS_RANK.get(new, 1) > _STATUS_RANK.get(old, 1) else old


def merge_tool_call(old: Row, new: Row) -> Row:
    merged = _apply(old, new, _TOOL_RULES)
    merged["started_ms"] = _min(old["started_ms"], new["started_ms"])
    merged["ended_ms"] = _max(old["ended_ms"], new["ended_ms"])
    anchor = merged["started_ms"] if merged["started_ms"] is not None else merged["ended_ms"]
    merged["bucket_ms"] = sql_bucket(anchor)
    merged["status"] = _status(old["status"], new["status"])
    return merged


_SUBAGENT_RULES = _check(st.SUBAGENT_RULES)
_FILE_TOUCH_RULES = _check(st.FILE_TOUCH_RULES)


def merge_subagent(old: Row, new: Row) -> Row:
    return _apply(old, new, _SUBAGENT_RULES)


def merge_file_touch(old: Row, new: Row) -> Row:
    return _apply(old, new, _FILE_TOUCH_RULES)


MERGERS: dict[str, Callable[[Row, Row], Row]] = {
    "prompt": merge_prompt,
    "llm_call": merge_llm_call,
    "tool_call": merge_tool_call,
    "file_touch": merge_file_touch,
    "subagent": merge_subagent,
}
