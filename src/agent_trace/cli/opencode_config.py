"""`agent-trace init --agent opencode` / `uninstall --agent opencode`: OpenCode's live capture.

OpenCode loads every `*.js` / `*.ts` file of `$XDG_CONFIG_HOME/opencode/plugin/` (default
`~/.config/opencode/plugin/`) as a plugin and hands it its event bus. init writes agent-trace's
plugin there (cli/opencode_plugin.js, with the collector's OTLP logs endpoint, the ingest token
and the privacy tier filled in); uninstall removes exactly that file. OpenCode's own config is
not touched. A file of that name that is not ours is left alone: init says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from agent_trace.cli import install_files as files
from agent_trace.config import Settings

PLUGIN_NAME = "agent-trace.js"
MARKER = "// agent-trace: OpenCode's sessions, live, to the agent-trace collector."
_CONFIG = re.compile(r"/\*agent-trace-config\*/.*?/\*end\*/")


def plugin_path(env: Mapping[str, str]) -> Path:
    config_home = env.get("XDG_CONFIG_HOME")
    base = Path(config_home) if config_home else Path(env.get("HOME") or str(Path.home())) / ".config"
    return base / "opencode" / "plugin" / PLUGIN_NAME


def plugin_text(collector_url: str, tier: int, token: str | None) -> str:
    """The plugin with its settings filled in."""
    template = resources.files("agent_trace.cli").joinpath("opencode_plugin.js").read_text(encoding="utf-8")
    config = {
        "endpoint": collector_url.rstrip("/") + "/v1/logs",
        "token": token or None,
        "tier": tier,
        "timeoutMs": 5000,
    }
    filled = f"/*agent-trace-config*/ {json.dumps(config)} /*end*/"
    return _CONFIG.sub(lambda _m: filled, template, count=1)


def _ours(text: str) -> bool:
    return text.startswith(MARKER)


def cmd_init_opencode(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    path = plugin_path(env)
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    if before is not None and not _ours(before):
        print(f"agent-trace init: {path} is not agent-trace's plugin; move it away first", file=sys.stderr)
        return 2
    url = args.collector_url or f"http://127.0.0.1:{settings.collector_port}"
    tier = args.privacy_tier or settings.privacy_tier
    token = args.token or settings.ingest_token
    after = plugin_text(url, tier, token)
    if after == before:
        print(f"agent-trace init: {path} already sends OpenCode's sessions to {url}; nothing to change")
        return 0
    if args.dry_run:
        print(files.diff(path, before, after, token), end="")
        return 0
    files.write_atomic(path, after, 0o600)
    print(f"agent-trace init: OpenCode sends its sessions to {url}/v1/logs (plugin {path}, tier {tier})")
    print("  sessions already on disk: agent-trace import (reads ~/.local/share/opencode)")
    return 0


def cmd_uninstall_opencode(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    path = plugin_path(env)
    if not path.is_file():
        print(f"agent-trace uninstall: {path} does not exist; nothing to remove")
        return 0
    if not _ours(path.read_text(encoding="utf-8")):
        print(f"agent-trace uninstall: {path} is not agent-trace's plugin; left as it is")
        return 0
    if args.dry_run:
        print(f"would remove {path}")
        return 0
    path.unlink()
    print(f"agent-trace uninstall: removed the OpenCode plugin {path}")
    return 0
