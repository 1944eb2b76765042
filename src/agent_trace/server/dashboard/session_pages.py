"""One session's pages: the replay, a prompt's link, the timeline, and the fragments the page's
script fetches (live head and cards, lazy card bodies, tool views)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from agent_trace.server.dashboard import pages
from agent_trace.server.dashboard.core import (
    MAX_BATCH,
    NO_STORE,
    Dashboard,
)
from agent_trace.server.dashboard.outcome_view import outcome_panel
from agent_trace.server.dashboard.replay_view import CHUNK, PromptCard, ToolNode
from agent_trace.server.dashboard.session_filter import SessionFilter, filter_prompts
from agent_trace.server.dashboard.session_filter import choices as session_choices
from agent_trace.server.dashboard.timeline_view import waterfall
from agent_trace.server.errors import ApiError


def add_session_pages(router: APIRouter, dash: Dashboard) -> Callable[[str, Request], Awaitable[Response]]:
    """The replay, a prompt's link, the timeline, the live head; returns the replay page, which
    the caller registers after every route under a session (its `:path` id matches them too)."""
    client = dash.client

    async def _unique_prefix(prefix: str) -> str | None:
        """A short id (as `agent-trace sessions` prints) → the one session it starts."""
        if len(prefix) < 4:
            return None
        try:
            found = await client.sessions({"q": prefix, "limit": "50"})
        except ApiError:
            return None
        ids = [r["session_id"] for r in found["sessions"] if str(r["session_id"]).startswith(prefix)]
        return str(ids[0]) if len(ids) == 1 else None

    def _replay_cards(
        replay: dict[str, Any], f: SessionFilter, open_index: int | None = None
    ) -> list[PromptCard]:
        builder = dash.builder(replay)
        if f.active:
            return builder.filtered_cards(filter_prompts(replay, f))
        return builder.cards(replay, open_index)

    def _session_filter(request: Request) -> SessionFilter:
        q = request.query_params
        return SessionFilter(
            q.get("tool", "").strip(), q.get("failed", "") in ("1", "on", "true"), q.get("model", "").strip()
        )

    async def replay_page(session_id: str, request: Request) -> Response:
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            full = await _unique_prefix(session_id) if exc.status == 404 else None
            if full:
                return RedirectResponse(f"/sessions/{quote(full, safe='')}", status_code=303)
            return await dash.error_page(exc, "sessions")
        f = _session_filter(request)
        opened = request.query_params.get("open", "")
        cards = await anyio.to_thread.run_sync(
            _replay_cards, replay, f, int(opened) if opened.isdigit() else None
        )
        return await dash.page(
            "replay.html",
            nav="sessions",
            replay=replay,
            cards=cards,
            sid=session_id,
            filter=f,
            choices=session_choices(replay),
            query=request.url.query,
            panel=outcome_panel(replay),
        )

    @router.get("/sessions/{session_id:path}/prompts/{prompt_id}")
    async def prompt_link(session_id: str, prompt_id: str, request: Request) -> Response:
        """A prompt by id (search results link here) → its card on the replay; `?tool=` → that
        tool call, with its card rendered open so the anchor exists."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return await dash.error_page(exc, "sessions")
        ids = [p.get("prompt_id") for p in replay.get("prompts", [])]
        if prompt_id not in ids:
            missing = ApiError(404, "not_found", f"prompt_id: no prompt {prompt_id[:80]!r} in this session")
            return await dash.error_page(missing, "sessions")
        index = ids.index(prompt_id)
        base = f"/sessions/{quote(session_id, safe='')}"
        tool = request.query_params.get("tool", "")
        if tool:
            return RedirectResponse(f"{base}?open={index}#t-{quote(tool, safe='')}", status_code=303)
        return RedirectResponse(f"{base}?open={index}#p{index}", status_code=303)

    @router.get("/sessions/{session_id:path}/timeline")
    async def timeline_page(session_id: str, request: Request) -> Response:
        try:
            # Both reads at once: in a split deployment each is a request to the API.
            events, listed = await asyncio.gather(
                client.timeline(session_id), client.sessions({"limit": "1"}, [session_id])
            )
            rows = listed["sessions"]
        except ApiError as exc:
            return await dash.error_page(exc, "sessions")
        if not rows:
            return await dash.error_page(
                ApiError(404, "not_found", "session_id: no such session"), "sessions"
            )
        q = request.query_params
        lo, hi = q.get("from_ms", ""), q.get("to_ms", "")
        window = (int(lo), int(hi) if hi.isdigit() else 2**62) if lo.isdigit() else None
        chart = await anyio.to_thread.run_sync(waterfall, session_id, events["events"], window)
        return await dash.page(
            "timeline.html", nav="sessions", row=rows[0], sid=session_id, chart=chart, window=window
        )

    @router.get("/sessions/{session_id:path}/live")
    async def replay_fragment(session_id: str, request: Request) -> Response:
        """Head and cards, for the script to merge when the session changes."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)
        cards = await anyio.to_thread.run_sync(_replay_cards, replay, _session_filter(request))
        return await dash.page(
            "_replay_live.html",
            replay=replay,
            cards=cards,
            sid=session_id,
            query=request.url.query,
            panel=outcome_panel(replay),
        )

    return replay_page


def add_session_fragments(router: APIRouter, dash: Dashboard) -> None:
    """What the replay's script fetches: lazy card bodies and chunks, tool views in full or in bulk."""
    client = dash.client

    @router.get("/sessions/{session_id:path}/cards/{index}")
    async def card_fragment(session_id: str, index: int, request: Request) -> Response:
        """A card's body (lazy open), or its next chunk of items (`?from=`, "show more")."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)
        prompts = replay.get("prompts", [])
        if not 0 <= index < len(prompts):
            return Response(status_code=404, headers=NO_STORE)
        start_text = request.query_params.get("from")
        if start_text is not None and not start_text.isdigit():
            return Response(status_code=400, headers=NO_STORE)
        prompt = prompts[index]

        def build() -> PromptCard:
            builder = dash.builder(replay)
            builder.size_for(prompt)
            if start_text is None:
                return builder.card(index, prompt, True, True)
            card = builder.card(index, prompt, True, False)
            card.items, card.more_from, card.remaining = builder.items(prompt, int(start_text), CHUNK)
            return card

        card = await anyio.to_thread.run_sync(build)
        template = "_card_body.html" if start_text is None else "_card_chunk.html"
        return await dash.page(template, card=card, sid=session_id, root=replay["session"].get("project"))

    @router.get("/sessions/{session_id:path}/tools/{tool_use_id}")
    async def tool_page(session_id: str, tool_use_id: str, request: Request) -> Response:
        """A tool call on its own page, in full; `?part=body` = its body for a lazy view."""
        part = request.query_params.get("part")
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            if part:
                return Response(status_code=exc.status, headers=NO_STORE)
            return await dash.error_page(exc, "sessions")
        tool = pages.find_tool(replay, tool_use_id)
        if tool is None:
            if part:
                return Response(status_code=404, headers=NO_STORE)
            missing = ApiError(
                404,
                "not_found",
                f"tool_use_id: no tool call {tool_use_id[:80]!r} in this session",
                "tool_use_id",
            )
            return await dash.error_page(missing, "sessions")
        found: dict[str, Any] = tool

        def build() -> ToolNode:
            if part:
                return dash.builder(replay).tool_body(found)
            return dash.builder(replay, budget=None).tool(found, True)

        node = await anyio.to_thread.run_sync(build)
        if part:
            return await dash.page("_tool_body.html", node=node, sid=session_id)
        return await dash.page("tool.html", nav="sessions", node=node, sid=session_id, replay=replay)

    @router.get("/sessions/{session_id:path}/tool-bodies")
    async def tool_bodies(session_id: str, request: Request) -> Response:
        """Bodies of several lazy tool views at once (`?ids=a,b,…`, at most 200): what "unfold
        every tool call" of a big card asks for, instead of one request per tool call."""
        ids = [i for i in request.query_params.get("ids", "").split(",") if i][:MAX_BATCH]
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)

        def build() -> list[ToolNode]:
            builder = dash.builder(replay)
            found = (pages.find_tool(replay, tool_use_id) for tool_use_id in ids)
            return [builder.tool_body(tool) for tool in found if tool is not None]

        nodes = await anyio.to_thread.run_sync(build)
        return await dash.page("_tool_bodies.html", nodes=nodes, sid=session_id)
