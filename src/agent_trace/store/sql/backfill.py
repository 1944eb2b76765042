"""Post-migration data fixes that must go through the store's own write path.

`backfill_users`: see migration 0006_i11. A session's user is only ever replaced when it is
missing or a telemetry account id (`otel:…`) - the same rule the session upsert applies - so
writing `Session(session_id, user_id=U)` re-attributes it, and the write marks the rollups of
its buckets (SQL) or restates its events (ClickHouse) like any other dimension change.
"""

from __future__ import annotations

from typing import Any

from agent_trace.domain.records import RecordBatch, Session

MARK = "backfill_users"
BATCH = 500


def backfill_users(store: Any) -> int:
    """Re-attribute sessions without a real user when the store has exactly one; the number done."""
    run = store.runner
    if not run.query("SELECT 1 FROM instance_settings WHERE key = :key", {"key": MARK}):
        return 0
    real = [
        str(r[0])
        for r in run.query(
            "SELECT DISTINCT user_id FROM sessions WHERE user_id IS NOT NULL AND user_id NOT LIKE 'otel:%' LIMIT 2"
        )
    ]
    done = 0
    if len(real) == 1:
        ids = [
            str(r[0])
            for r in run.query(
                "SELECT session_id FROM sessions WHERE user_id IS NULL OR user_id LIKE 'otel:%'"
            )
        ]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            store.write(RecordBatch(sessions=[Session(session_id=sid, user_id=real[0]) for sid in chunk]))
            done += len(chunk)
    with run.transaction():
        run.execute("DELETE FROM instance_settings WHERE key = :key", {"key": MARK})
    return done
