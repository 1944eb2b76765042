"""One JSON error shape for every HTTP answer that is not a success.

    {"error": {"status": 400, "code": "invalid_parameter", "message": "since: …", "field": "since"}}

A 4xx names the bad parameter and the rule it broke; a 5xx never leaks internals.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("agent_trace.server")
_JSON = "application/json"


class ApiError(Exception):
    """Raise anywhere in a route to answer with the one error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if field is not None:
        body["field"] = field
    return {"error": body}


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_parameter",
    429: "too_many_requests",
    503: "unavailable",
}


def as_api_error(exc: Exception) -> ApiError:
    """Any exception as the one error shape: the renderer's single decision (FastAPI's handlers and
    the collector's ASGI fast path both come here). Unexpected ones are logged, never shown."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        location = [
            str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path", "header")
        ]
        field = ".".join(location) or None
        message = (
            f"{field}: {first.get('msg', 'invalid value')}"
            if field
            else str(first.get("msg", "invalid request"))
        )
        return ApiError(400, "invalid_parameter", message, field)
    if isinstance(exc, StarletteHTTPException):
        code = _CODES.get(exc.status_code, "error")
        return ApiError(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))
    log.exception("unhandled error", exc_info=exc)
    return ApiError(500, "internal_error", "internal error (see the server log)")


def error_json(exc: ApiError) -> bytes:
    return orjson.dumps(error_body(exc.status, exc.code, exc.message, exc.field))


def error_response(exc: Exception) -> Response:
    error = as_api_error(exc)
    return Response(error_json(error), status_code=error.status, headers=error.headers, media_type=_JSON)


def install_error_handlers(app: FastAPI) -> None:
    async def render(_request: Request, exc: Exception) -> Response:
        return error_response(exc)

    for kind in (ApiError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, render)
