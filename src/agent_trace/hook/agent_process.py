"""Is the agent still running, and how long the worker waits for it to go idle (stdlib only).

Shared by the handler (which waits before it imports the worker) and the worker (which waits
again for Stop and SessionEnd), so neither imports the other's module for it.
"""

from __future__ import annotations

import os

# The agent is about to be idle after these events (the turn is over, or the process ends), so
# the worker waits for that before it even imports what it needs: its CPU must not compete with
# Claude Code's own end-of-turn and exit work. At most this many seconds.
STOP_IDLE_WAIT_S = 1.0
SESSION_END_EXIT_WAIT_S = 3.0
IDLE_WAIT_S = {b"Stop": STOP_IDLE_WAIT_S, b"SessionEnd": SESSION_END_EXIT_WAIT_S}


def claude_running(pid: int) -> bool:
    """Is Claude Code's process (`$CLAUDE_PID`) still running?"""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # Linux: a zombie has exited, whether or not its parent has reaped it yet
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
