"""The merge rules of every canonical record, defined once (pure, no SQL).

Two copies of one fact (a streaming duplicate, the same call from the transcript and from OTLP,
a file imported twice) become one record by these rules, whoever merges them:

- store/sql/upsert.py renders them as `INSERT … ON CONFLICT DO UPDATE` SQL (SQLite,
  PostgreSQL), and store/sql/statements.py assembles the upsert of each table;
- store/clickhouse/merge.py applies them in Python to the stored row and the new copy;
- the parsers that meet a call twice in one batch (sources/claude_transcript.py,
  sources/otlp_build.py) merge with `merge_call_usage`, so an in-batch merge picks the same
  copy as the store would.

tests/store/test_merge_rules.py proves the SQL, the ClickHouse merge and these functions agree.

Column rules (the *_RULES tables):

- first:   keep what was stored first (the session that owns a copied LLM call, the start cwd)
- latest:  the newest non-null value
- min/max: earliest start, latest end, running totals
- longer:  the longer of two texts (a deterministic union: order of arrival does not matter)
- agent:   latest, but a made-up sidechain agent id never replaces a real one
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from agent_trace.domain.records import SIDECHAIN_AGENT, LlmCall, Usage

FIRST = "first"
LATEST = "latest"
MIN = "min"
MAX = "max"
LONGER = "longer"
AGENT = "agent"


def first(old: Any, new: Any) -> Any:
    return old if old is not None else new


def latest(old: Any, new: Any) -> Any:
    return new if new is not None else old


def smaller(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b < a else a


def larger(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b > a else a


def longer(old: str | None, new: str | None) -> str | None:
    # SQLite's and PostgreSQL's LENGTH count characters, as len() does. Equal lengths (the same
    # JSON with keys in another order, say) keep the smaller text, so the result never depends on
    # the order of arrival: Python compares code points, as SQLite, PostgreSQL under "C" and
    # ClickHouse do.
    if new is None:
        return old
    if old is None:
        return new
    if len(new) > len(old) or (len(new) == len(old) and new < old):
        return new
    return old


def agent(old: str | None, new: str | None) -> str | None:
    # A made-up sidechain id (records.SIDECHAIN_AGENT) never replaces a real one: the main file's
    # copy of a subagent's lines and its subagents/agent-<id>.jsonl copy then name one subagent.
    if new is None:
        return old
    if old is None:
        return new
    if new.startswith(SIDECHAIN_AGENT) and not old.startswith(SIDECHAIN_AGENT):
        return old
    return new


COLUMN_RULES: dict[str, Callable[[Any, Any], Any]] = {
    FIRST: first,
    LATEST: latest,
    MIN: smaller,
    MAX: larger,
    LONGER: longer,
    AGENT: agent,
}


def apply_rules(old: dict[str, Any], new: dict[str, Any], rules: dict[str, str]) -> dict[str, Any]:
    """Every ruled column from the stored row and the new copy (never a half-merged row)."""
    merged = dict(old)
    for column, rule in rules.items():
        merged[column] = COLUMN_RULES[rule](old[column], new[column])
    return merged


# --- the rule of each plain column, per table ----------------------------------------------------
# Columns with a rule of their own (a call's usage and cost, a tool's status, instants that also
# move a bucket, a session's user) are merged by the functions below / their SQL twins.

SESSION_RULES: dict[str, str] = {
    "agent": FIRST,
    "project": FIRST,
    "cwd": LATEST,
    "version": LATEST,
    "entrypoint": LATEST,
    "title": LATEST,
    "started_ms": MIN,
    "ended_ms": MAX,
    "end_reason": LATEST,
    "permission_mode": LATEST,
    "git_repo": LATEST,
    "git_branch": LATEST,
    "git_head": LATEST,
    "git_base_sha": FIRST,
    "git_lines_added": LATEST,
    "git_lines_removed": LATEST,
    "git_files_changed": LATEST,
    "reported_cost_nusd": MAX,
    "compactions": MAX,
}
PROMPT_RULES: dict[str, str] = {
    "kind": LATEST,
    "text": LONGER,
    "line_uuid": LATEST,
    "duration_ms": MAX,
    "interrupted": MAX,
    "api_errors": MAX,
}
LLM_CALL_RULES: dict[str, str] = {
    "message_id": LATEST,
    "request_id": LATEST,
    "agent_id": AGENT,
    "prompt_id": LATEST,
    "model": LATEST,
    "reported_cost_nusd": LATEST,
    "speed": LATEST,
    "stop_reason": LATEST,
    "query_source": LATEST,
    "duration_ms": MAX,  # each channel times it separately: keep one, by rule
    "ttft_ms": LATEST,
    "response_text": LONGER,
    "thinking": LONGER,
    "tool_use_ids": LONGER,
}
TOOL_CALL_RULES: dict[str, str] = {
    "tool_name": LATEST,
    "agent_id": AGENT,
    "prompt_id": LATEST,
    "call_id": LATEST,
    "duration_ms": MAX,  # each channel times it separately: keep one, by rule
    "error": LONGER,
    "input_json": LONGER,
    "output_text": LONGER,
    "subagent_id": LATEST,
}
FILE_TOUCH_RULES: dict[str, str] = {"ts_ms": MIN}
SUBAGENT_RULES: dict[str, str] = {
    "agent_type": LATEST,
    "description": LONGER,
    "parent_tool_use_id": LATEST,
    "prompt_id": LATEST,
    "model": LATEST,
    "started_ms": MIN,
    "ended_ms": MAX,
    "is_compaction": MAX,
}
COMMIT_RULES: dict[str, str] = {
    "session_id": FIRST,
    "repo": LATEST,
    "branch": LATEST,
    "message": LONGER,
    "author": LATEST,
    "ts_ms": MIN,
    "files_changed": LATEST,
    "insertions": LATEST,
    "deletions": LATEST,
    "parent_sha": LATEST,
    "patch_id": LATEST,
    "files_json": LONGER,
    "co_authored": MAX,
    "on_default": MAX,
    "reverted_by": LATEST,
    "rewritten_as": LATEST,
}
PULL_REQUEST_RULES: dict[str, str] = {
    "title": LATEST,
    "url": LATEST,
    "author": FIRST,
    "head_ref": LATEST,
    "head_sha": LATEST,
    "base_ref": LATEST,
    "merge_sha": LATEST,
    "opened_ms": MIN,
    "closed_ms": MAX,
    "merged_ms": MAX,
    "updated_ms": MAX,
}
PUSHED_COMMIT_RULES: dict[str, str] = {"ts_ms": MIN}
# A user is known from the sessions that name them: earliest start, latest end or start.
USER_RULES: dict[str, str] = {"first_seen_ms": MIN, "last_seen_ms": MAX}


# --- which copy of an LLM call wins: the streaming-duplicate rule ---------------------------------


class UsageCopy(NamedTuple):
    """What the rule compares of one copy of a call (a stored row or a parsed LlmCall)."""

    has_usage: bool
    usage_total: int
    is_sidechain: bool
    cache_1h_tokens: int


class TieBreak(NamedTuple):
    """On equal totals the new copy wins when its `column` is `prefer`red ("lower"/"higher")."""

    column: str
    prefer: str


# On a tie a main-thread copy beats a sidechain copy, and a copy that knows the 1-hour
# cache-write split beats one that does not (OTLP spans carry no split: every write counts as
# 5m). Either tie-break suffices, so between a sidechain copy with the split and a main-thread
# copy without it the later one wins (the rule as the stores have always applied it).
# store/sql/upsert.py renders this tuple as SQL.
USAGE_TIE_BREAKS: tuple[TieBreak, ...] = (
    TieBreak("is_sidechain", "lower"),
    TieBreak("cache_1h_tokens", "higher"),
)
# The columns that move together with the winning copy (a merged call never mixes two copies'
# counts). The token counts themselves are records.Usage's fields.
USAGE_FOLLOWERS = ("usage_total", "is_sidechain", "has_usage")


def usage_wins(old: UsageCopy, new: UsageCopy) -> bool:
    """The new copy's usage replaces the old one's: a copy with usage beats one without; a larger
    total wins; on equal totals, any of USAGE_TIE_BREAKS in the new copy's favour."""
    if not new.has_usage:
        return False
    if not old.has_usage or new.usage_total > old.usage_total:
        return True
    if new.usage_total != old.usage_total:
        return False
    for column, prefer in USAGE_TIE_BREAKS:
        was, now = int(getattr(old, column)), int(getattr(new, column))
        if (now < was) if prefer == "lower" else (now > was):
            return True
    return False


def merged_cost(
    wins: bool, old: UsageCopy, new: UsageCopy, old_cost: int | None, new_cost: int | None
) -> int | None:
    """Cost follows the winning usage; a copy with the same total brings a price to an unpriced call."""
    if wins or (old_cost is None and new.usage_total == old.usage_total):
        return new_cost
    return old_cost


def merged_unpriced_reason(cost: int | None, old_reason: str | None, new_reason: str | None) -> str | None:
    """Why the merged call is unpriced: none once it has a cost, else the newest reason."""
    return None if cost is not None else latest(old_reason, new_reason)


def usage_copy(usage: Usage | None, is_sidechain: bool) -> UsageCopy:
    """A parsed copy's side of the rule (the store's row holds the same values: store/sql/rows.py)."""
    if usage is None:
        return UsageCopy(False, 0, is_sidechain, 0)
    return UsageCopy(True, usage.total, is_sidechain, usage.cache_1h_tokens)


# The LlmCall fields merge_call_usage decides (a parser's generic merge leaves them alone).
CALL_USAGE_FIELDS = ("usage", "is_sidechain", "cost_nusd", "unpriced_reason")


def merge_call_usage(found: LlmCall, new: LlmCall) -> None:
    """Fold `new`'s usage, sidechain flag, cost and unpriced reason into `found` by the store's
    rule (the parsers' in-batch merge of one call met twice)."""
    old_copy = usage_copy(found.usage, found.is_sidechain)
    new_copy = usage_copy(new.usage, new.is_sidechain)
    wins = usage_wins(old_copy, new_copy)
    cost = merged_cost(wins, old_copy, new_copy, found.cost_nusd, new.cost_nusd)
    found.unpriced_reason = merged_unpriced_reason(cost, found.unpriced_reason, new.unpriced_reason)
    found.cost_nusd = cost
    if wins:
        found.usage = new.usage
        found.is_sidechain = new.is_sidechain


# --- tool call status -----------------------------------------------------------------------------

# The most telling status wins whatever the order: denied > interrupted > error > anything else.
STATUS_RANK: dict[str, int] = {"denied": 4, "interrupted": 3, "error": 2}
OTHER_STATUS_RANK = 1  # success, and any status a source may add
# The statuses that count as a failed tool call in rollups and summaries.
FAILED_STATUSES: tuple[str, ...] = ("error", "denied", "interrupted")


def merged_status(old: str | None, new: str | None) -> str | None:
    if new is None:
        return old
    if old is None:
        return new
    rank = STATUS_RANK.get
    return new if rank(new, OTHER_STATUS_RANK) > rank(old, OTHER_STATUS_RANK) else old
