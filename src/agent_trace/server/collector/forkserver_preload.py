"""Imported by the decoder workers' forkserver (and only there, as a preload module): it makes the
forkserver die with the server.

kill -9 of `agent-trace serve` runs no cleanup, and the forkserver, its workers and
multiprocessing's resource tracker used to stay behind (~82 MB). On Linux, PR_SET_PDEATHSIG has
the kernel send SIGKILL to this process when its parent dies; the workers ask the same of the
forkserver (decoders._init_worker), and the resource tracker exits by itself once the last
process holding its pipe is gone. Nothing to do elsewhere: other systems keep the old behaviour.
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux); exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


# The point of the module: importing it is what the forkserver does with its preload list. (The
# server process itself never imports it; the workers call die_with_parent from their initializer.)
die_with_parent()
