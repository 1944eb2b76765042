"""Alembic migrations, up and down, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.records import Prompt, RecordBatch, Session
from agent_trace.store.sql.adapter import SqlStore
from agent_trace.store.sql.migrate import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    script_head,
    upgrade,
)
from agent_trace.store.sql.runner import SqlAlchemyRunner
from tests.backends import PgServer

# alembic_version itself comes and goes with the first step.
_VERSION_TABLE = {
    ("column", "alembic_version", "version_num", "VARCHAR(32)", "1", "None"),
    ("index", "sqlite_autoindex_alembic_version_1", "alembic_version", ""),
    ("column", "alembic_version", "version_num", "character varying", "NO", "", ""),
    (
        "index",
        "alembic_version",
        "alembic_version_pkc",
        "CREATE UNIQUE INDEX alembic_version_pkc ON public.alembic_version USING btree (version_num)",
    ),
}

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgres", marks=pytest.mark.postgres),
]


def _revisions() -> list[str]:
    """Every revision, oldest first (walks down_revision from the head)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    scripts = ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(scripts.walk_revisions()))]


@pytest.fixture(params=DIALECTS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path, pg_server: PgServer | None) -> Iterator[str]:
    """The URL of an empty database (no tables at all)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    if pg_server is None:
        pytest.skip("PostgreSQL server not reachable")
    url = pg_server.create(from_template=False)
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    pg_server.drop(url)


def _tables(runner: SqlAlchemyRunner) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(runner.engine).get_table_names())


def _schema(runner: SqlAlchemyRunner) -> set[tuple[str, ...]]:
    """Tables, columns (with types and collations) and indexes (with their definitions): a
    step down and up again must restore every one of them, expression indexes included."""
    if runner.dialect == "sqlite":
        rows = runner.query(
            "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        )
        # SQLite keeps the CREATE statement; a column added later reads differently from one
        # created with the table, so compare columns through PRAGMA instead of the table's SQL.
        out = {tuple(str(v) for v in r) for r in rows if r[0] != "table"}
        for (table,) in runner.query("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for col in runner.query(f"PRAGMA table_info('{table}')"):
                out.add(("column", str(table), str(col[1]), str(col[2]), str(col[3]), str(col[4])))
        return out
    columns = runner.query(
        "SELECT table_name, column_name, data_type, is_nullable, COALESCE(collation_name, ''), "
        "COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = current_schema()"
    )
    indexes = runner.query(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    )
    return {("column", *map(str, r)) for r in columns} | {("index", *map(str, r)) for r in indexes}


def test_head_revision_constant_matches_the_scripts() -> None:
    assert script_head() == HEAD_REVISION
    assert _revisions()[-1] == HEAD_REVISION


def test_every_step_goes_up_and_down(empty_db: str) -> None:
    runner = SqlAlchemyRunner(empty_db)
    try:
        assert current_revision(runner) is None
        schema_at: dict[str, set[tuple[str, ...]]] = {"base": _schema(runner)}
        previous = "base"
        for rev in _revisions():
            upgrade(runner, rev)
            assert current_revision(runner) == rev
            schema_at[rev] = _schema(runner)
            # Down one step restores exactly the previous schema; up again restores this one.
            downgrade(runner, previous)
            assert current_revision(runner) == (None if previous == "base" else previous)
            assert _schema(runner) ^ schema_at[previous] <= _VERSION_TABLE, rev
            upgrade(runner, rev)
            assert _schema(runner) == schema_at[rev], rev
            previous = rev
        downgrade(runner, "base")
        assert _tables(runner) == {"alembic_version"}
        upgrade(runner)
        assert current_revision(runner) == HEAD_REVISION
    finally:
        runner.close()


def test_data_survives_a_downgrade_and_upgrade_of_the_newest_step(empty_db: str) -> None:
    runner = SqlAlchemyRunner(empty_db)
    try:
        store = SqlStore(runner, empty_db)
        store.migrate()
        store.write(
            RecordBatch(
                sessions=[Session("s1", user_id="dev", started_ms=5, ended_ms=9)],
                prompts=[Prompt("p1", "s1", ts_ms=6, kind="prompt", text="keep me")],
            )
        )
        store.refresh_derived()
        assert [(u.user_id, u.first_seen_ms, u.last_seen_ms) for u in store.users()] == [("dev", 5, 9)]
        instance_id = store.instance_settings()["instance_id"]
        # Down below 0003 (which creates the settings table) and back up through the newest step.
        downgrade(runner, "0002")
        upgrade(runner)
        detail = store.session_detail("s1")
        assert detail is not None and detail.prompts[0]["text"] == "keep me"
        # The settings table is new again: a new instance id is minted, the data is untouched.
        assert store.instance_settings()["instance_id"] != instance_id
    finally:
        runner.close()


def test_settings_round_trip(empty_db: str) -> None:
    runner = SqlAlchemyRunner(empty_db)
    try:
        store = SqlStore(runner, empty_db)
        store.migrate()
        store.set_instance_setting("retention_days", "90")
        store.set_instance_setting("retention_days", "30")
        assert store.instance_settings()["retention_days"] == "30"
        assert len(store.instance_settings()["instance_id"]) == 36
    finally:
        runner.close()


@pytest.mark.postgres
def test_every_postgres_text_column_compares_bytes(pg_server: PgServer | None) -> None:
    if pg_server is None:
        pytest.skip("PostgreSQL server not reachable")
    url = pg_server.create(from_template=False)
    runner = SqlAlchemyRunner(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        upgrade(runner)
        rows = runner.query(
            "SELECT table_name, column_name, COALESCE(collation_name, 'default') FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying') "
            "AND table_name <> 'alembic_version'"
        )
        assert rows
        assert [r for r in rows if r[2] != "C"] == []
    finally:
        runner.close()
        pg_server.drop(url)


@pytest.mark.postgres
def test_a_linguistic_database_collation_changes_no_answer(
    pg_server: PgServer | None, tmp_path: Path
) -> None:
    """A server whose databases sort like a dictionary (ICU en-US) still answers like SQLite."""
    if pg_server is None:
        pytest.skip("PostgreSQL server not reachable")
    import psycopg

    from tests.backends import PG_ADMIN_URL

    name = f"{pg_server.prefix}_icu"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        try:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error as exc:
            pytest.skip(f"this server cannot create an ICU database: {exc}")
    pg_server.created.append(name)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    answers: list[Any] = []
    for db_url in (
        f"sqlite:///{tmp_path / 'ref.db'}",
        url.replace("postgresql://", "postgresql+psycopg://", 1),
    ):
        runner = SqlAlchemyRunner(db_url)
        try:
            store = SqlStore(runner, db_url)
            store.migrate()
            ids = ["b", "B", "a-b", "ab", "a b", "Äb", "ä", "a_b"]
            store.write(
                RecordBatch(
                    sessions=[Session(sid, started_ms=1, title=f"Título {sid}") for sid in ids],
                    prompts=[
                        Prompt(f"p{sid}", "b", ts_ms=1, kind="prompt", text=f"Ünïcode {sid}") for sid in ids
                    ],
                )
            )
            store.refresh_derived()
            from agent_trace.store.port import SessionQuery

            detail = store.session_detail("b")
            assert detail is not None
            answers.append(
                (
                    [p["prompt_id"] for p in detail.prompts],
                    [
                        s.session_id
                        for s in store.list_sessions(SessionQuery(sort="started", limit=100)).sessions
                    ],
                    [
                        s.session_id
                        for s in store.list_sessions(SessionQuery(text="título", limit=100)).sessions
                    ],
                    [s.session_id for s in store.list_sessions(SessionQuery(text="ÜNÏ", limit=100)).sessions],
                    store.find_session_ids("a"),
                )
            )
        finally:
            runner.close()
    assert answers[0] == answers[1]


def test_0006_repairs_out_of_range_rows(empty_db: str) -> None:
    """Issue 9, problem 1: a store holding a year-10000 instant (accepted before the collector
    checked ranges) is repaired by the migration; every read then works."""
    from agent_trace.domain.records import LlmCall, ToolCall, Usage
    from agent_trace.reports.replay import build_replay

    runner = SqlAlchemyRunner(empty_db)
    try:
        upgrade(runner, "0006_i14")  # the revision before the repair (0006_i9)
        store = SqlStore(runner, empty_db)
        year_10000 = 253_402_300_800_123
        good = 1_767_225_600_000
        store.write(
            RecordBatch(
                sessions=[Session("s1", user_id="dev", started_ms=year_10000, ended_ms=good)],
                prompts=[Prompt("p1", "s1", ts_ms=year_10000, kind="prompt", text="keep me")],
                llm_calls=[
                    LlmCall("c1", "s1", ts_ms=good, usage=Usage(input_tokens=2**62), duration_ms=2**62),
                    LlmCall("c2", "s1", ts_ms=good, usage=Usage(input_tokens=7, output_tokens=3)),
                ],
                tool_calls=[ToolCall("t1", "s1", started_ms=-62_135_596_900_000, duration_ms=-5)],
            )
        )
        upgrade(runner)
        store.refresh_derived()
        detail = store.session_detail("s1")
        assert detail is not None
        assert detail.session["started_ms"] is None and detail.session["ended_ms"] == good
        assert detail.prompts[0]["ts_ms"] is None and detail.prompts[0]["text"] == "keep me"
        calls = {c["call_id"]: c for c in detail.llm_calls}
        assert calls["c1"]["input_tokens"] == 0 and calls["c1"]["duration_ms"] is None
        assert calls["c2"]["input_tokens"] == 7
        assert detail.tool_calls[0]["started_ms"] is None and detail.tool_calls[0]["duration_ms"] is None
        build_replay(detail)  # formats every instant: must not raise
    finally:
        runner.close()
