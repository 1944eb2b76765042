"""Token and cost reports per day, week, month and session (pure: store rows in, report out).

JSON keys are a stable interface (DESIGN.md §4): rows under `daily` / `weekly` / `monthly` /
`sessions`, plus `totals`; every row and the totals carry the usage block of reports/tally.py
(token kinds, `total_tokens`, `cost_usd`), `prompts`, `tool_calls` and `models`. Calls of a model
with no known price are counted in `unpriced_calls` and named in `unpriced_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_trace.domain.records import BUCKET_MS, NANO_PER_USD, NO_MODEL_LABEL
from agent_trace.domain.timeutil import ms_to_iso
from agent_trace.reports.periods import PERIOD_KEY, Period, period_labeler
from agent_trace.reports.tally import UsageTally
from agent_trace.store.port import ActivityBucket, SessionSummary, UsageBucket


@dataclass(slots=True)
class Tally(UsageTally):
    """Sums for one report row (or one model within it): the usage tally plus activity and the
    models and agents behind it."""

    prompts: int = 0
    tool_calls: int = 0
    models: dict[str, Tally] = field(default_factory=dict)
    unpriced_models: set[str] = field(default_factory=set)
    agents: dict[str, Tally] = field(default_factory=dict)  # the same sums, per agent

    def add_bucket(self, b: UsageBucket) -> None:
        self.add_usage(b, b.calls, b.cost_nusd, b.unpriced_calls)
        model = self.models.setdefault(b.model, Tally())
        model.add_usage(b, b.calls, b.cost_nusd, b.unpriced_calls)
        agent = self.agents.setdefault(b.agent or "unknown", Tally())
        agent.add_usage(b, b.calls, b.cost_nusd, b.unpriced_calls)
        if b.unpriced_calls:
            self.unpriced_models.add(b.model or NO_MODEL_LABEL)
            model.unpriced_models.add(b.model or NO_MODEL_LABEL)

    def as_json(self, with_breakdown: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.tokens_json(),
            "cost_nusd": self.cost_nusd,
            "llm_calls": self.llm_calls,
            "unpriced_calls": self.unpriced_calls,
            "unpriced_models": sorted(self.unpriced_models),
            "prompts": self.prompts,
            "tool_calls": self.tool_calls,
            "models": sorted(m for m in self.models if m),
        }
        if with_breakdown:
            out["model_breakdowns"] = [
                {"model": name, **tally.as_json(with_breakdown=False)}
                for name, tally in sorted(self.models.items(), key=lambda kv: -kv[1].cost_nusd)
            ]
            out["agent_breakdowns"] = [
                {"agent": name, **tally.as_json(with_breakdown=False)}
                for name, tally in sorted(self.agents.items(), key=lambda kv: -kv[1].cost_nusd)
            ]
            for item in out["model_breakdowns"] + out["agent_breakdowns"]:
                for key in ("prompts", "tool_calls", "models"):
                    item.pop(key, None)
        return out


@dataclass
class PeriodReport:
    period: Period
    rows: dict[str, Tally]
    totals: Tally
    timezone: str
    # Why each unpriced model is unpriced (domain.pricing.PriceBook.explain), filled by the caller.
    unpriced_reasons: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        key = PERIOD_KEY[self.period]
        return {
            self.period: [{key: label, **tally.as_json()} for label, tally in sorted(self.rows.items())],
            "totals": self.totals.as_json(),
            "unpriced_reasons": self.unpriced_reasons,
            "timezone": self.timezone,
        }


def period_report(
    period: Period,
    usage: Sequence[UsageBucket],
    activity: Sequence[ActivityBucket],
    tz: Any,
    tz_name: str,
    week_start: int = 0,
    include_activity: bool = True,
) -> PeriodReport:
    rows: dict[str, Tally] = {}
    totals = Tally()
    instants = [b.bucket_ms for b in usage] + [a.bucket_ms for a in activity if include_activity]
    if not instants:
        return PeriodReport(period, rows, totals, tz_name)
    label = period_labeler(period, tz, min(instants), max(instants) + BUCKET_MS, week_start)
    for b in usage:
        rows.setdefault(label(b.bucket_ms), Tally()).add_bucket(b)
        totals.add_bucket(b)
    if include_activity:
        for a in activity:
            if not (a.prompts or a.tool_calls):
                continue
            row = rows.setdefault(label(a.bucket_ms), Tally())
            row.prompts += a.prompts
            row.tool_calls += a.tool_calls
            totals.prompts += a.prompts
            totals.tool_calls += a.tool_calls
    return PeriodReport(period, rows, totals, tz_name)


@dataclass
class SessionReport:
    sessions: list[SessionSummary]
    unpriced_reasons: dict[str, str] = field(default_factory=dict)
    # session id → reconciliation of Claude Code's reported cost (reports.reconcile)
    reconciliation: dict[str, dict[str, Any]] = field(default_factory=dict)

    def unpriced_models(self) -> set[str]:
        return {m for s in self.sessions for m in s.unpriced_models}

    def as_json(self) -> dict[str, Any]:
        totals = Tally()
        rows: list[dict[str, Any]] = []
        for s in self.sessions:
            tally = session_tally(s)
            totals.add_usage(tally, tally.llm_calls, tally.cost_nusd, tally.unpriced_calls)
            totals.prompts += tally.prompts
            totals.tool_calls += tally.tool_calls
            for model in s.models:
                totals.models.setdefault(model, Tally())
            totals.unpriced_models |= tally.unpriced_models
            row = {
                "session_id": s.session_id,
                "agent": s.agent,
                "project": s.project,
                "user": s.user_id,
                "title": s.title,
                "started_at": ms_to_iso(s.started_ms),
                "ended_at": ms_to_iso(s.ended_ms),
                **tally.as_json(with_breakdown=False),
                "subagents": s.subagents,
                "reported_cost_usd": None
                if s.reported_cost_nusd is None
                else s.reported_cost_nusd / NANO_PER_USD,
            }
            if s.session_id in self.reconciliation:
                row["reconciliation"] = self.reconciliation[s.session_id]
            rows.append(row)
        return {
            "sessions": rows,
            "totals": totals.as_json(with_breakdown=False),
            "unpriced_reasons": self.unpriced_reasons,
        }


def session_tally(s: SessionSummary) -> Tally:
    tally = Tally(prompts=s.prompts, tool_calls=s.tool_calls)
    tally.add_usage(s, s.llm_calls, s.cost_nusd, s.unpriced_calls)
    for model in s.models:
        tally.models.setdefault(model, Tally())
    tally.unpriced_models.update(s.unpriced_models)
    return tally
