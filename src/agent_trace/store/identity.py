"""The identity part of a store: accounts, teams, tokens, login sessions, the audit log.

Kept in the SQL database on every backend (with PostgreSQL + ClickHouse, in PostgreSQL): these
are few rows, changed by people, read by key. `store.sql.identity.SqlIdentity` implements it;
`SqlStore` (and so `HybridStore`) inherit it. `identity_of(store)` is how callers reach it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent_trace.domain.audit_chain import AuditEntry


class IdentityError(ValueError):
    """A change that breaks a rule (unknown user, duplicate name, …); the message says which."""


@dataclass(frozen=True, slots=True)
class Account:
    user_id: str
    email: str | None
    display_name: str | None
    role: str
    disabled: bool
    source: str  # cli | oidc
    has_password: bool
    teams: tuple[str, ...]
    created_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.user_id,
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "disabled": self.disabled,
            "source": self.source,
            "has_password": self.has_password,
            "teams": list(self.teams),
            "created_ms": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    member_access: str  # metadata | content
    members: tuple[str, ...]
    created_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.team_id,
            "member_access": self.member_access,
            "members": list(self.members),
            "created_ms": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Who a token or login session belongs to, with what decides their access."""

    user_id: str
    role: str
    disabled: bool


@runtime_checkable
class IdentityStore(Protocol):
    def identity_version(self) -> str:
        """A number that changes whenever an account, token, team or login session changes
        (caches of token → user compare it on every request)."""

    def identity_marker(self) -> Path | None:
        """A file touched whenever identity_version changes (SQLite: a cache reads it instead of
        asking the database on every request), or None where there is none."""

    def add_account(
        self,
        user_id: str,
        role: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        source: str = "cli",
        oidc_subject: str | None = None,
        token_hash: str | None = None,
    ) -> Account: ...

    def account(self, user_id: str) -> Account | None: ...

    def account_by_subject(self, oidc_subject: str) -> Account | None: ...

    def accounts(self) -> list[Account]: ...

    def set_disabled(self, user_id: str, disabled: bool) -> None: ...

    def set_role(self, user_id: str, role: str) -> None: ...

    def set_password_hash(self, user_id: str, password_hash: str | None) -> None: ...

    def password_hash(self, user_id: str) -> str | None: ...

    def replace_token(self, user_id: str, token_hash: str) -> None:
        """The user's only token is now this one: every older token stops working at once."""

    def token_owner(self, token_hash: str) -> TokenOwner | None: ...

    def add_team(self, team_id: str, member_access: str = "metadata") -> Team: ...

    def teams(self) -> list[Team]: ...

    def set_team_access(self, team_id: str, member_access: str) -> None: ...

    def set_team_members(self, user_id: str, team_ids: Sequence[str]) -> None:
        """Add `user_id` to these teams (creating none: unknown teams raise IdentityError)."""

    def team_members(self, team_id: str) -> list[str]:
        """The user ids in team `team_id` (budgets and reports ask this one question)."""

    def teams_of(self, user_id: str) -> dict[str, tuple[str, list[str]]]:
        """team → (member_access, members) for every team `user_id` belongs to."""

    def session_owners(self, session_ids: Sequence[str]) -> dict[str, str | None]: ...

    def open_login_session(
        self, session_hash: str, user_id: str, csrf_token: str, expires_ms: int
    ) -> None: ...

    def login_session(self, session_hash: str, now_ms: int) -> tuple[TokenOwner, str] | None:
        """(owner, csrf token) of a live login session."""

    def close_login_session(self, session_hash: str) -> None: ...

    def append_audit(
        self, actor: str | None, action: str, target: str | None, detail: Mapping[str, Any]
    ) -> AuditEntry: ...

    def audit_entries(self, since_ms: int | None = None, limit: int | None = None) -> list[AuditEntry]: ...

    def audit_rows(self) -> list[tuple[int, int, str | None, str, str | None, str, str, str]]:
        """Every audit row in seq order, as stored (for `audit verify`)."""

    def audit_head(self) -> tuple[int, str] | None: ...


def identity_of(store: Any) -> IdentityStore:
    if not isinstance(store, IdentityStore):
        raise TypeError(f"{type(store).__name__} keeps no accounts")
    return store
