"""The one usage tally: its sums, its cost rule and its public names (reports/tally.py)."""

from __future__ import annotations

from agent_trace.domain.records import Usage
from agent_trace.reports.tally import UsageTally, step_total_tokens, step_usage_json, total_tokens


def _call(cost: int | None, **tokens: int) -> dict[str, object]:
    return {"has_usage": 1, "cost_nusd": cost, **tokens}


def test_cost_is_null_only_when_every_call_is_unpriced() -> None:
    tally = UsageTally()
    tally.add_call(_call(None, input_tokens=10))
    assert tally.cost_usd() is None
    assert tally.usage_json()["cost_usd"] is None
    tally.add_call(_call(2_500_000_000, output_tokens=5))
    assert tally.cost_usd() == 2.5
    assert (tally.llm_calls, tally.unpriced_calls) == (2, 1)
    assert UsageTally().cost_usd() == 0.0  # no calls at all: nothing was spent


def test_calls_without_usage_count_nothing() -> None:
    tally = UsageTally()
    tally.add_call({"has_usage": 0, "cost_nusd": None, "input_tokens": 99})
    assert tally == UsageTally()


def test_one_public_name_per_count_and_one_total() -> None:
    call = _call(
        7,
        input_tokens=1,
        output_tokens=2,
        cache_creation_tokens=30,
        cache_5m_tokens=10,
        cache_1h_tokens=20,
        cache_read_tokens=400,
        reported_cost_nusd=9,
    )
    tally = UsageTally()
    tally.add_call(call)
    block = tally.usage_json()
    assert block == {
        "llm_calls": 1,
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_creation_tokens": 30,
        "cache_creation_5m_tokens": 10,
        "cache_creation_1h_tokens": 20,
        "cache_read_tokens": 400,
        "total_tokens": 433,
        "cost_usd": 7e-9,
        "cost_nusd": 7,
        "unpriced_calls": 0,
        "reported_cost_usd": 9e-9,
    }
    assert "cost_nusd" not in tally.usage_json(with_nusd=False)
    step = step_usage_json(call)
    assert step == {k: block[k] for k in step}  # a step's usage: the same names, the same counts
    assert list(step) == list(block)[1:7]  # the six token kinds, in the block's order
    assert step_total_tokens(step) == total_tokens(Usage(1, 2, 30, 10, 20, 400)) == 433


def test_tallies_add_up() -> None:
    a, b = UsageTally(), UsageTally()
    a.add_call(_call(5, input_tokens=1, cache_5m_tokens=3, cache_creation_tokens=3))
    b.add_call(_call(None, output_tokens=2))
    a.add(b)
    assert (a.llm_calls, a.unpriced_calls, a.cost_nusd, a.total_tokens) == (2, 1, 5, 6)
    assert UsageTally.from_values({"calls": 2, "input_tokens": 4, "unpriced_calls": 2}).cost_usd() is None
