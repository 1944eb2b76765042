"""Who may send data: the optional shared ingest token (`AGENT_TRACE_INGEST_TOKEN`), or with auth
on (`AGENT_TRACE_AUTH=on`) a personal token; checked the same way on HTTP and gRPC."""

from __future__ import annotations

import hmac

from agent_trace.domain.access import attribute, session_ids_of
from agent_trace.domain.records import RecordBatch
from agent_trace.server.identity_cache import IdentityCache, SessionOwners

_SCHEME = "bearer "


class TokenCheck:
    """`Authorization: Bearer <token>`; every request passes when no token is configured."""

    def __init__(self, token: str | None) -> None:
        self._expected = token.encode("utf-8") if token else None

    @property
    def required(self) -> bool:
        return self._expected is not None

    def user(self, authorization: str | None) -> str | None:
        """No personal tokens without auth: records keep the user their payload names."""
        return None

    def claim(self, batch: RecordBatch, user_id: str) -> None:  # never called: user() is None
        attribute(batch, user_id)

    def allows(self, authorization: str | None) -> bool:
        if self._expected is None:
            return True
        if not authorization or authorization[: len(_SCHEME)].lower() != _SCHEME:
            return False
        offered = authorization[len(_SCHEME) :].strip().encode("utf-8")
        # Constant time: the comparison must not tell an attacker how much of a guess was right.
        return hmac.compare_digest(offered, self._expected)


class UserTokenCheck:
    """Auth on: a personal token of an enabled account, whose user every record is stored as.

    The lookup is by the token's SHA-256 digest (the store holds nothing else), through the
    never-stale cache in server/identity_cache.py."""

    required = True

    def __init__(self, cache: IdentityCache, owners: SessionOwners) -> None:
        self.cache = cache
        self.owners = owners

    def allows(self, authorization: str | None) -> bool:
        return self.user(authorization) is not None

    def user(self, authorization: str | None) -> str | None:
        owner = self.cache.owner_of_header(authorization)
        return owner.user_id if owner is not None else None

    def claim(self, batch: RecordBatch, user_id: str) -> None:
        """Store `batch` as `user_id`'s; raises ForeignSession if it writes into a session that
        belongs to someone else (a token must not let anyone add to another person's session)."""
        ids = session_ids_of(batch)
        foreign = self.owners.foreign(ids, user_id)
        if foreign:
            raise ForeignSession(foreign[0])
        attribute(batch, user_id, ids)


class ForeignSession(Exception):
    """A batch names a session that another user's token started."""
