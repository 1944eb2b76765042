"""The budget decision for one hook call, from a budget state document (stdlib only).

The collector builds the document (server/budgets/guard.py `state_doc`) for one developer:

    {"version": 1, "computed_ms": …, "rules": [
        {"budget_id": "all/month/usd", "mode": "block" | "warn", "message": "…",
         "match": "all" | "project" | "sessions", "project": "api", "session_ids": ["…"]}],
     "allowed_sessions": ["…"]}

Only budgets that are spent up are in it. The collector applies it to its http hooks itself;
the command hook handler applies a copy cached at `$AGENT_TRACE_HOME/budget-state.json`, which
its worker refreshes from the collector after each delivery. What Claude Code gets back is its
documented hook output:

- UserPromptSubmit, a `block` rule: `{"decision": "block", "reason": …}` (prompt refused, reason
  shown to the developer);
- PreToolUse, a `block` rule: `hookSpecificOutput.permissionDecision = "deny"` with the reason
  (Claude reads it), and `systemMessage` for the developer;
- UserPromptSubmit, only `warn` rules (or the session was allowed): `{"systemMessage": …}` and
  the prompt runs. Tool calls are not warned one by one.
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

STATE_NAME = "budget-state.json"
# A cached state older than this is not trusted: the collector has been unreachable for a while,
# and budgets fail open (the handler logs it) rather than block on stale numbers.
STALE_AFTER_S = 900
ENFORCED_EVENTS = ("UserPromptSubmit", "PreToolUse")


def state_url(collector_url: str, user: str | None) -> str:
    """Where the collector serves the state document for one developer."""
    if not user:
        return collector_url.rstrip("/") + "/v1/budgets/state"
    from urllib.parse import quote

    return collector_url.rstrip("/") + "/v1/budgets/state?user=" + quote(user, safe="")


def project_matches(name: str, project: str | None) -> bool:
    """`project:NAME` names a project by full path or by its last folder (like `--project`)."""
    if not project:
        return False
    return project == name or project.rstrip("/").rsplit("/", 1)[-1] == name


def _applies(rule: dict[str, Any], session_id: str, cwd: str | None) -> bool:
    match = rule.get("match")
    if match == "all":
        return True
    if match == "project":
        return project_matches(str(rule.get("project") or ""), cwd)
    if match == "sessions":
        return session_id in (rule.get("session_ids") or ())
    return False


def decide(doc: dict[str, Any] | None, event: str, session_id: str, cwd: str | None) -> dict[str, Any] | None:
    """Claude Code's hook output for this call, or None to let it run silently."""
    if not doc or event not in ENFORCED_EVENTS:
        return None
    rules = [r for r in doc.get("rules") or () if isinstance(r, dict) and _applies(r, session_id, cwd)]
    if not rules:
        return None
    allowed = session_id in (doc.get("allowed_sessions") or ())
    blocking = [r for r in rules if r.get("mode") == "block" and not allowed]
    if blocking:
        message = str(blocking[0].get("message") or "agent-trace: budget spent")
        if event == "UserPromptSubmit":
            return {"decision": "block", "reason": message}
        return {
            "systemMessage": message,
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": message,
            },
        }
    if event == "UserPromptSubmit":
        return {"systemMessage": " ".join(str(r.get("message") or "") for r in rules)}
    return None


def read_state(home: Path, now: float | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The cached document, or (None, why) when there is none or it is too old to trust."""
    path = home / STATE_NAME
    try:
        age = (time.time() if now is None else now) - os.stat(path).st_mtime
        if age > STALE_AFTER_S:
            return None, f"budget state is {int(age)} s old (collector unreachable?): failing open"
        with open(path, "rb") as handle:
            doc = json.loads(handle.read())
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"budget state unreadable ({type(exc).__name__}): failing open"
    return (doc, None) if isinstance(doc, dict) else (None, "budget state is not an object: failing open")


def write_state(home: Path, doc: dict[str, Any]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".{STATE_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, home / STATE_NAME)
