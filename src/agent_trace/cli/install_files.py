"""Files `init` / `uninstall` / `status` read and write: Claude settings, agent-trace.json, backups.

Writes are atomic (temp file + rename, the original's mode kept) and happen only when the JSON
actually changes, so running `init` twice leaves every file byte-for-byte as it was. Before a
settings file is changed, its current bytes are copied to
`$AGENT_TRACE_HOME/backups/<name>-<timestamp>.json` (never next to a project's settings, where
the backup would show up in `git status`).
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_trace.cli.claude_settings import InstallRecord, SettingsError, validate
from agent_trace.hook import client_config

SCOPES = ("user", "project", "local")


def settings_path(scope: str, env: Mapping[str, str], project_dir: Path) -> Path:
    if scope == "user":
        return client_config.claude_dir(dict(env)) / "settings.json"
    if scope == "project":
        return project_dir / ".claude" / "settings.json"
    if scope == "local":
        return project_dir / ".claude" / "settings.local.json"
    raise ValueError(f"scope {scope!r}: must be one of {', '.join(SCOPES)}")


def hook_command() -> str:
    """The command Claude Code runs for our command hooks (a POSIX shell line under /bin/sh).

    It starts the handler in the background and returns at once, so Claude Code waits only for
    the shell (as long as for `cat`), not for Python to start: fd 3 carries the payload (stdin)
    to the background job, whose own stdin would otherwise be /dev/null. `nice` lowers the
    worker's priority from its first instruction and `setsid` (Linux) takes it out of Claude
    Code's process group before Python even starts; where they are missing, the handler does
    both itself. `-I -S`: this interpreter, isolated, without the site-packages scan.
    """
    # Wrapped in /bin/sh: the redirections are POSIX, whatever shell Claude Code hands this to.
    return "/bin/sh -c " + shlex.quote(_background_line())


def _script() -> Path:
    import agent_trace.hook

    return Path(agent_trace.hook.__file__).resolve().parent / "__main__.py"


def _background_line() -> str:
    import shutil

    python = f"{shlex.quote(sys.executable)} -I -S {shlex.quote(str(_script()))} --background"
    nice = shutil.which("nice")
    setsid = shutil.which("setsid")
    prefix = (f"{shlex.quote(nice)} -n 10 " if nice else "") + (f"{shlex.quote(setsid)} " if setsid else "")
    return f"exec 3<&0; {prefix}{python} <&3 3<&- >/dev/null 2>&1 &"


def decide_command(agent_trace_home: Path) -> str:
    """The command for UserPromptSubmit and PreToolUse with `--hook-transport command`.

    These two may answer with a budget decision, which Claude Code reads from the command's
    stdout. The worker keeps `budget-state.json` in the agent-trace home only while a budget is
    spent up, so the shell line checks for it first: absent (the usual case), it is the
    background line of every other hook (~2 ms); present, the handler runs in the foreground
    (`--decide`: decide from the cached state, print, fork the worker; ~10 ms). The home is the
    one the handler uses: $AGENT_TRACE_HOME in the hook's environment, else the recorded one.
    """
    home = "".join("\\" + c if c in '\\"$`}' else c for c in str(agent_trace_home))  # inside "${…:-…}"
    state = '"${AGENT_TRACE_HOME:-' + home + '}/budget-state.json"'
    decide = f"{shlex.quote(sys.executable)} -I -S {shlex.quote(str(_script()))} --decide"
    return "/bin/sh -c " + shlex.quote(f"if [ -e {state} ]; then exec {decide}; fi; {_background_line()}")


def otel_headers_command() -> str:
    """Claude Code's `otelHeadersHelper`: prints {"Authorization": "Bearer <token>"}, read from
    the 0600 client config, so that the ingest token is never written into a settings file."""
    import agent_trace.hook

    script = Path(agent_trace.hook.__file__).resolve().parent / "__main__.py"
    return f"{shlex.quote(sys.executable)} -I -S {shlex.quote(str(script))} --otel-headers"


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(parsed settings, original text); (None, None) when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.strip():
        return {}, text
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SettingsError(f"{path}: not valid JSON ({exc}); fix or move it, then run again") from None
    return validate(data, str(path)), text


def render(data: Mapping[str, Any]) -> str:
    """JSON as Claude Code writes its settings: two-space indent, UTF-8, final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    tmp = path.with_name(f".{path.name}.agent-trace-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def backup(path: Path, original: str, backups_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    label = "-".join(p for p in path.parts[-3:] if p not in ("/", "")).replace(".", "_")
    target = backups_dir / f"{label}-{stamp}.json"
    n = 1
    while target.exists():
        n += 1
        target = backups_dir / f"{label}-{stamp}-{n}.json"
    write_atomic(target, original, 0o600)
    return target


def diff(path: Path, before: str | None, after: str | None, secret: str | None = None) -> str:
    """A unified diff of a planned write; `secret` (an ingest token) is shown as ***."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile=f"{path} (now)" if before is not None else "/dev/null",
        tofile=f"{path} (after)" if after is not None else "/dev/null",
    )
    text = "".join(lines)
    return text.replace(secret, "***") if secret else text


def records_of(config: Mapping[str, Any] | None) -> list[InstallRecord]:
    installs = config.get("installs") if config else None
    if not isinstance(installs, list):
        return []
    return [InstallRecord.from_json(i) for i in installs if isinstance(i, Mapping)]


def masked(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as shown on a terminal: the ingest token hidden."""
    shown = dict(config)
    if shown.get("ingest_token"):
        shown["ingest_token"] = "***"
    return shown
