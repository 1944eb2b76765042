"""The audit log's hash chain: pure, so the writer, `audit verify` and tests agree on one rule.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a
canonical form (JSON, sorted keys, no spaces). Editing any field of a row changes its hash;
deleting a row leaves the next row pointing at a hash that is no longer there; deleting the
newest rows is caught by comparing the head with the count and hash kept beside the log
(`audit_head` in instance settings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "content_view",
    "export",
    "search",
    "user_add",
    "user_disable",
    "user_enable",
    "user_role",
    "token_rotate",
    "password_set",
    "team_add",
    "team_member_add",
    "settings_change",
    "webhook_delivery",
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at_ms: int
    actor: str | None
    action: str
    target: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    entry_hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at_ms": self.at_ms,
            "at": datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat(timespec="milliseconds"),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": dict(self.detail),
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


def canonical_detail(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    prev_hash: str, seq: int, at_ms: int, actor: str | None, action: str, target: str | None, detail: str
) -> str:
    body = json.dumps(
        [prev_hash, seq, at_ms, actor, action, target, detail], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    message: str


def verify_chain(
    rows: Iterable[tuple[int, int, str | None, str, str | None, str, str, str]],
    head: tuple[int, str] | None,
) -> list[ChainProblem]:
    """Rows (seq, at_ms, actor, action, target, detail JSON, prev_hash, entry_hash) in seq order;
    `head` = (count, last hash) recorded when the newest entry was written. [] = intact."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    last_hash = GENESIS
    for seq, at_ms, actor, action, target, detail, prev_hash, stored_hash in rows:
        count += 1
        if seq != expected_seq:
            problems.append(ChainProblem(seq, f"entries {expected_seq}..{seq - 1} are missing (deleted)"))
        if prev_hash != expected_prev:
            problems.append(ChainProblem(seq, "does not link to the entry before it (an entry was removed)"))
        recomputed = entry_hash(prev_hash, seq, at_ms, actor, action, target, detail)
        if recomputed != stored_hash:
            problems.append(ChainProblem(seq, "its content does not match its hash (the entry was edited)"))
        expected_prev = stored_hash
        expected_seq = seq + 1
        last_hash = stored_hash
    if head is not None:
        head_count, head_hash = head
        if head_count > count or (head_count == count and head_hash != last_hash):
            problems.append(
                ChainProblem(
                    count, f"the log ends at entry {count}, but {head_count} were written (truncated)"
                )
            )
    return problems


def chain_json(entries: int, problems: Sequence[ChainProblem]) -> dict[str, Any]:
    """Whether the hash chain is intact: `audit verify --json` and `/v1/audit`'s `chain`."""
    return {
        "ok": not problems,
        "entries": entries,
        "problems": [{"seq": p.seq, "message": p.message} for p in problems],
    }
