-- Canonical records in ClickHouse. agent-trace merges every copy of a record in its writer (the
-- merge rules of store/sql/statements.py, applied in arrival order under the writers' lock), then
-- stores the new state of each record that changed as two rows of one insert: a cancel row
-- (sign = -1) repeating the state it replaces, and the new state (sign = +1, row_version + 1).
-- VersionedCollapsingMergeTree folds such pairs away in merges and under FINAL; the materialized
-- views of 0002 sum `sign`-weighted values, so every record counts exactly once in a rollup
-- however often it is delivered. A re-delivered record that changes nothing writes nothing.
-- Statements are separated by a line ending in ';' (store/clickhouse/migrate.py).

CREATE TABLE IF NOT EXISTS agent_events
(
    event_type LowCardinality(String),   -- prompt | llm_call | tool_call | file_touch | subagent
    event_id String,                     -- natural key (JSON array for multi-part keys)
    session_id String,                   -- the session that owns the record (first seen)
    row_version UInt64,                  -- 1, 2, ... per record
    sign Int8,                           -- +1 state, -1 cancels the state of the same row_version
    -- The owning session's dimensions when this state was written ('' = unknown). When a
    -- session's project, user or agent changes, its records are written again with the new ones.
    project String,
    user_id String,
    agent LowCardinality(String),
    timestamp DateTime64(3, 'UTC') MATERIALIZED fromUnixTimestamp64Milli(coalesce(ts_ms, started_ms, ended_ms, 0), 'UTC'),
    -- Columns named as in the SQL schema (store/sql/statements.py), so a row reads back as the
    -- same dict on every backend. Each kind uses its own subset.
    prompt_id Nullable(String),
    call_id Nullable(String),
    tool_use_id Nullable(String),
    agent_id Nullable(String),
    path Nullable(String),
    op LowCardinality(Nullable(String)),
    ts_ms Nullable(Int64),
    started_ms Nullable(Int64),
    ended_ms Nullable(Int64),
    bucket_ms Nullable(Int64),
    duration_ms Nullable(Int64),
    kind LowCardinality(Nullable(String)),
    text Nullable(String) CODEC(ZSTD(3)),
    line_uuid Nullable(String),
    interrupted Nullable(Int8),
    api_errors Nullable(Int64),
    message_id Nullable(String),
    request_id Nullable(String),
    model LowCardinality(Nullable(String)),
    has_usage Int8,
    input_tokens Int64,
    output_tokens Int64,
    cache_creation_tokens Int64,
    cache_5m_tokens Int64,
    cache_1h_tokens Int64,
    cache_read_tokens Int64,
    web_search_requests Int64,
    usage_total Int64,
    is_sidechain Int8,
    cost_nusd Nullable(Int64),
    reported_cost_nusd Nullable(Int64),
    speed LowCardinality(Nullable(String)),
    stop_reason LowCardinality(Nullable(String)),
    query_source LowCardinality(Nullable(String)),
    ttft_ms Nullable(Int64),
    response_text Nullable(String) CODEC(ZSTD(3)),
    thinking Nullable(String) CODEC(ZSTD(3)),
    tool_use_ids Nullable(String),
    tool_name LowCardinality(Nullable(String)),
    status LowCardinality(Nullable(String)),
    error Nullable(String) CODEC(ZSTD(3)),
    input_json Nullable(String) CODEC(ZSTD(3)),
    output_text Nullable(String) CODEC(ZSTD(3)),
    subagent_id Nullable(String),
    agent_type LowCardinality(Nullable(String)),
    description Nullable(String),
    parent_tool_use_id Nullable(String),
    is_compaction Nullable(Int8),
    -- Derived from a tool call's input for analytics (which files, what was edited or written):
    -- String columns have no size limit here; the writer caps any one text at 1,000,000 characters.
    file_path Nullable(String),
    edit_old_string Nullable(String) CODEC(ZSTD(3)),
    edit_new_string Nullable(String) CODEC(ZSTD(3)),
    written_content Nullable(String) CODEC(ZSTD(3)),
    attributes Map(String, String)
)
ENGINE = VersionedCollapsingMergeTree(sign, row_version)
ORDER BY (session_id, event_type, event_id)
-- Smaller granules than the default 8192: most reads are one session's records.
SETTINGS index_granularity = 2048;

-- Natural key → owning session. A record keeps its first session (a resumed or forked session
-- copies history), so the writer finds a record's current state by key through this table,
-- whatever session a new copy names. Written once per record; small granules make point
-- lookups by key cheap.
CREATE TABLE IF NOT EXISTS event_keys
(
    event_type LowCardinality(String),
    event_id String,
    session_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (event_id, event_type)
SETTINGS index_granularity = 1024;

-- Session traces: the merged session record (merged in PostgreSQL, which owns sessions), copied
-- here whenever it changes, with the same cancel/state rows as agent_events. It feeds the
-- sessions count of daily_user_metrics and lets ClickHouse-only analytics join sessions.
CREATE TABLE IF NOT EXISTS session_traces
(
    session_id String,
    row_version UInt64,
    sign Int8,
    agent Nullable(String),
    project Nullable(String),
    cwd Nullable(String),
    user_id Nullable(String),
    version Nullable(String),
    entrypoint Nullable(String),
    title Nullable(String),
    started_ms Nullable(Int64),
    ended_ms Nullable(Int64),
    end_reason Nullable(String),
    permission_mode Nullable(String),
    git_repo Nullable(String),
    git_branch Nullable(String),
    git_head Nullable(String),
    git_base_sha Nullable(String),
    git_lines_added Nullable(Int64),
    git_lines_removed Nullable(Int64),
    git_files_changed Nullable(Int64),
    reported_cost_nusd Nullable(Int64),
    compactions Nullable(Int64)
)
ENGINE = VersionedCollapsingMergeTree(sign, row_version)
ORDER BY session_id;

-- What arrived, for audit: the first delivery of each event id is kept (ReplacingMergeTree keeps
-- the highest first_rank, i.e. the earliest received_ms; read it with FINAL).
CREATE TABLE IF NOT EXISTS raw_events
(
    event_id String,
    source LowCardinality(String),
    session_id Nullable(String),
    kind LowCardinality(Nullable(String)),
    ts_ms Nullable(Int64),
    received_ms Int64,
    payload Nullable(String) CODEC(ZSTD(3)),
    first_rank UInt64 MATERIALIZED toUInt64(9223372036854775807 - received_ms)
)
ENGINE = ReplacingMergeTree(first_rank)
ORDER BY event_id;
