"""`agent-trace uninstall`: take out exactly what `init` put in.

For every settings file an install recorded: our hook handlers, the groups and keys init created
for them, and the env keys it set (each restored to its value before init, unless the user has
changed it since). Then `~/.claude/agent-trace.json` goes. Everything else in the settings files
stays as it was (equal as JSON; unchanged files keep their bytes). The spool is delivered first
when the collector answers; data in $AGENT_TRACE_HOME (spool, database) is never deleted here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_trace.cli import install_files as files
from agent_trace.cli.claude_settings import InstallRecord, SettingsError, uninstall
from agent_trace.config import Settings
from agent_trace.hook import client_config


def cmd_uninstall(args: argparse.Namespace, settings: Settings, env: Mapping[str, str] | None = None) -> int:
    agent = getattr(args, "agent", "claude-code")
    if agent == "codex":
        from agent_trace.cli.codex_config import cmd_uninstall_codex

        return cmd_uninstall_codex(args, settings, env)
    if agent == "opencode":
        from agent_trace.cli.opencode_config import cmd_uninstall_opencode

        return cmd_uninstall_opencode(args, settings, env)
    if agent in ("gemini", "qwen"):
        from agent_trace.cli.gemini_config import cmd_uninstall_gemini

        return cmd_uninstall_gemini(args, settings, env)
    env = dict(os.environ if env is None else env)
    config_path = client_config.config_path(env)
    raw = client_config.read_raw(config_path)
    records = files.records_of(raw)
    targets = _targets(args, env, records)

    if not args.dry_run and raw is not None:
        _deliver_spool(env)

    changed_any = False
    removed: list[InstallRecord] = []
    try:
        for path, record in targets:
            current, text = files.read_json(path)
            if current is None:
                if record is not None:
                    removed.append(record)
                continue
            after = uninstall(current, InstallRecord.from_json(record.to_json()) if record else None)
            delete_file = bool(record and record.created_file and after == {})
            new_text = None if delete_file else (text if after == current else files.render(after))
            if record is not None:
                removed.append(record)
            if new_text == text:
                continue
            changed_any = True
            if args.dry_run:
                print(files.diff(path, text, new_text), end="")
                continue
            if text is not None:
                files.backup(path, text, settings.home / "backups")
            if delete_file:
                path.unlink()
                print(f"agent-trace: removed {path} (init had created it)")
            else:
                assert new_text is not None
                files.write_atomic(path, new_text)
                print(f"agent-trace: removed agent-trace's hooks and env keys from {path}")
    except SettingsError as exc:
        print(f"agent-trace uninstall: {exc}", file=sys.stderr)
        return 2

    if raw is not None:
        _forget_installs(raw, [r for r in records if r not in removed], config_path, args.dry_run)
        changed_any = True
    if not changed_any:
        print("agent-trace uninstall: nothing to remove")
    return 0


def _targets(
    args: argparse.Namespace, env: dict[str, str], records: list[InstallRecord]
) -> list[tuple[Path, InstallRecord | None]]:
    """The settings files to clean: the asked scope's, else every recorded one, else (no record:
    agent-trace.json deleted by hand) every scope's."""
    project_dir = Path(args.project_dir or os.getcwd()).resolve()
    if args.scope:
        wanted = str(files.settings_path(args.scope, env, project_dir))
        targets: list[tuple[Path, InstallRecord | None]] = [
            (Path(r.settings_path), r) for r in records if r.settings_path == wanted
        ]
        return targets or [(Path(wanted), None)]
    if records:
        return [(Path(r.settings_path), r) for r in records]
    return [(files.settings_path(s, env, project_dir), None) for s in files.SCOPES]


def _forget_installs(
    raw: dict[str, Any], remaining: list[InstallRecord], config_path: Path, dry_run: bool
) -> None:
    """The client config keeps the installs not removed; without any, it goes."""
    if remaining:
        raw = {**raw, "installs": [r.to_json() for r in remaining]}
        if dry_run:
            before = files.render(files.masked(client_config.read_raw(config_path) or {}))
            print(files.diff(config_path, before, files.render(files.masked(raw))), end="")
        else:
            files.write_atomic(config_path, files.render(raw), 0o600)
    elif dry_run:
        print(f"would remove {config_path}")
    else:
        config_path.unlink(missing_ok=True)
        print(f"agent-trace: removed {config_path}")


def _deliver_spool(env: dict[str, str]) -> None:
    """Send what is still spooled while the config (URL, token) is there to send it with."""
    from agent_trace.hook.spool import Spool

    cfg = client_config.load(env)
    if cfg is None:
        return
    spool = Spool(cfg.spool_dir)
    if not spool.pending():
        return
    report = spool.deliver(
        cfg.hooks_url, cfg.ingest_token, time.monotonic() + 10.0, max_batches=None, lock_wait_s=10.0
    )
    if report.remaining:
        print(
            f"agent-trace: {report.remaining} payload(s) could not be delivered ({report.error}); "
            f"they stay in {cfg.spool_dir}",
            file=sys.stderr,
        )
