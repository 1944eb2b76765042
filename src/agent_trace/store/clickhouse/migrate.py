"""Numbered ClickHouse migrations (migrations/NNNN_name.sql) and the table that records them.

ClickHouse DDL is not transactional: a migration that stops half-way leaves some of its tables
behind. So each migration is recorded twice in `schema_migrations`: a `started` row before its
first statement and a `done` row after its last. A migration that was started but is not done
makes every later run stop with a message saying which one and how to recover, instead of
building on a schema nobody knows. Statements use IF NOT EXISTS, so re-running a migration after
clearing its `started` row is safe. Migrations only go forward (ClickHouse has no transactional
rollback to make "down" safe); the PostgreSQL/SQLite side has Alembic downgrades.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent_trace.store.clickhouse.client import ClickHouseClient

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationStateError(RuntimeError):
    """The ClickHouse schema is in a state migrations must not build on; the message says why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def split_statements(text: str) -> list[str]:
    """Statements of a migration file: `--` comment lines dropped, split at lines ending in ';'."""
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";").rstrip())
            current = []
    if current:
        raise ValueError("the last statement does not end with ';'")
    return statements


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: ClickHouse migrations are named NNNN_lowercase_name.sql")
        try:
            statements = split_statements(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
        found.append(Migration(int(match.group(1)), match.group(2), tuple(statements)))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(f"{migration.label}: migrations must be numbered 0001, 0002, ... without gaps")
    return found


def _ensure_version_table(client: ClickHouseClient) -> None:
    client.execute(
        f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version UInt32, name String, "
        "state LowCardinality(String), at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY (version, state)"
    )


def _states(client: ClickHouseClient) -> dict[int, dict[str, object]]:
    """version → {state: time}, for every row of the version table."""
    out: dict[int, dict[str, object]] = {}
    for version, state, at in client.query(f"SELECT version, state, toString(at) FROM {VERSION_TABLE}"):
        out.setdefault(int(version), {})[str(state)] = at
    return out


def check_state(client: ClickHouseClient, migrations: list[Migration]) -> list[Migration]:
    """The migrations still to apply; raises MigrationStateError on a half-applied one."""
    _ensure_version_table(client)
    states = _states(client)
    by_version = {m.version: m for m in migrations}
    for version, seen in sorted(states.items()):
        if "started" in seen and "done" not in seen:
            label = by_version[version].label if version in by_version else f"{version:04d}"
            raise MigrationStateError(
                f"ClickHouse migration {label} (database {client.database!r}) was started at {seen['started']} "
                "UTC but never finished, so the schema is half-applied and agent-trace will not run on it. "
                f"Check which of its statements took effect (store/clickhouse/migrations/{label}.sql), "
                "drop what it created or finish it by hand, then clear the marker with: "
                f"ALTER TABLE {VERSION_TABLE} DELETE WHERE version = {version} AND state = 'started' "
                "SETTINGS mutations_sync = 1 — and start again."
            )
    newest_known = max(by_version, default=0)
    applied_unknown = [v for v, seen in states.items() if "done" in seen and v > newest_known]
    if applied_unknown:
        raise MigrationStateError(
            f"ClickHouse database {client.database!r} has migration {max(applied_unknown):04d} applied, "
            f"newer than this agent-trace knows ({newest_known:04d}): upgrade agent-trace."
        )
    return [m for m in migrations if "done" not in states.get(m.version, {})]


def migrate(client: ClickHouseClient, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations in order; returns their labels."""
    todo = check_state(client, load_migrations() if migrations is None else migrations)
    applied: list[str] = []
    for migration in todo:
        client.insert(
            VERSION_TABLE, ["version", "name", "state"], [[migration.version, migration.name, "started"]]
        )
        for statement in migration.statements:
            client.execute(statement)
        client.insert(
            VERSION_TABLE, ["version", "name", "state"], [[migration.version, migration.name, "done"]]
        )
        applied.append(migration.label)
    return applied


def current_version(client: ClickHouseClient) -> int | None:
    """The newest fully applied migration, or None on an empty database."""
    _ensure_version_table(client)
    done = [v for v, seen in _states(client).items() if "done" in seen]
    return max(done) if done else None


def head_version() -> int:
    return max((m.version for m in load_migrations()), default=0)
