"""`agent-trace init --agent codex` / `uninstall --agent codex`: Codex CLI's `[otel]` export.

Codex reads `$CODEX_HOME/config.toml` (default `~/.codex/config.toml`). init appends one managed
block holding an `[otel]` table that sends Codex's OpenTelemetry logs to the collector's OTLP/HTTP
endpoint; uninstall removes exactly that block. The rest of the file keeps its bytes. A file that
already has an `[otel]` table of the user's own is not touched (TOML allows one table of a name):
init says so and exits 2. The prompt text is exported (`log_user_prompt`) only at tier >= 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from agent_trace.cli import install_files as files
from agent_trace.config import Settings

BEGIN = "# >>> agent-trace: Codex telemetry to the agent-trace collector (agent-trace uninstall --agent codex removes it)"
END = "# <<< agent-trace"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)
_OTEL_TABLE = re.compile(r"^\s*\[\s*otel\s*\]", re.MULTILINE)


def config_path(env: Mapping[str, str]) -> Path:
    home = env.get("CODEX_HOME")
    base = Path(home).expanduser() if home else Path(env.get("HOME") or str(Path.home())) / ".codex"
    return base / "config.toml"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def block(collector_url: str, tier: int, token: str | None) -> str:
    endpoint = collector_url.rstrip("/") + "/v1/logs"
    exporter = f'endpoint = {_toml_str(endpoint)}, protocol = "json"'
    if token:
        exporter += ', headers = { "Authorization" = ' + _toml_str(f"Bearer {token}") + " }"
    return "\n".join(
        [
            BEGIN,
            "[otel]",
            'environment = "agent-trace"',
            f"log_user_prompt = {'true' if tier >= 2 else 'false'}",
            "exporter = { otlp-http = { " + exporter + " } }",
            END,
            "",
        ]
    )


def without_block(text: str) -> str:
    return _BLOCK.sub("", text)


def _unblocked(text: str) -> str:
    """The config without our block and the blank line init put before it."""
    base = without_block(text)
    if base != text and base.endswith("\n\n"):
        base = base[:-1]
    return base


def planned(text: str | None, new_block: str) -> str:
    """The config with our block (replacing an earlier one of ours); ValueError when the user has
    an `[otel]` table of their own."""
    base = _unblocked(text or "")
    if _OTEL_TABLE.search(base):
        raise ValueError("already has an [otel] table of its own; remove it or point it at the collector")
    if base and not base.endswith("\n"):
        base += "\n"
    return base + ("\n" if base.strip() else "") + new_block


def cmd_init_codex(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    path = config_path(env)
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    url = args.collector_url or f"http://127.0.0.1:{settings.collector_port}"
    tier = args.privacy_tier or settings.privacy_tier
    token = args.token or settings.ingest_token
    try:
        after = planned(before, block(url, tier, token))
    except ValueError as exc:
        print(f"agent-trace init: {path} {exc}", file=sys.stderr)
        return 2
    if after == before:
        print(f"agent-trace init: {path} already sends Codex telemetry to {url}; nothing to change")
        return 0
    if args.dry_run:
        print(files.diff(path, before, after, token), end="")
        return 0
    if before is not None:
        files.backup(path, before, settings.home / "backups")
    files.write_atomic(path, after)
    print(f"agent-trace init: Codex CLI exports its telemetry to {url}/v1/logs ({path}, tier {tier})")
    print("  sessions already on disk: agent-trace import (reads ~/.codex/sessions)")
    return 0


def cmd_uninstall_codex(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    path = config_path(env)
    if not path.is_file():
        print(f"agent-trace uninstall: {path} does not exist; nothing to remove")
        return 0
    before = path.read_text(encoding="utf-8")
    after = _unblocked(before)
    if after == before:
        print(f"agent-trace uninstall: {path} has no agent-trace block; nothing to remove")
        return 0
    if args.dry_run:
        print(files.diff(path, before, after), end="")
        return 0
    if after.strip():
        files.write_atomic(path, after)
    else:
        path.unlink()
    print(f"agent-trace uninstall: removed the Codex telemetry block from {path}")
    return 0
