"""Who may see what: the one policy every route, page, stream, search and export asks.

Pure rules over a `Principal` (who is asking) and a session's owner. Three roles:

- admin: everything; manages people, teams, settings; reads the audit log.
- member: the content (prompts, tool inputs/outputs, responses) of their own sessions and of the
  sessions of team-mates in a team whose `member_access` is "content"; metadata (ids, project,
  numbers) of every other session; all aggregates.
- viewer: metadata and aggregates only, never content.

With auth off there is one implicit principal, the local admin (`LOCAL_ADMIN`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from agent_trace.domain.records import RecordBatch, Session


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


ROLES = tuple(r.value for r in Role)
TEAM_ACCESS_LEVELS = ("metadata", "content")


class Need(StrEnum):
    """What a route needs, declared where the route is made (server/access.py enforces it)."""

    OPEN = "open"  # anyone, even anonymous (health, login form, static files)
    AGGREGATE = "aggregate"  # any signed-in role: analytics, team numbers, CSV of them
    LIST = "list"  # session rows: each row without content unless the principal may read it
    SESSION = "session"  # one session's content (id in the path or `session_id=`): checked per session
    ADMIN = "admin"  # people, teams, settings, the audit log


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: Role
    # Users whose sessions' content this principal may read (self + content-level team-mates).
    content_users: frozenset[str] = field(default_factory=frozenset)
    teams: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


LOCAL_ADMIN = Principal(user_id="local", role=Role.ADMIN)
# Auth on, nobody signed in (what open pages such as the sign-in form see): may read nothing.
ANONYMOUS = Principal(user_id="", role=Role.VIEWER)


def allows(principal: Principal | None, need: Need) -> bool:
    if need is Need.OPEN:
        return True
    if principal is None:
        return False
    if need is Need.ADMIN:
        return principal.is_admin
    return True  # AGGREGATE, LIST, SESSION: content is then decided per session


def may_read_content(principal: Principal, owner: str | None) -> bool:
    """May this principal read the prompts, tool calls and responses of a session owned by `owner`?"""
    if principal.is_admin:
        return True
    if principal.role is Role.VIEWER or owner is None:
        return False
    return owner in principal.content_users


def content_users(user_id: str, role: Role, team_levels: dict[str, tuple[str, list[str]]]) -> frozenset[str]:
    """`team_levels`: team → (member_access, members) for the teams `user_id` belongs to."""
    if role is Role.VIEWER:
        return frozenset()
    users = {user_id}
    for level, members in team_levels.values():
        if level == "content":
            users.update(members)
    return frozenset(users)


# Fields of a session row that carry content: what a person typed or the agent answered. The
# title is the first prompt's text (or the agent's summary of it), so it counts as content.
SESSION_CONTENT_FIELDS = ("title", "first_prompt")


def redact_session_row(principal: Principal, row: dict[str, object]) -> dict[str, object]:
    """The API's session row (server/api/service.py `session_row`, owner under "user") as this
    principal may see it: a copy without content when they may not read it."""
    owner = row.get("user")
    if may_read_content(principal, owner if isinstance(owner, str) else None):
        return row
    out = dict(row)
    for name in SESSION_CONTENT_FIELDS:
        if name in out:
            out[name] = None
    out["content_hidden"] = True
    return out


# -- tokens ----------------------------------------------------------------------------------

TOKEN_PREFIX = "at_"


def new_token() -> str:
    """A personal token: 256 random bits, recognisable by its prefix (secret scanners, logs)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token or login session id. A fast hash is right here: the secret
    has 256 random bits, so there is nothing to brute-force (passwords use argon2 instead)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    token = authorization[7:].strip()
    return token or None


def session_ids_of(batch: RecordBatch) -> set[str]:
    """Every session a batch writes or touches."""
    ids = {s.session_id for s in batch.sessions}
    for group in (batch.prompts, batch.llm_calls, batch.tool_calls, batch.file_touches, batch.subagents):
        ids.update(r.session_id for r in group)
    ids.update(c.session_id for c in batch.commits if c.session_id)
    ids.update(e.session_id for e in batch.raw_events if e.session_id)
    return ids


def attribute(batch: RecordBatch, user_id: str, session_ids: set[str] | None = None) -> None:
    """Every session `batch` writes or touches belongs to `user_id`, whatever the payload said:
    with auth on, the sender's token decides who a record is from (no spoofing)."""
    named: set[str] = set()
    for session in batch.sessions:
        session.user_id = user_id
        named.add(session.session_id)
    for session_id in sorted((session_ids if session_ids is not None else session_ids_of(batch)) - named):
        batch.sessions.append(Session(session_id=session_id, user_id=user_id))
