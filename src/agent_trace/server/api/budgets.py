"""`/v1/budgets`: list budgets with their spend, set (PUT) and remove them, allow a session.

Editing is open to whoever may use the API (AGENT_TRACE_DASHBOARD_TOKEN when set); with users and
roles (issue 15) it becomes admin-only through their policy.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Body
from fastapi.responses import Response

from agent_trace.domain.budgets import Budget, BudgetError, make_budget
from agent_trace.reports.periods import PeriodError, resolve_timezone
from agent_trace.server.api import models_ops as ops
from agent_trace.server.api.responses import json_response
from agent_trace.server.budgets.report import budgets_report
from agent_trace.server.context import AppContext
from agent_trace.server.errors import ApiError


def _amount(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, "invalid_parameter", f"{key}: expected a number", key)
    return str(value)


def budget_from_body(body: Any) -> Budget:
    """The budget a PUT body (or the dashboard's form) describes; ApiError 400 names what is wrong."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_budget", "expected a JSON object")
    thresholds = body.get("thresholds")
    if isinstance(thresholds, list):
        thresholds = ",".join(str(t) for t in thresholds)
    try:
        return make_budget(
            str(body.get("scope") or ""),
            str(body["period"]) if body.get("period") else None,
            usd=_amount(body, "usd"),
            tokens=_amount(body, "tokens"),
            thresholds=str(thresholds) if thresholds else None,
            mode=str(body["mode"]) if body.get("mode") else None,
        )
    except BudgetError as exc:
        raise ApiError(400, "invalid_budget", str(exc)) from None


def budget_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["budgets"])
    store = ctx.store
    settings = ctx.settings

    def tz() -> Any:
        try:
            return resolve_timezone(settings.timezone)
        except PeriodError:
            return None

    @router.get(
        "/budgets",
        response_model=ops.Budgets,
        summary="Budgets with their spend now, recent alerts and deliveries",
    )
    async def list_budgets() -> Response:
        report = await anyio.to_thread.run_sync(budgets_report, store, tz())
        return json_response(report)

    @router.put(
        "/budgets",
        response_model=ops.BudgetView,
        summary="Create or replace the budget with this scope, period and unit",
        description=(
            'Body: `{"scope": "all|user:NAME|team:NAME|project:NAME|session", "period": '
            '"day|week|month|session", "usd": 25 | "tokens": 2000000, "thresholds": [50, 80, 100], '
            '"mode": "warn|block"}`. Answers the stored budget.'
        ),
    )
    async def put_budget(body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
        budget = budget_from_body(body)
        await anyio.to_thread.run_sync(store.save_budget, budget)
        return json_response(budget.to_json())

    @router.delete("/budgets/{budget_id:path}", summary="Remove a budget", status_code=204)
    async def delete_budget(budget_id: str) -> Response:
        if not await anyio.to_thread.run_sync(store.delete_budget, budget_id):
            raise ApiError(404, "not_found", f"no budget {budget_id!r}")
        return Response(status_code=204)

    @router.post(
        "/budgets/allow", response_model=ops.SessionAllowed, summary="Let a session run past blocking budgets"
    )
    async def allow(body: dict[str, Any] = Body(...)) -> Response:  # noqa: B008
        session_id = body.get("session_id")
        if not isinstance(session_id, str) or not session_id.strip():
            raise ApiError(400, "invalid_parameter", "session_id: required", "session_id")
        await anyio.to_thread.run_sync(store.allow_session, session_id.strip())
        return json_response({"session_id": session_id.strip(), "allowed": True})

    return router
