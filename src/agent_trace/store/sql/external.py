"""Where a SqlStore finds the records it does not keep itself.

The SQL store keeps sessions, commits, users, settings, budgets and identity on every backend.
Its record tables (prompts, LLM calls, tool calls, file touches, subagents, raw events) may live
in another database: then the store is built with an `ExternalRecords` (store.clickhouse.reads
`ClickHouseRecords`), which answers the few record reads the SQL side's derived data needs, and
the owner of that database (store.clickhouse.hybrid.HybridStore) writes and reads the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

SummaryRows = tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]
OutcomeInputs = dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]


class ExternalRecords(Protocol):
    """The record reads a SqlStore delegates when its record tables are elsewhere: the same row
    shapes as the SQL queries they replace (SqlDerived._event_summary_rows,
    SqlOutcomes._outcome_inputs)."""

    def summary_rows(self, session_ids: Sequence[str]) -> SummaryRows: ...

    def outcome_inputs(self, session_ids: Sequence[str], with_commits: Sequence[str]) -> OutcomeInputs: ...

    def sessions_with_prompt_text(self, text: str) -> list[str]:
        """Ids of the sessions holding a prompt whose text contains `text` (case-insensitive)."""
