"""Accounts, teams, tokens, login sessions and the audit log in SQL (see store/identity.py).

Portable SQL text through the SqlRunner, like the rest of the adapter. Every change also renews
`identity_version` (instance settings) in the same transaction, which is what lets a collector
cache token → user and still refuse a rotated token on the very next request.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_trace.domain.audit_chain import GENESIS, AuditEntry, canonical_detail, entry_hash
from agent_trace.store.identity import Account, IdentityError, Team, TokenOwner
from agent_trace.store.sql.identity_marker import touch
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import chunks, in_params, now_ms
from agent_trace.store.sql.urls import sqlite_file

AUDIT_LOCK_KEY = 0x15A0D17  # pg_advisory_xact_lock key: one audit appender at a time
_SET_SETTING = (
    "INSERT INTO instance_settings (key, value, updated_ms) VALUES (:key, :value, :now) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms"
)
_ACCOUNT_COLUMNS = (
    "user_id, email, display_name, role, disabled, password_hash IS NOT NULL, source, created_ms"
)
AuditRow = tuple[int, int, str | None, str, str | None, str, str, str]


class SqlIdentity:
    runner: SqlRunner
    dialect: str
    url: str | None

    # -- versions ---------------------------------------------------------------------------

    def identity_version(self) -> str:
        rows = self.runner.query("SELECT value FROM instance_settings WHERE key = 'identity_version'")
        return str(rows[0][0]) if rows else ""

    def identity_marker(self) -> Path | None:
        """On a SQLite file: a small file beside it, replaced after every identity change.

        A collector reads it from memory on every request and reads `identity_version` only when
        it changed (store/sql/identity_marker.py); a query per request cost ~20 % of a hook POST."""
        path = sqlite_file(self.url) if self.url else None
        return None if path is None else path.with_name(path.name + "-identity")

    def _bump(self) -> None:
        self.runner.execute(
            _SET_SETTING, {"key": "identity_version", "value": uuid.uuid4().hex, "now": now_ms()}
        )

    def _changed(self) -> None:
        """After an identity change committed: tell same-machine caches (see identity_marker)."""
        marker = self.identity_marker()
        if marker is None:
            return
        with contextlib.suppress(OSError):  # caches then read the version from the database
            touch(str(marker))

    # -- accounts ---------------------------------------------------------------------------

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
        run = self.runner
        now = now_ms()
        with run.transaction():
            if run.query("SELECT 1 FROM accounts WHERE user_id = :u", {"u": user_id}):
                raise IdentityError(f"user {user_id!r} already exists")
            run.execute(
                "INSERT INTO accounts (user_id, email, display_name, role, disabled, source, "
                "oidc_subject, created_ms, updated_ms) VALUES (:u, :email, :name, :role, 0, :source, "
                ":subject, :now, :now)",
                {
                    "u": user_id,
                    "email": email,
                    "name": display_name,
                    "role": role,
                    "source": source,
                    "subject": oidc_subject,
                    "now": now,
                },
            )
            if token_hash is not None:
                run.execute(
                    "INSERT INTO api_tokens (token_hash, user_id, created_ms) VALUES (:h, :u, :now)",
                    {"h": token_hash, "u": user_id, "now": now},
                )
            self._bump()
        self._changed()
        found = self.account(user_id)
        assert found is not None
        return found

    def _account_rows(self, where: str, params: Mapping[str, Any]) -> list[Account]:
        rows = self.runner.query(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts {where} ORDER BY user_id", params)
        teams: dict[str, list[str]] = {}
        for team_id, user_id in self.runner.query(
            "SELECT team_id, user_id FROM team_members ORDER BY team_id"
        ):
            teams.setdefault(str(user_id), []).append(str(team_id))
        return [
            Account(
                user_id=str(r[0]),
                email=r[1],
                display_name=r[2],
                role=str(r[3]),
                disabled=bool(r[4]),
                has_password=bool(r[5]),
                source=str(r[6]),
                teams=tuple(teams.get(str(r[0]), ())),
                created_ms=int(r[7]),
            )
            for r in rows
        ]

    def account(self, user_id: str) -> Account | None:
        found = self._account_rows("WHERE user_id = :u", {"u": user_id})
        return found[0] if found else None

    def account_by_subject(self, oidc_subject: str) -> Account | None:
        found = self._account_rows("WHERE oidc_subject = :s", {"s": oidc_subject})
        return found[0] if found else None

    def accounts(self) -> list[Account]:
        return self._account_rows("", {})

    def _update_account(self, user_id: str, assignments: str, params: Mapping[str, Any]) -> None:
        run = self.runner
        with run.transaction():
            if not run.query("SELECT 1 FROM accounts WHERE user_id = :u", {"u": user_id}):
                raise IdentityError(f"no user {user_id!r} (see `agent-trace users list`)")
            run.execute(
                f"UPDATE accounts SET {assignments}, updated_ms = :now WHERE user_id = :u",
                {**params, "u": user_id, "now": now_ms()},
            )
            self._bump()
        self._changed()

    def set_disabled(self, user_id: str, disabled: bool) -> None:
        self._update_account(user_id, "disabled = :d", {"d": 1 if disabled else 0})
        if disabled:  # signed-in browsers lose access at once, not when their cookie expires
            with self.runner.transaction():
                self.runner.execute("DELETE FROM login_sessions WHERE user_id = :u", {"u": user_id})

    def set_role(self, user_id: str, role: str) -> None:
        self._update_account(user_id, "role = :r", {"r": role})

    def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        self._update_account(user_id, "password_hash = :p", {"p": password_hash})

    def password_hash(self, user_id: str) -> str | None:
        rows = self.runner.query("SELECT password_hash FROM accounts WHERE user_id = :u", {"u": user_id})
        return rows[0][0] if rows else None

    # -- tokens -----------------------------------------------------------------------------

    def replace_token(self, user_id: str, token_hash: str) -> None:
        run = self.runner
        with run.transaction():
            if not run.query("SELECT 1 FROM accounts WHERE user_id = :u", {"u": user_id}):
                raise IdentityError(f"no user {user_id!r} (see `agent-trace users list`)")
            run.execute("DELETE FROM api_tokens WHERE user_id = :u", {"u": user_id})
            run.execute(
                "INSERT INTO api_tokens (token_hash, user_id, created_ms) VALUES (:h, :u, :now)",
                {"h": token_hash, "u": user_id, "now": now_ms()},
            )
            self._bump()
        self._changed()

    def token_owner(self, token_hash: str) -> TokenOwner | None:
        rows = self.runner.query(
            "SELECT a.user_id, a.role, a.disabled FROM api_tokens t JOIN accounts a "
            "ON a.user_id = t.user_id WHERE t.token_hash = :h",
            {"h": token_hash},
        )
        if not rows:
            return None
        return TokenOwner(str(rows[0][0]), str(rows[0][1]), bool(rows[0][2]))

    # -- teams ------------------------------------------------------------------------------

    def add_team(self, team_id: str, member_access: str = "metadata") -> Team:
        run = self.runner
        with run.transaction():
            if run.query("SELECT 1 FROM teams WHERE team_id = :t", {"t": team_id}):
                raise IdentityError(f"team {team_id!r} already exists")
            run.execute(
                "INSERT INTO teams (team_id, member_access, created_ms) VALUES (:t, :a, :now)",
                {"t": team_id, "a": member_access, "now": now_ms()},
            )
            self._bump()
        self._changed()
        return Team(team_id, member_access, (), now_ms())

    def set_team_access(self, team_id: str, member_access: str) -> None:
        run = self.runner
        with run.transaction():
            if not run.query("SELECT 1 FROM teams WHERE team_id = :t", {"t": team_id}):
                raise IdentityError(f"no team {team_id!r} (see `agent-trace teams list`)")
            run.execute(
                "UPDATE teams SET member_access = :a WHERE team_id = :t", {"a": member_access, "t": team_id}
            )
            self._bump()
        self._changed()

    def teams(self) -> list[Team]:
        members: dict[str, list[str]] = {}
        for team_id, user_id in self.runner.query(
            "SELECT team_id, user_id FROM team_members ORDER BY user_id"
        ):
            members.setdefault(str(team_id), []).append(str(user_id))
        return [
            Team(str(t), str(a), tuple(members.get(str(t), ())), int(c))
            for t, a, c in self.runner.query(
                "SELECT team_id, member_access, created_ms FROM teams ORDER BY team_id"
            )
        ]

    def set_team_members(self, user_id: str, team_ids: Sequence[str]) -> None:
        run = self.runner
        with run.transaction():
            known = {str(r[0]) for r in run.query("SELECT team_id FROM teams")}
            unknown = [t for t in team_ids if t not in known]
            if unknown:
                raise IdentityError(
                    f"no team {unknown[0]!r}: create it first with `agent-trace teams add {unknown[0]}`"
                )
            for team_id in dict.fromkeys(team_ids):
                if not run.query(
                    "SELECT 1 FROM team_members WHERE team_id = :t AND user_id = :u",
                    {"t": team_id, "u": user_id},
                ):
                    run.execute(
                        "INSERT INTO team_members (team_id, user_id) VALUES (:t, :u)",
                        {"t": team_id, "u": user_id},
                    )
            self._bump()
        self._changed()

    def team_members(self, team_id: str) -> list[str]:
        return [
            str(r[0])
            for r in self.runner.query(
                "SELECT user_id FROM team_members WHERE team_id = :t ORDER BY user_id", {"t": team_id}
            )
        ]

    def teams_of(self, user_id: str) -> dict[str, tuple[str, list[str]]]:
        rows = self.runner.query(
            "SELECT t.team_id, t.member_access, m2.user_id FROM team_members m "
            "JOIN teams t ON t.team_id = m.team_id JOIN team_members m2 ON m2.team_id = m.team_id "
            "WHERE m.user_id = :u ORDER BY t.team_id, m2.user_id",
            {"u": user_id},
        )
        out: dict[str, tuple[str, list[str]]] = {}
        for team_id, access, member in rows:
            out.setdefault(str(team_id), (str(access), []))[1].append(str(member))
        return out

    def session_owners(self, session_ids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        unique = list(dict.fromkeys(session_ids))
        for chunk in chunks(unique):
            placeholders, params = in_params("s", chunk)
            for sid, user_id in self.runner.query(
                f"SELECT session_id, user_id FROM sessions WHERE session_id IN ({placeholders})", params
            ):
                out[str(sid)] = user_id
        return out

    # -- login sessions ---------------------------------------------------------------------

    def open_login_session(self, session_hash: str, user_id: str, csrf_token: str, expires_ms: int) -> None:
        run = self.runner
        with run.transaction():
            now = now_ms()
            run.execute("DELETE FROM login_sessions WHERE expires_ms < :now", {"now": now})
            run.execute(
                "INSERT INTO login_sessions (session_hash, user_id, csrf_token, created_ms, expires_ms) "
                "VALUES (:h, :u, :c, :now, :e)",
                {"h": session_hash, "u": user_id, "c": csrf_token, "now": now, "e": expires_ms},
            )

    def login_session(self, session_hash: str, now_ms: int) -> tuple[TokenOwner, str] | None:
        rows = self.runner.query(
            "SELECT a.user_id, a.role, a.disabled, s.csrf_token FROM login_sessions s JOIN accounts a "
            "ON a.user_id = s.user_id WHERE s.session_hash = :h AND s.expires_ms > :now",
            {"h": session_hash, "now": now_ms},
        )
        if not rows:
            return None
        r = rows[0]
        return TokenOwner(str(r[0]), str(r[1]), bool(r[2])), str(r[3])

    def close_login_session(self, session_hash: str) -> None:
        with self.runner.transaction():
            self.runner.execute("DELETE FROM login_sessions WHERE session_hash = :h", {"h": session_hash})

    # -- audit ------------------------------------------------------------------------------

    def append_audit(
        self, actor: str | None, action: str, target: str | None, detail: Mapping[str, Any]
    ) -> AuditEntry:
        run = self.runner
        text = canonical_detail(detail)
        with run.transaction():
            if self.dialect == "postgresql":
                run.query("SELECT pg_advisory_xact_lock(:key)", {"key": AUDIT_LOCK_KEY})
            last = run.query("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq, prev = (int(last[0][0]) + 1, str(last[0][1])) if last else (1, GENESIS)
            at = now_ms()
            digest = entry_hash(prev, seq, at, actor, action, target, text)
            run.execute(
                "INSERT INTO audit_log (seq, at_ms, actor, action, target, detail, prev_hash, entry_hash) "
                "VALUES (:seq, :at, :actor, :action, :target, :detail, :prev, :hash)",
                {
                    "seq": seq,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "detail": text,
                    "prev": prev,
                    "hash": digest,
                },
            )
            # The head (count and newest hash) kept apart from the log: deleting the newest rows
            # leaves a chain that is valid in itself, but shorter than the head says.
            run.execute(_SET_SETTING, {"key": "audit_head", "value": f"{seq} {digest}", "now": at})
        return AuditEntry(seq, at, actor, action, target, detail, prev, digest)

    def audit_entries(self, since_ms: int | None = None, limit: int | None = None) -> list[AuditEntry]:
        import json

        sql = "SELECT seq, at_ms, actor, action, target, detail, prev_hash, entry_hash FROM audit_log"
        params: dict[str, Any] = {}
        if since_ms is not None:
            sql += " WHERE at_ms >= :since"
            params["since"] = since_ms
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        rows = self.runner.query(sql, params)
        return [
            AuditEntry(int(r[0]), int(r[1]), r[2], str(r[3]), r[4], json.loads(r[5]), str(r[6]), str(r[7]))
            for r in reversed(rows)
        ]

    def audit_rows(self) -> list[AuditRow]:
        return [
            (int(r[0]), int(r[1]), r[2], str(r[3]), r[4], str(r[5]), str(r[6]), str(r[7]))
            for r in self.runner.query(
                "SELECT seq, at_ms, actor, action, target, detail, prev_hash, entry_hash "
                "FROM audit_log ORDER BY seq"
            )
        ]

    def audit_head(self) -> tuple[int, str] | None:
        rows = self.runner.query("SELECT value FROM instance_settings WHERE key = 'audit_head'")
        if not rows:
            return None
        count, _, digest = str(rows[0][0]).partition(" ")
        return int(count), digest
