"""The collector's endpoints as one plain ASGI app: `POST /v1/hooks`, `/v1/logs|metrics|traces`, `/v1/noop`.

Why plain ASGI: a hook POST carries one small payload, and FastAPI's per-route machinery
(request objects, dependency solving, exception middleware) cost about 150 µs of CPU per request
here, more than decoding and storing the payload. `configure` puts `CollectorEndpoints` in front
of the app for these paths only; the FastAPI routes in routes.py document them (OpenAPI) and
delegate to the same code.

Every answer that is not a success uses the one error shape (server/errors.py): 421 a Host that is
not a loopback name while bound to loopback · 403 an Origin other than this host (a web page) ·
401 missing or wrong ingest token · 405 not POST · 413 body over the limit (after decompression) · 415 wrong
Content-Type or Content-Encoding · 400 a body that cannot be decoded, or a record outside the ranges of domain/limits.py (the
message names the field; in a batch, the good records are stored and the bad ones named)
· 503 + Retry-After when the ingest queue is full or the store is failing (clients retry) · 500 when
the store rejects these particular records. A success is sent only once the records are committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool

from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.queue import IngestRejected, IngestUnavailable, QueueFull
from agent_trace.server.budgets.guard import BudgetGuard
from agent_trace.server.collector.auth import ForeignSession
from agent_trace.server.collector.body import JSON_TYPES, NDJSON_TYPES, PROTOBUF_TYPES, media_type, read_body
from agent_trace.server.collector.decoders import DecoderUnavailable
from agent_trace.server.collector.pipeline import CollectorPipeline, HookRecords, now_ms
from agent_trace.server.errors import ApiError, as_api_error, error_json
from agent_trace.server.security import cross_site_problem, is_loopback
from agent_trace.sources.otlp import OtlpDecodeError

log = logging.getLogger("agent_trace.collector")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Bodies larger than this are decoded on a worker thread, so that one 16 MiB export does not
# stall every other request on the event loop; small ones are decoded inline (a thread hop costs
# more than decoding them).
INLINE_DECODE_BYTES = 256 * 1024
RETRY_AFTER_FULL_S = 1
RETRY_AFTER_UNAVAILABLE_S = 5

PATHS = {
    "/v1/hooks": "hooks",
    "/v1/logs": "logs",
    "/v1/metrics": "metrics",
    "/v1/traces": "traces",
    "/v1/noop": "noop",
}
# What OTLP exporters expect on success: an empty Export*ServiceResponse in the request's encoding.
_EMPTY_PROTOBUF = {
    "logs": ExportLogsServiceResponse().SerializeToString(),
    "metrics": ExportMetricsServiceResponse().SerializeToString(),
    "traces": ExportTraceServiceResponse().SerializeToString(),
}
_RESPONSE_TYPES: dict[str, Any] = {
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
    "traces": ExportTraceServiceResponse,
}
_REJECTED_FIELD = {
    "logs": "rejected_log_records",
    "metrics": "rejected_data_points",
    "traces": "rejected_spans",
}
_JSON = b"application/json"
_PROTOBUF = b"application/x-protobuf"


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: bytes | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, send: Send) -> None:
        headers = list(self.headers)
        if self.content_type is not None:
            headers.append((b"content-type", self.content_type))
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def _error_answer(exc: Exception) -> Answer:
    """The one error renderer's answer (server/errors.py), as plain ASGI."""
    error = as_api_error(exc)
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    return Answer(error.status, error_json(error), _JSON, headers)


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "bad_request", "the client disconnected before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class CollectorEndpoints:
    """The ASGI app answering the collector's paths (see PATHS)."""

    def __init__(self, pipeline: CollectorPipeline, guard: BudgetGuard | None = None) -> None:
        self.pipeline = pipeline
        self.allowed_hosts = frozenset(h.lower() for h in pipeline.settings.allowed_hosts)
        self.loopback_only = is_loopback(pipeline.settings.host) or bool(self.allowed_hosts)
        self.guard = guard  # budgets: answers UserPromptSubmit / PreToolUse with a decision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = PATHS[scope["path"]]
        try:
            if scope["method"] != "POST":
                raise ApiError(
                    405, "method_not_allowed", f"{scope['path']}: use POST", headers={"Allow": "POST"}
                )
            headers = _headers(scope)
            # The API's Host and Origin rules (server/security.py), before anything else: a web
            # page must not be able to write here (problem 2 of issue 9).
            problem = cross_site_problem(
                "POST",
                headers.get("host"),
                headers.get("origin"),
                self.loopback_only,
                allowed_hosts=self.allowed_hosts,
                fetch_site=headers.get("sec-fetch-site"),
            )
            if problem is not None:
                raise ApiError(*problem)
            if kind == "noop":
                answer = Answer(204)
            else:
                user = self._authorize(headers)
                if kind == "hooks":
                    answer = await self._hooks(headers, receive, user)
                else:
                    answer = await self._otlp(kind, headers, receive, user)
        except Exception as exc:  # ApiError, or unexpected (logged by the renderer, never shown)
            answer = _error_answer(exc)
        await answer.send(send)

    # -- the endpoints -----------------------------------------------------------------------

    async def _hooks(self, headers: dict[str, str], receive: Receive, user: str | None) -> Answer:
        media = media_type(headers.get("content-type"))
        # JSON types only (Claude Code's http hooks send application/json): a body with no type,
        # or text/plain, is what a browser may send cross-site without a CORS preflight.
        if media not in JSON_TYPES and media not in NDJSON_TYPES and not media.endswith("+json"):
            raise _unsupported(media, "application/json (one payload or an array) or application/x-ndjson")
        body = await self._body(headers, receive)
        payloads, unparsable, many = hook_documents(body, ndjson=media in NDJSON_TYPES)
        received = now_ms()
        pipeline = self.pipeline

        def decode() -> HookRecords:
            parsed = pipeline.hook_records(payloads, received, unparsable)
            if parsed.rejected and (not many or not parsed.accepted):
                first = parsed.rejected[0]
                where = f"payloads[{first.index}]: " if many else ""
                raise ApiError(400, "invalid_payload", where + first.message)
            if user is not None:
                _claim(pipeline, parsed.batch, user)
            return parsed

        parsed = decode() if len(body) <= INLINE_DECODE_BYTES else await run_in_threadpool(decode)
        await self._commit(lambda: pipeline.queue.submit_async(parsed.batch, parsed.deltas, prepared=True))
        accepted = [(b"x-agent-trace-accepted", str(parsed.accepted).encode())]
        if not many:
            # Claude Code reads a JSON body of an http hook as a hook decision: none, unless a
            # budget has one (server/budgets/guard.py).
            decision = self._budget_decision(payloads[0], headers, user) if self.guard is not None else None
            if decision is not None:
                return Answer(200, orjson.dumps(decision), _JSON, accepted)
            return Answer(204, headers=accepted)
        answer = {
            "accepted": parsed.accepted,
            "rejected": [{"index": r.index, "message": r.message} for r in parsed.rejected],
        }
        return Answer(200, orjson.dumps(answer), _JSON, accepted)

    def _budget_decision(
        self, payload: Any, headers: dict[str, str], token_user: str | None
    ) -> dict[str, Any] | None:
        assert self.guard is not None
        if not isinstance(payload, dict):
            return None
        enrichment = payload.get("agent_trace")
        # Auth on: the token's owner is whose spend counts (a payload cannot claim another user).
        user = (
            token_user
            or headers.get("x-agent-trace-user")
            or (enrichment.get("user") if isinstance(enrichment, dict) else None)
        )
        return self.guard.decide(
            str(payload.get("hook_event_name") or ""),
            str(payload.get("session_id") or ""),
            user if isinstance(user, str) and user else None,
            payload.get("cwd") if isinstance(payload.get("cwd"), str) else None,
        )

    async def _otlp(self, signal: str, headers: dict[str, str], receive: Receive, user: str | None) -> Answer:
        content_type = headers.get("content-type") or ""
        media = media_type(content_type)
        if media not in JSON_TYPES and media not in PROTOBUF_TYPES:
            raise _unsupported(media, "application/json or application/x-protobuf")
        body = await self._body(headers, receive)
        received = now_ms()
        pipeline = self.pipeline
        if pipeline.decoders is not None:
            try:
                batch, refused = await asyncio.wrap_future(
                    pipeline.otlp_prepared(signal, content_type, body, received)
                )
            except OtlpDecodeError as exc:
                raise ApiError(400, "invalid_body", str(exc)) from None
            except DecoderUnavailable as exc:
                raise _busy(f"{exc}: retry", RETRY_AFTER_FULL_S) from None
        elif len(body) <= INLINE_DECODE_BYTES:
            batch, refused = _decode_otlp(pipeline, signal, content_type, body, received)
        else:
            batch, refused = await run_in_threadpool(
                _decode_otlp, pipeline, signal, content_type, body, received
            )
        if refused and not len(batch):
            raise ApiError(400, "invalid_record", refused[0], field=refused[0].split(":", 1)[0])
        if user is not None:
            _claim(pipeline, batch, user)
        await self._commit(lambda: pipeline.queue.submit_async(batch, prepared=True))
        return _otlp_success(signal, media in PROTOBUF_TYPES, refused)

    # -- shared steps ------------------------------------------------------------------------

    def _authorize(self, headers: dict[str, str]) -> str | None:
        """The user the records are stored as (auth on), else None; raises 401."""
        check = self.pipeline.token
        authorization = headers.get("authorization")
        user = check.user(authorization)
        if user is None and not check.allows(authorization):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong ingest token: send `Authorization: Bearer <AGENT_TRACE_INGEST_TOKEN>` "
                "(with auth on, your personal token)",
                field="Authorization",
                headers={"WWW-Authenticate": 'Bearer realm="agent-trace"'},
            )
        return user

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes:
        # Before reading: under back-pressure, reading and decoding the body would only take the
        # CPU the writer needs to catch up.
        if self.pipeline.queue.is_full():
            raise _busy("the collector is busy writing: retry later", RETRY_AFTER_FULL_S)
        return await read_body(
            _chunks(receive),
            headers.get("content-length"),
            headers.get("content-encoding"),
            self.pipeline.max_body_bytes,
        )

    async def commit_batch(self, batch: RecordBatch) -> None:
        """Store records decoded elsewhere (webhooks) with the same queue, answers and errors."""
        await self._commit(lambda: self.pipeline.queue.submit_async(batch))

    async def _commit(self, submit: Callable[[], asyncio.Future[None]]) -> None:
        """Queue the records, then wait until they are committed."""
        try:
            future = submit()
            async with asyncio.timeout(self.pipeline.commit_timeout_s):
                await future
        except QueueFull as exc:
            raise _busy(str(exc), exc.retry_after_s) from None
        except IngestUnavailable as exc:
            raise _busy(f"records not stored: {exc}; retry later", RETRY_AFTER_UNAVAILABLE_S) from None
        except TimeoutError:
            raise _busy("the store did not commit in time: retry later", RETRY_AFTER_UNAVAILABLE_S) from None
        except IngestRejected as exc:
            log.error("collector request rejected by the store: %s", exc)
            raise ApiError(
                500, "internal_error", "the store rejected these records (see the server log)"
            ) from None


def _decode_otlp(
    pipeline: CollectorPipeline, signal: str, content_type: str, body: bytes, received: int
) -> Any:
    try:
        return pipeline.otlp_batch(signal, content_type, body, received)
    except OtlpDecodeError as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None


def _claim(pipeline: CollectorPipeline, batch: Any, user: str) -> None:
    try:
        pipeline.token.claim(batch, user)
    except ForeignSession as exc:
        raise ApiError(
            403, "forbidden", f"session {exc}: it belongs to another user; your token cannot add to it"
        ) from None


def _otlp_success(signal: str, protobuf: bool, refused: list[str]) -> Answer:
    """200 with an empty Export…ServiceResponse, or OTLP's partial success naming what was refused
    (the good records of the export are stored; exporters do not retry a partial success)."""
    if not refused:
        if protobuf:
            return Answer(200, _EMPTY_PROTOBUF[signal], _PROTOBUF)
        return Answer(200, b"{}", _JSON)
    counter = _REJECTED_FIELD[signal]
    message = f"{len(refused)} record(s) refused: " + "; ".join(refused[:5])
    if protobuf:
        response = _RESPONSE_TYPES[signal]()
        partial = response.partial_success
        setattr(partial, counter, len(refused))
        partial.error_message = message
        return Answer(200, response.SerializeToString(), _PROTOBUF)
    camel = "".join(w if i == 0 else w.capitalize() for i, w in enumerate(counter.split("_")))
    body = {"partialSuccess": {camel: str(len(refused)), "errorMessage": message}}
    return Answer(200, orjson.dumps(body), _JSON)


def _unsupported(media: str, expected: str) -> ApiError:
    shown = media or "(none)"
    return ApiError(
        415, "unsupported_media_type", f"Content-Type {shown!r}: send {expected}", field="Content-Type"
    )


def _busy(message: str, retry_after_s: int) -> ApiError:
    return ApiError(503, "unavailable", message, headers={"Retry-After": str(retry_after_s)})


def hook_documents(body: bytes, *, ndjson: bool) -> tuple[list[Any], dict[int, str], bool]:
    """The payloads of a hook POST, the NDJSON lines that are not JSON (by index), and whether
    the request carried several payloads (an array or NDJSON)."""
    if ndjson:
        # A spool file may end in a half-written line: that line is rejected, not the whole file.
        payloads: list[Any] = []
        unparsable: dict[int, str] = {}
        for line in body.split(b"\n"):
            if not line.strip():
                continue
            try:
                payloads.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                unparsable[len(payloads)] = f"line is not valid JSON: {exc}"
                payloads.append(None)
        return payloads, unparsable, True
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_body", f"body is not valid JSON: {exc}") from None
    if isinstance(doc, list):
        return doc, {}, True
    return [doc], {}, False


class CollectorFastPath:
    """ASGI middleware: the collector's paths go straight to CollectorEndpoints, the rest on."""

    def __init__(self, app: Any, endpoints: CollectorEndpoints) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS:
            await self.endpoints(scope, receive, send)
        else:
            await self.app(scope, receive, send)
