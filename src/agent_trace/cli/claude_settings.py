"""Claude Code settings files: add agent-trace's hooks and env keys, and take exactly those out.

Pure functions on parsed JSON (no I/O), so `init`, `uninstall` and `status` share one notion of
"ours", and tests can check every merge rule without a file system.

What is ours:
- a `command` handler whose command runs the hook handler (`agent_trace/hook/__main__.py`,
  `-m agent_trace.hook`, `agent-trace hook-handler`);
- an `http` handler whose URL is a collector's `/v1/hooks` that an install recorded (or, with no
  record left, any URL ending in `/v1/hooks`);
- env keys an install set, restored on uninstall to the value they had before (or removed).
Each of our handlers sits in a matcher group of its own, appended after the user's groups, so
taking ours out never reorders or edits the user's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

COMMAND_MARKERS = ("agent_trace/hook/__main__.py", "agent_trace.hook", "agent-trace hook-handler")
HOOKS_PATH = "/v1/hooks"
# Seconds Claude Code waits for a handler. Ours answer in milliseconds; a hung collector must
# cost a tool call at most this much (an unreachable one fails at once).
HTTP_TIMEOUT_S = 3
COMMAND_TIMEOUT_S = 10
# Events that need local work (git baseline, transcript deltas, git state), so they run our
# command handler even when the rest go to the collector over http. http handlers do not fire
# for SessionStart at all (claude-code-data.md §2).
COMMAND_EVENTS = frozenset({"SessionStart", "Stop", "SessionEnd"})
# Left out unless `init --all-events`: it fires once per tool batch, and what it adds reaches the
# collector anyway with the transcript delta at Stop. Each http hook costs Claude Code a few ms
# of wall time and ~10 ms of CPU (docs/capture.md). PreToolUse is installed: budgets refuse tool
# calls through it (server/budgets/guard.py), checked at every tool call of a running session.
LEAN_SKIPPED_EVENTS = frozenset({"PostToolBatch"})
# Events whose answer may be a budget decision (hook/budget.py ENFORCED_EVENTS).
DECISION_EVENTS = frozenset({"UserPromptSubmit", "PreToolUse"})
# Says who the developer is on every http hook, so the collector can apply per-user budgets
# before the session's own record (from SessionStart's command hook) has arrived.
USER_HEADER = "X-Agent-Trace-User"
# Env keys `init` may set; status and uninstall look only at these.
OTEL_KEYS = (
    "CLAUDE_CODE_ENABLE_TELEMETRY",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_LOG_USER_PROMPTS",
    "OTEL_LOG_TOOL_DETAILS",
    "OTEL_LOG_ASSISTANT_RESPONSES",
    "OTEL_RESOURCE_ATTRIBUTES",
)


def installed_events(all_events: bool) -> tuple[str, ...]:
    """The events init registers: every event of interest, or all but LEAN_SKIPPED_EVENTS."""
    from agent_trace.sources.claude_hooks import hook_events_of_interest

    events = hook_events_of_interest()
    return events if all_events else tuple(e for e in events if e not in LEAN_SKIPPED_EVENTS)


class SettingsError(ValueError):
    """A settings file agent-trace will not touch (not JSON, or not shaped like settings)."""


@dataclass(frozen=True)
class HookPlan:
    """What to install: the command, the collector's hook URL, and which events use which."""

    command: str
    hooks_url: str
    events: tuple[str, ...]
    transport: str = "http"  # "http": COMMAND_EVENTS run the command, the rest post to hooks_url
    user: str | None = None
    # With transport "command": the foreground command of the events a budget may refuse
    # (install_files.decide_command); empty = the background command for them too.
    decide_command: str = ""

    def handler(self, event: str) -> dict[str, Any]:
        if self.transport == "command" and self.decide_command and event in DECISION_EVENTS:
            return {"type": "command", "command": self.decide_command, "timeout": COMMAND_TIMEOUT_S}
        if self.transport == "command" or event in COMMAND_EVENTS:
            return {"type": "command", "command": self.command, "timeout": COMMAND_TIMEOUT_S}
        # No token in an http handler: settings files are usually world-readable. With a token,
        # init installs command handlers, which read it from the 0600 client config. The user
        # is no secret: it lets the collector's budget decision know whose spend counts.
        handler: dict[str, Any] = {"type": "http", "url": self.hooks_url, "timeout": HTTP_TIMEOUT_S}
        if self.user:
            handler["headers"] = {USER_HEADER: self.user}
        return handler


@dataclass
class InstallRecord:
    """What one init changed in one settings file (kept in agent-trace.json for uninstall)."""

    settings_path: str
    scope: str
    created_file: bool = False
    created_keys: list[str] = field(default_factory=list)  # "hooks", "env", "hooks.<Event>"
    env_previous: dict[str, str | None] = field(default_factory=dict)
    env_set: dict[str, str] = field(default_factory=dict)
    hooks_urls: list[str] = field(default_factory=list)
    # Top-level settings keys set by init (otelHeadersHelper), and what they were before.
    keys_previous: dict[str, str | None] = field(default_factory=dict)
    keys_set: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "settings_path": self.settings_path,
            "scope": self.scope,
            "created_file": self.created_file,
            "created_keys": sorted(self.created_keys),
            "env_previous": dict(sorted(self.env_previous.items())),
            "env_set": dict(sorted(self.env_set.items())),
            "hooks_urls": sorted(set(self.hooks_urls)),
            "keys_previous": dict(sorted(self.keys_previous.items())),
            "keys_set": dict(sorted(self.keys_set.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstallRecord:
        def strs(value: object) -> list[str]:
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        previous = data.get("env_previous")
        env_set = data.get("env_set")
        return cls(
            settings_path=str(data.get("settings_path") or ""),
            scope=str(data.get("scope") or ""),
            created_file=bool(data.get("created_file")),
            created_keys=strs(data.get("created_keys")),
            env_previous={
                str(k): (v if isinstance(v, str) else None)
                for k, v in (previous.items() if isinstance(previous, dict) else [])
            },
            env_set={
                str(k): v
                for k, v in (env_set.items() if isinstance(env_set, dict) else [])
                if isinstance(v, str)
            },
            hooks_urls=strs(data.get("hooks_urls")),
            keys_previous={
                str(k): (v if isinstance(v, str) else None)
                for k, v in (data.get("keys_previous") or {}).items()
            }
            if isinstance(data.get("keys_previous"), dict)
            else {},
            keys_set={str(k): v for k, v in (data.get("keys_set") or {}).items() if isinstance(v, str)}
            if isinstance(data.get("keys_set"), dict)
            else {},
        )


# -- environment -------------------------------------------------------------------------------


def otel_env(
    *,
    tier: int,
    protocol: str,
    endpoint: str,
    token: str | None,
) -> dict[str, str]:
    """The `env` keys that turn on Claude Code's OpenTelemetry export to the collector.

    Content switches follow the tier: prompts and tool details at tier >= 2, the model's
    responses at tier 3 only; the collector strips again whatever a client sends beyond its tier.
    """
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "otlp",
        # Without it Claude Code 2.1.331 exports no spans at all (claude-code-data.md §4).
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
    }
    # The ingest token is never written here (settings.json is usually world-readable): Claude
    # Code asks `otelHeadersHelper` (install_files.otel_headers_command) for the header instead.
    del token
    if tier >= 2:
        env["OTEL_LOG_USER_PROMPTS"] = "1"
        env["OTEL_LOG_TOOL_DETAILS"] = "1"
    if tier >= 3:
        env["OTEL_LOG_ASSISTANT_RESPONSES"] = "1"
    return env


def with_user_attribute(existing: object, user: str) -> str:
    """OTEL_RESOURCE_ATTRIBUTES with `agent_trace.user=<user>` (percent-encoded, W3C baggage
    syntax) in place of any earlier one; the user's own attributes are kept."""
    from agent_trace.identity import RESOURCE_ATTRIBUTE

    kept = []
    if isinstance(existing, str):
        kept = [
            part.strip()
            for part in existing.split(",")
            if part.strip() and part.split("=", 1)[0].strip() != RESOURCE_ATTRIBUTE
        ]
    return ",".join([*kept, f"{RESOURCE_ATTRIBUTE}={quote(user, safe='@.-_+')}"])


# -- hooks -------------------------------------------------------------------------------------


def is_our_handler(handler: object, hooks_urls: Iterable[str]) -> bool:
    if not isinstance(handler, Mapping):
        return False
    if handler.get("type") == "command":
        command = handler.get("command")
        return isinstance(command, str) and any(m in command for m in COMMAND_MARKERS)
    if handler.get("type") == "http":
        url = handler.get("url")
        if not isinstance(url, str):
            return False
        known = {u.rstrip("/") for u in hooks_urls}
        return url.rstrip("/") in known if known else url.rstrip("/").endswith(HOOKS_PATH)
    return False


def our_handlers(settings: Mapping[str, Any], hooks_urls: Iterable[str]) -> dict[str, list[str]]:
    """Event → the types of our handlers installed for it ("command" / "http")."""
    urls = list(hooks_urls)
    found: dict[str, list[str]] = {}
    hooks = settings.get("hooks")
    if not isinstance(hooks, Mapping):
        return found
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            handlers = group.get("hooks") if isinstance(group, Mapping) else None
            for handler in handlers if isinstance(handlers, list) else []:
                if is_our_handler(handler, urls):
                    found.setdefault(str(event), []).append(str(handler.get("type")))
    return found


def remove_hooks(settings: dict[str, Any], hooks_urls: Iterable[str]) -> None:
    """Take our handlers out, in place; a group left without handlers goes too."""
    urls = list(hooks_urls)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return
    for event, groups in list(hooks.items()):
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list):
                kept_groups.append(group)
                continue
            kept = [h for h in handlers if not is_our_handler(h, urls)]
            if len(kept) == len(handlers):
                kept_groups.append(group)
            elif kept:
                kept_groups.append({**group, "hooks": kept})
        hooks[event] = kept_groups


def add_hooks(settings: dict[str, Any], plan: HookPlan) -> None:
    """Append one group per event with our handler, in place (call remove_hooks first)."""
    hooks = settings.setdefault("hooks", {})
    for event in plan.events:
        groups = hooks.setdefault(event, [])
        groups.append({"hooks": [plan.handler(event)]})


# -- whole file --------------------------------------------------------------------------------


def validate(settings: object, where: str) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise SettingsError(f"{where}: expected a JSON object at the top level")
    for key, kind in (("hooks", dict), ("env", dict)):
        if key in settings and not isinstance(settings[key], kind):
            raise SettingsError(f"{where}: `{key}` must be an object")
    hooks = settings.get("hooks") or {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise SettingsError(f"{where}: hooks.{event} must be an array of matcher groups")
    env = settings.get("env") or {}
    for key, value in env.items():
        if not isinstance(value, str):
            raise SettingsError(f"{where}: env.{key} must be a string")
    return settings


def install(
    settings: Mapping[str, Any],
    plan: HookPlan,
    env: Mapping[str, str],
    record: InstallRecord,
    old_hooks_urls: Iterable[str] = (),
    keys: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The settings with our hooks, env and top-level `keys` in place; `record` learns what was
    created/replaced.

    Idempotent: installing the same plan again gives an equal object and leaves the record as it was.
    """
    out = copy.deepcopy(dict(settings))
    if "hooks" not in out and "hooks" not in record.created_keys:
        record.created_keys.append("hooks")
    existing_events = set(out.get("hooks") or {})
    for event in plan.events:
        key = f"hooks.{event}"
        if event not in existing_events and key not in record.created_keys:
            record.created_keys.append(key)
    urls = [*old_hooks_urls, *record.hooks_urls, plan.hooks_url]
    remove_hooks(out, urls)
    _drop_empty_created(out, record)
    add_hooks(out, plan)
    record.hooks_urls = [plan.hooks_url]

    if env or record.env_set:
        if "env" not in out and "env" not in record.created_keys:
            record.created_keys.append("env")
        current = out.setdefault("env", {})
        # Keys a previous init set that this one no longer wants (a lower tier): restore them.
        for key in [k for k in record.env_set if k not in env]:
            _restore_env_key(current, key, record)
        for key, value in env.items():
            if key not in record.env_previous:
                record.env_previous[key] = current.get(key)
            current[key] = value
            record.env_set[key] = value
        if not current and "env" in record.created_keys:
            del out["env"]
    keys = keys or {}
    for key in [k for k in record.keys_set if k not in keys]:
        _restore_key(out, key, record)
    for key, value in keys.items():
        if key not in record.keys_previous:
            previous = out.get(key)
            record.keys_previous[key] = previous if isinstance(previous, str) else None
        out[key] = value
        record.keys_set[key] = value
    return out


def _restore_key(settings: dict[str, Any], key: str, record: InstallRecord) -> None:
    ours = record.keys_set.pop(key, None)
    previous = record.keys_previous.pop(key, None)
    if key in settings and settings[key] != ours:
        return  # changed by the user after init
    if previous is None:
        settings.pop(key, None)
    else:
        settings[key] = previous


def uninstall(settings: Mapping[str, Any], record: InstallRecord | None) -> dict[str, Any]:
    """The settings without anything an install added (the user's own keys untouched)."""
    out = copy.deepcopy(dict(settings))
    urls = record.hooks_urls if record is not None else []
    remove_hooks(out, urls)
    if record is None:
        # No record left: drop only the hooks that are clearly ours; env keys stay (we cannot
        # tell a value we set from the user's own).
        hooks = out.get("hooks")
        if isinstance(hooks, dict):
            for event in [e for e, g in hooks.items() if g == []]:
                del hooks[event]
        return out
    _drop_empty_created(out, record)
    env = out.get("env")
    if isinstance(env, dict):
        for key in list(record.env_set):
            _restore_env_key(env, key, record)
        if not env and "env" in record.created_keys:
            del out["env"]
    for key in list(record.keys_set):
        _restore_key(out, key, record)
    return out


def _restore_env_key(env: dict[str, Any], key: str, record: InstallRecord) -> None:
    """Put back what `key` was before our init, unless the user changed our value since."""
    ours = record.env_set.pop(key, None)
    previous = record.env_previous.pop(key, None)
    if key in env and env[key] != ours:
        return  # changed by the user after init: theirs now
    if previous is None:
        env.pop(key, None)
    else:
        env[key] = previous


def _drop_empty_created(settings: dict[str, Any], record: InstallRecord) -> None:
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return
    for event in list(hooks):
        if hooks[event] == [] and f"hooks.{event}" in record.created_keys:
            del hooks[event]
    if not hooks and "hooks" in record.created_keys:
        del settings["hooks"]
