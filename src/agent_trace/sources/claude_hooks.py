"""Claude Code hook payloads → canonical records (pure: no I/O, no clock, no state).

`records_from_hook(payload, received_ms)` turns ONE payload, the JSON Claude Code gives a hook on
stdin or as the body of an `http` hook's POST, into a `RecordBatch`. Each payload is parsed on its
own, so a field stays None whenever this one payload does not know it; the store merges what
several payloads (and the transcript and OTLP) say about the same natural key.

Timestamps: hook payloads carry none. `ts` below is `agent_trace.ts_ms` when our hook handler
stamped the payload, else `received_ms` (when the collector got it).

Privacy: nothing is redacted here. Text stays in its dedicated fields (Prompt.text,
ToolCall.input_json / output_text / error, Commit.message, RawEvent.payload) so that the writer can
strip them by privacy tier and redact secrets in one place.

Enrichment added by agent-trace's own hook handler
--------------------------------------------------
The handler (`agent-trace hook-handler`, standard library only) forwards Claude Code's payload
unchanged and adds ONE top-level key, `agent_trace`, an object whose keys are all optional:

    "agent_trace": {
      "ts_ms": 1767225600123,          # int, epoch ms when the hook fired (handler clock)
      "user": "dev@example.com",       # str → Session.user_id
      "project_dir": "/home/dev/work", # str, $CLAUDE_PROJECT_DIR → Session.project
      "entrypoint": "cli",             # str, $CLAUDE_CODE_ENTRYPOINT → Session.entrypoint
      "git": {                         # the session cwd's repository, as of this hook
        "repo": "github.com/acme/app", # str → Session.git_repo, Commit.repo
        "branch": "main",              # str → Session.git_branch, Commit.branch
        "head": "<sha>",               # str → Session.git_head
        "base_sha": "<sha>",           # str, HEAD when the session started → Session.git_base_sha
        "lines_added": 12,             # int >= 0, diff of base_sha..worktree → Session.git_lines_added
        "lines_removed": 3,            # int >= 0 → Session.git_lines_removed
        "files_changed": 2,            # int >= 0 → Session.git_files_changed
        "commits": [                   # commits made since base_sha → one Commit each
          {"sha": "<sha>",             # str, required for each commit
           "message": "Fix x",         # str (tier >= 2)
           "author": "Dev <dev@example.com>",
           "ts_ms": 1767225600000,     # int, commit time
           "files_changed": 1, "insertions": 10, "deletions": 2}   # ints >= 0
        ]
      },
      "transcript_delta": {            # or a list of these objects (main file + subagent files)
        "path": "/home/dev/.claude/projects/-home-dev-work/<session>.jsonl",
        "offset": 0,                   # int >= 0, byte offset in `path` where `text` starts
        "text": "{...}\\n{...}\\n"       # str, whole JSONL lines appended since the last delta
      }
    }

`records_from_hook` does not parse transcript lines: sources import only the domain, so the
collector hands `transcript_deltas(payload)` to the transcript source. The RawEvent stores each
delta without its text (path, offset and byte count only): those lines are stored by the transcript
path, and copying them into every Stop event would double the audit log.

Validation
----------
`HookPayloadError` (a ValueError; the collector answers 400 with its message) is raised when the
payload is not an object, `hook_event_name` is missing or not a string, `session_id` is missing
or not a non-empty string (tolerated only for event names this module does not know), or any
field this module reads is present, not null, and of the wrong JSON type. The message names the
field (`tool_calls[1].tool_use_id: expected a string, got number`). A known field that is merely
absent (older CLIs send no `tool_use_id` or `prompt_id`) yields fewer records, never an error.

Records per event (every payload also yields one RawEvent; "Session" = session_id, agent, the
main thread's cwd and permission_mode, started_ms = ts (merged with min, so the earliest event
wins when SessionStart is missed), plus the enrichment's user, project_dir, entrypoint and git):

    SessionStart        Session (+ project = cwd unless source is resume/compact)
    UserPromptSubmit    Session, Prompt(text, kind, ts)
    PreToolUse          Session, ToolCall(started, input), FileTouch (Read/Write/Edit/...)
    PostToolUse         Session, ToolCall(success, output, duration, ended), FileTouch (Bash
                        bashEditDiff), Subagent + ToolCall.subagent_id (Agent/Task)
    PostToolUseFailure  Session, ToolCall(error | interrupted, error text, duration, ended)
    PostToolBatch       Session, ToolCall per entry (name, input; status only for <tool_use_error>)
    SubagentStart/Stop  Session, Subagent(started_ms / ended_ms)
    StopFailure         Session, Prompt(api_errors=1)
    SessionEnd          Session(ended_ms, end_reason)
    CwdChanged          Session(cwd = new_cwd)
    Stop, PreCompact, PostCompact, InstructionsLoaded, unknown events: Session only
    PermissionRequest, MessageDisplay: the RawEvent only
Tool events inside a subagent (`agent_id` present) also yield its Subagent(agent_type).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import (
    FileTouch,
    Prompt,
    PromptKind,
    RawEvent,
    RecordBatch,
    Subagent,
    ToolCall,
    ToolStatus,
)
from agent_trace.domain.tools import SUBAGENT_TOOLS, bash_changed_files, file_touches
from agent_trace.sources.claude_hook_context import (
    ENRICHMENT_KEY,
    HookContext,
    transcript_deltas,
)
from agent_trace.sources.hook_fields import (
    HookPayloadError,
    canonical_json,
    compact_json,
    field_bool,
    field_count,
    field_list,
    field_mapping,
    field_str,
    json_type,
)

SOURCE = "hook"

# SessionStart sources that continue an existing session: their cwd is not the start cwd.
_CONTINUING_SOURCES = frozenset({"resume", "compact"})
# A slash command as typed (hooks see "/review 12", transcripts "<command-name>/review…").
_SLASH_COMMAND = re.compile(r"^/[A-Za-z][\w:.-]*(\s|$)")
# A tool call rejected before it ran (input validation): no Pre/Post hook fires for it.
_TOOL_USE_ERROR = re.compile(r"^\s*<tool_use_error>(.*)</tool_use_error>\s*$", re.DOTALL)


def hook_events_of_interest() -> tuple[str, ...]:
    """The hook events an agent-trace installation registers for, in the order they fire."""
    return (
        # Start time, start cwd (= project), source (startup/resume/compact/...), and the moment the
        # handler takes the git baseline. `http` handlers do not receive it (2.1.331): use `command`.
        "SessionStart",
        # The prompt text, its prompt_id and kind; task notifications of background agents too.
        "UserPromptSubmit",
        # Tool start time and exact input; the files Read/Write/Edit name.
        "PreToolUse",
        # Approval prompts (no tool_use_id, so audit only): where a denied call waited on the user.
        "PermissionRequest",
        # Success, exact output, duration; Bash file changes; the Agent tool's subagent id.
        "PostToolUse",
        # Errors and interrupts, with the error text.
        "PostToolUseFailure",
        # Lists every call the model made, including denied calls and input errors that get no
        # Pre/Post hook at all.
        "PostToolBatch",
        # Subagent type and lifetime; they fire for background agents after the main Stop.
        "SubagentStart",
        "SubagentStop",
        # End of a turn: the handler ships the new transcript lines (usage) and git state here.
        "Stop",
        # A turn that died on an API error (rate limit, overload, ...).
        "StopFailure",
        # Compaction boundaries (the summary request is billed without an assistant record).
        "PreCompact",
        "PostCompact",
        # The session moved to another directory.
        "CwdChanged",
        # End time and reason; the last transcript delta and git totals.
        "SessionEnd",
    )
    # Not registered: MessageDisplay (fires per displayed message, carries response text, joins
    # nothing), InstructionsLoaded (nothing canonical), Notification and the rest (not observed).


def records_from_hook(payload: Mapping[str, Any], received_ms: int) -> RecordBatch:
    """Canonical records for one hook payload; raises HookPayloadError when it is malformed."""
    if not isinstance(payload, Mapping):
        raise HookPayloadError(f"payload: expected an object, got {json_type(payload)}")
    if isinstance(received_ms, bool) or not isinstance(received_ms, int):
        raise HookPayloadError(f"received_ms: expected an integer, got {json_type(received_ms)}")
    event = field_str(payload, "hook_event_name")
    if not event:
        raise HookPayloadError("hook_event_name: required, a non-empty string")
    handler = _HANDLERS.get(event)
    session_id = field_str(payload, "session_id")
    if not session_id and (handler is not None or "session_id" in payload):
        raise HookPayloadError("session_id: required, a non-empty string")

    ctx = HookContext.of(payload, event, session_id, received_ms)
    batch = RecordBatch()
    if ctx.session_id is not None and event not in _RAW_ONLY:
        batch.sessions.append(ctx.session())
        if ctx.enrichment.commits:
            batch.commits.extend(ctx.commits())
        if handler is not None:
            handler(ctx, payload, batch)
    batch.raw_events.append(_raw_event(ctx, payload))
    return batch


def render_tool_response(tool_name: str | None, tool_response: Any) -> str | None:
    """A faithful text rendering of a `tool_response`: Bash stdout then stderr, else compact JSON."""
    if tool_response is None:
        return None
    if isinstance(tool_response, str):
        return tool_response
    if tool_name == "Bash" and isinstance(tool_response, Mapping):
        streams = [tool_response.get("stdout"), tool_response.get("stderr")]
        if any(isinstance(s, str) for s in streams):
            return "\n".join(s for s in streams if isinstance(s, str) and s)
    return compact_json(tool_response)


# ── events ──────────────────────────────────────────────────────────────────────────────────────

_Handler = Callable[[HookContext, Mapping[str, Any], RecordBatch], None]


def _session_start(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    source = field_str(payload, "source")
    if source not in _CONTINUING_SOURCES and ctx.cwd and ctx.agent_id is None:
        batch.sessions[0].project = ctx.cwd


def _user_prompt_submit(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    text = field_str(payload, "prompt")
    if ctx.prompt_id is None:
        return  # pre-2.1 CLIs: no prompt_id, nothing that joins the transcript's promptId
    batch.prompts.append(
        Prompt(
            prompt_id=ctx.prompt_id,
            session_id=ctx.sid,
            ts_ms=ctx.ts,
            kind=_prompt_kind(text) if text is not None else None,
            text=text,
        )
    )


def _pre_tool_use(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    tool = _tool_event(ctx, payload, batch)
    if tool is None:
        return
    call, tool_input = tool
    call.started_ms = ctx.ts
    for path, op in file_touches(call.tool_name, tool_input):
        batch.file_touches.append(
            FileTouch(tool_use_id=call.tool_use_id, path=path, op=op, session_id=ctx.sid, ts_ms=ctx.ts)
        )


def _post_tool_use(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    tool = _tool_event(ctx, payload, batch)
    if tool is None:
        return
    call, tool_input = tool
    response = payload.get("tool_response")
    interrupted = isinstance(response, Mapping) and response.get("interrupted") is True
    call.status = "interrupted" if interrupted else "success"
    call.output_text = render_tool_response(call.tool_name, response)
    call.duration_ms = field_count(payload, "duration_ms")
    call.ended_ms = ctx.ts
    if call.tool_name == "Bash" and isinstance(response, Mapping):
        for path in bash_changed_files(response):
            batch.file_touches.append(
                FileTouch(
                    tool_use_id=call.tool_use_id, path=path, op="write", session_id=ctx.sid, ts_ms=ctx.ts
                )
            )
    if call.tool_name in SUBAGENT_TOOLS and isinstance(response, Mapping):
        agent_id = field_str(response, "agentId", "tool_response.")
        if agent_id:
            call.subagent_id = agent_id
            agent_type = field_str(response, "agentType", "tool_response.")
            if agent_type is None and tool_input is not None:
                agent_type = field_str(tool_input, "subagent_type", "tool_input.")
            subagent = ctx.subagent(agent_id, agent_type)
            subagent.parent_tool_use_id = call.tool_use_id
            subagent.model = field_str(response, "resolvedModel", "tool_response.")
            if tool_input is not None:
                subagent.description = field_str(tool_input, "description", "tool_input.")
            batch.subagents.append(subagent)


def _post_tool_use_failure(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    tool = _tool_event(ctx, payload, batch)
    if tool is None:
        return
    call, _ = tool
    status: ToolStatus = "interrupted" if field_bool(payload, "is_interrupt") else "error"
    call.status = status
    call.error = field_str(payload, "error")
    call.duration_ms = field_count(payload, "duration_ms")
    call.ended_ms = ctx.ts


def _post_tool_batch(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    # The batch is a summary sent after the Post* hooks: it knows names and inputs, but its
    # `tool_response` is the text handed to the model and its time is not the call's. So it fills
    # only those, leaving status, output and timing to PostToolUse(Failure) and the transcript.
    _subagent_of(ctx, batch)
    for i, item in enumerate(field_list(payload, "tool_calls") or []):
        where = f"tool_calls[{i}]"
        if not isinstance(item, Mapping):
            raise HookPayloadError(f"{where}: expected an object, got {json_type(item)}")
        tool_use_id = field_str(item, "tool_use_id", where + ".")
        tool_input = field_mapping(item, "tool_input", where + ".")
        if not tool_use_id:
            continue
        call = ctx.tool_call(tool_use_id, field_str(item, "tool_name", where + ".") or None)
        call.input_json = compact_json(tool_input) if tool_input is not None else None
        response = item.get("tool_response")
        rejected = _TOOL_USE_ERROR.match(response) if isinstance(response, str) else None
        if rejected:  # rejected before it ran: no Pre/Post hook will ever describe this call
            call.status = "error"
            call.error = rejected.group(1)
        batch.tool_calls.append(call)


def _subagent_start(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    subagent = _subagent_of(ctx, batch)
    if subagent is not None:
        subagent.started_ms = ctx.ts


def _subagent_stop(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    subagent = _subagent_of(ctx, batch)
    if subagent is not None:
        subagent.ended_ms = ctx.ts


def _stop_failure(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    field_str(payload, "error")  # type-checked only: the kind (server_error, ...) has no canonical field
    if ctx.prompt_id is not None:
        batch.prompts.append(Prompt(prompt_id=ctx.prompt_id, session_id=ctx.sid, api_errors=1))


def _session_end(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    session = batch.sessions[0]
    session.ended_ms = ctx.ts
    session.end_reason = field_str(payload, "reason") or None


def _cwd_changed(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    new_cwd = field_str(payload, "new_cwd")
    field_str(payload, "old_cwd")
    if new_cwd and ctx.agent_id is None:
        batch.sessions[0].cwd = new_cwd


def _session_only(ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch) -> None:
    """Stop ends a turn, not the session; compaction and instruction loads have no record of their own."""


_HANDLERS: dict[str, _Handler] = {
    "SessionStart": _session_start,
    "UserPromptSubmit": _user_prompt_submit,
    "PreToolUse": _pre_tool_use,
    "PostToolUse": _post_tool_use,
    "PostToolUseFailure": _post_tool_use_failure,
    "PostToolBatch": _post_tool_batch,
    "SubagentStart": _subagent_start,
    "SubagentStop": _subagent_stop,
    "Stop": _session_only,
    "StopFailure": _stop_failure,
    "SessionEnd": _session_end,
    "PreCompact": _session_only,
    "PostCompact": _session_only,
    "CwdChanged": _cwd_changed,
    "InstructionsLoaded": _session_only,
    "PermissionRequest": _session_only,
    "MessageDisplay": _session_only,
}
# No tool_use_id (PermissionRequest) or nothing that joins anything (MessageDisplay): audit only.
_RAW_ONLY = frozenset({"PermissionRequest", "MessageDisplay"})


def _tool_event(
    ctx: HookContext, payload: Mapping[str, Any], batch: RecordBatch
) -> tuple[ToolCall, Mapping[str, Any] | None] | None:
    """The ToolCall a Pre/Post tool event describes (appended to the batch), with its input."""
    tool_use_id = field_str(payload, "tool_use_id")
    tool_name = field_str(payload, "tool_name") or None
    tool_input = field_mapping(payload, "tool_input")
    _subagent_of(ctx, batch)
    if not tool_use_id:
        return None  # pre-2.1 CLIs: nothing to key the call on; the RawEvent keeps it
    call = ctx.tool_call(tool_use_id, tool_name)
    call.input_json = compact_json(tool_input) if tool_input is not None else None
    batch.tool_calls.append(call)
    return call, tool_input


def _subagent_of(ctx: HookContext, batch: RecordBatch) -> Subagent | None:
    """The Subagent an event inside a subagent names (appended to the batch)."""
    if ctx.agent_id is None:
        return None
    subagent = ctx.subagent(ctx.agent_id, ctx.agent_type)
    batch.subagents.append(subagent)
    return subagent


def _prompt_kind(text: str) -> PromptKind | None:
    # Hooks see a slash command as typed; transcripts wrap it in <command-name>, which
    # classify_prompt knows. Both must give the same kind for the merged prompt.
    if _SLASH_COMMAND.match(text.lstrip()):
        return "command"
    return classify_prompt(text)


# ── raw event ───────────────────────────────────────────────────────────────────────────────────


def _raw_event(ctx: HookContext, payload: Mapping[str, Any]) -> RawEvent:
    full = canonical_json(payload)
    natural_key = "/".join(
        (
            ctx.session_id or "",
            ctx.event,
            field_str(payload, "tool_use_id") or ctx.agent_id or ctx.prompt_id or "",
        )
    )
    # The id covers everything that arrived, and not received_ms: a re-delivered payload dedups.
    digest = hashlib.sha256("\x1f".join((SOURCE, natural_key, full)).encode("utf-8")).hexdigest()
    stored = canonical_json(_without_transcript_text(payload)) if _has_delta(payload) else full
    return RawEvent(
        event_id=digest,
        source=SOURCE,
        session_id=ctx.session_id,
        received_ms=ctx.received_ms,
        ts_ms=ctx.ts,
        kind=ctx.event,
        payload=stored,
    )


def _has_delta(payload: Mapping[str, Any]) -> bool:
    enrichment = payload.get(ENRICHMENT_KEY)
    return isinstance(enrichment, Mapping) and enrichment.get("transcript_delta") is not None


def _without_transcript_text(payload: Mapping[str, Any]) -> dict[str, Any]:
    enrichment = dict(payload[ENRICHMENT_KEY])
    enrichment["transcript_delta"] = [
        {"path": d.path, "offset": d.offset, "bytes": len(d.text.encode("utf-8"))}
        for d in transcript_deltas(payload)
    ]
    return {**payload, ENRICHMENT_KEY: enrichment}


# ── typed access ────────────────────────────────────────────────────────────────────────────────
