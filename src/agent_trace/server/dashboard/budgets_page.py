"""The dashboard's budgets: a banner on every page for budgets at a threshold, and `/budgets`,
the admin page (list with spend, set, remove, allow a session; recent alerts and deliveries).

Forms post to this same origin only (a cross-site form cannot change a budget, token or not).
With users and roles (issue 15) editing becomes admin-only through their policy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from agent_trace.server.budgets.report import banner_lines
from agent_trace.server.dashboard.client import DataClient
from agent_trace.server.errors import ApiError

if TYPE_CHECKING:
    from agent_trace.server.dashboard.core import Dashboard

# The banner is read at most this often (every page render would otherwise recompute spend).
BANNER_TTL_S = 5.0


class BudgetBanner:
    def __init__(self, client: DataClient) -> None:
        self.client = client
        self._lines: list[str] = []
        self._read_at = 0.0

    async def lines(self) -> list[str]:
        if time.monotonic() - self._read_at >= BANNER_TTL_S:
            try:
                self._lines = banner_lines(await self.client.budgets())
            except ApiError:
                self._lines = []  # a page must render even when budgets cannot be read
            self._read_at = time.monotonic()
        return self._lines

    def invalidate(self) -> None:
        self._read_at = 0.0


def add_budget_routes(router: APIRouter, dash: Dashboard, client: DataClient) -> None:
    banner: BudgetBanner = dash.budget_banner

    async def act(request: Request, action: Callable[[dict[str, str]], Awaitable[object]]) -> Response:
        """A form post (cross-site ones never get here: server/security.py refuses them for
        every route); its URL-encoded fields (no multipart parser needed, like the login form)
        to `action`; back to /budgets, with the API's error if any."""
        body = await request.body()
        data = parse_qs(body[:16384].decode("utf-8", "replace"))
        fields = {k: v[0].strip() for k, v in data.items() if v and v[0].strip()}
        banner.invalidate()
        try:
            await action(fields)
        except ApiError as exc:
            return RedirectResponse(f"/budgets?error={quote(exc.message)}", status_code=303)
        return RedirectResponse("/budgets", status_code=303)

    @router.get("/budgets")
    async def budgets_page(request: Request) -> Response:
        try:
            report = await client.budgets()
        except ApiError as exc:
            return await dash.error_page(exc, "budgets")
        return await dash.page(
            "budgets.html", nav="budgets", report=report, error=request.query_params.get("error")
        )

    async def put(fields: dict[str, str]) -> None:
        unit = fields.pop("unit", "usd")
        amount = fields.pop("amount", None)
        await client.put_budget({**fields, unit if unit in ("usd", "tokens") else "usd": amount})

    async def remove(fields: dict[str, str]) -> None:
        await client.delete_budget(fields.get("id", ""))

    async def allow(fields: dict[str, str]) -> None:
        if not fields.get("session_id"):
            raise ApiError(400, "invalid_parameter", "session id: required", "session_id")
        await client.allow_session(fields["session_id"])

    @router.post("/budgets")
    async def set_budget(request: Request) -> Response:
        return await act(request, put)

    @router.post("/budgets/remove")
    async def remove_budget(request: Request) -> Response:
        return await act(request, remove)

    @router.post("/budgets/allow")
    async def allow_session(request: Request) -> Response:
        return await act(request, allow)
