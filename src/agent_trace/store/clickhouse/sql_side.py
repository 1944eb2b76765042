"""The part of the hybrid store kept in SQL, delegated explicitly to the SqlStore it holds.

Sessions, import progress, the change feed, users, settings, budgets and identity are small SQL
tables on every backend (with ClickHouse, in PostgreSQL): the hybrid store answers them from its
SqlStore unchanged. Each method is written out, so adding one to the port means deciding here
(or in hybrid.py, for what reads the records) where it is answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_trace.domain.audit_chain import AuditEntry
from agent_trace.domain.budgets import AlertDelivery, Budget, BudgetAlert
from agent_trace.store.identity import Account, Team, TokenOwner
from agent_trace.store.port import (
    Change,
    FileState,
    Filters,
    OutcomeRow,
    SessionPage,
    SessionQuery,
    TranscriptCursor,
    UserInfo,
)
from agent_trace.store.sql.adapter import SqlStore
from agent_trace.store.sql.identity import AuditRow


class SqlSide:
    """Delegations of the hybrid store to its SqlStore (`self.sql`)."""

    sql: SqlStore

    # -- import/feed/settings/sessions --

    def file_states(self) -> dict[str, FileState]:
        return self.sql.file_states()

    def transcript_cursor(self, session_id: str, path: str) -> TranscriptCursor | None:
        return self.sql.transcript_cursor(session_id, path)

    def save_transcript_cursors(self, cursors: list[TranscriptCursor]) -> None:
        self.sql.save_transcript_cursors(cursors)

    def find_session_ids(self, prefix: str, limit: int = 10) -> list[str]:
        return self.sql.find_session_ids(prefix, limit)

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        return self.sql.changes_since(seq, limit)

    def last_change_seq(self) -> int:
        return self.sql.last_change_seq()

    def users(self) -> list[UserInfo]:
        return self.sql.users()

    def instance_settings(self) -> dict[str, str]:
        return self.sql.instance_settings()

    def set_instance_setting(self, key: str, value: str) -> None:
        self.sql.set_instance_setting(key, value)

    def list_sessions(self, query: SessionQuery) -> SessionPage:
        return self.sql.list_sessions(query)

    def outcome_rows(self, filters: Filters) -> list[OutcomeRow]:
        return self.sql.outcome_rows(filters)

    def session_commits(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self.sql.session_commits(session_ids)

    def schema_revision(self) -> str | None:
        return self.sql.schema_revision()

    def downgrade_schema(self, revision: str) -> None:
        self.sql.downgrade_schema(revision)

    # -- budgets --

    def budgets(self) -> list[Budget]:
        return self.sql.budgets()

    def save_budget(self, budget: Budget) -> None:
        self.sql.save_budget(budget)

    def delete_budget(self, budget_id: str) -> bool:
        return self.sql.delete_budget(budget_id)

    def record_alert(self, alert: BudgetAlert, channels: Sequence[str]) -> bool:
        return self.sql.record_alert(alert, channels)

    def budget_alerts(self, since_ms: int = 0, limit: int = 200) -> list[BudgetAlert]:
        return self.sql.budget_alerts(since_ms, limit)

    def alert_deliveries(self, limit: int = 200) -> list[AlertDelivery]:
        return self.sql.alert_deliveries(limit)

    def claim_deliveries(self, now: int, limit: int = 20) -> list[tuple[AlertDelivery, BudgetAlert]]:
        return self.sql.claim_deliveries(now, limit)

    def finish_delivery(self, delivery: AlertDelivery) -> None:
        self.sql.finish_delivery(delivery)

    def allow_session(self, session_id: str) -> None:
        self.sql.allow_session(session_id)

    def allowed_sessions(self) -> set[str]:
        return self.sql.allowed_sessions()

    # -- identity --

    def identity_version(self) -> str:
        return self.sql.identity_version()

    def identity_marker(self) -> Path | None:
        return self.sql.identity_marker()

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
    ) -> Account:
        return self.sql.add_account(
            user_id,
            role,
            email=email,
            display_name=display_name,
            source=source,
            oidc_subject=oidc_subject,
            token_hash=token_hash,
        )

    def account(self, user_id: str) -> Account | None:
        return self.sql.account(user_id)

    def account_by_subject(self, oidc_subject: str) -> Account | None:
        return self.sql.account_by_subject(oidc_subject)

    def accounts(self) -> list[Account]:
        return self.sql.accounts()

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        self.sql.set_disabled(user_id, disabled)

    def set_role(self, user_id: str, role: str) -> None:
        self.sql.set_role(user_id, role)

    def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        self.sql.set_password_hash(user_id, password_hash)

    def password_hash(self, user_id: str) -> str | None:
        return self.sql.password_hash(user_id)

    def replace_token(self, user_id: str, token_hash: str) -> None:
        self.sql.replace_token(user_id, token_hash)

    def token_owner(self, token_hash: str) -> TokenOwner | None:
        return self.sql.token_owner(token_hash)

    def add_team(self, team_id: str, member_access: str = "metadata") -> Team:
        return self.sql.add_team(team_id, member_access)

    def set_team_access(self, team_id: str, member_access: str) -> None:
        self.sql.set_team_access(team_id, member_access)

    def teams(self) -> list[Team]:
        return self.sql.teams()

    def set_team_members(self, user_id: str, team_ids: Sequence[str]) -> None:
        self.sql.set_team_members(user_id, team_ids)

    def team_members(self, team_id: str) -> list[str]:
        return self.sql.team_members(team_id)

    def teams_of(self, user_id: str) -> dict[str, tuple[str, list[str]]]:
        return self.sql.teams_of(user_id)

    def session_owners(self, session_ids: Sequence[str]) -> dict[str, str | None]:
        return self.sql.session_owners(session_ids)

    def open_login_session(self, session_hash: str, user_id: str, csrf_token: str, expires_ms: int) -> None:
        self.sql.open_login_session(session_hash, user_id, csrf_token, expires_ms)

    def login_session(self, session_hash: str, now_ms: int) -> tuple[TokenOwner, str] | None:
        return self.sql.login_session(session_hash, now_ms)

    def close_login_session(self, session_hash: str) -> None:
        self.sql.close_login_session(session_hash)

    def append_audit(
        self, actor: str | None, action: str, target: str | None, detail: Mapping[str, Any]
    ) -> AuditEntry:
        return self.sql.append_audit(actor, action, target, detail)

    def audit_entries(self, since_ms: int | None = None, limit: int | None = None) -> list[AuditEntry]:
        return self.sql.audit_entries(since_ms, limit)

    def audit_rows(self) -> list[AuditRow]:
        return self.sql.audit_rows()

    def audit_head(self) -> tuple[int, str] | None:
        return self.sql.audit_head()
