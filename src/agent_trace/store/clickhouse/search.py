"""Full-text search on ClickHouse (the hybrid store's records), behind the same Store.search.

Per kind, two queries: the best-scoring records with a state whose lower-cased text has every
whole word of the query as a token (`hasToken`, which the tokenbf_v1 skip index of migration
0003 answers granule by granule) and the last word as a substring; then the live states of just
those records. Python keeps the ones whose live text has each term as a phrase
(domain/search_text.matches_all), as the SQL backends' phrase queries do, and cuts the snippet.
Score: occurrences of the words per log-length of the text (a plain tf score; ClickHouse has no
bm25), among the most recent SCORED matches.
"""

from __future__ import annotations

from typing import Any

from agent_trace.domain.search_text import matches_all, prefix_last, query_terms
from agent_trace.store.clickhouse.client import ClickHouseClient
from agent_trace.store.clickhouse.events import LIVE, LLM_CALL, PROMPT, TOOL_CALL
from agent_trace.store.port import SearchHit, SearchQuery
from agent_trace.store.sql.search import SNIPPET_SOURCE_CHARS, hits_from_rows

# Identical to the index expression of migrations/0004_i13_search.sql.
SEARCH_DOC = (
    "lower(concat(ifNull(text, ''), ' ', ifNull(input_json, ''), ' ', ifNull(error, ''), ' ', "
    "ifNull(output_text, ''), ' ', ifNull(response_text, '')))"
)
# Candidates read per kind for each hit wanted: some fail the phrase check in Python.
OVERFETCH = 4
# Scoring reads every candidate's whole text: a word in half the records would cost seconds, so
# only the most recent SCORED matching states are scored (the SQL engines rank every match).
SCORED = 5_000

KINDS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "prompt": (PROMPT, "prompt_id", [("prompt", "text")]),
    "tool_call": (
        TOOL_CALL,
        "tool_use_id",
        [("input", "input_json"), ("error", "error"), ("output", "output_text")],
    ),
    "response": (LLM_CALL, "call_id", [("response", "response_text")]),
}


def search(client: ClickHouseClient, query: SearchQuery) -> list[SearchHit]:
    terms = query_terms(query.text)
    if not terms:
        return []
    words = [w for term in terms for w in term]
    whole, prefix = (words[:-1], words[-1]) if prefix_last(terms) else (words, "")
    params: dict[str, Any] = {"prefix": prefix, "limit": query.limit * OVERFETCH}
    where = [f"hasToken({SEARCH_DOC}, {{w{i}:String}})" for i in range(len(whole))]
    params.update({f"w{i}": w for i, w in enumerate(whole)})
    if prefix:
        where.append(f"position({SEARCH_DOC}, {{prefix:String}}) > 0")
    f = query.filters
    time = "coalesce(ts_ms, started_ms, ended_ms)"
    if f.since_ms is not None:
        where.append(f"{time} >= {{since:Int64}}")
        params["since"] = f.since_ms
    if f.until_ms is not None:
        where.append(f"{time} < {{until:Int64}}")
        params["until"] = f.until_ms
    if f.project:
        where.append("(project = {project:String} OR endsWith(project, {project_tail:String}))")
        params["project"] = f.project
        params["project_tail"] = "/" + f.project.rstrip("/")
    for name, column in (("user", "user_id"), ("agent", "agent")):
        value = getattr(f, name)
        if value:
            where.append(f"{column} = {{{name}:String}}")
            params[name] = value
    counted = [f"countSubstrings({SEARCH_DOC}, {{w{i}:String}})" for i in range(len(whole))]
    if prefix:
        counted.append(f"countSubstrings({SEARCH_DOC}, {{prefix:String}})")
    score = f"({' + '.join(counted)}) / log2(length({SEARCH_DOC}) + 2)"
    hits: list[SearchHit] = []
    for kind, (event_type, key, fields) in KINDS.items():
        if kind not in query.kinds:
            continue
        # 1. The best-scoring records with a state that matches (the skip index narrows the scan).
        ranked = client.query(
            f"SELECT event_id, max(score) AS s FROM (SELECT event_id, {score} AS score FROM agent_events "
            f"WHERE event_type = '{event_type}' AND {' AND '.join(where)} "
            f"ORDER BY timestamp DESC LIMIT {SCORED}) GROUP BY event_id ORDER BY s DESC LIMIT {{limit:UInt32}}",
            params,
        )
        if not ranked:
            continue
        scores = {str(r[0]): float(r[1]) for r in ranked}
        # 2. Their live states, kept if they still match: an old state's text must not find a
        # record whose text has changed since.
        texts = ", ".join(f"substring(ifNull({col}, ''), 1, {SNIPPET_SOURCE_CHARS})" for _, col in fields)
        agent = "NULL" if kind == "prompt" else "agent_id"
        tool = "tool_name" if kind == "tool_call" else "NULL"
        rows = client.query(
            f"SELECT {key}, session_id, prompt_id, {time}, {tool}, {agent}, event_id, sign, {texts} "
            f"FROM agent_events WHERE event_type = '{event_type}' AND event_id IN {{ids:Array(String)}} {LIVE}",
            {"ids": list(scores)},
        )
        kept = [
            (*r[:6], scores[str(r[6])], *r[8:])
            for r in rows
            if int(r[7]) == 1 and matches_all([str(t or "") for t in r[8:]], terms)
        ]
        hits.extend(hits_from_rows(kind, kept, terms, fields))
    hits.sort(key=lambda h: -h.score)
    return hits[: query.limit]
