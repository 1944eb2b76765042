"""`/v1/analytics/rollups` and `/v1/analytics/reported-calls`: the aggregates every usage report
is computed from, so a CLI in remote mode (cli/remote_reads.py) runs the very same report code
as on a local store and prints the same tables and `--json`.

Both are aggregates (numbers per 15-minute bucket, model, project, user and agent; per-call
costs): any signed-in role may read them (server/access.py ROUTE_NEEDS).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from agent_trace.server.api import models_ops as ops
from agent_trace.server.api.params import bad, parse_filters, parse_tz
from agent_trace.server.api.queries import WindowModel
from agent_trace.server.context import AppContext
from agent_trace.store.port import Filters, Store

MAX_SESSION_IDS = 1000


def rollups_json(store: Store, filters: Filters) -> bytes:
    return orjson.dumps(
        {
            "usage": [asdict(b) for b in store.usage_buckets(filters)],
            "activity": [asdict(b) for b in store.activity_buckets(filters)],
        }
    )


def add_rollup_routes(router: APIRouter, ctx: AppContext) -> None:
    store = ctx.store
    default_tz = ctx.settings.timezone

    @router.get(
        "/analytics/rollups",
        tags=["analytics"],
        response_model=ops.Rollups,
        summary="Usage (tokens, cost per model) and activity (prompts, tool calls) per 15-minute bucket",
    )
    async def rollups(window: WindowModel) -> Response:
        zone, _ = parse_tz(window.get("tz"), default_tz)
        filters = parse_filters({k: v for k, v in window.items() if k != "tz"}, zone)
        body = await anyio.to_thread.run_sync(rollups_json, store, filters)
        return Response(body, media_type="application/json")

    @router.get(
        "/analytics/reported-calls",
        tags=["analytics"],
        response_model=ops.ReportedCalls,
        summary="The LLM calls of these sessions with a cost the agent reported itself, beside ours",
    )
    async def reported_calls(
        session_id: Annotated[list[str] | None, Query(description="repeat, or comma-separated")] = None,
    ) -> Response:
        ids = [i.strip() for value in session_id or [] for i in value.split(",") if i.strip()]
        if len(ids) > MAX_SESSION_IDS:
            raise bad("session_id", f"at most {MAX_SESSION_IDS}")
        rows: list[dict[str, Any]] = await anyio.to_thread.run_sync(store.reported_calls, ids)
        return Response(orjson.dumps({"calls": rows}), media_type="application/json")
