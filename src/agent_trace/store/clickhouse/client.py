"""One small interface for all ClickHouse SQL, with two implementations.

- `ConnectClient`: a ClickHouse server over HTTP (clickhouse-connect), for deployments.
- `ChdbClient`: chdb, ClickHouse's own engine in this process, on a data folder (tests, laptops).

Values never enter SQL text: queries use server-side `{name:Type}` parameters, which ClickHouse
parses by their declared type, and inserts send rows as data beside an `INSERT INTO t (cols)`
statement (Native over HTTP, JSONCompactEachRow into chdb). Table and column names are fixed in
code and migrations.

URLs: `clickhouse://user:password@host:8123/database[?secure=true]` (also `clickhouses://`, which
means TLS) and `chdb:///absolute/path[?database=name]` (the database defaults to `agent_trace`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

Row = tuple[Any, ...]
DEFAULT_DATABASE = "agent_trace"


class ClickHouseError(RuntimeError):
    """A ClickHouse statement failed; the message carries the server's text."""


class ClickHouseClient(Protocol):
    database: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, OPTIMIZE)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows of a SELECT, as tuples of Python values (NULL → None, Map → dict, Array → list)."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append rows (one block: ClickHouse applies it, and its materialized views, as a unit)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class EventsUrl:
    kind: str  # "clickhouse" | "chdb"
    database: str
    host: str = ""
    port: int = 8123
    username: str = "default"
    password: str = ""
    secure: bool = False
    path: str = ""

    @property
    def redacted(self) -> str:
        if self.kind == "chdb":
            return f"chdb://{self.path}?database={self.database}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.username}:***@{self.host}:{self.port}/{self.database}"


def parse_events_url(url: str) -> EventsUrl:
    """Parse AGENT_TRACE_EVENTS_URL; the error names the variable and the accepted forms."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        path = unquote(parts.path)
        if not path or path == "/":
            raise ValueError(
                f"AGENT_TRACE_EVENTS_URL={url!r}: chdb needs a folder, e.g. chdb:///var/lib/agent-trace/chdb"
            )
        return EventsUrl("chdb", query.get("database", DEFAULT_DATABASE), path=path)
    if parts.scheme in ("clickhouse", "clickhouses", "http", "https"):
        secure = parts.scheme in ("clickhouses", "https") or query.get("secure", "").lower() in ("1", "true")
        database = parts.path.strip("/") or query.get("database", DEFAULT_DATABASE)
        return EventsUrl(
            "clickhouse",
            database,
            host=parts.hostname or "localhost",
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username) if parts.username else "default",
            password=unquote(parts.password) if parts.password else "",
            secure=secure,
        )
    raise ValueError(
        f"AGENT_TRACE_EVENTS_URL={url!r}: must be clickhouse://user:pass@host:8123/database or chdb:///path"
    )


def open_client(url: str) -> ClickHouseClient:
    """A client on the database the URL names, creating that database if needed."""
    parsed = parse_events_url(url)
    if parsed.kind == "chdb":
        return ChdbClient(parsed.path, parsed.database)
    return ConnectClient(parsed)


# --- parameters in ClickHouse's text form (what the server parses for `{name:Type}`) --------------


def format_param(value: Any, top_level: bool = True) -> str:
    """A Python value as ClickHouse parses a query parameter: top-level strings in the escaped
    (TSV) form, values nested in arrays and tuples as quoted literals."""
    if value is None:
        return "\\N" if top_level else "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"parameter value {value!r}: not a finite number")
        return repr(value)
    if isinstance(value, str):
        return _escape(value) if top_level else "'" + _escape(value) + "'"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(format_param(v, top_level=False) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{format_param(k, False)}: {format_param(v, False)}" for k, v in value.items())
        return "{" + pairs + "}"
    raise TypeError(f"parameter value of type {type(value).__name__}: not supported")


_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\0": "\\0",
    "\b": "\\b",
    "\f": "\\f",
}


def _escape(text: str) -> str:
    if not any(c in text for c in _ESCAPES):
        return text
    return "".join(_ESCAPES.get(c, c) for c in text)


# --- chdb -------------------------------------------------------------------------------------


class ChdbClient:
    """chdb: ClickHouse in this process. One data folder per process at a time (chdb's rule), and
    one statement at a time per client (a lock: server threads share the store)."""

    def __init__(self, path: str, database: str = DEFAULT_DATABASE) -> None:
        from chdb import session

        _check_identifier(database)
        self.database = database
        self._lock = threading.Lock()
        self._session = session.Session(path)
        self._run(f"CREATE DATABASE IF NOT EXISTS `{database}`", None, "CSV")
        self._run(f"USE `{database}`", None, "CSV")

    def _run(self, sql: str, params: Mapping[str, Any] | None, fmt: str) -> Any:
        formatted = {k: format_param(v) for k, v in (params or {}).items()}
        with self._lock:
            try:
                return self._session.query(sql, fmt, params=formatted)
            except Exception as exc:  # chdb raises RuntimeError/ChdbError with the server's text
                raise ClickHouseError(str(exc)) from exc

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, params, "CSV")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        result = self._run(sql, params, "JSONCompact")
        raw = result.bytes()
        if not raw:
            return []
        return [tuple(row) for row in orjson.loads(raw)["data"]]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        for name in (table, *columns):
            _check_identifier(name)
        data = b"".join(orjson.dumps(list(row)) + b"\n" for row in rows).decode()
        statement = f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)})"
        with self._lock:
            try:
                inserter = self._session.send_insert(statement, "JSONCompactEachRow")
                inserter.append(data)
                inserter.finish()
            except Exception as exc:
                raise ClickHouseError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._session.close()


# --- a ClickHouse server ----------------------------------------------------------------------


class ConnectClient:
    """A ClickHouse server through clickhouse-connect (HTTP, Native format, server-side binds)."""

    def __init__(self, url: EventsUrl) -> None:
        import clickhouse_connect

        self.database = url.database
        _check_identifier(url.database)
        admin = clickhouse_connect.get_client(
            host=url.host, port=url.port, username=url.username, password=url.password, secure=url.secure
        )
        try:
            admin.command(f"CREATE DATABASE IF NOT EXISTS `{url.database}`")
        finally:
            admin.close()
        self._client = clickhouse_connect.get_client(
            host=url.host,
            port=url.port,
            username=url.username,
            password=url.password,
            secure=url.secure,
            database=url.database,
        )

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise ClickHouseError(str(exc)) from exc

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        try:
            result = self._client.query(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise ClickHouseError(str(exc)) from exc
        return [tuple(row) for row in result.result_rows]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            self._client.insert(table, [list(r) for r in rows], column_names=list(columns))
        except Exception as exc:
            raise ClickHouseError(str(exc)) from exc

    def close(self) -> None:
        self._client.close()


def _check_identifier(name: str) -> None:
    # Names come from code and URLs, never from data; still, only plain identifiers are quoted in.
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(f"ClickHouse identifier {name!r}: letters, digits and '_' only")
