"""The bundled rate table: Anthropic list prices the genai-prices snapshot lacks, as TOML text in
the format of prices.toml (parsed by domain/pricing.py; data, not a file read at run time)."""

BUNDLED_RATES_TOML = r"""
# Bundled Anthropic list prices that the genai-prices snapshot lacks (USD per million tokens).
#
# Source: Anthropic's published pricing page, https://docs.claude.com/en/docs/about-claude/pricing
# (sections "Model pricing", "Long context pricing", "Fast mode pricing"; fast mode also at
# https://platform.claude.com/docs/en/build-with-claude/fast-mode).
#
# agent-trace prices a call from, in order: $AGENT_TRACE_HOME/prices.toml, then this table, then
# genai-prices. An entry here names the genai-prices model id it supplements (or the bare model
# name, date suffix removed, for a model genai-prices does not know) and holds the full rates for
# that model, speed and period, so it never mixes with another source's rates.
#
# Keys are those of prices.toml (docs/configuration.md), plus:
#   speed = "fast"       the rates of `speed: "fast"` requests (default: standard requests)
#   until = YYYY-MM-DD   the last day (exclusive) the rates apply
# Cache writes default to 1.25x (5 minutes) and 2x (1 hour) input, cache reads to 0.1x input, and
# web search to $10 per 1,000 requests: Anthropic's documented multipliers.

# Data residency (https://platform.claude.com/docs/en/build-with-claude/data-residency, pricing
# page "Data residency pricing"): a request whose usage.inference_geo is "us" (US-only inference,
# Opus 4.6 / Sonnet 4.6 and later) costs 1.1x on every token price. "global" is the standard rate.
[inference_geo]
us = 1.1

# Claude Sonnet 4 with the 1M-token context: a request over 200k input tokens (input + cache
# writes + cache reads) is billed at $6 / $22.50 for all its tokens. genai-prices has no tier.
[models."claude-sonnet-4-0"]
input = 3
output = 15
long_context_threshold = 200000
long_context = { input = 6, output = 22.5 }

# Fast mode (research preview): Opus 4.6 and Opus 4.7 at 6x the standard rates, one rate across
# the full context window (no long-context tier on top); prompt-caching multipliers apply on top.
[models."claude-opus-4-6-fast"]
model = "claude-opus-4-6"
speed = "fast"
input = 30
output = 150

[models."claude-opus-4-7-fast"]
model = "claude-opus-4-7"
speed = "fast"
input = 30
output = 150
"""
