"""The envelope every Claude Code hook payload shares, validated once: the fields of the event
itself (session, prompt, agent, cwd, permission mode) and what agent-trace's hook handler adds
under `agent_trace` (its clock, the user, the project, git state and new commits, and the
transcript lines it ships). The per-event records are built in claude_hooks.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent_trace.domain.records import AGENT_CLAUDE_CODE, Commit, Session, Subagent, ToolCall
from agent_trace.sources.hook_fields import (
    HookPayloadError,
    canonical_json,
    field_bool,
    field_count,
    field_int,
    field_list,
    field_mapping,
    field_str,
    json_type,
)

ENRICHMENT_KEY = "agent_trace"


@dataclass(frozen=True, slots=True)
class TranscriptDelta:
    """Transcript lines our hook handler shipped with a payload (see claude_hooks.py's docstring)."""

    path: str
    offset: int
    text: str


def transcript_deltas(payload: Mapping[str, Any]) -> tuple[TranscriptDelta, ...]:
    """The transcript lines our hook handler attached to `payload`, for the transcript source."""
    enrichment = field_mapping(payload, ENRICHMENT_KEY, "")
    if enrichment is None:
        return ()
    where = ENRICHMENT_KEY + "."
    value = enrichment.get("transcript_delta")
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    deltas: list[TranscriptDelta] = []
    for i, item in enumerate(items):
        at = f"{where}transcript_delta" + (f"[{i}]" if isinstance(value, list) else "")
        if not isinstance(item, Mapping):
            raise HookPayloadError(f"{at}: expected an object, got {json_type(item)}")
        path = field_str(item, "path", at + ".")
        text = field_str(item, "text", at + ".")
        offset = field_count(item, "offset", at + ".")
        if not path:
            raise HookPayloadError(f"{at}.path: required, a non-empty string")
        if text is None or offset is None:
            raise HookPayloadError(f"{at}: needs both `offset` and `text`")
        deltas.append(TranscriptDelta(path=path, offset=offset, text=text))
    return tuple(deltas)


# ── context ─────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Git:
    repo: str | None
    branch: str | None
    head: str | None
    base_sha: str | None
    lines_added: int | None
    lines_removed: int | None
    files_changed: int | None


def commit_files_json(item: Mapping[str, Any], where: str) -> str | None:
    """`files`: {repo-relative path: [line keys of added lines]} → canonical JSON text."""
    files = field_mapping(item, "files", where)
    if files is None:
        return None
    out: dict[str, list[str]] = {}
    for path, keys in files.items():
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise HookPayloadError(f"{where}files.{path}: expected a list of line keys (strings)")
        out[str(path)] = keys
    return canonical_json(out)


@dataclass(frozen=True, slots=True)
class Enrichment:
    ts_ms: int | None = None
    user: str | None = None
    project_dir: str | None = None
    entrypoint: str | None = None
    git: Git | None = None
    commits: tuple[Commit, ...] = ()

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> Enrichment:
        data = field_mapping(payload, ENRICHMENT_KEY, "")
        if data is None:
            return cls()
        where = ENRICHMENT_KEY + "."
        transcript_deltas(payload)  # validated here so a bad delta is a 400, not a later failure
        git_data = field_mapping(data, "git", where)
        git = None
        commits: list[Commit] = []
        if git_data is not None:
            gw = where + "git."
            git = Git(
                repo=field_str(git_data, "repo", gw),
                branch=field_str(git_data, "branch", gw),
                head=field_str(git_data, "head", gw),
                base_sha=field_str(git_data, "base_sha", gw),
                lines_added=field_count(git_data, "lines_added", gw),
                lines_removed=field_count(git_data, "lines_removed", gw),
                files_changed=field_count(git_data, "files_changed", gw),
            )
            for i, item in enumerate(field_list(git_data, "commits", gw) or []):
                cw = f"{gw}commits[{i}]"
                if not isinstance(item, Mapping):
                    raise HookPayloadError(f"{cw}: expected an object, got {json_type(item)}")
                sha = field_str(item, "sha", cw + ".")
                if not sha:
                    raise HookPayloadError(f"{cw}.sha: required, a non-empty string")
                commits.append(
                    Commit(
                        sha=sha,
                        repo=git.repo,
                        branch=git.branch,
                        message=field_str(item, "message", cw + "."),
                        author=field_str(item, "author", cw + "."),
                        ts_ms=field_int(item, "ts_ms", cw + "."),
                        files_changed=field_count(item, "files_changed", cw + "."),
                        insertions=field_count(item, "insertions", cw + "."),
                        deletions=field_count(item, "deletions", cw + "."),
                        parent_sha=field_str(item, "parent_sha", cw + "."),
                        patch_id=field_str(item, "patch_id", cw + "."),
                        files_json=commit_files_json(item, cw + "."),
                        co_authored=field_bool(item, "co_authored", cw + "."),
                    )
                )
        return cls(
            ts_ms=field_int(data, "ts_ms", where),
            user=field_str(data, "user", where),
            project_dir=field_str(data, "project_dir", where),
            entrypoint=field_str(data, "entrypoint", where),
            git=git,
            commits=tuple(commits),
        )


@dataclass(frozen=True, slots=True)
class HookContext:
    """What every event shares: the envelope fields, validated once."""

    event: str
    session_id: str | None
    received_ms: int
    ts: int
    cwd: str | None
    prompt_id: str | None
    agent_id: str | None
    agent_type: str | None
    permission_mode: str | None
    enrichment: Enrichment

    @classmethod
    def of(
        cls, payload: Mapping[str, Any], event: str, session_id: str | None, received_ms: int
    ) -> HookContext:
        enrichment = Enrichment.of(payload)
        return cls(
            event=event,
            session_id=session_id or None,
            received_ms=received_ms,
            ts=enrichment.ts_ms if enrichment.ts_ms is not None else received_ms,
            cwd=field_str(payload, "cwd") or None,
            prompt_id=field_str(payload, "prompt_id") or None,
            agent_id=field_str(payload, "agent_id") or None,
            agent_type=field_str(payload, "agent_type"),
            permission_mode=field_str(payload, "permission_mode") or None,
            enrichment=enrichment,
        )

    @property
    def sid(self) -> str:
        assert self.session_id is not None  # handlers run only for payloads with a session id
        return self.session_id

    def session(self) -> Session:
        e = self.enrichment
        main_thread = self.agent_id is None  # a subagent may run elsewhere (worktree) or in plan mode
        session = Session(
            session_id=self.sid,
            agent=AGENT_CLAUDE_CODE,
            project=e.project_dir,
            cwd=self.cwd if main_thread else None,
            user_id=e.user,
            entrypoint=e.entrypoint,
            started_ms=self.ts,
            permission_mode=self.permission_mode if main_thread else None,
        )
        if e.git is not None:
            session.git_repo = e.git.repo
            session.git_branch = e.git.branch
            session.git_head = e.git.head
            session.git_base_sha = e.git.base_sha
            session.git_lines_added = e.git.lines_added
            session.git_lines_removed = e.git.lines_removed
            session.git_files_changed = e.git.files_changed
        return session

    def commits(self) -> list[Commit]:
        return [replace(c, session_id=self.sid) for c in self.enrichment.commits]

    def subagent(self, agent_id: str, agent_type: str | None) -> Subagent:
        # Claude Code's compaction run reports as a subagent with an empty agent_type (2.1.331),
        # or as agent-acompact-<hex> in 2.1.38/39 transcripts.
        compaction = agent_type == "" or agent_id.startswith("acompact")
        return Subagent(
            session_id=self.sid,
            agent_id=agent_id,
            agent_type=agent_type or None,
            prompt_id=self.prompt_id,
            is_compaction=True if compaction else None,
        )

    def tool_call(self, tool_use_id: str, tool_name: str | None) -> ToolCall:
        return ToolCall(
            tool_use_id=tool_use_id,
            session_id=self.sid,
            tool_name=tool_name,
            agent_id=self.agent_id,
            prompt_id=self.prompt_id,
        )
