-- Why an LLM call is unpriced (domain.pricing UNPRICED_*), as the SQL column llm_calls.unpriced_reason
-- (SQL migration 0006_i10). Rows written before it read NULL.
ALTER TABLE agent_events ADD COLUMN IF NOT EXISTS unpriced_reason Nullable(String) AFTER cost_nusd;
