"""A small team world for access tests: accounts, teams, sessions with recognisable content.

- root (admin), alice (member, team "core" with content sharing), dave (member, team "core"),
  bob (member, team "ops", metadata sharing), carol (viewer, no team).
- One session per developer (alice, bob, dave), each with a prompt and a tool call whose text
  contains SECRET_<owner>, so a test can tell whether content reached a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_trace.domain.access import new_token, token_digest
from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage
from agent_trace.store.identity import identity_of

T0 = 1_770_000_000_000  # 2026-02-02
OWNERS = ("alice", "bob", "dave")
PEOPLE = {"root": "admin", "alice": "member", "dave": "member", "bob": "member", "carol": "viewer"}


def secret(owner: str) -> str:
    return f"SECRET_{owner}"


def session_id(owner: str) -> str:
    return f"sess-{owner}-0000"


@dataclass
class World:
    tokens: dict[str, str]
    sessions: dict[str, str]  # owner → session id


def build_world(store: Any) -> World:
    ids = identity_of(store)
    ids.add_team("core", "content")
    ids.add_team("ops", "metadata")
    tokens: dict[str, str] = {}
    for name, role in PEOPLE.items():
        token = new_token()
        ids.add_account(name, role, token_hash=token_digest(token))
        tokens[name] = token
    ids.set_team_members("alice", ["core"])
    ids.set_team_members("dave", ["core"])
    ids.set_team_members("bob", ["ops"])
    batch = RecordBatch()
    for i, owner in enumerate(OWNERS):
        sid = session_id(owner)
        start = T0 + i * 60_000
        batch.sessions.append(
            Session(
                session_id=sid,
                agent="claude-code",
                project=f"/work/{owner}-proj",
                user_id=owner,
                started_ms=start,
            )
        )
        batch.prompts.append(
            Prompt(
                prompt_id=f"p-{owner}",
                session_id=sid,
                ts_ms=start,
                kind="prompt",
                text=f"please fix {secret(owner)}",
            )
        )
        batch.llm_calls.append(
            LlmCall(
                call_id=f"c-{owner}",
                session_id=sid,
                prompt_id=f"p-{owner}",
                ts_ms=start + 1000,
                model="claude-sonnet-4-5",
                usage=Usage(input_tokens=100 * (i + 1), output_tokens=10 * (i + 1)),
                cost_nusd=1_000_000 * (i + 1),
            )
        )
        batch.tool_calls.append(
            ToolCall(
                tool_use_id=f"t-{owner}",
                session_id=sid,
                tool_name="Bash",
                prompt_id=f"p-{owner}",
                started_ms=start + 2000,
                ended_ms=start + 3000,
                status="success",
                input_json=f'{{"command": "echo {secret(owner)}"}}',
                output_text=secret(owner),
            )
        )
    store.write(batch)
    store.refresh_derived()
    return World(tokens, {o: session_id(o) for o in OWNERS})
