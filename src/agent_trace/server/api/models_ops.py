"""Response models of the operational answers: health, identity (me, users, teams, audit),
budgets, the team view, and the rollups and reported calls the CLI's remote reports read.

As models.py: the documented shape (served in /openapi.json), checked against real answers by
tests/server/api/test_response_models.py; the routes serialise with orjson.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent_trace.server.api.models import _Model


class Health(BaseModel):
    # Each database behind the role adds its own check (`database`, `events`): open-ended.
    model_config = ConfigDict(extra="allow")

    status: str = Field(description="ok, or degraded when a database does not answer (then 503)")
    role: str
    version: str
    database: str = Field(description="ok, or error: …")


class Me(_Model):
    user: str
    role: str
    teams: list[str]
    auth: bool = Field(description="whether the server checks tokens (AGENT_TRACE_AUTH)")


class Account(_Model):
    name: str
    email: str | None
    display_name: str | None
    role: str
    disabled: bool
    source: str = Field(description="local, or the sign-in provider")
    has_password: bool
    teams: list[str]
    created_ms: int | None


class TeamInfo(_Model):
    name: str
    member_access: str
    members: list[str]
    created_ms: int | None


class AuditEntry(_Model):
    seq: int
    at_ms: int
    at: str
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str


class ChainProblem(_Model):
    seq: int | None
    message: str


class ChainCheck(_Model):
    ok: bool
    entries: int
    problems: list[ChainProblem]


class Audit(_Model):
    entries: list[AuditEntry]
    chain: ChainCheck


class TeamRow(_Model):
    period: str
    group: str
    cost_usd: float
    cost_nusd: int
    unpriced_calls: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    total_tokens: int
    sessions: int
    prompts: int
    tool_calls: int
    active_developers: int
    top_models: list[str]
    top_tools: list[str]


class TeamAnalytics(_Model):
    by: str = Field(description="user, team or project")
    rows: list[TeamRow]


class UsageBucket(_Model):
    bucket_ms: int
    project: str | None
    user_id: str | None
    agent: str | None
    model: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_5m_tokens: int
    cache_1h_tokens: int
    cache_read_tokens: int
    cost_nusd: int
    unpriced_calls: int
    reported_cost_nusd: int


class ActivityBucket(_Model):
    bucket_ms: int
    project: str | None
    user_id: str | None
    agent: str | None
    prompts: int
    tool_calls: int
    tool_errors: int
    sessions: int


class Rollups(_Model):
    usage: list[UsageBucket]
    activity: list[ActivityBucket]


class ReportedCall(_Model):
    call_id: str
    session_id: str
    model: str | None
    speed: str | None
    ts_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    cache_creation_tokens: int | None
    cache_5m_tokens: int | None
    cache_1h_tokens: int | None
    cache_read_tokens: int | None
    web_search_requests: int | None
    cost_nusd: int | None
    reported_cost_nusd: int | None


class ReportedCalls(_Model):
    calls: list[ReportedCall]


class BudgetView(_Model):
    id: str
    scope: str
    period: str
    unit: str = Field(description="usd or tokens")
    limit: str = Field(description="as people read it: `$25.00`, `2,000,000 tokens`")
    limit_raw: int = Field(description="nano-dollars or tokens")
    thresholds: list[int]
    mode: str = Field(description="warn or block")
    updated_ms: int | None


class BudgetStatusView(BudgetView):
    period_key: str
    session_id: str | None
    spent: str
    spent_raw: int
    percent: int
    crossed: list[int]
    exhausted: bool


class BudgetAlertView(_Model):
    budget_id: str
    period_key: str
    session_id: str | None
    threshold: int
    spent: int
    limit: int
    message: str
    crossed_ms: int


class AlertDeliveryView(_Model):
    budget_id: str
    period_key: str
    session_id: str | None
    threshold: int
    channel: str
    status: str = Field(description="pending, sending, sent or failed")
    attempts: int
    last_error: str | None
    next_attempt_ms: int
    updated_ms: int


class Budgets(_Model):
    budgets: list[BudgetStatusView]
    alerts: list[BudgetAlertView]
    deliveries: list[AlertDeliveryView]
    allowed_sessions: list[str]


class SessionAllowed(_Model):
    session_id: str
    allowed: bool
