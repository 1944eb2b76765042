"""SQL text that rebuilds the 15-minute rollups of the buckets a write touched (store/sql/derived.py)."""

from __future__ import annotations

from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.store.sql.upsert import bucket, sql_list

_FAILED = sql_list(FAILED_STATUSES)
_DIMS = "COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '')"


def rebuild_usage_rollup(bucket_list: str) -> list[str]:
    return [
        f"DELETE FROM usage_rollup WHERE bucket_ms IN ({bucket_list})",
        "INSERT INTO usage_rollup (bucket_ms, project, user_id, agent, model, calls, input_tokens, "
        "output_tokens, cache_creation_tokens, cache_5m_tokens, cache_1h_tokens, cache_read_tokens, "
        "cost_nusd, unpriced_calls, reported_cost_nusd) "
        f"SELECT c.bucket_ms, {_DIMS}, COALESCE(c.model, ''), COUNT(*), SUM(c.input_tokens), "
        "SUM(c.output_tokens), SUM(c.cache_creation_tokens), SUM(c.cache_5m_tokens), "
        "SUM(c.cache_1h_tokens), SUM(c.cache_read_tokens), SUM(COALESCE(c.cost_nusd, 0)), "
        "SUM(CASE WHEN c.cost_nusd IS NULL THEN 1 ELSE 0 END), SUM(COALESCE(c.reported_cost_nusd, 0)) "
        "FROM llm_calls c LEFT JOIN sessions s ON s.session_id = c.session_id "
        f"WHERE c.has_usage = 1 AND c.bucket_ms IN ({bucket_list}) "
        "GROUP BY c.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), "
        "COALESCE(c.model, '')",
    ]


def rebuild_activity_rollup(bucket_list: str, human_kinds: str) -> list[str]:
    return [
        f"DELETE FROM activity_rollup WHERE bucket_ms IN ({bucket_list})",
        _activity_insert(bucket_list, human_kinds),
    ]


def _activity_insert(bucket_list: str, human_kinds: str) -> str:
    return (
        "INSERT INTO activity_rollup (bucket_ms, project, user_id, agent, prompts, tool_calls, tool_errors, sessions) "
        "SELECT bucket_ms, project, user_id, agent, SUM(prompts), SUM(tool_calls), SUM(tool_errors), SUM(sessions) "
        "FROM ("
        f"SELECT p.bucket_ms AS bucket_ms, COALESCE(s.project, '') AS project, COALESCE(s.user_id, '') AS user_id, "
        "COALESCE(s.agent, '') AS agent, COUNT(*) AS prompts, 0 AS tool_calls, 0 AS tool_errors, 0 AS sessions "
        "FROM prompts p LEFT JOIN sessions s ON s.session_id = p.session_id "
        f"WHERE p.bucket_ms IN ({bucket_list}) AND p.kind IN ({human_kinds}) "
        "GROUP BY p.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '') "
        "UNION ALL "
        "SELECT t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), 0, COUNT(*), "
        f"SUM(CASE WHEN t.status IN ({_FAILED}) THEN 1 ELSE 0 END), 0 "
        "FROM tool_calls t LEFT JOIN sessions s ON s.session_id = t.session_id "
        f"WHERE t.bucket_ms IN ({bucket_list}) "
        "GROUP BY t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '') "
        "UNION ALL "
        f"SELECT {bucket('s.started_ms')}, COALESCE(s.project, ''), COALESCE(s.user_id, ''), "
        "COALESCE(s.agent, ''), 0, 0, 0, COUNT(*) FROM sessions s "
        f"WHERE s.started_ms IS NOT NULL AND {bucket('s.started_ms')} IN ({bucket_list}) "
        f"GROUP BY {bucket('s.started_ms')}, COALESCE(s.project, ''), COALESCE(s.user_id, ''), "
        "COALESCE(s.agent, '')"
        ") parts GROUP BY bucket_ms, project, user_id, agent"
    )


def rebuild_tool_rollup(bucket_list: str) -> list[str]:
    return [
        f"DELETE FROM tool_rollup WHERE bucket_ms IN ({bucket_list})",
        "INSERT INTO tool_rollup (bucket_ms, project, user_id, agent, tool_name, calls, errors, duration_ms) "
        f"SELECT t.bucket_ms, {_DIMS}, COALESCE(t.tool_name, ''), COUNT(*), "
        f"SUM(CASE WHEN t.status IN ({_FAILED}) THEN 1 ELSE 0 END), "
        "SUM(COALESCE(t.duration_ms, 0)) "
        "FROM tool_calls t LEFT JOIN sessions s ON s.session_id = t.session_id "
        f"WHERE t.bucket_ms IN ({bucket_list}) "
        "GROUP BY t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), "
        "COALESCE(t.tool_name, '')",
    ]
