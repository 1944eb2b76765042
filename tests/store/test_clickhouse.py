"""ClickHouse pieces on their own: the client interface (both implementations), URLs,
parameters, numbered migrations with their half-applied guard, and the materialized views
under re-delivery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage
from agent_trace.store.clickhouse.client import (
    ChdbClient,
    ClickHouseError,
    ConnectClient,
    format_param,
    parse_events_url,
)
from agent_trace.store.clickhouse.hybrid import HybridStore
from agent_trace.store.clickhouse.migrate import (
    Migration,
    MigrationStateError,
    current_version,
    head_version,
    load_migrations,
    migrate,
    split_statements,
)
from agent_trace.store.sql.runner import SqlAlchemyRunner

T0 = 1_770_000_000_000


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[ChdbClient]:
    client = ChdbClient(str(tmp_path / "chdb"), "t")
    yield client
    client.close()


# --- URLs and parameters -------------------------------------------------------------------------


def test_events_urls() -> None:
    server = parse_events_url("clickhouse://agent:p%40ss@ch.internal:8123/traces")
    assert (server.kind, server.host, server.port, server.username, server.password, server.database) == (
        "clickhouse",
        "ch.internal",
        8123,
        "agent",
        "p@ss",
        "traces",
    )
    assert not server.secure and "p@ss" not in server.redacted
    tls = parse_events_url("clickhouse://u:p@ch:8443/db?secure=true")
    assert tls.secure and tls.port == 8443
    assert parse_events_url("clickhouses://u@ch/db").port == 8443
    local = parse_events_url("chdb:///var/lib/agent-trace/chdb?database=team")
    assert (local.kind, local.path, local.database) == ("chdb", "/var/lib/agent-trace/chdb", "team")
    assert parse_events_url("chdb:///tmp/x").database == "agent_trace"
    for bad in ("mysql://x/y", "chdb://", "clickhouse"):
        with pytest.raises(ValueError, match="AGENT_TRACE_EVENTS_URL"):
            parse_events_url(bad)


TRICKY = [
    "",
    "plain",
    "a\\b",
    "a\\nb",
    "tab\there",
    "line\nbreak",
    "cr\rx",
    "it's",
    'say "hi"',
    "ü€😀",
    "\\N",
    "{x:String}",
    "nul\x00x",
]


def test_parameters_reach_clickhouse_unchanged(chdb: ChdbClient) -> None:
    for text in TRICKY:
        assert chdb.query("SELECT {v:String}", {"v": text}) == [(text,)]
        assert chdb.query("SELECT {v:Array(String)}", {"v": [text, "x"]}) == [([text, "x"],)]
        assert chdb.query("SELECT {v:Array(Tuple(String, String))}", {"v": [(text, "y")]}) == [
            ([[text, "y"]],)
        ]
    assert chdb.query(
        "SELECT {a:Nullable(Int64)}, {b:Int64}, {c:Array(Int64)}, {d:Map(String, String)}",
        {"a": None, "b": -(2**63), "c": [1, 2**62], "d": {"k": "v'"}},
    ) == [(None, -(2**63), [1, 2**62], {"k": "v'"})]


def test_values_never_enter_the_sql_text(chdb: ChdbClient) -> None:
    chdb.execute("CREATE TABLE t (s String) ENGINE = MergeTree ORDER BY s")
    hostile = "x'); DROP TABLE t; --"
    chdb.insert("t", ["s"], [[hostile]])
    assert chdb.query("SELECT s FROM t WHERE s = {s:String}", {"s": hostile}) == [(hostile,)]
    assert chdb.query("EXISTS TABLE t") == [(1,)]


def test_format_param_rejects_what_it_cannot_express() -> None:
    with pytest.raises(TypeError):
        format_param(object())
    with pytest.raises(ValueError):
        format_param(float("nan"))
    assert format_param([1, None, "a'b"]) == "[1, NULL, 'a\\'b']"
    assert format_param(None) == "\\N"


def test_errors_carry_the_server_text(chdb: ChdbClient) -> None:
    with pytest.raises(ClickHouseError, match=r"UNKNOWN_TABLE|does not exist"):
        chdb.query("SELECT * FROM no_such_table")


class _FakeConnect:
    """Stands in for clickhouse_connect's client: records what the interface asks of it."""

    def __init__(self, calls: list[tuple[str, Any]], **kwargs: Any) -> None:
        self.calls = calls
        self.calls.append(("connect", kwargs))

    def command(self, sql: str, parameters: Any = None) -> None:
        self.calls.append(("command", (sql, parameters)))

    def query(self, sql: str, parameters: Any = None) -> Any:
        self.calls.append(("query", (sql, parameters)))
        if "boom" in sql:
            raise RuntimeError("Code: 62. Syntax error")
        return type("Result", (), {"result_rows": [[1, "a"]]})()

    def insert(self, table: str, rows: Any, column_names: Any = None) -> None:
        self.calls.append(("insert", (table, rows, column_names)))

    def close(self) -> None:
        self.calls.append(("close", None))


def test_the_server_client_binds_on_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickhouse_connect

    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(clickhouse_connect, "get_client", lambda **kw: _FakeConnect(calls, **kw))
    client = ConnectClient(parse_events_url("clickhouse://u:p@ch:8123/traces"))
    assert calls[0] == (
        "connect",
        {"host": "ch", "port": 8123, "username": "u", "password": "p", "secure": False},
    )
    assert calls[1] == ("command", ("CREATE DATABASE IF NOT EXISTS `traces`", None))
    assert calls[3][1]["database"] == "traces"
    assert client.query("SELECT {x:Int64}, 'a'", {"x": 1}) == [(1, "a")]
    assert calls[-1] == (
        "query",
        ("SELECT {x:Int64}, 'a'", {"x": 1}),
    )  # parameters go to the server as they are
    client.insert("t", ["a", "b"], [(1, "x")])
    assert calls[-1] == ("insert", ("t", [[1, "x"]], ["a", "b"]))
    with pytest.raises(ClickHouseError, match="Syntax error"):
        client.query("boom")


# --- migrations ----------------------------------------------------------------------------------


def test_migration_files_are_numbered_and_split() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert head_version() == migrations[-1].version
    assert all(m.statements for m in migrations)
    assert split_statements("-- c\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1\n;\n") == [
        "CREATE TABLE a (x String DEFAULT ';')",
        "SELECT 1",
    ]
    with pytest.raises(ValueError, match="does not end"):
        split_statements("SELECT 1")


def test_migrations_apply_once(chdb: ChdbClient) -> None:
    assert current_version(chdb) is None
    applied = migrate(chdb)
    assert applied == [m.label for m in load_migrations()]
    assert migrate(chdb) == []
    assert current_version(chdb) == head_version()
    tables = {r[0] for r in chdb.query("SHOW TABLES")}
    assert {
        "agent_events",
        "session_traces",
        "model_cost_daily",
        "tool_usage_daily",
        "daily_user_metrics",
    } <= tables


def test_a_half_applied_migration_is_refused_with_a_way_out(chdb: ChdbClient) -> None:
    broken = [
        Migration(1, "first", ("CREATE TABLE IF NOT EXISTS one (x UInt8) ENGINE = MergeTree ORDER BY x",)),
        Migration(
            2,
            "second",
            (
                "CREATE TABLE IF NOT EXISTS two (x UInt8) ENGINE = MergeTree ORDER BY x",
                "SELECT no_such_function()",
            ),
        ),
    ]
    with pytest.raises(ClickHouseError):
        migrate(chdb, broken)
    with pytest.raises(MigrationStateError) as refused:
        migrate(chdb, broken)
    message = str(refused.value)
    assert "0002_second" in message and "never finished" in message
    assert "ALTER TABLE schema_migrations DELETE WHERE version = 2 AND state = 'started'" in message
    # Following the message: fix the migration, clear the marker, run again.
    chdb.execute(
        "ALTER TABLE schema_migrations DELETE WHERE version = 2 AND state = 'started' SETTINGS mutations_sync = 1"
    )
    fixed = [broken[0], Migration(2, "second", broken[1].statements[:1])]
    assert migrate(chdb, fixed) == ["0002_second"]
    assert current_version(chdb) == 2


def test_a_newer_schema_than_the_code_is_refused(chdb: ChdbClient) -> None:
    migrate(chdb)
    chdb.insert(
        "schema_migrations", ["version", "name", "state"], [[99, "future", "started"], [99, "future", "done"]]
    )
    with pytest.raises(MigrationStateError, match="upgrade agent-trace"):
        migrate(chdb)


# --- materialized views under re-delivery ---------------------------------------------------------


@pytest.fixture
def hybrid(tmp_path: Path) -> Iterator[HybridStore]:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HybridStore(SqlAlchemyRunner(url), url, ChdbClient(str(tmp_path / "chdb"), "mv"))
    store.migrate()
    yield store
    store.close()


def _rollups(store: HybridStore) -> dict[str, Any]:
    q = store.client.query
    return {
        "cost": q(
            "SELECT project, user_id, model, sum(calls), sum(output_tokens), sum(cost_nusd), sum(unpriced_calls) "
            "FROM model_cost_daily GROUP BY project, user_id, model HAVING sum(calls) != 0 ORDER BY project, model"
        ),
        "tools": q(
            "SELECT tool_name, sum(calls), sum(errors), sum(duration_ms) FROM tool_usage_daily "
            "GROUP BY tool_name HAVING sum(calls) != 0 ORDER BY tool_name"
        ),
        "users": q(
            "SELECT day, project, user_id, sum(prompts), sum(tool_calls), sum(tool_errors), sum(sessions), "
            "sum(llm_calls), sum(cost_nusd) FROM daily_user_metrics GROUP BY day, project, user_id "
            "HAVING sum(prompts) + sum(tool_calls) + sum(sessions) + sum(llm_calls) != 0 ORDER BY day, project"
        ),
    }


def _batch(project: str | None = "/w/app", output: int = 100, status: str = "success") -> RecordBatch:
    return RecordBatch(
        sessions=[Session("s1", agent="claude-code", project=project, user_id="ann", started_ms=T0)],
        prompts=[Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="go")],
        llm_calls=[
            LlmCall("c1", "s1", model="m", ts_ms=T0 + 1, usage=Usage(10, output), cost_nusd=output * 10),
            LlmCall("c2", "s1", model="m", ts_ms=T0 + 2, usage=Usage(1, 1), cost_nusd=None),
        ],
        tool_calls=[ToolCall("t1", "s1", tool_name="Bash", started_ms=T0 + 3, duration_ms=40, status=status)],
    )


def test_views_count_each_record_once_however_often_it_arrives(hybrid: HybridStore) -> None:
    hybrid.write(_batch())
    once = _rollups(hybrid)
    assert once["cost"] == [("/w/app", "ann", "m", 2, 101, 1000, 1)]
    assert once["users"][0][3:] == (1, 1, 0, 1, 2, 1000)
    for _ in range(3):
        hybrid.write(_batch())
    assert _rollups(hybrid) == once
    events = hybrid.client.query("SELECT count() FROM agent_events")[0][0]
    assert events == 4  # re-delivered copies that change nothing write nothing


def test_views_follow_a_record_that_changes(hybrid: HybridStore) -> None:
    hybrid.write(_batch())
    hybrid.write(_batch(output=300, status="error"))  # a larger streaming copy; the tool failed after all
    after = _rollups(hybrid)
    assert after["cost"] == [("/w/app", "ann", "m", 2, 301, 3000, 1)]
    assert after["tools"] == [("Bash", 1, 1, 40)]
    assert after["users"][0][3:] == (1, 1, 1, 1, 2, 3000)


def test_views_follow_a_session_that_learns_its_project(hybrid: HybridStore) -> None:
    hybrid.write(_batch(project=None))
    assert [r[0] for r in _rollups(hybrid)["cost"]] == [""]
    hybrid.write(RecordBatch(sessions=[Session("s1", project="/w/late")]))
    moved = _rollups(hybrid)
    assert [r[:4] for r in moved["cost"]] == [("/w/late", "ann", "m", 2)]
    assert [r[1] for r in moved["users"]] == ["/w/late"]


# --- the repair of out-of-range rows (0005, after SQL's 0006_i9) ---------------------------------


def test_0005_repairs_out_of_range_rows_and_their_rollups(tmp_path: Path) -> None:
    """Issue 9, problem 1 on ClickHouse: events stored before the collector checked ranges (a
    year-10000 instant, a 2^62 token count, a negative duration) are repaired, and the rollups
    of their buckets summed again, so reads and reports see what the SQL backends see."""
    from agent_trace.reports.replay import build_replay
    from agent_trace.store.sql.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'h.db'}"
    runner = SqlAlchemyRunner(url)
    client = ChdbClient(str(tmp_path / "chdb"), "repair")
    store = HybridStore(runner, url, client)
    try:
        upgrade(runner)
        migrate(client, load_migrations()[:4])  # the schema before the repair
        year_10000 = 253_402_300_800_123
        store.write(
            RecordBatch(
                sessions=[Session("s1", agent="claude-code", project="/w", user_id="dev", started_ms=T0)],
                prompts=[Prompt("p1", "s1", ts_ms=year_10000, kind="prompt", text="keep me")],
                llm_calls=[
                    LlmCall("c1", "s1", model="m", ts_ms=T0, usage=Usage(input_tokens=2**62), cost_nusd=5),
                    LlmCall("c2", "s1", model="m", ts_ms=T0, usage=Usage(7, 3), cost_nusd=70),
                ],
                tool_calls=[
                    ToolCall("t1", "s1", tool_name="Bash", started_ms=T0, duration_ms=-5, status="success"),
                    ToolCall("t2", "s1", tool_name="Bash", started_ms=T0, duration_ms=40, status="success"),
                ],
            )
        )
        before = _rollups(store)
        assert before["cost"][0][4] == 3 and before["tools"] == [("Bash", 2, 0, 35)]
        assert client.query("SELECT count() FROM agent_events WHERE bucket_ms >= 4102444800000")[0][0] > 0

        assert migrate(client) == ["0005_i16_i9_repair_out_of_range"]
        detail = store.session_detail("s1")
        assert detail is not None
        assert detail.prompts[0]["ts_ms"] is None and detail.prompts[0]["text"] == "keep me"
        calls = {c["call_id"]: c for c in detail.llm_calls}
        assert calls["c1"]["input_tokens"] == 0 and calls["c2"]["input_tokens"] == 7
        durations = {t["tool_use_id"]: t["duration_ms"] for t in detail.tool_calls}
        assert durations == {"t1": None, "t2": 40}
        build_replay(detail)  # formats every instant: must not raise
        after = _rollups(store)
        # c1 no longer counts as usage; the tool bucket sums the repaired durations; the
        # year-10000 prompt's bucket is gone, the session and the rest stay counted once.
        assert after["cost"] == [("/w", "dev", "m", 1, 3, 70, 0)]
        assert after["tools"] == [("Bash", 2, 0, 40)]
        assert [row[3:] for row in after["users"]] == [(0, 2, 0, 1, 1, 70)]
        assert client.query("SELECT count() FROM agent_events WHERE bucket_ms >= 4102444800000")[0][0] == 0
        assert "repair_0005_buckets" not in {r[0] for r in client.query("SHOW TABLES")}
    finally:
        store.close()
