"""Response models: the documented shape of every API answer (served in /openapi.json).

Routes serialise plain dicts with orjson (validating a 2,000-tool-call replay through pydantic on
every request would cost more than building it); tests validate real answers against these
models, so documentation and behaviour cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(_Model):
    status: int
    code: str = Field(description="machine-readable: invalid_parameter, not_found, unauthorized, …")
    message: str = Field(description="names the parameter and the rule it broke")
    field: str | None = Field(None, description="the offending parameter, when there is one")


class ErrorResponse(_Model):
    error: ErrorBody


class Usage(_Model):
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_creation_5m_tokens: int
    cache_creation_1h_tokens: int
    cache_read_tokens: int
    total_tokens: int
    cost_usd: float | None = Field(description="null when every call is of an unpriced model")
    unpriced_calls: int
    reported_cost_usd: float | None


class SessionRow(_Model):
    session_id: str
    agent: str | None
    project: str | None = Field(description="the session's start directory")
    project_name: str | None = Field(description="its last path component")
    cwd: str | None
    user: str | None
    title: str | None
    first_prompt: str | None = Field(description="the first prompt, cut to 400 characters")
    version: str | None
    started_at: str | None
    ended_at: str | None
    last_activity_at: str | None
    updated_at: str | None
    duration_ms: int | None
    active: bool = Field(description="activity in the last 10 minutes and no end seen")
    git_repo: str | None
    git_branch: str | None
    prompts: int
    llm_calls: int
    tool_calls: int
    tool_errors: int
    subagents: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_creation_5m_tokens: int
    cache_creation_1h_tokens: int
    cache_read_tokens: int
    total_tokens: int
    cost_usd: float | None
    cost_nusd: int
    unpriced_calls: int
    unpriced_models: list[str]
    models: list[str]
    reported_cost_usd: float | None
    outcome: str | None = Field(default=None, description="shipped | committed | no-commit | spun")
    outcome_score: int | None = None
    commits: int = 0


class SessionList(_Model):
    sessions: list[SessionRow]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
    sort: str
    limit: int


class StepUsage(_Model):
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_creation_5m_tokens: int
    cache_creation_1h_tokens: int
    cache_read_tokens: int


class ToolCallView(_Model):
    tool_use_id: str
    tool_name: str | None
    status: str | None = Field(description="success | error | denied | interrupted | null (no result yet)")
    started_at: str | None
    ended_at: str | None
    duration_ms: int | None
    input: Any = Field(description="the tool input as the agent sent it (JSON)")
    output: str | None
    error: str | None
    call_id: str | None
    agent_id: str | None
    files_read: list[str]
    files_written: list[str]
    subagent: SubagentView | None = Field(description="for Agent/Task: the subagent it ran")


class StepView(_Model):
    call_id: str
    model: str | None
    ts: str | None
    agent_id: str | None
    usage: StepUsage | None
    cost_usd: float | None
    unpriced_reason: str | None = Field(description="why cost_usd is null (no model, unknown model, …)")
    reported_cost_usd: float | None
    text: str | None = Field(description="the response text (privacy tier 3)")
    thinking: str | None = Field(description="thinking (privacy tier 3)")
    stop_reason: str | None
    tools: list[ToolCallView]


class SubagentView(_Model):
    agent_id: str
    agent_type: str | None
    description: str | None
    model: str | None
    is_compaction: bool
    started_at: str | None
    ended_at: str | None
    steps: list[StepView]
    tools: list[ToolCallView]
    totals: Usage


class PromptView(_Model):
    prompt_id: str | None
    kind: str | None = Field(description="prompt | command | task_notification | preface")
    text: str | None
    ts: str | None
    duration_ms: int | None
    interrupted: bool
    api_errors: int
    response: str | None
    steps: list[StepView]
    tools: list[ToolCallView] = Field(description="tool calls whose LLM call is unknown")
    subagents: list[SubagentView] = Field(description="subagents not reached through a tool call")
    files_read: list[str]
    files_written: list[str]
    tool_calls: int
    tool_errors: int
    totals: Usage


class GitInfo(_Model):
    repo: str | None
    branch: str | None
    head: str | None
    base_sha: str | None
    lines_added: int | None
    lines_removed: int | None
    files_changed: int | None


class UnexplainedCall(_Model):
    call_id: str
    model: str | None
    speed: str | None
    reported_cost_usd: float
    computed_cost_usd: float
    difference_usd: float


class Reconciliation(_Model):
    calls_with_reported_cost: int
    reported_cost_usd: float
    computed_cost_usd: float
    difference_usd: float = Field(description="reported minus computed, over the calls priced here")
    unpriced_calls: int
    unexplained_calls: list[UnexplainedCall]


class ReplaySession(_Model):
    session_id: str
    agent: str | None
    project: str | None
    cwd: str | None
    user: str | None
    title: str | None
    version: str | None
    entrypoint: str | None
    started_at: str | None
    ended_at: str | None
    end_reason: str | None
    permission_mode: str | None
    compactions: int
    git: GitInfo
    reported_cost_usd: float | None
    reconciliation: Reconciliation | None = Field(
        description="Claude Code's reported per-request cost (OTLP cost_usd) against ours"
    )


class PullRequestView(_Model):
    id: str = Field(description="<provider>:<repo>#<number>")
    provider: str = Field(description="github | gitlab")
    repo: str
    number: int
    state: str | None = Field(description="open | closed | merged")
    title: str | None
    url: str | None
    merged_at: str | None


class CommitView(_Model):
    sha: str
    message: str | None
    author: str | None
    branch: str | None
    ts: str | None
    files_changed: int | None
    insertions: int | None
    deletions: int | None
    lines_added: int | None = Field(description="lines the commit adds (= insertions)")
    parent_sha: str | None
    prompt_id: str | None = Field(description="the prompt that produced it (docs/outcomes.md)")
    tool_use_id: str | None = Field(
        description="the Bash `git commit` call it was made in; null: not by the agent"
    )
    by_agent: bool
    agent_lines: int | None = Field(
        description="added lines the session's Write/Edit/MultiEdit wrote; null: unknown"
    )
    co_authored: bool | None = Field(description="a Co-Authored-By: Claude trailer (a signal only)")
    patch_id: str | None
    on_default: bool | None = Field(description="reached the default branch (git scan)")
    reverted_by: str | None
    rewritten_as: str | None = Field(description="the rebased/squashed copy on the default branch")
    pr: PullRequestView | None


class EvidenceView(_Model):
    kind: str = Field(description="tool_call | prompt | commit")
    id: str


class SignalView(_Model):
    name: str
    value: float
    points: int = Field(description="what it adds to the score")
    detail: str
    evidence: list[EvidenceView]


class OutcomeView(_Model):
    label: str = Field(description="shipped | committed | no-commit | spun")
    score: int | None = Field(description="0-100: 50 + the points of the signals, clamped")
    commits: int
    lines_added: int
    agent_lines: int
    merged_prs: int
    signals: list[SignalView]


class Replay(_Model):
    session: ReplaySession
    summary: SessionRow | None
    totals: Usage
    prompts: list[PromptView]
    commits: list[CommitView]
    outcome: OutcomeView | None = Field(description="null until the derived data is refreshed")
    pull_requests: list[PullRequestView]
    files_read: list[str]
    files_written: list[str]


class TimelineEvent(_Model):
    kind: str = Field(description="prompt | llm_call | tool_call | subagent_start | subagent_end | commit")
    ts: str | None
    ts_ms: int | None
    id: str = Field(description="prompt id, call id, tool_use_id, agent id or commit sha")
    prompt_id: str | None
    agent_id: str | None
    name: str | None = Field(description="prompt kind, model, tool name, agent type or branch")
    detail: str | None = Field(description="a one-line preview: the command, path, message…")
    status: str | None
    duration_ms: int | None
    total_tokens: int | None = None
    cost_usd: float | None = None


class Timeline(_Model):
    session_id: str
    events: list[TimelineEvent]


class SearchHit(_Model):
    kind: str = Field(description="prompt | tool_call | response")
    session_id: str
    id: str = Field(description="prompt id, tool_use_id or LLM call id")
    prompt_id: str | None
    agent_id: str | None = Field(description="the subagent that made the call, if any")
    tool_name: str | None
    field: str = Field(description="where the snippet is from: prompt | input | output | error | response")
    ts: str | None
    snippet: str = Field(description="text around the first match (\u2026 where cut)")
    marks: list[list[int]] = Field(description="[start, end) character ranges of the matches in `snippet`")
    score: float = Field(description="relevance, higher first; comparable within one answer")
    session_title: str | None
    project: str | None
    user: str | None


class SearchResults(_Model):
    query: str
    hits: list[SearchHit]


class Activity(_Model):
    prompts: int
    tool_calls: int
    tool_errors: int
    sessions: int


class CostUsage(Usage):
    cost_nusd: int = Field(description="cost in nano-dollars (1e-9 USD): exact sums")


class ModelCost(CostUsage):
    model: str


class ProjectCost(CostUsage):
    project: str


class UserCost(CostUsage):
    user: str


class AgentCost(CostUsage):
    agent: str = Field(description="claude-code, codex, gemini-cli, qwen-code, opencode")


class DayCost(CostUsage, Activity):
    date: str
    by_model: list[ModelCost]
    by_project: list[ProjectCost] | None = Field(description="null unless `breakdown` includes project")
    by_user: list[UserCost] | None = Field(description="null unless `breakdown` includes user")


class CostTotals(CostUsage, Activity):
    pass


class CostDaily(_Model):
    timezone: str
    since: str
    until: str
    days: list[DayCost] = Field(description="every day of the range, in order, zero-filled")
    totals: CostTotals
    by_model: list[ModelCost] = Field(description="ranked by cost")
    by_project: list[ProjectCost]
    by_user: list[UserCost]
    by_agent: list[AgentCost] = Field(description="ranked by cost: the split between coding agents")


class ToolStat(_Model):
    calls: int
    errors: int
    error_rate: float
    duration_ms: int
    avg_duration_ms: float | None


class NamedToolStat(ToolStat):
    tool_name: str
    is_mcp: bool


class DayToolStat(ToolStat):
    date: str


class ToolAnalytics(_Model):
    timezone: str
    since: str
    until: str
    tools: list[NamedToolStat] = Field(description="ranked by calls")
    days: list[DayToolStat]
    totals: ToolStat


class OutcomeStats(_Model):
    sessions: int
    cost_usd: float
    cost_nusd: int
    labels: dict[str, int] = Field(description="sessions per label: shipped, committed, no-commit, spun")
    commits: int
    merged_prs: int
    agent_lines_kept: int = Field(description="agent-authored lines in commits not reverted")
    lines_added: int
    cost_per_commit_usd: float | None = Field(description="all the group's spend / its commits")
    cost_per_merged_pr_usd: float | None
    cost_per_agent_line_usd: float | None
    unshipped_cost_usd: float = Field(description="spend of its no-commit and spun sessions")
    shipped_rate: float | None


class ProjectOutcome(OutcomeStats):
    project: str


class UserOutcome(OutcomeStats):
    user: str


class ModelOutcome(OutcomeStats):
    model: str = Field(description="the model that cost each session most")


class WeekOutcome(OutcomeStats):
    week: str = Field(description="the local Monday the week starts on")


class UnshippedSession(_Model):
    session_id: str
    project: str | None
    user: str | None
    model: str | None
    title: str | None
    started_ms: int | None
    label: str | None
    score: int | None
    cost_usd: float
    cost_nusd: int


class OutcomeAnalytics(_Model):
    timezone: str
    since: str
    until: str
    totals: OutcomeStats
    by_project: list[ProjectOutcome]
    by_user: list[UserOutcome]
    by_model: list[ModelOutcome]
    by_week: list[WeekOutcome]
    unshipped: list[UnshippedSession] = Field(
        description="sessions that cost money and shipped nothing, costliest first"
    )


ToolCallView.model_rebuild()
StepView.model_rebuild()
SubagentView.model_rebuild()
