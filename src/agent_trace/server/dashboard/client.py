"""How the dashboard reads data: one small interface, two ways to satisfy it.

- `HttpDataClient`: the dashboard as its own process (DASHBOARD_API_BASE_URL set) reads the API
  over HTTP, with the dashboard token as a Bearer token; the live stream is the API's SSE stream,
  relayed.
- `InProcessDataClient`: in `--role all` (or a dashboard with no API URL) the same service
  functions the API routes call run against the store directly, in worker threads.

Both speak the API's query vocabulary (plain string parameters) and return the API's JSON shapes,
so pages render identically either way. API errors arrive as `ApiError` with the API's status,
code and field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import orjson

from agent_trace.server.api import service
from agent_trace.server.api.cache import ChangeValidatedCache
from agent_trace.server.api.params import (
    parse_breakdown,
    parse_day_range,
    parse_last_event_id,
    parse_search_query,
    parse_session_query,
)
from agent_trace.server.api.stream import ChangeHub, StreamConfig, session_events
from agent_trace.server.errors import ApiError
from agent_trace.store.port import Store

Params = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A changed session's row (`row` None for a bare resume-point move), or a heartbeat."""

    seq: int | None
    row: dict[str, Any] | None


class DataClient(Protocol):
    async def sessions(self, params: Params, session_ids: list[str] | None = None) -> dict[str, Any]: ...

    async def session(self, session_id: str) -> dict[str, Any]: ...

    async def cost_daily(self, params: Params) -> dict[str, Any]: ...

    async def tools(self, params: Params) -> dict[str, Any]: ...

    async def search(self, params: Params) -> dict[str, Any]: ...

    async def timeline(self, session_id: str) -> dict[str, Any]: ...
    async def outcomes(self, params: Params) -> dict[str, Any]: ...

    def live(
        self, params: Params, session_ids: list[str] | None, last_event_id: str | None
    ) -> AsyncIterator[LiveEvent]: ...

    # Budgets (the API's /v1/budgets shapes).
    async def budgets(self) -> dict[str, Any]: ...

    async def put_budget(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def delete_budget(self, budget_id: str) -> None: ...

    async def allow_session(self, session_id: str) -> None: ...

    async def aclose(self) -> None: ...


def parse_sse(chunk_lines: list[str]) -> LiveEvent | None:
    """One SSE message (its lines, without the blank terminator) → a LiveEvent, or None."""
    seq: int | None = None
    event = "message"
    data: list[str] = []
    for line in chunk_lines:
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id" and value.isdigit():
            seq = int(value)
        elif name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data and event == "session":
        return LiveEvent(seq, orjson.loads("\n".join(data)))
    if seq is not None and not data:
        return LiveEvent(seq, None)
    return None


class InProcessDataClient:
    def __init__(
        self, store: Store, default_tz: str | None, config: StreamConfig, cache: ChangeValidatedCache
    ) -> None:
        self.store = store
        self.default_tz = default_tz
        self.config = config
        self.cache = cache
        self.hub = ChangeHub(store, config.poll_interval_s)

    async def sessions(self, params: Params, session_ids: list[str] | None = None) -> dict[str, Any]:
        parsed = parse_session_query(params, session_ids, self.default_tz)
        return await anyio.to_thread.run_sync(service.list_sessions, self.store, parsed)

    async def session(self, session_id: str) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(service.session_replay, self.store, session_id, self.cache)

    async def cost_daily(self, params: Params) -> dict[str, Any]:
        days = parse_day_range({k: v for k, v in params.items() if k != "breakdown"}, self.default_tz)
        breakdown = parse_breakdown([params["breakdown"]] if params.get("breakdown") else None)
        return await anyio.to_thread.run_sync(
            service.analytics_cost_daily, self.store, days, breakdown, self.cache
        )

    async def tools(self, params: Params) -> dict[str, Any]:
        days = parse_day_range(params, self.default_tz)
        return await anyio.to_thread.run_sync(service.analytics_tools, self.store, days, self.cache)

    async def search(self, params: Params) -> dict[str, Any]:
        query = parse_search_query(params, self.default_tz)
        return await anyio.to_thread.run_sync(service.search, self.store, query)

    async def timeline(self, session_id: str) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(service.session_timeline, self.store, session_id, None)

    async def outcomes(self, params: Params) -> dict[str, Any]:
        days = parse_day_range(params, self.default_tz)
        data = await anyio.to_thread.run_sync(service.analytics_outcomes_json, self.store, days, self.cache)
        out: dict[str, Any] = orjson.loads(data)
        return out

    async def live(
        self, params: Params, session_ids: list[str] | None, last_event_id: str | None
    ) -> AsyncIterator[LiveEvent]:
        base = parse_session_query(params, session_ids, self.default_tz).query
        start = parse_last_event_id(last_event_id)

        async def rows(ids: list[str]) -> dict[str, dict[str, Any]]:
            return await anyio.to_thread.run_sync(service.session_rows_for, self.store, base, ids)

        async for chunk in session_events(self.hub, self.store, self.config, start, rows):
            for message in chunk.decode().split("\n\n"):
                if message.strip():
                    yield parse_sse(message.split("\n")) or LiveEvent(None, None)

    async def budgets(self) -> dict[str, Any]:
        from agent_trace.reports.periods import PeriodError, resolve_timezone
        from agent_trace.server.budgets.report import budgets_report

        try:
            tz = resolve_timezone(self.default_tz)
        except PeriodError:
            tz = None
        return await anyio.to_thread.run_sync(budgets_report, self.store, tz)

    async def put_budget(self, body: dict[str, Any]) -> dict[str, Any]:
        from agent_trace.server.api.budgets import budget_from_body

        budget = budget_from_body(body)
        await anyio.to_thread.run_sync(self.store.save_budget, budget)
        return budget.to_json()

    async def delete_budget(self, budget_id: str) -> None:
        if not await anyio.to_thread.run_sync(self.store.delete_budget, budget_id):
            raise ApiError(404, "not_found", f"no budget {budget_id!r}")

    async def allow_session(self, session_id: str) -> None:
        await anyio.to_thread.run_sync(self.store.allow_session, session_id)

    async def aclose(self) -> None:
        await self.hub.close()


class HttpDataClient:
    def __init__(self, base_url: str, token: str | None, timeout_s: float = 30.0) -> None:
        import httpx

        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)

    async def _get(self, path: str, params: Any) -> dict[str, Any]:
        return await self._send("GET", path, None, params) or {}

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None, params: Any = None
    ) -> dict[str, Any] | None:
        import httpx

        try:
            response = await self._client.request(method, path, params=params, json=body)
        except httpx.HTTPError as exc:
            raise ApiError(
                503, "unavailable", f"the API at {self.base_url} did not answer ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise _api_error(response.status_code, response.content)
        data: dict[str, Any] | None = orjson.loads(response.content) if response.content else None
        return data

    async def sessions(self, params: Params, session_ids: list[str] | None = None) -> dict[str, Any]:
        query: list[tuple[str, str]] = list(params.items())
        query.extend(("session_id", sid) for sid in session_ids or [])
        return await self._get("/v1/sessions", query)

    async def session(self, session_id: str) -> dict[str, Any]:
        from urllib.parse import quote

        return await self._get(f"/v1/sessions/{quote(session_id, safe='')}", None)

    async def cost_daily(self, params: Params) -> dict[str, Any]:
        return await self._get("/v1/analytics/cost/daily", dict(params))

    async def tools(self, params: Params) -> dict[str, Any]:
        return await self._get("/v1/analytics/tools", dict(params))

    async def search(self, params: Params) -> dict[str, Any]:
        return await self._get("/v1/search", dict(params))

    async def timeline(self, session_id: str) -> dict[str, Any]:
        return await self._get("/v1/timeline", {"session_id": session_id})

    async def outcomes(self, params: Params) -> dict[str, Any]:
        return await self._get("/v1/analytics/outcomes", dict(params))

    async def live(
        self, params: Params, session_ids: list[str] | None, last_event_id: str | None
    ) -> AsyncIterator[LiveEvent]:
        import httpx

        query: list[tuple[str, str | int | float | bool | None]] = list(params.items())
        query.extend(("session_id", sid) for sid in session_ids or [])
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(10.0, read=None)
        try:
            async with self._client.stream(
                "GET", "/v1/sessions/stream", params=query, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    raise _api_error(response.status_code, await response.aread())
                lines: list[str] = []
                async for line in response.aiter_lines():
                    if line:
                        lines.append(line)
                        continue
                    event = parse_sse(lines)
                    lines = []
                    # Comments (heartbeats) surface as seq-less events so the relay passes them on.
                    yield event or LiveEvent(None, None)
        except httpx.HTTPError as exc:
            raise ApiError(
                503, "unavailable", f"the API's stream at {self.base_url} broke off ({type(exc).__name__})"
            ) from None

    async def budgets(self) -> dict[str, Any]:
        return await self._get("/v1/budgets", None)

    async def put_budget(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send("PUT", "/v1/budgets", body) or {}

    async def delete_budget(self, budget_id: str) -> None:
        from urllib.parse import quote

        await self._send("DELETE", f"/v1/budgets/{quote(budget_id, safe='/:')}", None)

    async def allow_session(self, session_id: str) -> None:
        await self._send("POST", "/v1/budgets/allow", {"session_id": session_id})

    async def aclose(self) -> None:
        await self._client.aclose()


def _api_error(status: int, body: bytes) -> ApiError:
    try:
        error = orjson.loads(body)["error"]
        return ApiError(status, str(error["code"]), str(error["message"]), error.get("field"))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return ApiError(502, "bad_gateway", f"the API answered {status} without an error body")


def make_client(
    store: Store,
    api_base_url: str | None,
    token: str | None,
    default_tz: str | None,
    config: StreamConfig,
    cache: ChangeValidatedCache | None = None,
) -> DataClient:
    """Over HTTP when an API URL is configured; otherwise straight from the store (sharing the
    API role's answer cache when both run in this process)."""
    if api_base_url:
        return HttpDataClient(api_base_url, token)
    return InProcessDataClient(store, default_tz, config, cache or ChangeValidatedCache(store))
