"""`agent-trace init`: point Claude Code's hooks and OpenTelemetry at a collector.

Writes `~/.claude/agent-trace.json` (what the hook handler needs) and merges agent-trace's hooks
and `env` keys into one Claude settings file (user, project or local scope). The user's own hooks
and settings stay; a backup is taken before a file changes; a second run changes nothing.
See docs/capture.md for the hook layout and why.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent_trace.cli import install_files as files
from agent_trace.cli.claude_settings import (
    HookPlan,
    InstallRecord,
    SettingsError,
    install,
    installed_events,
    otel_env,
    with_user_attribute,
)
from agent_trace.config import Settings
from agent_trace.hook import client_config
from agent_trace.identity import resolve_user

OTLP_PROTOCOLS = ("http/protobuf", "http/json", "grpc")
TRANSPORTS = ("auto", "http", "command")


class InitError(ValueError):
    """An option or a file init cannot work with; the message says which and what to do."""


def cmd_init(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    agent = getattr(args, "agent", "claude-code")
    if agent == "codex":
        from agent_trace.cli.codex_config import cmd_init_codex

        return cmd_init_codex(args, settings, env)
    if agent == "opencode":
        from agent_trace.cli.opencode_config import cmd_init_opencode

        return cmd_init_opencode(args, settings, env)
    if agent in ("gemini", "qwen"):
        from agent_trace.cli.gemini_config import cmd_init_gemini

        return cmd_init_gemini(args, settings, env)
    env = dict(os.environ if env is None else env)
    try:
        plan = _plan(args, settings, env)
    except (InitError, SettingsError) as exc:
        print(f"agent-trace init: {exc}", file=sys.stderr)
        return 2
    changed = False
    for path, before, after in plan["writes"]:
        if before == after:
            continue
        changed = True
        if args.dry_run:
            print(files.diff(path, before, after, plan["token"]), end="")
    if args.dry_run:
        if not changed:
            print("agent-trace init: nothing to change")
        return 0
    backups: list[Path] = []
    for path, before, after in plan["writes"]:
        if before == after or after is None:
            continue
        if before is not None and path != plan["config_path"]:
            backups.append(files.backup(path, before, settings.home / "backups"))
        mode = 0o600 if path == plan["config_path"] else None
        files.write_atomic(path, after, mode)
    _report(plan, changed, backups)
    _say_probe(plan["config"]["collector_url"], plan["token"])
    return 0


def _say_probe(url: str, token: str | None) -> None:
    """Whether the collector answers now: a warning only (hooks spool until it does)."""
    from agent_trace.cli.collector_probe import probe_collector

    probe = probe_collector(url, token)
    if probe.ok:
        version = probe.health.get("version", "?")
        print(f"Collector {url} answers as an agent-trace collector (version {version}).")
    else:
        print(
            f"Warning: the collector {url} {probe.problem}: {probe.fix}. Hooks spool events "
            "until this is fixed.",
            file=sys.stderr,
        )


def _plan(args: argparse.Namespace, settings: Settings, env: dict[str, str]) -> dict[str, Any]:
    config_path = client_config.config_path(env)
    config_before_text: str | None
    try:
        config_before_text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        config_before_text = None
    previous = client_config.read_raw(config_path) or {}

    url = _collector_url(args, previous, settings)
    parts = urlsplit(url)
    assert parts.hostname is not None
    tier = args.privacy_tier or previous.get("privacy_tier") or settings.privacy_tier
    token = args.token or previous.get("ingest_token") or settings.ingest_token or None
    if token and args.scope == "project":
        raise InitError(
            "--scope project writes .claude/settings.json, which is usually committed: an ingest "
            "token there would be shared with everyone who clones the repository. Use --scope local "
            "(.claude/settings.local.json, not committed) or --scope user"
        )
    protocol = args.otlp_protocol or previous.get("otlp_protocol") or "http/protobuf"
    all_events = (args.events or previous.get("events") or "lean") == "all"
    transport = _hook_transport(args.hook_transport, parts.hostname, bool(token))
    otlp_endpoint = url if protocol != "grpc" else _grpc_endpoint(parts.scheme, parts.hostname, settings)

    project_dir = Path(args.project_dir or os.getcwd()).resolve()
    settings_file = files.settings_path(args.scope, env, project_dir)
    current, current_text = files.read_json(settings_file)

    records = files.records_of(previous)
    record = _install_record(records, settings_file, args.scope, created=current is None)
    old_urls = _old_hook_urls(previous)
    user = resolve_user(settings.user, env) or previous.get("user")
    hook_plan = HookPlan(
        command=files.hook_command(),
        hooks_url=url + client_config.HOOKS_PATH,
        events=installed_events(all_events),
        transport=transport,
        user=user,
        decide_command=files.decide_command(settings.home),
    )
    desired_env = otel_env(tier=int(tier), protocol=protocol, endpoint=otlp_endpoint, token=token)
    if user:
        desired_env["OTEL_RESOURCE_ATTRIBUTES"] = _resource_attributes(record, current, user)
    keys = {"otelHeadersHelper": files.otel_headers_command()} if token else {}
    new_settings = install(current or {}, hook_plan, desired_env, record, old_urls, keys)
    settings_after = files.render(new_settings)
    if current is not None and new_settings == current:
        settings_after = current_text or settings_after  # unchanged JSON: keep the exact bytes

    config = {
        "version": client_config.CONFIG_VERSION,
        "collector_url": url,
        "privacy_tier": int(tier),
        "user": user,
        "agent_trace_home": str(settings.home),
        "otlp_protocol": protocol,
        "otlp_endpoint": otlp_endpoint,
        "hook_transport": transport,
        "events": "all" if all_events else "lean",
        "hook_command": hook_plan.command,
        "installs": [r.to_json() for r in records],
        "ingest_token": token or None,
    }
    config = {k: v for k, v in config.items() if v is not None}
    config_after = files.render(config)
    if previous and config == previous and config_before_text is not None:
        config_after = config_before_text
    return {
        "config_path": config_path,
        "settings_path": settings_file,
        "token": token,
        "config": config,
        "transport": transport,
        "events": hook_plan.events,
        "writes": [
            (settings_file, current_text, settings_after),
            (config_path, config_before_text, config_after),
        ],
    }


def _install_record(
    records: list[InstallRecord], settings_file: Path, scope: str, created: bool
) -> InstallRecord:
    """This settings file's install record (a new one, added to `records`, on a first init)."""
    record = next((r for r in records if r.settings_path == str(settings_file)), None)
    if record is None:
        record = InstallRecord(settings_path=str(settings_file), scope=scope, created_file=created)
        records.append(record)
    return record


def _resource_attributes(record: InstallRecord, current: dict[str, Any] | None, user: str) -> str:
    """Telemetry names the same developer as the hooks: agent_trace.user, added to any resource
    attributes the user set themselves (before our first init, or now)."""
    return with_user_attribute(
        record.env_previous.get("OTEL_RESOURCE_ATTRIBUTES")
        if "OTEL_RESOURCE_ATTRIBUTES" in record.env_set
        else (current or {}).get("env", {}).get("OTEL_RESOURCE_ATTRIBUTES"),
        user,
    )


def _collector_url(args: argparse.Namespace, previous: dict[str, Any], settings: Settings) -> str:
    """The collector base URL: as given, else as recorded by an earlier init, else the local one."""
    if args.collector_url:
        try:
            return client_config.collector_base_url(args.collector_url)
        except ValueError as exc:
            raise InitError(f"--collector-url {exc}") from None
    try:
        return client_config.collector_base_url(str(previous.get("collector_url") or ""))
    except ValueError:
        return f"http://127.0.0.1:{settings.collector_port}"


def _old_hook_urls(previous: dict[str, Any]) -> list[str]:
    """The hook URLs an earlier init wrote, to be replaced: derived from the recorded base, and as
    the pre-fix init wrote them (the recorded `…/v1/hooks` with `/v1/hooks` appended again)."""
    if not previous.get("collector_url"):
        return []
    recorded = str(previous["collector_url"]).rstrip("/")
    urls = [recorded + client_config.HOOKS_PATH]
    try:
        urls.append(client_config.collector_base_url(recorded) + client_config.HOOKS_PATH)
    except ValueError:
        pass
    return urls


def _hook_transport(asked: str, host: str, has_token: bool) -> str:
    """`http` for a loopback collector when asked for `auto`, else `command`; never `http` with a
    token: an http handler could only send it from settings.json (usually mode 0644), the command
    handler reads it from the 0600 client config."""
    transport = asked
    if transport == "auto":
        transport = "http" if _is_loopback(host) else "command"
    return "command" if has_token and transport == "http" else transport


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _grpc_endpoint(scheme: str, host: str, settings: Settings) -> str:
    port = settings.otel_grpc_address.rsplit(":", 1)[-1]
    return f"{scheme}://{host}:{port}"


def _report(plan: dict[str, Any], changed: bool, backups: list[Path]) -> None:
    config = plan["config"]
    if not changed:
        print("agent-trace init: already installed; nothing changed")
        return
    http_events = [
        e
        for e in plan["events"]
        if plan["transport"] == "http" and e not in ("SessionStart", "Stop", "SessionEnd")
    ]
    print(f"agent-trace: hooks for {len(plan['events'])} events in {plan['settings_path']}")
    if http_events:
        print(f"  http → {config['collector_url']}/v1/hooks: {', '.join(http_events)}")
        print("  command (git baseline, transcript deltas): SessionStart, Stop, SessionEnd")
    else:
        print("  command (local tier + redaction before sending): every event")
    print(f"  OpenTelemetry: {config['otlp_protocol']} → {config['otlp_endpoint']}")
    print(f"  privacy tier {config['privacy_tier']}; config in {plan['config_path']}")
    for path in backups:
        print(f"  backup of the previous settings: {path}")
    print("Restart Claude Code sessions to pick this up. Check with `agent-trace status`.")
