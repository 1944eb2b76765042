"""Accounts, teams, tokens, login sessions and the audit chain on every backend (with
PostgreSQL + ClickHouse they live in PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from agent_trace.domain.access import token_digest
from agent_trace.domain.audit_chain import verify_chain
from agent_trace.store.identity import IdentityError, identity_of


def test_accounts_teams_and_tokens(store: Any) -> None:
    ids = identity_of(store)
    v0 = ids.identity_version()
    ids.add_team("core", "content")
    ids.add_account("alice", "member", email="a@example.com", token_hash=token_digest("t1"))
    ids.add_account("bob", "viewer")
    ids.set_team_members("alice", ["core"])
    ids.set_team_members("bob", ["core"])
    ids.set_team_members("bob", ["core"])  # idempotent
    assert ids.identity_version() != v0
    assert ids.team_members("core") == ["alice", "bob"]
    assert ids.teams_of("alice") == {"core": ("content", ["alice", "bob"])}
    assert [(a.user_id, a.role, a.teams) for a in ids.accounts()] == [
        ("alice", "member", ("core",)),
        ("bob", "viewer", ("core",)),
    ]
    owner = ids.token_owner(token_digest("t1"))
    assert owner is not None and (owner.user_id, owner.role, owner.disabled) == ("alice", "member", False)
    ids.replace_token("alice", token_digest("t2"))
    assert ids.token_owner(token_digest("t1")) is None
    assert ids.token_owner(token_digest("t2")) is not None
    ids.set_disabled("alice", True)
    found = ids.token_owner(token_digest("t2"))
    assert found is not None and found.disabled
    with pytest.raises(IdentityError, match="already exists"):
        ids.add_account("alice", "admin")
    with pytest.raises(IdentityError, match="no team 'ghosts'"):
        ids.set_team_members("bob", ["ghosts"])
    with pytest.raises(IdentityError, match="no user"):
        ids.replace_token("nobody", token_digest("x"))


def test_login_sessions(store: Any) -> None:
    ids = identity_of(store)
    ids.add_account("alice", "admin")
    ids.open_login_session("h1", "alice", "csrf1", expires_ms=2_000)
    found = ids.login_session("h1", now_ms=1_000)
    assert found is not None and found[0].user_id == "alice" and found[1] == "csrf1"
    assert ids.login_session("h1", now_ms=3_000) is None  # expired
    ids.close_login_session("h1")
    assert ids.login_session("h1", now_ms=1_000) is None


def test_audit_chain_appends_and_verifies(store: Any) -> None:
    ids = identity_of(store)
    for i in range(5):
        ids.append_audit("root", "user_add", f"u{i}", {"role": "member", "n": i, "text": "ünïcode"})
    rows = ids.audit_rows()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert verify_chain(rows, ids.audit_head()) == []
    entries = ids.audit_entries(limit=2)
    assert [e.seq for e in entries] == [4, 5] and entries[0].detail["text"] == "ünïcode"
    tampered = [r if r[0] != 3 else (*r[:4], "someone", *r[5:]) for r in rows]
    assert [p.seq for p in verify_chain(tampered, ids.audit_head())] == [3]
    assert verify_chain(rows[:4], ids.audit_head())  # the newest one deleted: truncated
