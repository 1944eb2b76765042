"""The merge rules of domain/merge_rules.py applied to rows, for the ClickHouse writer.

The SQL store merges a new copy of a record into the stored one with `INSERT … ON CONFLICT DO
UPDATE SET col = <rule>`; ClickHouse has no such statement, so the writer loads the stored state,
applies the very same domain rules here, in the same arrival order, and writes the result. Every
SET expression of the SQL statement reads the OLD row (`table.col`) and the NEW copy
(`excluded.col`); the functions below do the same, computing every column from `old` and `new`,
never from a half-updated row. tests/store/test_merge_rules.py replays random copies through
SQLite and through these functions and requires identical rows.

Rows are dicts keyed by the SQL column names (store/sql/rows.py builds them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_trace.domain import merge_rules as mr
from agent_trace.domain.records import BUCKET_MS
from agent_trace.store.sql import statements as st

Row = dict[str, Any]


def sql_bucket(ts: int | None) -> int | None:
    """`ts - ts % BUCKET_MS` as SQL computes it (the remainder takes the dividend's sign)."""
    if ts is None:
        return None
    remainder = abs(ts) % BUCKET_MS
    return ts - (remainder if ts >= 0 else -remainder)


def merge_prompt(old: Row, new: Row) -> Row:
    merged = mr.apply_rules(old, new, mr.PROMPT_RULES)
    merged["ts_ms"] = mr.smaller(old["ts_ms"], new["ts_ms"])
    merged["bucket_ms"] = sql_bucket(merged["ts_ms"])
    return merged


USAGE_COLUMNS = st.USAGE_COLUMNS


def usage_copy(row: Row) -> mr.UsageCopy:
    """A stored or incoming row's side of merge_rules.usage_wins."""
    return mr.UsageCopy(
        row["has_usage"] == 1, row["usage_total"], row["is_sidechain"] == 1, row["cache_1h_tokens"]
    )


def merge_llm_call(old: Row, new: Row) -> Row:
    merged = mr.apply_rules(old, new, mr.LLM_CALL_RULES)
    old_copy, new_copy = usage_copy(old), usage_copy(new)
    wins = mr.usage_wins(old_copy, new_copy)
    for column in (*USAGE_COLUMNS, *mr.USAGE_FOLLOWERS):
        merged[column] = new[column] if wins else old[column]
    merged["cost_nusd"] = mr.merged_cost(wins, old_copy, new_copy, old["cost_nusd"], new["cost_nusd"])
    merged["unpriced_reason"] = mr.merged_unpriced_reason(
        merged["cost_nusd"], old["unpriced_reason"], new["unpriced_reason"]
    )
    merged["ts_ms"] = mr.smaller(old["ts_ms"], new["ts_ms"])
    merged["bucket_ms"] = sql_bucket(merged["ts_ms"])
    return merged


def merge_tool_call(old: Row, new: Row) -> Row:
    merged = mr.apply_rules(old, new, mr.TOOL_CALL_RULES)
    merged["started_ms"] = mr.smaller(old["started_ms"], new["started_ms"])
    merged["ended_ms"] = mr.larger(old["ended_ms"], new["ended_ms"])
    anchor = merged["started_ms"] if merged["started_ms"] is not None else merged["ended_ms"]
    merged["bucket_ms"] = sql_bucket(anchor)
    merged["status"] = mr.merged_status(old["status"], new["status"])
    return merged


def merge_subagent(old: Row, new: Row) -> Row:
    return mr.apply_rules(old, new, mr.SUBAGENT_RULES)


def merge_file_touch(old: Row, new: Row) -> Row:
    return mr.apply_rules(old, new, mr.FILE_TOUCH_RULES)


MERGERS: dict[str, Callable[[Row, Row], Row]] = {
    "prompt": merge_prompt,
    "llm_call": merge_llm_call,
    "tool_call": merge_tool_call,
    "file_touch": merge_file_touch,
    "subagent": merge_subagent,
}
