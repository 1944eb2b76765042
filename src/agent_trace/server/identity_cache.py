"""token → user, cached, and never stale: the collector, the API and the dashboard ask this.

A hook POST must stay cheap with auth on (bench/collector.py: ≥ 90 % of the events/s without
auth), so resolved tokens are kept in memory. Every account, token or team change renews the
store's `identity_version` in the same transaction; the cache compares it on each lookup and
forgets everything when it moved. On a SQLite file the store also rewrites a small marker file
beside the database after each change, which the cache maps into memory: it reads the version
only when the marker's bytes changed (store/sql/identity_marker.py); elsewhere it is one indexed
single-row read per lookup. A rotated token or
a disabled user is therefore refused on the very next request, in every process.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass

from agent_trace.domain.access import Principal, Role, bearer_token, content_users, token_digest
from agent_trace.store.identity import IdentityStore, TokenOwner
from agent_trace.store.sql.identity_marker import MarkerWatch

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Miss:
    pass


_MISS = _Miss()


class IdentityCache:
    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version: str | None = None
        self._owners: dict[str, TokenOwner | _Miss] = {}
        self._principals: dict[str, Principal] = {}
        path = store.identity_marker()
        self._marker = MarkerWatch(str(path)) if path is not None else None
        self._marker_seen: bytes | None = None

    def _fresh(self) -> None:
        if self._marker is not None:
            # SQLite: the marker's bytes, read from memory, say whether anything changed since
            # the version was read (None: no marker yet, ask the database).
            seen = self._marker.current()
            if seen is not None and seen == self._marker_seen:
                return
            self._marker_seen = seen
        version = self.store.identity_version()
        if version != self._version:
            self._owners.clear()
            self._principals.clear()
            self._version = version

    def owner(self, token: str | None) -> TokenOwner | None:
        """The enabled account a personal token belongs to, or None."""
        if not token:
            return None
        digest = token_digest(token)
        with self._lock:
            self._fresh()
            found = self._owners.get(digest)
            if found is None:
                found = self.store.token_owner(digest) or _MISS
                if len(self._owners) >= MAX_ENTRIES:  # a flood of wrong tokens must not grow memory
                    self._owners.clear()
                self._owners[digest] = found
        if isinstance(found, _Miss) or found.disabled:
            return None
        return found

    def owner_of_header(self, authorization: str | None) -> TokenOwner | None:
        return self.owner(bearer_token(authorization))

    def principal(self, owner: TokenOwner) -> Principal:
        """What `owner` may see: their role, and whose sessions' content (team levels)."""
        with self._lock:
            self._fresh()
            found = self._principals.get(owner.user_id)
            if found is None or found.role.value != owner.role:
                role = Role(owner.role)
                teams = self.store.teams_of(owner.user_id)
                found = Principal(
                    owner.user_id, role, content_users(owner.user_id, role, teams), tuple(teams)
                )
                self._principals[owner.user_id] = found
            return found

    def login(self, session_id: str | None, now_ms: int) -> tuple[Principal, str] | None:
        """(principal, CSRF token) of a live login session cookie."""
        if not session_id:
            return None
        digest = token_digest(session_id)
        found = self.store.login_session(digest, now_ms)
        if found is None or found[0].disabled:
            return None
        return self.principal(found[0]), found[1]


def same_secret(offered: str, expected: str) -> bool:
    """Constant time: the comparison must not tell an attacker how much of a guess was right."""
    return hmac.compare_digest(offered.encode("utf-8"), expected.encode("utf-8"))


class SessionOwners:
    """Which user a session belongs to, as the collector needs it to refuse writes into someone
    else's session (with auth on, a session's owner is the user whose token first sent it).

    Owners never change once set, so they are cached without expiry (bounded); a session not yet
    in the store is remembered as claimed by its first sender in this process."""

    MAX = 100_000

    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}

    def foreign(self, session_ids: set[str], user_id: str) -> list[str]:
        """The sessions among `session_ids` that belong to someone other than `user_id`."""
        owners = self._owners
        known = [owners.get(s) for s in session_ids]
        if None not in known:  # the usual case: every session seen before, no lock, no query
            return sorted(s for s, owner in zip(session_ids, known, strict=True) if owner != user_id)
        with self._lock:
            unknown = [s for s in session_ids if s not in self._owners]
            if unknown:
                found = self.store.session_owners(unknown)
                if len(self._owners) + len(unknown) > self.MAX:
                    self._owners.clear()
                for sid in unknown:
                    owner = found.get(sid)
                    self._owners[sid] = owner if owner else user_id
            return sorted(s for s in session_ids if self._owners[s] != user_id)
