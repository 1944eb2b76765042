"""`agent-trace init --agent gemini|qwen` / `uninstall --agent …`: Gemini CLI's and Qwen Code's
telemetry export (Qwen Code is a Gemini CLI fork with the same `telemetry` settings).

Gemini CLI reads `~/.gemini/settings.json` (GEMINI_CLI_HOME moves `~`), Qwen Code
`~/.qwen/settings.json`. init sets the `telemetry`
object to export OTLP over HTTP to the collector (`target: local`, `otlpEndpoint`, `otlpProtocol:
http`; prompts and response text — which carries the tool call ids — only at tier >= 2) and keeps
the object it replaced in `$AGENT_TRACE_HOME/agents/<agent>.json`; uninstall puts that object back
(or removes the key, or the file init created). Every other setting stays as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_trace.cli import install_files as files
from agent_trace.config import Settings

_ABSENT = "<absent>"


# agent → (settings folder under the home, display name, where its sessions are)
FAMILY = {
    "gemini": (".gemini", "Gemini CLI", "~/.gemini/tmp"),
    "qwen": (".qwen", "Qwen Code", "~/.qwen/projects"),
}


def settings_path(env: Mapping[str, str], agent: str = "gemini") -> Path:
    folder = FAMILY[agent][0]
    if agent == "qwen" and env.get("QWEN_HOME"):  # Qwen Code's global folder itself
        return Path(env["QWEN_HOME"]).expanduser() / "settings.json"
    base = (env.get("GEMINI_CLI_HOME") if agent == "gemini" else None) or env.get("HOME") or str(Path.home())
    return Path(base).expanduser() / folder / "settings.json"


def record_path(settings: Settings, agent: str = "gemini") -> Path:
    return settings.home / "agents" / f"{agent}.json"


def telemetry(collector_url: str, tier: int) -> dict[str, Any]:
    return {
        "enabled": True,
        "target": "local",
        "otlpEndpoint": collector_url.rstrip("/"),
        "otlpProtocol": "http",
        "logPrompts": tier >= 2,
    }


def _read(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.is_file():
        return None, None
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("is not a JSON object")
    return data, text


def cmd_init_gemini(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    agent = getattr(args, "agent", "gemini")
    _folder, label, store = FAMILY[agent]
    path = settings_path(env, agent)
    try:
        current, before = _read(path)
    except (ValueError, OSError) as exc:
        print(f"agent-trace init: {path} {exc}; fix it first", file=sys.stderr)
        return 2
    url = args.collector_url or f"http://127.0.0.1:{settings.collector_port}"
    tier = args.privacy_tier or settings.privacy_tier
    data = dict(current or {})
    wanted = telemetry(url, tier)
    if data.get("telemetry") == wanted:
        print(f"agent-trace init: {path} already sends {label} telemetry to {url}; nothing to change")
        return 0
    record = record_path(settings, agent)
    if not record.is_file():  # the first install keeps what it replaces; a re-run keeps that
        saved = {
            "settings_path": str(path),
            "created_file": current is None,
            "previous_telemetry": data.get("telemetry", _ABSENT),
            "original_text": before,  # written back as it was when uninstall restores equal JSON
        }
        if not args.dry_run:
            files.write_atomic(record, json.dumps(saved, indent=2) + "\n")
    data["telemetry"] = wanted
    after = json.dumps(data, indent=2) + "\n"
    if args.dry_run:
        print(files.diff(path, before, after), end="")
        return 0
    if before is not None:
        files.backup(path, before, settings.home / "backups")
    files.write_atomic(path, after)
    print(f"agent-trace init: {label} exports its telemetry to {url} ({path}, tier {tier})")
    print(f"  sessions already on disk: agent-trace import (reads {store})")
    return 0


def cmd_uninstall_gemini(
    args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None
) -> int:
    env = dict(os.environ if env is None else env)
    agent = getattr(args, "agent", "gemini")
    label = FAMILY[agent][1]
    record = record_path(settings, agent)
    if not record.is_file():
        print(f"agent-trace uninstall: no {label} install recorded; nothing to remove")
        return 0
    saved = json.loads(record.read_text(encoding="utf-8"))
    path = Path(saved.get("settings_path") or settings_path(env, agent))
    try:
        current, before = _read(path)
    except (ValueError, OSError) as exc:
        print(f"agent-trace uninstall: {path} {exc}; fix it first", file=sys.stderr)
        return 2
    data = dict(current or {})
    previous = saved.get("previous_telemetry", _ABSENT)
    if previous == _ABSENT:
        data.pop("telemetry", None)
    else:
        data["telemetry"] = previous
    if args.dry_run:
        print(files.diff(path, before, json.dumps(data, indent=2) + "\n"), end="")
        return 0
    original = saved.get("original_text")
    if current is not None:
        if saved.get("created_file") and not data:
            path.unlink()
        elif isinstance(original, str) and original.strip() and json.loads(original) == data:
            files.write_atomic(path, original)
        else:
            files.write_atomic(path, json.dumps(data, indent=2) + "\n")
    record.unlink()
    print(f"agent-trace uninstall: restored {label}'s telemetry settings in {path}")
    return 0
