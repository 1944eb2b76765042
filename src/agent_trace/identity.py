"""Who the developer is: one rule for every path a session can take (stdlib only).

A session's user is the configured user (AGENT_TRACE_USER, or `user` in config.toml), else
git's `user.email` (global configuration: the same on every repository of the machine), else the
OS login name. `init` records the result in ~/.claude/agent-trace.json (the hook handler sends it
with every event) and in OTEL_RESOURCE_ATTRIBUTES as `agent_trace.user` (telemetry carries it);
`import` applies the same rule. So a session has the same user whether it arrived live, from the
spool, or from a transcript.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

GIT_TIMEOUT_S = 2.0
# The OTLP resource attribute init sets (and the collector reads before user.email / user.id).
RESOURCE_ATTRIBUTE = "agent_trace.user"


def resolve_user(configured: str | None, env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    if configured and configured.strip():
        return configured.strip()
    email = git_user_email(env)
    if email:
        return email
    return os_user(env)


def git_user_email(env: Mapping[str, str]) -> str | None:
    """git's `user.email` as seen from the home folder (global and system configuration), or None."""
    home = env.get("HOME") or os.path.expanduser("~")
    try:
        proc = subprocess.run(
            ["git", "config", "--get", "user.email"],
            cwd=home if os.path.isdir(home) else None,
            env={**env, "GIT_TERMINAL_PROMPT": "0"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    email = proc.stdout.strip() if proc.returncode == 0 else ""
    return email or None


def os_user(env: Mapping[str, str]) -> str | None:
    name = env.get("USER") or env.get("LOGNAME")
    if name:
        return name
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name or None
    except (ImportError, KeyError, OSError):
        return None
