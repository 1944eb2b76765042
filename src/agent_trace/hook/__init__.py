"""The hook handler: what Claude Code runs on a hook event (standard library only).

Run as `python -I -S .../agent_trace/hook/__main__.py` (what `agent-trace init` installs: no
site-packages scan, so it starts in ~10 ms), `python -m agent_trace.hook`, or
`agent-trace hook-handler`. See docs/capture.md for which events go through it and why.

This package imports only the standard library, `agent_trace.identity` and stdlib-only
`agent_trace.domain` modules (`redaction`, `payload_keys`, ...; an import-linter contract in
pyproject.toml checks it): it runs inside the agent's loop, so every millisecond of start-up is paid by the
developer. Keep imports inside functions where they are not needed on the hot path.

handler.py     entry point: read stdin, hand the payload to a detached worker, exit 0 at once
agent_process  is Claude Code still running; how long to wait for it to go idle
worker.py      enrich (git, transcript deltas), apply tier + redaction, spool, deliver
client_config  ~/.claude/agent-trace.json (written by `agent-trace init`)
gitinfo.py     repository, branch, HEAD, diff stats against the session's baseline, commits
transcript.py  transcript deltas since the last shipped offset, sanitised length-preserving
spool.py       atomic spool files in $AGENT_TRACE_HOME/spool and their bounded delivery
transport.py   one HTTP POST without importing urllib/http.client (they cost ~40 ms)
state.py       per-session state (git baseline, shipped offsets) under a file lock
"""
