"""The optional ingest token (`AGENT_TRACE_INGEST_TOKEN`), checked the same way on HTTP and gRPC."""

from __future__ import annotations

import hmac

_SCHEME = "bearer "


class TokenCheck:
    """`Authorization: Bearer <token>`; every request passes when no token is configured."""

    def __init__(self, token: str | None) -> None:
        self._expected = token.encode("utf-8") if token else None

    @property
    def required(self) -> bool:
        return self._expected is not None

    def allows(self, authorization: str | None) -> bool:
        if self._expected is None:
            return True
        if not authorization or authorization[: len(_SCHEME)].lower() != _SCHEME:
            return False
        offered = authorization[len(_SCHEME) :].strip().encode("utf-8")
        # Constant time: the comparison must not tell an attacker how much of a guess was right.
        return hmac.compare_digest(offered, self._expected)
