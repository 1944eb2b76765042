"""`POST /v1/webhooks/github` and `POST /v1/webhooks/gitlab`: pull/merge requests and pushes.

Server-to-server: no ingest token and no Origin check; the provider's own proof is required
instead, or the request gets 401 and nothing is stored:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` keyed with
  AGENT_TRACE_GITHUB_WEBHOOK_SECRET, compared in constant time;
- GitLab: `X-Gitlab-Token` equal to AGENT_TRACE_GITLAB_WEBHOOK_TOKEN.
With no secret configured the route refuses everything (401): an unverifiable delivery could
mark any session shipped. A replayed delivery merges into the same records and changes nothing
(merged is final; a state follows the newest `updated_at`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agent_trace.domain.records import RecordBatch
from agent_trace.server.collector.asgi import CollectorEndpoints
from agent_trace.server.collector.pipeline import now_ms
from agent_trace.server.errors import ApiError
from agent_trace.sources.git_webhooks import (
    WebhookIgnored,
    WebhookPayloadError,
    github_records,
    gitlab_records,
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": '`{"stored": n}` records, or `{"ignored": "<event>"}` for events not used'},
    400: {"description": "The body is not JSON, or lacks a field the event needs (named)."},
    401: {"description": "Missing or wrong signature/token, or no secret configured: nothing stored."},
    413: {"description": "The body is over AGENT_TRACE_MAX_BODY_BYTES."},
    503: {"description": "Back-pressure or a failing store: the provider retries."},
}


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


async def _body(request: Request, limit: int) -> bytes:
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, "body_too_large", f"body over {limit} bytes (AGENT_TRACE_MAX_BODY_BYTES)")
    return body


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_body", f"body: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "body: expected a JSON object")
    return value


def github_signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body` (tests sign with it too)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def add_routes(router: APIRouter, endpoints: CollectorEndpoints) -> None:
    settings = endpoints.pipeline.settings

    async def store(parse: Callable[[], RecordBatch], event: str) -> JSONResponse:
        """Decode (events not used are acknowledged), then store once committed."""
        try:
            batch = parse()
        except WebhookIgnored:
            return JSONResponse({"ignored": event})
        except WebhookPayloadError as exc:
            raise ApiError(400, "invalid_body", str(exc)) from None
        await endpoints.commit_batch(batch)
        return JSONResponse({"stored": len(batch) - len(batch.raw_events)})

    @router.post(
        "/v1/webhooks/github",
        summary="GitHub webhook: pull_request and push events",
        description="Signed with AGENT_TRACE_GITHUB_WEBHOOK_SECRET (X-Hub-Signature-256). See docs/outcomes.md.",
        responses=_RESPONSES,
    )
    async def github(request: Request) -> JSONResponse:
        body = await _body(request, settings.ingest_max_body_bytes)
        secret = settings.github_webhook_secret
        signature = request.headers.get("x-hub-signature-256") or ""
        if not secret:
            raise _unauthorized("GitHub webhooks are off: set AGENT_TRACE_GITHUB_WEBHOOK_SECRET")
        if not signature:
            raise _unauthorized("X-Hub-Signature-256: missing")
        if not hmac.compare_digest(signature.encode(), github_signature(secret, body).encode()):
            raise _unauthorized("X-Hub-Signature-256: does not match the body")
        event = request.headers.get("x-github-event") or ""
        delivery = request.headers.get("x-github-delivery")
        return await store(lambda: github_records(event, delivery, _json(body), now_ms()), event)

    @router.post(
        "/v1/webhooks/gitlab",
        summary="GitLab webhook: Merge Request Hook and Push Hook",
        description="Authenticated by X-Gitlab-Token = AGENT_TRACE_GITLAB_WEBHOOK_TOKEN. See docs/outcomes.md.",
        responses=_RESPONSES,
    )
    async def gitlab(request: Request) -> JSONResponse:
        body = await _body(request, settings.ingest_max_body_bytes)
        expected = settings.gitlab_webhook_token
        token = request.headers.get("x-gitlab-token") or ""
        if not expected:
            raise _unauthorized("GitLab webhooks are off: set AGENT_TRACE_GITLAB_WEBHOOK_TOKEN")
        if not token or not hmac.compare_digest(token.encode(), expected.encode()):
            raise _unauthorized("X-Gitlab-Token: missing or wrong")
        event = request.headers.get("x-gitlab-event") or ""
        delivery = request.headers.get("x-gitlab-event-uuid") or request.headers.get("x-gitlab-webhook-uuid")
        return await store(lambda: gitlab_records(event, delivery, _json(body), now_ms()), event)
