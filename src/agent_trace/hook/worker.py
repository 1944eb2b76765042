"""The hook worker: enrich one payload, apply tier + redaction, spool it, deliver the spool.

Runs detached from Claude Code (see handler.py) under a hard deadline (`BUDGET_S`, SIGALRM):
whatever is not delivered by then stays in the spool for a later call.

Per event:
- SessionStart: record the session's git baseline (HEAD) once; send repo, branch, HEAD, baseline.
- Stop, SessionEnd: the transcript lines appended since the last delta (main + subagent files)
  and the git state against the baseline (diff stats, commits since). SessionEnd first waits
  for Claude Code to exit (`$CLAUDE_PID`), so the lines it writes last are included; Stop waits
  for the exit or STOP_IDLE_WAIT_S, whichever comes first, so its work falls in the agent's idle
  time. SessionStart records the baseline at once and delivers after START_IDLE_WAIT_S (or the exit).
- any other event (when installed as command hooks): the payload itself.

Everything that leaves the machine passed `domain.payload_keys.strip_payload` + redaction first;
the spool holds only sanitised payloads.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from agent_trace.hook import client_config
from agent_trace.hook.agent_process import SESSION_END_EXIT_WAIT_S, STOP_IDLE_WAIT_S, claude_running
from agent_trace.hook.client_config import ClientConfig
from agent_trace.hook.spool import DeliveryReport, Spool

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# Hard deadline of one worker, from the moment the hook fired.
BUDGET_S = 20.0
# SessionEnd waits (at most SESSION_END_EXIT_WAIT_S) for Claude Code to exit before reading the
# transcript. Stop's work (transcript delta, git state) waits STOP_IDLE_WAIT_S, or until Claude
# Code exits: right after a turn the agent is idle (the user reads; under `-p` the process exits),
# so the observer's CPU does not compete with it. handler.py already waited the same way before
# importing this module; these waits matter when the worker is run without it (inline, tests).
# SessionStart's payload carries little the live view needs at once (the first prompt's http
# hook opens the session there too), so its delivery waits longer: for the exit of a short
# `claude -p` run, or for the developer to type a first prompt in an interactive one.
START_IDLE_WAIT_S = 5.0
# Spool batches one hook call delivers (bounded work per call); --flush delivers everything.
BATCHES_PER_CALL = 2
MAX_LOG_BYTES = 1_000_000
BOUNDARY_EVENTS = frozenset({"Stop", "SessionEnd"})
# A worker waits this long for another one's delivery to finish, then delivers its own payload.
LOCK_WAIT_S = 5.0


class Deadline(Exception):
    """The worker's time is up."""


@contextmanager
def hard_deadline(seconds: float) -> Iterator[float]:
    """SIGALRM raises Deadline after `seconds`; yields the monotonic deadline for cooperative checks."""
    import signal  # here, not at the top: it imports `enum`, which SessionStart's fast path skips

    def expire(signum: int, frame: object) -> None:
        raise Deadline()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield time.monotonic() + seconds
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class HookLog:
    """$AGENT_TRACE_HOME/logs/hook.log: the only place a hook may report problems."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, message: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.path, self.path.with_suffix(".log.1"))
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{stamp} pid={os.getpid()} {message}\n")
        except OSError:
            pass


def run(data: bytes, env: Mapping[str, str], budget_s: float = BUDGET_S) -> None:
    """Process one hook payload (the worker's whole job). Never raises."""
    now_ms = int(time.time() * 1000)
    started = time.monotonic()
    cfg = client_config.load(dict(env))
    if cfg is None:
        return  # not initialised (or uninstalled while the session ran): nothing to do
    log = HookLog(cfg.log_file)
    spool = Spool(cfg.spool_dir)
    try:
        if b'"SessionStart"' in data:
            # Only the baseline is urgent (the agent may commit soon); the rest waits for idle time.
            _record_baseline(cfg, data, started + 5.0)
            _wait_for_exit(env.get("CLAUDE_PID"), time.monotonic() + START_IDLE_WAIT_S)
        remaining = budget_s - (time.monotonic() - started)
        with spool.inflight(), hard_deadline(max(0.1, remaining)) as deadline:
            process(data, env, cfg, spool, log, now_ms=now_ms, deadline=deadline)
    except Deadline:
        log("deadline reached; undelivered payloads stay in the spool")
    except Exception as exc:  # an observer never breaks the agent: log and go
        log(f"error: {type(exc).__name__}: {exc}")


def _record_baseline(cfg: ClientConfig, data: bytes, deadline: float) -> None:
    """HEAD when the session starts, once per session: one git call, nothing else imported."""
    try:
        payload = json.loads(data)
    except ValueError:
        return
    session_id, cwd = payload.get("session_id"), payload.get("cwd")
    if payload.get("hook_event_name") != "SessionStart" or not isinstance(session_id, str) or not session_id:
        return
    if not isinstance(cwd, str) or not cwd:
        return
    from agent_trace.hook.gitinfo import Git, GitError
    from agent_trace.hook.state import locked_session

    with locked_session(cfg.state_dir, session_id, deadline) as state:
        if state.data.get("base_taken"):
            return  # a resumed session keeps its first baseline
        from agent_trace.hook.gitinfo import worktree_snapshot

        git = Git(cwd, deadline)
        try:
            head = git.run("rev-parse", "-q", "--verify", "HEAD^{commit}", ok_codes=(0, 1)).strip()
            toplevel = git.run("rev-parse", "--show-toplevel").strip()
        except GitError:
            return  # not a repository, or git is slow: the first boundary decides
        state.data["base_taken"] = True
        state.data["base_sha"] = head or None  # None: no commit yet (diffs count from empty)
        # What the worktree held already (uncommitted edits, untracked files) is not the session's.
        state.data["base_worktree"] = worktree_snapshot(git, toplevel, head or None)
        state.save()


def process(
    data: bytes,
    env: Mapping[str, str],
    cfg: ClientConfig,
    spool: Spool,
    log: HookLog,
    *,
    now_ms: int,
    deadline: float,
) -> None:
    try:
        payload = json.loads(data)
    except ValueError:
        log("payload is not JSON; ignored")
        return
    if not isinstance(payload, dict) or not isinstance(payload.get("hook_event_name"), str):
        log("payload has no hook_event_name; ignored")
        return
    event = payload["hook_event_name"]
    session_id = payload.get("session_id")
    claude_pid = env.get("CLAUDE_PID")
    if event == "SessionEnd":
        _wait_for_exit(claude_pid, min(deadline - 2.0, time.monotonic() + SESSION_END_EXIT_WAIT_S))
    elif event == "Stop":
        _wait_for_exit(claude_pid, min(deadline - 2.0, time.monotonic() + STOP_IDLE_WAIT_S))

    out = sanitize_payload(payload, cfg.privacy_tier)
    enrichment: dict[str, Any] = {"ts_ms": now_ms}
    for key, value in (
        ("user", cfg.user or _fallback_user(env)),
        ("project_dir", env.get("CLAUDE_PROJECT_DIR")),
        ("entrypoint", env.get("CLAUDE_CODE_ENTRYPOINT")),
    ):
        if value:
            enrichment[key] = value
    out["agent_trace"] = enrichment

    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    if isinstance(session_id, str) and session_id and (event == "SessionStart" or event in BOUNDARY_EVENTS):
        from agent_trace.hook.state import LockTimeout, prune_stale

        try:
            _enrich_at_boundary(event, payload, session_id, cwd, cfg, spool, out, enrichment, deadline)
        except LockTimeout:
            # Another worker of this session held its lock all along: send the event itself;
            # the transcript lines and git state go with that worker's or the next boundary.
            log(f"session {session_id} busy; {event} sent without transcript delta")
            spool.write(_dumps(out))
        if event == "SessionStart":
            prune_stale(cfg.state_dir, time.time())
    else:
        spool.write(_dumps(out))

    for name in spool.enforce_cap():
        log(f"spool over its size cap: dropped {name}")
    report = spool.deliver(
        cfg.hooks_url, cfg.ingest_token, deadline - 0.5, max_batches=BATCHES_PER_CALL, lock_wait_s=LOCK_WAIT_S
    )
    _log_report(log, report)
    if cfg.hook_transport == "command":
        refresh_budget_state(cfg, log, deadline)


# The collector's answer for the budget state must come quickly; a slow one is tried next time.
BUDGET_STATE_TIMEOUT_S = 2.0


def refresh_budget_state(cfg: ClientConfig, log: HookLog, deadline: float) -> None:
    """Cache the collector's budget state for the foreground `--decide` (hook/budget.py).

    Unreachable collector: the cached state is kept until it is STALE_AFTER_S old, then budgets
    fail open; both are logged here, since the foreground must stay silent and fast.
    """
    from agent_trace.hook.budget import STALE_AFTER_S, STATE_NAME, state_url, write_state
    from agent_trace.hook.transport import TransportError, request

    url = state_url(cfg.collector_url, cfg.user)
    timeout = max(0.1, min(BUDGET_STATE_TIMEOUT_S, deadline - time.monotonic() - 0.2))
    try:
        status, body = request("GET", url, None, timeout, token=cfg.ingest_token)
        if status != 200:
            raise TransportError(f"HTTP {status}")
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (TransportError, ValueError) as exc:
        try:
            age = time.time() - os.stat(cfg.agent_trace_home / STATE_NAME).st_mtime
        except OSError:
            age = None
        if age is None:
            log(f"budget state: collector unreachable ({exc}); no cached state, budgets fail open")
        elif age > STALE_AFTER_S:
            log(
                f"budget state: collector unreachable ({exc}); cached state {int(age)} s old, budgets fail open"
            )
        else:
            log(f"budget state: collector unreachable ({exc}); keeping the cached state ({int(age)} s old)")
        return
    if doc.get("rules"):
        write_state(cfg.agent_trace_home, doc)
    else:
        # Nothing spent up: no file, so the installed shell line skips the foreground decision.
        try:
            os.unlink(cfg.agent_trace_home / STATE_NAME)
        except FileNotFoundError:
            pass


def _enrich_at_boundary(
    event: str,
    payload: dict[str, Any],
    session_id: str,
    cwd: str | None,
    cfg: ClientConfig,
    spool: Spool,
    out: dict[str, Any],
    enrichment: dict[str, Any],
    deadline: float,
) -> None:
    """Git facts and transcript deltas, spooled under the session's lock.

    The lock is held from reading the shipped offsets until the new ones are saved, so two
    workers of one session (Stop and SessionEnd overlap) never ship the same lines twice.
    """
    from agent_trace.hook.state import locked_session

    with locked_session(cfg.state_dir, session_id, deadline - 1.0) as state:
        git = _git_enrichment(event, cwd, state.data, cfg.privacy_tier, deadline)
        if git is not None:
            enrichment["git"] = git
        new_offsets: dict[str, int] = {}
        transcript = payload.get("transcript_path")
        if event in BOUNDARY_EVENTS and isinstance(transcript, str) and transcript:
            deltas, new_offsets = _deltas(transcript, session_id, state.offsets, cfg.privacy_tier)
            if deltas:
                enrichment["transcript_delta"] = deltas
        spool.write(_dumps(out))
        state.offsets.update(new_offsets)
        state.save()


def sanitize_payload(payload: dict[str, Any], tier: int) -> dict[str, Any]:
    """The payload as it may leave the machine: stripped to the tier, secrets redacted."""
    from agent_trace.domain.payload_keys import CLIENT_METADATA_KEYS, strip_payload
    from agent_trace.domain.redaction import redact_json_value

    stripped = strip_payload(payload, tier, CLIENT_METADATA_KEYS)
    redacted = redact_json_value(stripped)
    return dict(redacted) if isinstance(redacted, dict) else {}


def _git_enrichment(
    event: str, cwd: str | None, state: dict[str, Any], tier: int, deadline: float
) -> dict[str, Any] | None:
    if not cwd:
        return None
    from agent_trace.hook.gitinfo import Git, repo_state, session_git

    git = Git(cwd, deadline - 1.0)
    current = repo_state(git)
    if current is None:
        return None
    if not state.get("base_taken"):
        # The first boundary we see fixes the baseline (SessionStart, or the first Stop when
        # agent-trace was installed mid-session); a resumed session keeps its original one.
        from agent_trace.hook.gitinfo import worktree_snapshot

        state["base_taken"] = True
        state["base_sha"] = current["head"]
        state["base_worktree"] = worktree_snapshot(git, current["toplevel"], current["head"])
    base_sha = state.get("base_sha") if isinstance(state.get("base_sha"), str) else None
    baseline = state.get("base_worktree") if isinstance(state.get("base_worktree"), dict) else None
    if event == "SessionStart":
        start = {k: current[k] for k in ("repo", "branch", "head") if current[k]}
        if base_sha:
            start["base_sha"] = base_sha
        return _sanitize_git(start, tier)
    info = session_git(git, base_sha, current, baseline)
    if not info:
        return None
    _skip_sent_keys(info, state)
    return _sanitize_git(info, tier)


# Line keys of this many commits are remembered as sent (a session rarely makes more).
MAX_REMEMBERED_COMMITS = 1000


def _skip_sent_keys(info: dict[str, Any], state: dict[str, Any]) -> None:
    """Every Stop lists all the session's commits; their line keys (up to ~1 MB) go once. The
    payload is spooled under the session's lock right after, so "sent" means spooled, and the
    collector keeps the keys it has (files_json merges as the longer)."""
    stored = state.get("keys_sent")
    sent: list[str] = [s for s in stored if isinstance(s, str)] if isinstance(stored, list) else []
    known = set(sent)
    for commit in info.get("commits") or []:
        if commit.get("sha") in known:
            commit.pop("files", None)
        elif "files" in commit:
            sent.append(commit["sha"])
    state["keys_sent"] = sent[-MAX_REMEMBERED_COMMITS:]


def _sanitize_git(info: dict[str, Any], tier: int) -> dict[str, Any]:
    from agent_trace.domain.redaction import redact_json_value

    if tier < 2:
        for commit in info.get("commits") or []:
            commit.pop("message", None)
            commit.pop("files", None)  # file paths are tier 2 (the line keys go with them)
    redacted = redact_json_value(info)
    return dict(redacted) if isinstance(redacted, dict) else info


def _deltas(
    transcript: str, session_id: str, offsets: dict[str, int], tier: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    from agent_trace.hook.transcript import LineSanitizer, read_deltas, transcript_files

    return read_deltas(transcript_files(transcript, session_id), offsets, LineSanitizer(tier))


def _wait_for_exit(pid_text: str | None, until: float) -> None:
    """Wait (bounded) for Claude Code's process to end: it writes its last transcript lines then."""
    if not pid_text or not pid_text.isdigit():
        return
    pid = int(pid_text)
    while time.monotonic() < until and claude_running(pid):
        time.sleep(0.02)


def _dumps(payload: dict[str, Any]) -> bytes:
    # One line (no raw newlines in compact JSON): the spool is delivered as NDJSON.
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the payload: keep it \u-escaped
        return json.dumps(payload, separators=(",", ":")).encode("ascii")


def _log_report(log: HookLog, report: DeliveryReport) -> None:
    for message in report.messages:
        log(message)
    if report.error and report.remaining:
        log(f"{report.error}; {report.remaining} payload(s) wait in the spool")


# -- `--flush` ---------------------------------------------------------------------------------


def _print_otel_headers() -> int:
    """`--otel-headers`: {"Authorization": "Bearer <token>"} or {} (no token configured)."""
    cfg = client_config.load(dict(os.environ))
    token = cfg.ingest_token if cfg is not None else None
    sys.stdout.write(json.dumps({"Authorization": f"Bearer {token}"} if token else {}) + "\n")
    return 0


def command_line(args: list[str]) -> int:
    """`agent-trace hook-handler --flush [--wait SECONDS] [--retry-rejected]`: deliver the whole
    spool now (after putting refused payloads back in the queue, with --retry-rejected)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="agent-trace hook-handler",
        description="Claude Code's hook command (payload on stdin), or --flush to deliver the spool now.",
    )
    parser.add_argument("--flush", action="store_true", help="deliver everything in the spool, then exit")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for running hook workers to finish",
    )
    parser.add_argument(
        "--retry-rejected",
        action="store_true",
        help="first put the payloads the collector refused (spool/rejected/) back in the queue",
    )
    parser.add_argument(
        "--otel-headers",
        action="store_true",
        help="print the OTLP headers for Claude Code's otelHeadersHelper (the token from the client config)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="with --flush: print nothing (the exit code still tells)"
    )
    ns = parser.parse_args(args)
    if ns.otel_headers:
        return _print_otel_headers()
    if not ns.flush:
        parser.error("arguments are only for --flush; a hook call reads its payload from stdin")
    cfg = client_config.load(dict(os.environ))
    if cfg is None:
        print(
            f"agent-trace: not initialised ({client_config.config_path(dict(os.environ))} is missing "
            "or invalid); run `agent-trace init`",
            file=sys.stderr,
        )
        return 2
    spool = Spool(cfg.spool_dir)
    if ns.retry_rejected:
        moved = spool.retry_rejected()
        if not ns.quiet:
            print(f"agent-trace: {moved} refused payload(s) queued again", file=sys.stderr)
    waited_until = time.monotonic() + max(0.0, ns.wait)
    while spool.running_workers() and time.monotonic() < waited_until:
        time.sleep(0.05)
    report = spool.deliver(
        cfg.hooks_url, cfg.ingest_token, time.monotonic() + 300.0, max_batches=None, lock_wait_s=60.0
    )
    if cfg.hook_transport == "command":
        refresh_budget_state(cfg, HookLog(cfg.log_file), time.monotonic() + 5.0)
    if not ns.quiet:
        for message in report.messages:
            print(f"agent-trace: {message}", file=sys.stderr)
        line = f"agent-trace: delivered {report.delivered}, rejected {report.rejected}, {report.remaining} waiting"
        if report.rejected:
            line += f"; refused payloads are kept in {spool.rejected_dir} (--retry-rejected sends them again)"
        if report.error:
            line += f" ({report.error})"
        print(line, file=sys.stderr)
    return 0 if report.remaining == 0 else 1


def _fallback_user(env: Mapping[str, str]) -> str | None:
    """A config written before init recorded the user: the same rule init applies."""
    from agent_trace.identity import resolve_user

    return resolve_user(None, env)
