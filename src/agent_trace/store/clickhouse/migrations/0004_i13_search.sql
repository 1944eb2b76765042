-- Full-text search (store/clickhouse/search.py): a token bloom filter over the lower-cased text
-- of prompts, tool calls (input, error, output) and responses. `hasToken` on the same expression
-- skips every granule whose filter rules a word out; the phrase and prefix checks run on what is
-- left. The expression must stay identical to search.py's SEARCH_DOC for the index to apply.
-- ClickHouse splits tokens on non-alphanumeric ASCII characters, as the other backends split
-- words; it indexes what is stored, i.e. text after the privacy tier and redaction.
ALTER TABLE agent_events ADD INDEX IF NOT EXISTS ix_search_tokens
    lower(concat(ifNull(text, ''), ' ', ifNull(input_json, ''), ' ', ifNull(error, ''), ' ', ifNull(output_text, ''), ' ', ifNull(response_text, '')))
    TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1;
ALTER TABLE agent_events MATERIALIZE INDEX ix_search_tokens;
