-- Rollups as materialized views over the cancel/state rows of agent_events and session_traces.
-- Each view sums `sign`-weighted values, so a record's old state is subtracted when its new
-- state is added: a re-delivery (which writes nothing), a streaming duplicate with larger usage,
-- a session that learns its project later - every record counts once, no distinct-count is ever
-- summed. Rows are kept per UTC day and 15-minute bucket: every real time zone offset is a
-- multiple of 15 minutes, so local days, weeks and months regroup buckets exactly. Read them with
-- sum() ... GROUP BY (SummingMergeTree folds rows only eventually) and drop groups whose count
-- sums to zero.

-- Source columns are qualified (e.*, s.*): an output alias such as `cost_nusd` would otherwise
-- shadow the source column of the same name inside the other expressions.

CREATE TABLE IF NOT EXISTS model_cost_daily
(
    day Date,
    bucket_ms Int64,
    project String,
    user_id String,
    agent LowCardinality(String),
    model LowCardinality(String),
    calls Int64,
    input_tokens Int64,
    output_tokens Int64,
    cache_creation_tokens Int64,
    cache_5m_tokens Int64,
    cache_1h_tokens Int64,
    cache_read_tokens Int64,
    cost_nusd Int64,
    unpriced_calls Int64,
    reported_cost_nusd Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, bucket_ms, project, user_id, agent, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS model_cost_daily_mv TO model_cost_daily AS
SELECT
    toDate(toDateTime(intDiv(assumeNotNull(e.bucket_ms), 1000), 'UTC')) AS day,
    assumeNotNull(e.bucket_ms) AS bucket_ms,
    e.project AS project,
    e.user_id AS user_id,
    e.agent AS agent,
    ifNull(e.model, '') AS model,
    sum(e.sign) AS calls,
    sum(e.sign * e.input_tokens) AS input_tokens,
    sum(e.sign * e.output_tokens) AS output_tokens,
    sum(e.sign * e.cache_creation_tokens) AS cache_creation_tokens,
    sum(e.sign * e.cache_5m_tokens) AS cache_5m_tokens,
    sum(e.sign * e.cache_1h_tokens) AS cache_1h_tokens,
    sum(e.sign * e.cache_read_tokens) AS cache_read_tokens,
    sum(e.sign * ifNull(e.cost_nusd, 0)) AS cost_nusd,
    sum(e.sign * isNull(e.cost_nusd)) AS unpriced_calls,
    sum(e.sign * ifNull(e.reported_cost_nusd, 0)) AS reported_cost_nusd
FROM agent_events AS e
WHERE e.event_type = 'llm_call' AND e.has_usage = 1 AND e.bucket_ms IS NOT NULL
GROUP BY day, bucket_ms, project, user_id, agent, model;

CREATE TABLE IF NOT EXISTS tool_usage_daily
(
    day Date,
    bucket_ms Int64,
    project String,
    user_id String,
    agent LowCardinality(String),
    tool_name LowCardinality(String),
    calls Int64,
    errors Int64,
    duration_ms Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, bucket_ms, project, user_id, agent, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_usage_daily_mv TO tool_usage_daily AS
SELECT
    toDate(toDateTime(intDiv(assumeNotNull(e.bucket_ms), 1000), 'UTC')) AS day,
    assumeNotNull(e.bucket_ms) AS bucket_ms,
    e.project AS project,
    e.user_id AS user_id,
    e.agent AS agent,
    ifNull(e.tool_name, '') AS tool_name,
    sum(e.sign) AS calls,
    sumIf(e.sign, e.status IN ('error', 'denied', 'interrupted')) AS errors,
    sum(e.sign * ifNull(e.duration_ms, 0)) AS duration_ms
FROM agent_events AS e
WHERE e.event_type = 'tool_call' AND e.bucket_ms IS NOT NULL
GROUP BY day, bucket_ms, project, user_id, agent, tool_name;

CREATE TABLE IF NOT EXISTS daily_user_metrics
(
    day Date,
    bucket_ms Int64,
    project String,
    user_id String,
    agent LowCardinality(String),
    prompts Int64,
    tool_calls Int64,
    tool_errors Int64,
    sessions Int64,
    llm_calls Int64,
    cost_nusd Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, bucket_ms, project, user_id, agent);

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_user_metrics_events_mv TO daily_user_metrics AS
SELECT
    toDate(toDateTime(intDiv(assumeNotNull(e.bucket_ms), 1000), 'UTC')) AS day,
    assumeNotNull(e.bucket_ms) AS bucket_ms,
    e.project AS project,
    e.user_id AS user_id,
    e.agent AS agent,
    sumIf(e.sign, e.event_type = 'prompt' AND e.kind IN ('prompt', 'command')) AS prompts,
    sumIf(e.sign, e.event_type = 'tool_call') AS tool_calls,
    sumIf(e.sign, e.event_type = 'tool_call' AND e.status IN ('error', 'denied', 'interrupted')) AS tool_errors,
    toInt64(0) AS sessions,
    sumIf(e.sign, e.event_type = 'llm_call' AND e.has_usage = 1) AS llm_calls,
    sumIf(e.sign * ifNull(e.cost_nusd, 0), e.event_type = 'llm_call' AND e.has_usage = 1) AS cost_nusd
FROM agent_events AS e
WHERE e.event_type IN ('prompt', 'tool_call', 'llm_call') AND e.bucket_ms IS NOT NULL
GROUP BY day, bucket_ms, project, user_id, agent;

-- A session counts in the bucket it started in (as in the SQL store's activity rollup).
CREATE MATERIALIZED VIEW IF NOT EXISTS daily_user_metrics_sessions_mv TO daily_user_metrics AS
SELECT
    toDate(toDateTime(intDiv(assumeNotNull(s.started_ms) - assumeNotNull(s.started_ms) % 900000, 1000), 'UTC')) AS day,
    assumeNotNull(s.started_ms) - assumeNotNull(s.started_ms) % 900000 AS bucket_ms,
    ifNull(s.project, '') AS project,
    ifNull(s.user_id, '') AS user_id,
    ifNull(s.agent, '') AS agent,
    toInt64(0) AS prompts,
    toInt64(0) AS tool_calls,
    toInt64(0) AS tool_errors,
    sum(s.sign) AS sessions,
    toInt64(0) AS llm_calls,
    toInt64(0) AS cost_nusd
FROM session_traces AS s
WHERE s.started_ms IS NOT NULL
GROUP BY day, bucket_ms, project, user_id, agent;
