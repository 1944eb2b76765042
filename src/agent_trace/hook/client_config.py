"""`~/.claude/agent-trace.json`: what `agent-trace init` tells the hook handler (stdlib only).

Claude Code strips `OTEL_*` from hook environments, and a hook must not depend on the
developer's shell profile, so everything the handler needs is in this one file:

    {
      "version": 1,
      "collector_url": "http://127.0.0.1:8317",   # where hooks and OTLP go
      "privacy_tier": 2,                          # 1 metadata, 2 + prompts/tool I/O, 3 + responses
      "ingest_token": "…",                        # optional; the file is then mode 0600
      "user": "dev",                              # who the developer is (Session.user_id)
      "agent_trace_home": "/home/dev/.agent-trace",  # spool/ and hook-state/ live here
      "otlp_protocol": "http/protobuf",
      "hook_transport": "http",                   # http | command (see docs/capture.md)
      "installs": [ … ]                           # what init changed, so uninstall can undo it
    }

The file sits in Claude Code's config folder: `$CLAUDE_CONFIG_DIR` (its first entry) when set,
else `~/.claude`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# `typing` and `dataclasses` cost the hook worker ~20 ms of imports on every call; annotations
# are strings here (PEP 563), so only type checkers need these.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONFIG_NAME = "agent-trace.json"
CONFIG_VERSION = 1
DEFAULT_COLLECTOR_URL = "http://127.0.0.1:8317"


def claude_dir(env: dict[str, str] | os._Environ[str]) -> Path:
    """Claude Code's config folder (where settings.json and our config file live)."""
    configured = env.get("CLAUDE_CONFIG_DIR", "")
    first = next((p.strip() for p in configured.split(",") if p.strip()), "")
    if first:
        return Path(first).expanduser()
    return Path(env.get("HOME") or str(Path.home())) / ".claude"


def config_path(env: dict[str, str] | os._Environ[str]) -> Path:
    return claude_dir(env) / CONFIG_NAME


def default_agent_trace_home(env: dict[str, str] | os._Environ[str]) -> Path:
    """Same rule as config.load_settings: $AGENT_TRACE_HOME, else ~/.agent-trace."""
    explicit = env.get("AGENT_TRACE_HOME")
    if explicit:
        return Path(explicit).expanduser()
    return Path(env.get("HOME") or str(Path.home())) / ".agent-trace"


class ClientConfig:
    __slots__ = (
        "agent_trace_home",
        "collector_url",
        "hook_transport",
        "ingest_token",
        "privacy_tier",
        "user",
    )

    def __init__(
        self,
        collector_url: str,
        privacy_tier: int,
        agent_trace_home: Path,
        ingest_token: str | None = None,
        user: str | None = None,
        hook_transport: str = "http",
    ) -> None:
        self.collector_url = collector_url
        self.privacy_tier = privacy_tier
        self.agent_trace_home = agent_trace_home
        self.ingest_token = ingest_token
        self.user = user
        self.hook_transport = hook_transport

    @property
    def spool_dir(self) -> Path:
        return self.agent_trace_home / "spool"

    @property
    def state_dir(self) -> Path:
        return self.agent_trace_home / "hook-state"

    @property
    def log_file(self) -> Path:
        return self.agent_trace_home / "logs" / "hook.log"

    @property
    def hooks_url(self) -> str:
        return self.collector_url.rstrip("/") + HOOKS_PATH


ACCEPTED_URL_FORMS = "http(s)://host[:port] or http(s)://host[:port]/v1/hooks"
HOOKS_PATH = "/v1/hooks"


def collector_base_url(url: str) -> str:
    """The collector's base URL from what a user typed: the base itself, the hook URL
    (`…/v1/hooks`, the form the specification documents) or either with a trailing slash; http
    or https. ValueError (naming the accepted forms) for what cannot work: another scheme or
    path, a bad port, a query. Hook and OTLP URLs are derived from the base, never from the input."""
    from urllib.parse import urlsplit

    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r}: expected {ACCEPTED_URL_FORMS}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: the port must be between 1 and 65535 (expected {ACCEPTED_URL_FORMS})")
    path = parts.path.rstrip("/")
    if path not in ("", HOOKS_PATH):
        raise ValueError(
            f"{text!r}: path {parts.path!r} is not the collector's; expected {ACCEPTED_URL_FORMS}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"{text!r}: no query, fragment or credentials (use --token); expected {ACCEPTED_URL_FORMS}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def read_raw(path: Path) -> dict[str, Any] | None:
    """The file's JSON object, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def parse(data: dict[str, Any], env: dict[str, str] | os._Environ[str]) -> ClientConfig | None:
    """A usable config from the file's object; None when a required field is unusable.

    $AGENT_TRACE_HOME in the hook's environment wins over the recorded home, like everywhere else.
    """
    url = data.get("collector_url")
    tier = data.get("privacy_tier")
    if not isinstance(url, str):
        return None
    try:
        # A file written by an older init may hold the `…/v1/hooks` form: read it as its base.
        url = collector_base_url(url)
    except ValueError:
        return None
    if isinstance(tier, bool) or tier not in (1, 2, 3):
        return None
    recorded_home = data.get("agent_trace_home")
    if env.get("AGENT_TRACE_HOME") or not isinstance(recorded_home, str) or not recorded_home:
        home = default_agent_trace_home(env)
    else:
        home = Path(recorded_home)
    token = data.get("ingest_token")
    user = data.get("user")
    transport = data.get("hook_transport")
    return ClientConfig(
        collector_url=url,
        privacy_tier=int(tier),
        agent_trace_home=home,
        ingest_token=token if isinstance(token, str) and token else None,
        user=user if isinstance(user, str) and user else None,
        hook_transport=transport if transport in ("http", "command") else "http",
    )


def load(env: dict[str, str] | os._Environ[str]) -> ClientConfig | None:
    data = read_raw(config_path(env))
    return parse(data, env) if data is not None else None
