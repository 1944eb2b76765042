"""Entry point of the hook handler: read the payload, hand it to a detached worker, exit 0.

Claude Code waits for a command hook before it goes on, so the part it waits for does as little
as possible. Two ways to run:

- As installed by `agent-trace init`, a POSIX shell line starts this script in the background
  (`exec 3<&0; nice -n 10 [setsid] python -I -S .../__main__.py --background <&3 ... &`), so
  Claude Code waits only for the shell, as long as for `cat`; Python starts while the agent
  already goes on. `--background` then only leaves Claude Code's session and reads stdin.
- Run directly (`agent-trace hook-handler`, `python -m agent_trace.hook`): read stdin, fork,
  return; the forked child is the worker.

Either way the worker (own session, stdio on /dev/null, low priority, so neither Claude Code's
wait nor its kill of a timed-out hook reaches it) does the real work under a hard deadline: git,
transcript deltas, tier + redaction, spool, delivery (worker.py).

Guarantees Claude Code relies on: exit status 0 always, nothing on stdout (stdout of a hook is
parsed as a decision) except a budget decision under `--decide`, and a bounded time even when
stdin misbehaves.

Modes:
    (no arguments)            a hook call: payload on stdin
    --background              the same, already started in the background by the shell line
    --flush [--wait SECONDS] [--retry-rejected]
                              deliver everything spooled now (after waiting for running workers;
                              after queueing again what the collector refused)
    --decide                  a hook call that may get a budget decision (UserPromptSubmit and
                              PreToolUse with the command transport, run by the installed line
                              only while a budget state file exists): print it, then as above
Environment: AGENT_TRACE_HOOK_INLINE=1 does the work in the foreground (tests, debugging).
"""

from __future__ import annotations

import os
import sys

# The foreground never waits longer than this for Claude Code to close stdin.
STDIN_TIMEOUT_S = 5
WORKER_NICENESS = 10


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    background = args[:1] == ["--background"]
    decide = args[:1] == ["--decide"]
    if args and not background and not decide:
        from agent_trace.hook.worker import command_line

        return command_line(args)
    if background:
        try:
            os.setsid()  # out of Claude Code's process group before anything else
        except OSError:
            pass  # already a session leader (started by setsid(1))
    try:
        data = _read_stdin()
    except BaseException:  # an observer must never break the agent
        return 0
    if not data.strip():
        return 0
    if decide:
        _budget_decision(data)
    if os.environ.get("AGENT_TRACE_HOOK_INLINE") == "1":
        _work(data)
        return 0
    if background:
        # Already detached and niced by the shell line; Claude Code is not waiting for us.
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        _lower_priority()
        _work(data)
        return 0
    try:
        pid = os.fork()
    except OSError:
        _work(data)  # no fork (resource limits): do it here, still under the worker's deadline
        return 0
    if pid:
        # Claude Code continues now. os._exit skips interpreter teardown: nothing is buffered.
        os._exit(0)
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _lower_priority()
        _work(data)
    finally:
        os._exit(0)


def _budget_decision(data: bytes) -> None:
    """`--decide` (UserPromptSubmit, PreToolUse with the command transport): print Claude Code's
    hook decision when a cached budget state says so (hook/budget.py). Fails open: no config,
    no state, a stale state (the worker logs why) or any error means no output."""
    event = _event_name(data)
    if event not in (b"UserPromptSubmit", b"PreToolUse"):
        return
    try:
        import json

        from agent_trace.hook import client_config
        from agent_trace.hook.budget import decide, read_state

        cfg = client_config.load(os.environ)
        if cfg is None:
            return
        doc, _problem = read_state(cfg.agent_trace_home)
        if doc is None:
            return
        payload = json.loads(data)
        cwd = payload.get("cwd")
        out = decide(
            doc, event.decode(), str(payload.get("session_id") or ""), cwd if isinstance(cwd, str) else None
        )
        if out is not None:
            os.write(1, json.dumps(out).encode())  # unbuffered: nothing left to copy into a fork
    except BaseException:  # an observer must never break the agent
        return


def _lower_priority() -> None:
    """Background priority: the agent, not its observer, gets the CPU when both want it."""
    try:
        current = os.nice(0)
        if current < WORKER_NICENESS:
            os.nice(WORKER_NICENESS - current)
    except OSError:
        pass


def _read_stdin() -> bytes:
    """All of stdin, or what arrived within STDIN_TIMEOUT_S.

    select + os.read rather than the `signal` module: `import signal` pulls in `enum`, which
    alone costs more than the rest of the foreground together.
    """
    import select
    import time

    deadline = time.monotonic() + STDIN_TIMEOUT_S
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([0], [], [], remaining)
        if not ready:
            break
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _event_name(data: bytes) -> bytes:
    """The hook_event_name of a payload, found without a JSON parser (the worker parses it properly)."""
    key = data.find(b'"hook_event_name"')
    colon = data.find(b":", key + 17) if key >= 0 else -1
    start = data.find(b'"', colon + 1) if colon >= 0 else -1
    end = data.find(b'"', start + 1) if start >= 0 else -1
    return data[start + 1 : end] if end > start else b""


def _wait_until_idle(data: bytes) -> None:
    # Imported here: only the detached worker waits, never the part Claude Code waits for.
    from agent_trace.hook.agent_process import IDLE_WAIT_S, claude_running

    limit = IDLE_WAIT_S.get(_event_name(data))
    pid = os.environ.get("CLAUDE_PID", "")
    if limit is None or not pid.isdigit():
        return
    import time

    until = time.monotonic() + limit
    while time.monotonic() < until and claude_running(int(pid)):
        time.sleep(0.02)


def _work(data: bytes) -> None:
    try:
        _wait_until_idle(data)
        from agent_trace.hook.worker import run

        run(data, os.environ)
    except BaseException:  # run() logs what it can; nothing may propagate to Claude Code
        pass
