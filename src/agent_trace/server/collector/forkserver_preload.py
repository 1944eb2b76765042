"""The one "die with the server" mechanism of the decoder workers and their forkserver.

kill -9 of `agent-trace serve` runs no cleanup, and the forkserver, its workers and
multiprocessing's resource tracker used to stay behind (~82 MB). `die_with(pid)` ends this
process when `pid` ends, however it ends: for the parent, on Linux, PR_SET_PDEATHSIG has the kernel
send SIGKILL; for any other process (a worker is the forkserver's child, not the collector's) a
daemon thread waits on a pidfd (or polls) and exits. The resource tracker exits by itself once
the last process holding its pipe is gone.

Imported by the forkserver (and only there, as a preload module): importing it is what makes the
forkserver die with the server. The workers call `die_with` from their initializer.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with(pid: int | None = None) -> None:
    """End this process when `pid` (default: its parent) ends; exit now if it already has."""
    parent = os.getppid()
    if (pid is None or pid == parent) and _parent_death_signal(parent):
        return
    _watch(parent if pid is None else pid)


def _parent_death_signal(parent: int) -> bool:
    """SIGKILL this process when its parent dies (Linux only; False elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)
    return True


def _watch(pid: int) -> None:
    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)  # Linux: readable once the process has exited
        except (AttributeError, OSError):
            fd = -1
        if fd >= 0:
            import select

            select.select([fd], [], [])
        else:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    continue
        os._exit(0)

    threading.Thread(target=watch, name="agent-trace-die-with", daemon=True).start()


# The point of the module: importing it is what the forkserver does with its preload list. (The
# server process itself never imports it; the workers call die_with from their initializer.)
die_with()
