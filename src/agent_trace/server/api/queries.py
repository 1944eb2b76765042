"""The API's shared query parameters, declared once as FastAPI dependencies.

Each dependency documents its parameters for OpenAPI and hands the given ones on as the plain
`{name: text}` mapping that params.py parses (the dashboard's in-process client parses the same
mapping with the same functions). Routes add only what is theirs (q, sort, limit, ...). The dependencies are `async def`: FastAPI
runs a plain `def` dependency on a worker thread, a hop per request for nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

Since = Annotated[
    str | None,
    Query(description="from: a local day `2026-02-11` (in `tz`), ISO 8601 date-time or epoch ms"),
]
Until = Annotated[
    str | None,
    Query(description="to (exclusive for a date-time; a day `2026-02-11` includes that whole day)"),
]
# The analytics take whole local days.
FirstDay = Annotated[str | None, Query(description="first day, 2026-02-11 (default: 29 days before until)")]
LastDay = Annotated[str | None, Query(description="last day, inclusive (default: today in tz)")]
Tz = Annotated[str | None, Query(description="IANA time zone for days (default: the server's, else UTC)")]
Project = Annotated[
    str | None, Query(description="project (or repo) directory: full path or its last component")
]
User = Annotated[str | None, Query(description="user id (exact)")]
Agent = Annotated[str | None, Query(description="agent, e.g. claude-code (exact)")]
Model = Annotated[str | None, Query(description="model name (substring, case-insensitive)")]


def given(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


async def _scope(
    tz: Tz = None, project: Project = None, user: User = None, agent: Agent = None
) -> dict[str, str]:
    return given(tz=tz, project=project, user=user, agent=agent)


Scope = Annotated[dict[str, str], Depends(_scope)]


async def _window(scope: Scope, since: Since = None, until: Until = None) -> dict[str, str]:
    return {**given(since=since, until=until), **scope}


async def _days(scope: Scope, since: FirstDay = None, until: LastDay = None) -> dict[str, str]:
    return {**given(since=since, until=until), **scope}


# A time window (instants) with the project/user/agent filters; whole local days with the same.
Window = Annotated[dict[str, str], Depends(_window)]
Days = Annotated[dict[str, str], Depends(_days)]


async def _window_model(window: Window, model: Model = None) -> dict[str, str]:
    return {**window, **given(model=model)}


async def _days_model(days: Days, model: Model = None) -> dict[str, str]:
    return {**days, **given(model=model)}


# The same, with the `model` filter too.
WindowModel = Annotated[dict[str, str], Depends(_window_model)]
DaysModel = Annotated[dict[str, str], Depends(_days_model)]
