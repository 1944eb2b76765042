"""Remote mode: the CLI's read commands answered by a server's API (`/v1/...`) instead of the
local store, with the caller's personal token, so the server's access rules decide what they
see (a viewer: numbers only; a member: the content of their own sessions).

Which server: `--server URL`, else AGENT_TRACE_SERVER / config `server` (config.py). Which
token: `--token`, else AGENT_TRACE_TOKEN / config `token`, else the token `agent-trace init
--token` recorded in Claude Code's agent-trace.json (0600). Every failure is one line
(CliError, exit 1; a parameter the server refuses: exit 2): docs/cli.md "Remote mode".

urllib (stdlib, imported when a request is made) keeps the local path's start-up as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_trace.cli.errors import EXIT_FAILED, EXIT_USAGE, CliError
from agent_trace.config import Settings

TIMEOUT_S = 60.0
TOKEN_SOURCES = "--token, AGENT_TRACE_TOKEN or `agent-trace init --token`"


class RemoteError(CliError):
    """The server answered an HTTP error `status`; the message is the line the user sees."""

    def __init__(self, message: str, status: int, code: int = EXIT_FAILED) -> None:
        super().__init__(message, code)
        self.status = status


@dataclass(frozen=True)
class Remote:
    base_url: str  # scheme://host[:port][/prefix], no trailing slash
    token: str | None

    def get_json(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> Any:
        return json.loads(self.get(path, params))

    def get_text(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> str:
        return self.get(path, params).decode("utf-8")

    def get(self, path: str, params: Mapping[str, str | list[str]] | None = None) -> bytes:
        import urllib.error
        import urllib.request

        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        request = urllib.request.Request(url, headers={"Accept": "application/json, text/csv"})
        if self.token:
            # Not repeated to wherever a redirect points: the token is for this server only.
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                body: bytes = answer.read()
                return body
        except urllib.error.HTTPError as exc:
            raise self.refusal(exc.code, _api_message(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise CliError(
                f"{self.base_url}: the server does not answer ({reason}); check --server / "
                "AGENT_TRACE_SERVER and that `agent-trace serve` runs there",
                EXIT_FAILED,
            ) from None

    def refusal(self, status: int, message: str | None) -> RemoteError:
        """One line for an HTTP error status (docs/cli.md "Remote mode" lists them)."""
        said = f" ({message})" if message else ""
        if status == 401:
            if not self.token:
                line = f"{self.base_url}: not logged in: give a personal token ({TOKEN_SOURCES})"
            else:
                line = (
                    f"{self.base_url}: the server refused your token{said}: it is unknown, rotated or "
                    "its account disabled; ask an admin for a new one (`agent-trace users token rotate`)"
                )
        elif status == 403:
            line = f"{self.base_url}: your role may not see this{said}"
        elif status == 404:
            line = message or f"{self.base_url}: not found"
        elif status == 400:
            return RemoteError(f"the server refused a parameter: {message}", status, EXIT_USAGE)
        elif status == 421:
            line = (
                f"{self.base_url}: the server does not answer to this host name{said}; its admin adds "
                "it to AGENT_TRACE_ALLOWED_HOSTS"
            )
        else:
            line = f"{self.base_url}: the server answered HTTP {status}{said}"
        return RemoteError(line, status)


def _api_message(exc: Any) -> str | None:
    """The `error.message` of the API's one error shape (server/errors.py), else nothing."""
    try:
        body = json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message)[:300] if message else None


def remote_of(args: argparse.Namespace, settings: Settings) -> Remote | None:
    """The server to ask, or None to read the local store."""
    server = getattr(args, "server", None) or settings.server
    if not server:
        if getattr(args, "token", None):
            raise CliError("--token goes with --server URL (or AGENT_TRACE_SERVER)", EXIT_USAGE)
        return None
    parsed = urllib.parse.urlsplit(server.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query or parsed.fragment:
        raise CliError(
            f"--server {server!r}: expected http(s)://host[:port] (the API, port 8318 by default)",
            EXIT_USAGE,
        )
    if parsed.username or parsed.password:
        raise CliError(f"--server {server!r}: no credentials in the URL (use --token)", EXIT_USAGE)
    base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))
    return Remote(base, getattr(args, "token", None) or settings.api_token or _recorded_token())


def open_reads(args: argparse.Namespace, settings: Settings) -> Any:
    """What `sessions` and `report` read from: the server's API in remote mode, else the local
    read store (both closed with `close()`)."""
    remote = remote_of(args, settings)
    if remote is None:
        from agent_trace.store.factory import open_read_store

        return open_read_store(settings.database_url, settings.events_url)
    from agent_trace.cli.remote_reads import RemoteReads

    return RemoteReads(remote)


def _recorded_token() -> str | None:
    """The personal token `agent-trace init --token` wrote to Claude Code's agent-trace.json."""
    from agent_trace.hook import client_config

    recorded = client_config.load(os.environ)
    return recorded.ingest_token if recorded is not None else None
