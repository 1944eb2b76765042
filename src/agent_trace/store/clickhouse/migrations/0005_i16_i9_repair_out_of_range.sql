-- Repair rows holding values outside the ranges of domain/limits.py (the ClickHouse side of SQL
-- migration 0006_i9). Before the collector checked ranges, an instant past year 9999 or before
-- year 1, a negative or 2^63 duration, or a 2^62 token count was stored, and a read that
-- formatted the instant failed. As in SQL: such instants (and 15-minute buckets) become NULL,
-- like any instant a source does not know; durations likewise; an LLM call's token counts become
-- 0 and it stops counting as usage. The ranges are written out on purpose: a migration is
-- history and must not change when the rules do. 2000-01-01 = 946684800000,
-- 2100-01-01 = 4102444800000 (exclusive), 366 days = 31622400000 ms, tokens <= 1000000000.
--
-- The rollups are materialized views, which mutations do not re-run: rows of out-of-range
-- buckets are deleted, and the in-range buckets holding a repaired duration or token count are
-- deleted and summed again from the repaired events (the views' own SELECTs, limited to those
-- buckets). Every statement can run again after an interruption (the bucket list is a table,
-- filled before the events change, and only read by the rebuild).

CREATE TABLE IF NOT EXISTS repair_0005_buckets (bucket_ms Int64) ENGINE = MergeTree ORDER BY bucket_ms;

INSERT INTO repair_0005_buckets
SELECT DISTINCT assumeNotNull(bucket_ms) FROM agent_events
WHERE bucket_ms >= 946684800000 AND bucket_ms < 4102444800000
  AND (duration_ms < 0 OR duration_ms > 31622400000
       OR (event_type = 'llm_call' AND (
           input_tokens < 0 OR input_tokens > 1000000000 OR output_tokens < 0 OR output_tokens > 1000000000
           OR cache_creation_tokens < 0 OR cache_creation_tokens > 1000000000
           OR cache_5m_tokens < 0 OR cache_5m_tokens > 1000000000
           OR cache_1h_tokens < 0 OR cache_1h_tokens > 1000000000
           OR cache_read_tokens < 0 OR cache_read_tokens > 1000000000)));

ALTER TABLE agent_events UPDATE
    ts_ms = if(ts_ms < 946684800000 OR ts_ms >= 4102444800000, NULL, ts_ms),
    started_ms = if(started_ms < 946684800000 OR started_ms >= 4102444800000, NULL, started_ms),
    ended_ms = if(ended_ms < 946684800000 OR ended_ms >= 4102444800000, NULL, ended_ms),
    bucket_ms = if(bucket_ms < 946684800000 OR bucket_ms >= 4102444800000, NULL, bucket_ms),
    duration_ms = if(duration_ms < 0 OR duration_ms > 31622400000, NULL, duration_ms),
    ttft_ms = if(ttft_ms < 0 OR ttft_ms > 31622400000, NULL, ttft_ms)
WHERE ts_ms < 946684800000 OR ts_ms >= 4102444800000
   OR started_ms < 946684800000 OR started_ms >= 4102444800000
   OR ended_ms < 946684800000 OR ended_ms >= 4102444800000
   OR bucket_ms < 946684800000 OR bucket_ms >= 4102444800000
   OR duration_ms < 0 OR duration_ms > 31622400000
   OR ttft_ms < 0 OR ttft_ms > 31622400000
SETTINGS mutations_sync = 2;

ALTER TABLE agent_events UPDATE
    input_tokens = 0, output_tokens = 0, cache_creation_tokens = 0, cache_5m_tokens = 0,
    cache_1h_tokens = 0, cache_read_tokens = 0, usage_total = 0, has_usage = 0
WHERE event_type = 'llm_call' AND (
      input_tokens < 0 OR input_tokens > 1000000000 OR output_tokens < 0 OR output_tokens > 1000000000
   OR cache_creation_tokens < 0 OR cache_creation_tokens > 1000000000
   OR cache_5m_tokens < 0 OR cache_5m_tokens > 1000000000
   OR cache_1h_tokens < 0 OR cache_1h_tokens > 1000000000
   OR cache_read_tokens < 0 OR cache_read_tokens > 1000000000)
SETTINGS mutations_sync = 2;

ALTER TABLE session_traces UPDATE
    started_ms = if(started_ms < 946684800000 OR started_ms >= 4102444800000, NULL, started_ms),
    ended_ms = if(ended_ms < 946684800000 OR ended_ms >= 4102444800000, NULL, ended_ms)
WHERE started_ms < 946684800000 OR started_ms >= 4102444800000
   OR ended_ms < 946684800000 OR ended_ms >= 4102444800000
SETTINGS mutations_sync = 2;

ALTER TABLE raw_events UPDATE ts_ms = NULL
WHERE ts_ms < 946684800000 OR ts_ms >= 4102444800000
SETTINGS mutations_sync = 2;

ALTER TABLE model_cost_daily DELETE
WHERE bucket_ms < 946684800000 OR bucket_ms >= 4102444800000 OR bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
SETTINGS mutations_sync = 2;

ALTER TABLE tool_usage_daily DELETE
WHERE bucket_ms < 946684800000 OR bucket_ms >= 4102444800000 OR bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
SETTINGS mutations_sync = 2;

ALTER TABLE daily_user_metrics DELETE
WHERE bucket_ms < 946684800000 OR bucket_ms >= 4102444800000 OR bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
SETTINGS mutations_sync = 2;

-- The rebuild: 0002's views, on the repaired events of the listed buckets only.
INSERT INTO model_cost_daily
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
WHERE e.event_type = 'llm_call' AND e.has_usage = 1 AND e.bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
GROUP BY day, bucket_ms, project, user_id, agent, model;

INSERT INTO tool_usage_daily
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
WHERE e.event_type = 'tool_call' AND e.bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
GROUP BY day, bucket_ms, project, user_id, agent, tool_name;

INSERT INTO daily_user_metrics
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
WHERE e.event_type IN ('prompt', 'tool_call', 'llm_call') AND e.bucket_ms IN (SELECT bucket_ms FROM repair_0005_buckets)
GROUP BY day, bucket_ms, project, user_id, agent;

INSERT INTO daily_user_metrics
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
  AND assumeNotNull(s.started_ms) - assumeNotNull(s.started_ms) % 900000 IN (SELECT bucket_ms FROM repair_0005_buckets)
GROUP BY day, bucket_ms, project, user_id, agent;

DROP TABLE IF EXISTS repair_0005_buckets;
