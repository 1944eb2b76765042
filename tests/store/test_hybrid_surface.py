"""The hybrid store answers every Store method itself.

It holds a SqlStore rather than extending it, so a method someone adds to SqlStore cannot be
inherited unreviewed (and silently read the empty SQL record tables on PostgreSQL + ClickHouse):
every method of the port (each role, and the identity part) is written on HybridStore, either
reading ClickHouse (hybrid.py) or delegating to SQL explicitly (sql_side.py).
"""

from __future__ import annotations

import inspect

from agent_trace.store.clickhouse.hybrid import HybridStore
from agent_trace.store.identity import IdentityStore
from agent_trace.store.port import Store
from agent_trace.store.sql.adapter import SqlStore


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_the_hybrid_store_is_composed_not_inherited() -> None:
    assert not issubclass(HybridStore, SqlStore)


def test_the_hybrid_store_has_the_whole_port() -> None:
    port = _public(Store) | _public(IdentityStore)
    assert port <= _public(HybridStore), sorted(port - _public(HybridStore))


def test_every_port_method_of_the_sql_store_is_answered_by_the_hybrid_store() -> None:
    port = _public(Store) | _public(IdentityStore)
    assert port <= _public(SqlStore), sorted(port - _public(SqlStore))
