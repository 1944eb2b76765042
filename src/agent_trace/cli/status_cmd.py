"""`agent-trace status`: is live capture set up, and would it work now?

Shows the configuration (`~/.claude/agent-trace.json`), which of agent-trace's hooks each Claude
settings file holds (user, and project/local for the current folder), the collector probe
(cli/collector_probe.py: is it an agent-trace collector, does it take our token), the spool as it
is now (payloads waiting, hook workers running, and the handler's last log line only while
payloads wait) and the last event: the newest session in the store this machine's settings name
(the local SQLite file by default, or AGENT_TRACE_DATABASE_URL), at its own last activity. A
machine that only sends to a remote collector has no local store; status then says so.

Exit 0 when capture would work, 1 when it would not; each reason comes with its fix.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_trace.cli import install_files as files
from agent_trace.cli.claude_settings import OTEL_KEYS, SettingsError, installed_events, our_handlers
from agent_trace.cli.collector_probe import TIMEOUT_S as PROBE_TIMEOUT_S
from agent_trace.cli.collector_probe import Probe, probe_collector
from agent_trace.config import Settings
from agent_trace.hook import client_config


def cmd_status(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    report = gather(settings, env, Path(args.project_dir or os.getcwd()).resolve())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report))
    return 1 if report["problems"] else 0


def gather(settings: Settings, env: dict[str, str], project_dir: Path) -> dict[str, Any]:
    path = client_config.config_path(env)
    raw = client_config.read_raw(path)
    cfg = client_config.parse(raw, env) if raw is not None else None
    report: dict[str, Any] = {"config_path": str(path), "configured": cfg is not None}
    if raw is not None:
        report["config"] = files.masked({k: v for k, v in raw.items() if k != "installs"})
    urls = [cfg.hooks_url] if cfg else []
    expected = set(installed_events(bool(raw and raw.get("events") == "all")))
    hooks: list[dict[str, Any]] = []
    for scope in files.SCOPES:
        settings_file = files.settings_path(scope, env, project_dir)
        entry: dict[str, Any] = {"scope": scope, "path": str(settings_file)}
        try:
            current, _ = files.read_json(settings_file)
        except SettingsError as exc:
            entry["error"] = str(exc)
            hooks.append(entry)
            continue
        if current is None:
            entry["exists"] = False
            hooks.append(entry)
            continue
        found = our_handlers(current, urls)
        entry["exists"] = True
        entry["events"] = {event: types for event, types in sorted(found.items())}
        entry["missing_events"] = sorted(expected - set(found)) if found else []
        env_value = current.get("env")
        env_keys: dict[str, Any] = env_value if isinstance(env_value, dict) else {}
        entry["otel_env"] = {
            k: env_keys[k] for k in OTEL_KEYS if k in env_keys and k != "OTEL_EXPORTER_OTLP_HEADERS"
        }
        hooks.append(entry)
    report["hooks"] = hooks
    report["hook_command_ok"] = _command_ok(raw.get("hook_command") if raw else None)
    probe = None
    if cfg is not None:
        probe = probe_collector(cfg.collector_url, cfg.ingest_token)
        report["collector"] = probe.as_json()
        report["spool"] = _spool(cfg)
    report["last_event"] = _last_event(settings)
    report["budgets"] = _budgets(settings, cfg)
    report["problems"] = _problems(report, probe)
    return report


def _problems(report: dict[str, Any], probe: Probe | None) -> list[dict[str, str]]:
    """Why capture would not work now, each with its fix (empty: it would work)."""
    out: list[dict[str, str]] = []
    if not report["configured"]:
        state = "invalid" if report.get("config") is not None else "missing"
        out.append({"problem": f"{report['config_path']} is {state}", "fix": "run `agent-trace init`"})
        return out
    if not any(entry.get("events") for entry in report["hooks"]):
        out.append(
            {"problem": "no Claude settings file holds agent-trace's hooks", "fix": "run `agent-trace init`"}
        )
    if report.get("hook_command_ok") is False:
        out.append(
            {
                "problem": "the hook command's interpreter or script is gone",
                "fix": "run `agent-trace init` again",
            }
        )
    if probe is not None and not probe.ok:
        out.append({"problem": f"the collector {probe.url} {probe.problem}", "fix": probe.fix or ""})
    return out


def _budgets(settings: Settings, cfg: client_config.ClientConfig | None) -> dict[str, Any]:
    """Budgets at or past a threshold: from the local store when there is one (the collector's
    machine), else the spent-up ones the collector reports for this developer."""
    sqlite = settings.sqlite_path
    if sqlite is None or sqlite.is_file():
        try:
            from agent_trace.reports.periods import resolve_timezone
            from agent_trace.server.budgets.report import banner_lines, budgets_report
            from agent_trace.store.factory import open_read_store

            store = open_read_store(settings.database_url, settings.events_url)
            try:
                report = budgets_report(store, resolve_timezone(settings.timezone))
            finally:
                store.close()
        except Exception as exc:  # status must answer even when the store cannot
            return {"source": _where(settings), "error": f"{type(exc).__name__}: {exc}"}
        failed = [d for d in report["deliveries"] if d["status"] == "failed"]
        return {
            "source": _where(settings),
            "count": len(report["budgets"]),
            "lines": banner_lines(report),
            "failed_deliveries": len(failed),
        }
    if cfg is None:
        return {"source": None, "count": None, "lines": []}
    from agent_trace.hook.budget import state_url
    from agent_trace.hook.transport import TransportError, request

    url = state_url(cfg.collector_url, cfg.user)
    try:
        status, body = request("GET", url, None, PROBE_TIMEOUT_S, token=cfg.ingest_token)
        doc = json.loads(body) if status == 200 else {}
    except (TransportError, ValueError) as exc:
        return {"source": cfg.collector_url, "error": str(exc)}
    rules = doc.get("rules") if isinstance(doc, dict) else None
    lines = [str(r.get("message")) for r in rules or [] if isinstance(r, dict)]
    return {"source": cfg.collector_url, "count": None, "lines": lines}


def _command_ok(command: object) -> bool | None:
    """Do the interpreter and script the installed hook command names still exist?"""
    if not isinstance(command, str):
        return None
    import shlex

    try:
        parts = shlex.split(command)
    except ValueError:
        return False
    return all(Path(p).exists() for p in parts if p.startswith("/"))


def _spool(cfg: client_config.ClientConfig) -> dict[str, Any]:
    from agent_trace.hook.spool import Spool

    spool = Spool(cfg.spool_dir)
    count, size = spool.size()
    pending = spool.pending()
    out: dict[str, Any] = {"dir": str(cfg.spool_dir), "payloads": count, "bytes": size}
    if pending:
        out["oldest_ms"] = int(pending[0].name.split("-", 1)[0]) // 1_000_000
    out["running_workers"] = len(spool.running_workers())
    out["rejected"] = len(spool.rejected())
    out["rejected_dir"] = str(spool.rejected_dir)
    out["last_log"] = None
    if count or out["rejected"]:
        # The handler's log says why payloads wait; once the spool is empty its last line
        # ("3 payload(s) wait …") is history, not the state now.
        try:
            lines = cfg.log_file.read_text(encoding="utf-8").splitlines()
            out["last_log"] = lines[-1] if lines else None
        except OSError:
            pass
    return out


def _last_event(settings: Settings) -> dict[str, Any]:
    sqlite = settings.sqlite_path
    if sqlite is not None and not sqlite.is_file():
        return {"source": str(sqlite), "error": "no local store (events go to a remote collector?)"}
    try:
        from agent_trace.store.factory import open_read_store
        from agent_trace.store.port import SessionQuery

        store = open_read_store(settings.database_url, settings.events_url)
        try:
            page = store.list_sessions(SessionQuery(sort="-updated", limit=1))
        finally:
            store.close()
    except Exception as exc:  # status must answer even when the store cannot
        return {"source": _where(settings), "error": f"{type(exc).__name__}: {exc}"}
    if not page.sessions:
        return {"source": _where(settings), "session_id": None}
    last = page.sessions[0]
    # The event's own time (an imported session's last activity), and when it was stored.
    event_ms = last.last_activity_ms or last.ended_ms or last.started_ms or last.updated_ms
    return {
        "source": _where(settings),
        "session_id": last.session_id,
        "event_ms": event_ms,
        "updated_ms": last.updated_ms,
    }


def _where(settings: Settings) -> str:
    return str(settings.sqlite_path) if settings.sqlite_path else settings.database_url.split("@")[-1]


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def render(report: dict[str, Any]) -> str:
    sections = (
        _config_lines,
        _hooks_lines,
        _collector_lines,
        _spool_lines,
        _last_event_lines,
        _budgets_lines,
        _verdict_lines,
    )
    return "\n".join(line for section in sections for line in section(report))


def _config_lines(report: dict[str, Any]) -> list[str]:
    """The client config: where, which collector, tier, token, transports."""
    lines: list[str] = []
    config = report.get("config")
    if not report["configured"]:
        state = "invalid" if config is not None else "missing"
        lines.append(f"config      {report['config_path']} ({state}): run `agent-trace init`")
    else:
        assert config is not None
        lines.append(f"config      {report['config_path']}")
        lines.append(
            f"            collector {config.get('collector_url')}, privacy tier {config.get('privacy_tier')}, "
            f"token {'set' if config.get('ingest_token') else 'none'}, hooks via {config.get('hook_transport')}"
        )
        lines.append(
            f"            OpenTelemetry {config.get('otlp_protocol')} → {config.get('otlp_endpoint')}"
        )
    return lines


def _hooks_lines(report: dict[str, Any]) -> list[str]:
    """Each settings file: how many of our hook events it has, which are missing."""
    lines: list[str] = []
    for entry in report["hooks"]:
        label = f"hooks       {entry['scope']:<8}{entry['path']}"
        if "error" in entry:
            lines.append(f"{label}: {entry['error']}")
        elif not entry.get("exists"):
            lines.append(f"{label}: no file")
        elif not entry["events"]:
            lines.append(f"{label}: none of ours")
        else:
            types: dict[str, int] = {}
            for kinds in entry["events"].values():
                for kind in kinds:
                    types[kind] = types.get(kind, 0) + 1
            summary = ", ".join(f"{n} {kind}" for kind, n in sorted(types.items()))
            lines.append(f"{label}: {len(entry['events'])} events ({summary})")
            if entry["missing_events"]:
                lines.append(f"            missing: {', '.join(entry['missing_events'])}")
    return lines


def _collector_lines(report: dict[str, Any]) -> list[str]:
    """Whether the collector answers."""
    lines: list[str] = []
    collector = report.get("collector")
    if collector:
        if collector["ok"]:
            health = collector.get("health") or {}
            lines.append(
                f"collector   {collector['url']} answers ({collector['latency_ms']} ms, "
                f"version {health.get('version', '?')}, database {health.get('database', '?')})"
            )
        else:
            lines.append(f"collector   {collector['url']} {collector['problem']}")
    return lines


def _spool_lines(report: dict[str, Any]) -> list[str]:
    """What the hook handler keeps for later (and what the collector refused)."""
    lines: list[str] = []
    spool = report.get("spool")
    if spool:
        text = f"spool       {spool['payloads']} payload(s), {spool['bytes']} bytes in {spool['dir']}"
        if spool.get("oldest_ms"):
            text += f"; oldest from {_when(spool['oldest_ms'])}"
        lines.append(text)
        if spool["running_workers"]:
            lines.append(f"            {spool['running_workers']} hook worker(s) running")
        if spool["rejected"]:
            lines.append(
                f"            {spool['rejected']} payload(s) refused by the collector, kept in "
                f"{spool['rejected_dir']}; send again: agent-trace hook-handler --flush --retry-rejected"
            )
        if spool.get("last_log"):
            lines.append(f"            last handler log line: {spool['last_log']}")
    return lines


def _last_event_lines(report: dict[str, Any]) -> list[str]:
    """The newest event the store holds."""
    lines: list[str] = []
    last = report["last_event"]
    if last.get("error"):
        lines.append(f"last event  unknown: {last['error']}")
    elif last.get("session_id"):
        lines.append(
            f"last event  {_when(last['event_ms'])} (session {last['session_id']}, stored "
            f"{_when(last['updated_ms'])} in {last['source']})"
        )
    else:
        lines.append(f"last event  none yet (store {last['source']})")
    return lines


def _budgets_lines(report: dict[str, Any]) -> list[str]:
    """Budgets at a threshold, failed alert deliveries."""
    lines: list[str] = []
    budgets = report.get("budgets") or {}
    if budgets.get("error"):
        lines.append(f"budgets     unknown: {budgets['error']}")
    elif budgets.get("lines"):
        for i, line in enumerate(budgets["lines"]):
            lines.append(f"{'budgets' if i == 0 else '':<12}{line}")
    elif budgets.get("count"):
        lines.append(f"budgets     {budgets['count']} budget(s), none at a threshold")
    if budgets.get("failed_deliveries"):
        lines.append(
            f"            ! {budgets['failed_deliveries']} alert delivery(ies) failed (agent-trace budgets list)"
        )
    return lines


def _verdict_lines(report: dict[str, Any]) -> list[str]:
    """The problems that stop capture, or that it works."""
    lines: list[str] = []
    problems = report.get("problems") or []
    if problems:
        lines.append("")
        lines.append("Capture would not work:")
        for item in problems:
            lines.append(f"  ✗ {item['problem']}: {item['fix']}")
    else:
        lines.append("")
        lines.append("Capture is set up and the collector answers.")
    return lines
