"""One call per API response across sources, and one owner per call across sessions (issue 10).

Both stores keep these facts in SQL (the hybrid store too: its sessions are there):

- `call_aliases` (request id → call key). A call's key is "msg:" + message.id; OTLP records know
  only the request id. Before a batch is written, `resolve` rewrites the key of every call and
  tool call that names a request id held by a known call to that call's key. When several
  messages share one request id, the smallest key holds it (`_ALIAS_MIN`): deterministic, and
  the other messages stay separate calls. A call first stored under its bare request id (OTLP
  came first) is folded into the message's call when the message arrives: `Resolution.folds`.
- `call_holders` (call key, session). A call copied into a resumed or forked file is held by
  several sessions; its owner is the holder that started first (ties: the smaller session id),
  re-decided whenever a holder's start or the set of holders changes: `owners`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agent_trace.domain.records import MESSAGE_KEY_PREFIX, RecordBatch
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import chunks, in_params

_ALIAS_MIN = (
    "INSERT INTO call_aliases (request_id, call_id) VALUES (:request_id, :call_id) "
    "ON CONFLICT (request_id) DO UPDATE SET call_id = CASE WHEN excluded.call_id < call_aliases.call_id "
    "THEN excluded.call_id ELSE call_aliases.call_id END"
)
ADD_HOLDER = (
    "INSERT INTO call_holders (call_id, session_id) VALUES (:call_id, :session_id) "
    "ON CONFLICT (call_id, session_id) DO NOTHING"
)


@dataclass
class Resolution:
    aliases: dict[str, str] = field(default_factory=dict)  # request id → call key, after this batch
    new_aliases: dict[str, str] = field(default_factory=dict)  # those this batch brings
    # (bare request-id key, message key): a call stored under its request id that this batch
    # shows is the message's call; the store merges the first into the second and drops it.
    folds: list[tuple[str, str]] = field(default_factory=list)


def _lookup(runner: SqlRunner, request_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(request_ids))):
        placeholders, params = in_params("r", chunk)
        for r in runner.query(
            f"SELECT request_id, call_id FROM call_aliases WHERE request_id IN ({placeholders})", params
        ):
            found[str(r[0])] = str(r[1])
    return found


def resolve(runner: SqlRunner, batch: RecordBatch) -> Resolution:
    """Rewrite the batch's request-id keys to call keys (in place); see the module docstring."""
    out = Resolution()
    for call in batch.llm_calls:
        if call.message_id and call.request_id:
            best = out.new_aliases.get(call.request_id)
            if best is None or call.call_id < best:
                out.new_aliases[call.request_id] = call.call_id
    # Only keys that may be bare request ids are looked up: a transcript batch has none.
    bare = {c.call_id for c in batch.llm_calls if not c.message_id and c.request_id}
    bare |= {
        t.call_id for t in batch.tool_calls if t.call_id and not t.call_id.startswith(MESSAGE_KEY_PREFIX)
    }
    stored = _lookup(runner, sorted(bare))
    out.aliases = dict(stored)
    for request_id, key in out.new_aliases.items():
        if request_id not in stored or key < stored[request_id]:
            out.aliases[request_id] = key
        # A call stored under this bare request id (only possible while no alias named it) is
        # merged into the message's call; the store checks whether there is one.
        if request_id != key:
            out.folds.append((request_id, key))
    for call in batch.llm_calls:
        if not call.message_id and call.request_id and call.request_id in out.aliases:
            call.call_id = out.aliases[call.request_id]
    for tool in batch.tool_calls:
        if tool.call_id and tool.call_id in out.aliases:
            tool.call_id = out.aliases[tool.call_id]
    return out


def save(runner: SqlRunner, resolution: Resolution, holders: Iterable[tuple[str, str]]) -> None:
    runner.execute_many(
        _ALIAS_MIN, [{"request_id": r, "call_id": k} for r, k in sorted(resolution.new_aliases.items())]
    )
    runner.execute_many(ADD_HOLDER, [{"call_id": c, "session_id": s} for c, s in sorted(set(holders))])


def move_holders(runner: SqlRunner, bare: str, key: str) -> None:
    """A call stored under its bare request id was merged into `key`: its holders hold `key`."""
    holders = runner.query("SELECT session_id FROM call_holders WHERE call_id = :k", {"k": bare})
    runner.execute_many(ADD_HOLDER, [{"call_id": key, "session_id": h[0]} for h in holders])
    runner.execute("DELETE FROM call_holders WHERE call_id = :k", {"k": bare})


def affected_calls(runner: SqlRunner, call_ids: Iterable[str], restarted_sessions: Iterable[str]) -> set[str]:
    """The calls whose owner may change: those written now and those held by sessions whose start
    moved (a session's start only moves earlier as more of it is read)."""
    out = set(call_ids)
    for chunk in chunks(sorted(set(restarted_sessions))):
        placeholders, params = in_params("s", chunk)
        out.update(
            str(r[0])
            for r in runner.query(
                f"SELECT call_id FROM call_holders WHERE session_id IN ({placeholders})", params
            )
        )
    return out


def owners(runner: SqlRunner, call_ids: Iterable[str]) -> dict[str, str]:
    """call key → the session that owns it: the earliest-starting holder (unknown starts last,
    ties broken by the smaller session id). Only calls held by two sessions or more are
    answered: a call with one holder is stored under it already."""
    best: dict[str, tuple[bool, int, str]] = {}
    seen: dict[str, int] = {}
    shared: list[str] = []
    for chunk in chunks(sorted(set(call_ids))):
        placeholders, params = in_params("c", chunk)
        shared += [
            str(r[0])
            for r in runner.query(
                f"SELECT call_id FROM call_holders WHERE call_id IN ({placeholders}) "
                "GROUP BY call_id HAVING COUNT(*) > 1",
                params,
            )
        ]
    for chunk in chunks(shared):
        placeholders, params = in_params("c", chunk)
        for call_id, session_id, started in runner.query(
            "SELECT h.call_id, h.session_id, s.started_ms FROM call_holders h "
            f"LEFT JOIN sessions s ON s.session_id = h.session_id WHERE h.call_id IN ({placeholders})",
            params,
        ):
            rank = (started is None, int(started or 0), str(session_id))
            seen[str(call_id)] = seen.get(str(call_id), 0) + 1
            current = best.get(str(call_id))
            if current is None or rank < current:
                best[str(call_id)] = rank
    return {call_id: rank[2] for call_id, rank in best.items() if seen[call_id] > 1}
