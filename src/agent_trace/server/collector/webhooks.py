"""`POST /v1/webhooks/github` and `POST /v1/webhooks/gitlab`: pull/merge requests and pushes.

Server-to-server: no ingest token and no Origin check; the provider's own proof is required
instead, or the request gets 401 and nothing is stored:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` keyed with
  AGENT_TRACE_GITHUB_WEBHOOK_SECRET, compared in constant time;
- GitLab: `X-Gitlab-Token` equal to AGENT_TRACE_GITLAB_WEBHOOK_TOKEN.
With no secret configured the route refuses everything (401): an unverifiable delivery could
mark any session shipped. A replayed delivery merges into the same records and changes nothing
(merged is final; a state follows the newest `updated_at`).

Every delivery, accepted or refused, is appended to the audit log (`webhook_delivery`: source,
event, delivery id, outcome, HTTP status, why refused; the sender's user when it also sent a
personal token). The write runs in a worker thread after the answer is decided; hooks and OTLP
never pass here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
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
from agent_trace.store.identity import IdentityStore

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": '`{"stored": n}` records, or `{"ignored": "<event>"}` for events not used'},
    400: {"description": "The body is not JSON, or lacks a field the event needs (named)."},
    401: {"description": "Missing or wrong signature/token, or no secret configured: nothing stored."},
    413: {"description": "The body is over AGENT_TRACE_MAX_BODY_BYTES."},
    503: {"description": "Back-pressure or a failing store: the provider retries."},
}


# Where each provider puts a delivery's id (GitLab: newer, then older versions).
DELIVERY_HEADERS = {
    "github": ("x-github-delivery",),
    "gitlab": ("x-gitlab-event-uuid", "x-gitlab-webhook-uuid"),
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


def delivery_detail(
    source: str, event: str, delivery: str | None, status: int, answer: dict[str, Any] | str
) -> dict[str, Any]:
    """The audit entry's detail of one webhook delivery: accepted (2xx, what was stored or
    ignored) or refused (the status and the one-line reason the provider was answered)."""
    detail: dict[str, Any] = {
        "source": source,
        "event": event[:100],
        "delivery": (delivery or "")[:100] or None,
        "outcome": "accepted" if status < 300 else "refused",
        "status": status,
    }
    if isinstance(answer, str):
        detail["reason"] = answer[:300]
    else:
        detail.update(answer)
    return detail


def add_routes(router: APIRouter, endpoints: CollectorEndpoints, identity: IdentityStore) -> None:
    settings = endpoints.pipeline.settings

    async def audited(
        source: str, request: Request, handle: Callable[[str, str | None], Awaitable[JSONResponse]]
    ) -> JSONResponse:
        """Answer the delivery with `handle(event, delivery id)`, then append what happened to
        the audit log (accepted or refused alike)."""
        event = request.headers.get(f"x-{source}-event") or ""
        delivery = next(
            (request.headers[h] for h in DELIVERY_HEADERS[source] if request.headers.get(h)), None
        )
        # With auth on, a sender may add a personal token; the delivery is then theirs.
        user = endpoints.pipeline.token.user(request.headers.get("authorization"))
        status, answer = 500, "the collector failed"
        try:
            response = await handle(event, delivery)
            status, answer = response.status_code, orjson.loads(response.body)
        except ApiError as exc:
            status, answer = exc.status, exc.message
            raise
        finally:
            detail = delivery_detail(source, event, delivery, status, answer)
            if user:
                detail["user"] = user
            await anyio.to_thread.run_sync(
                identity.append_audit,
                user or f"webhook:{source}",
                "webhook_delivery",
                detail["delivery"],
                detail,
            )
        return response

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
        async def handle(event: str, delivery: str | None) -> JSONResponse:
            body = await _body(request, settings.ingest_max_body_bytes)
            secret = settings.github_webhook_secret
            signature = request.headers.get("x-hub-signature-256") or ""
            if not secret:
                raise _unauthorized("GitHub webhooks are off: set AGENT_TRACE_GITHUB_WEBHOOK_SECRET")
            if not signature:
                raise _unauthorized("X-Hub-Signature-256: missing")
            if not hmac.compare_digest(signature.encode(), github_signature(secret, body).encode()):
                raise _unauthorized("X-Hub-Signature-256: does not match the body")
            return await store(lambda: github_records(event, delivery, _json(body), now_ms()), event)

        return await audited("github", request, handle)

    @router.post(
        "/v1/webhooks/gitlab",
        summary="GitLab webhook: Merge Request Hook and Push Hook",
        description="Authenticated by X-Gitlab-Token = AGENT_TRACE_GITLAB_WEBHOOK_TOKEN. See docs/outcomes.md.",
        responses=_RESPONSES,
    )
    async def gitlab(request: Request) -> JSONResponse:
        async def handle(event: str, delivery: str | None) -> JSONResponse:
            body = await _body(request, settings.ingest_max_body_bytes)
            expected = settings.gitlab_webhook_token
            token = request.headers.get("x-gitlab-token") or ""
            if not expected:
                raise _unauthorized("GitLab webhooks are off: set AGENT_TRACE_GITLAB_WEBHOOK_TOKEN")
            if not token or not hmac.compare_digest(token.encode(), expected.encode()):
                raise _unauthorized("X-Gitlab-Token: missing or wrong")
            return await store(lambda: gitlab_records(event, delivery, _json(body), now_ms()), event)

        return await audited("gitlab", request, handle)
