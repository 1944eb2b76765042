"""The same inputs give the same answers on SQLite, PostgreSQL and PostgreSQL + ClickHouse.

Inputs (tests/conformance/inputs.py): the project's fixtures and ../shared/corpus imported, the
real-client captures sent through the collector. Answers (tests/conformance/answers.py): every
report, replay, timeline, API response and Store answer. Money is integer nano-dollars, so even
sums must be equal to the last digit.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.conftest import Outcome


def _differences(expected: Any, got: Any, path: str = "", out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if len(out) >= 12 or expected == got:
        return out
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got), key=str):
            if key not in got or key not in expected:
                out.append(f"{path}/{key}: only in {'reference' if key in expected else 'this backend'}")
            else:
                _differences(expected[key], got[key], f"{path}/{key}", out)
    elif isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=True)):
            _differences(a, b, f"{path}[{i}]", out)
    else:
        out.append(f"{path}: reference {str(expected)[:300]} != {str(got)[:300]}")
    return out


def test_every_answer_equals_the_embedded_default(outcome: Outcome, reference: Outcome) -> None:
    diff = _differences(reference.first, outcome.first)
    assert not diff, f"{outcome.backend} answers differently:\n" + "\n".join(diff)


def test_after_a_second_delivery_too(outcome: Outcome, reference: Outcome) -> None:
    # Every transcript imported again from new paths and every hook, OTLP request and transcript
    # delta sent again. Columns merged as "latest" may now hold another channel's value (the
    # order of arrival changed; docs/collector.md lists them) - the same value on every backend.
    diff = _differences(reference.second, outcome.second)
    assert not diff, f"{outcome.backend} answers differently after a second delivery:\n" + "\n".join(diff)


BILLING_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "cache_read_tokens",
        "cost_usd",
        "cost_nusd",
        "llm_calls",
        "unpriced_calls",
        "prompts",
        "tool_calls",
        "calls",
        "errors",
        "sessions",
    }
)


def billing(value: Any) -> Any:
    """Only counts, tokens and money: what a second delivery must never change."""
    if isinstance(value, dict):
        kept = {k: billing(v) for k, v in value.items() if k in BILLING_KEYS or isinstance(v, (dict, list))}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [billing(v) for v in value]
    return value


def test_a_second_delivery_counts_nothing_twice(outcome: Outcome) -> None:
    # On ClickHouse this is the materialized views' proof: every record delivered twice (and
    # merged again), yet no count, token or nano-dollar moves.
    first = billing({"reports": outcome.first["reports"], "counts": outcome.first["store"]["counts"]})
    second = billing({"reports": outcome.second["reports"], "counts": outcome.second["store"]["counts"]})
    assert first["counts"]["llm_calls"] > 0
    diff = _differences(first, second)
    assert not diff, f"{outcome.backend} counted something twice:\n" + "\n".join(diff)


def test_the_answers_cover_the_inputs(reference: Outcome) -> None:
    answers = reference.first
    counts = answers["store"]["counts"]
    assert counts["sessions"] >= 8 and counts["llm_calls"] > 20 and counts["tool_calls"] > 10
    assert counts["subagents"] >= 1 and counts["prompts"] >= 8
    daily = answers["reports"]["all/UTC/daily"]
    assert len(daily["daily"]) >= 4 and daily["totals"]["cost_nusd"] > 0
    assert daily["totals"]["unpriced_models"] == ["(no model)", "claude-made-up-1"]
    assert answers["api"]["missing"]["status"] == 404
    statuses = {v["status"] for k, v in answers["api"].items() if k != "missing"}
    assert statuses == {200}
    replays = [v for k, v in answers["store"].items() if k.startswith("replay/")]
    assert sum(r["totals"]["llm_calls"] for r in replays) == counts["llm_calls"] - _unbilled(answers)
    # Outcomes: the agent's commit linked with its lines, the person's with none, the merged PR
    # shipping the session, the loop labelled spun (inputs._outcome_cases).
    labels = {r["outcome"]["label"] for r in replays if r["outcome"]}
    assert {"shipped", "spun", "no-commit"} <= labels
    shipped = next(r for r in replays if r["outcome"] and r["outcome"]["label"] == "shipped")
    agent_lines = sorted(
        (c["by_agent"], c["agent_lines"], (c["pr"] or {}).get("number")) for c in shipped["commits"]
    )
    assert agent_lines == [(False, 0, 9), (True, 2, 9)]


def _unbilled(reference: dict[str, Any]) -> int:
    # Calls without usage (hook-only knowledge of a request) are stored but not billed.
    details = [v for k, v in reference["store"].items() if k.startswith("detail/")]
    return sum(1 for d in details for c in d["llm_calls"] if not c["has_usage"])
