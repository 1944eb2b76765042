"""Budget values as users type them: scopes, periods, exact amounts, thresholds, messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent_trace.domain.budgets import (
    Budget,
    BudgetError,
    crossed_thresholds,
    format_amount,
    make_budget,
    parse_scope,
    parse_thresholds,
    parse_tokens,
    parse_usd,
    percent,
    refusal_message,
)


@pytest.mark.parametrize(
    ("text", "normal"),
    [("all", "all"), ("ALL", "all"), ("session", "session"), ("user:ana", "user:ana"),
     ("team: web ", "team:web"), ("project:/home/ana/api", "project:/home/ana/api"), ("Project:api", "project:api")],
)  # fmt: skip
def test_scopes(text: str, normal: str) -> None:
    assert parse_scope(text) == normal


@pytest.mark.parametrize("text", ["", "everyone", "user:", "user", "all:x", "session:1", "team:  "])
def test_bad_scopes_name_the_rule(text: str) -> None:
    with pytest.raises(BudgetError, match="expected all, session, user:NAME"):
        parse_scope(text)


def test_usd_is_exact_nano_usd_and_round_trips() -> None:
    assert parse_usd("12.50") == 12_500_000_000
    assert parse_usd("$0.000000001") == 1
    for cents in range(1, 100_000, 37):
        text = f"{Decimal(cents) / 100:.2f}"
        assert format_amount("usd", parse_usd(text), exact=True) == f"${text}"
    assert format_amount("usd", parse_usd("0.123456789"), exact=True) == "$0.123456789"
    assert format_amount("usd", 1_234_567_000_000_000) == "$1,234,567.00"


@pytest.mark.parametrize("text", ["0", "-1", "abc", "1e999999", "2e9", "0.0000000001", "nan", "inf"])
def test_bad_usd(text: str) -> None:
    with pytest.raises(BudgetError, match="--usd"):
        parse_usd(text)


def test_tokens() -> None:
    assert (
        parse_tokens("2000000") == parse_tokens("2m") == parse_tokens("2_000k") == parse_tokens("2,000,000")
    )
    assert parse_tokens("1.5k") == 1500
    for text in ("0", "1.5", "x", "-3k", "1e99"):
        with pytest.raises(BudgetError, match="--tokens"):
            parse_tokens(text)


def test_thresholds_sorted_unique() -> None:
    assert parse_thresholds("100,50,80,50%") == (50, 80, 100)
    for text in ("", "0", "x", "2000"):
        with pytest.raises(BudgetError, match="--thresholds"):
            parse_thresholds(text)


def test_make_budget_defaults_and_rules() -> None:
    b = make_budget("user:ana", None, usd="5")
    assert (b.period, b.mode, b.thresholds, b.budget_id) == (
        "month",
        "warn",
        (50, 80, 100),
        "user:ana/month/usd",
    )
    assert make_budget("session", None, tokens="1m").period == "session"
    with pytest.raises(BudgetError, match="exactly one limit"):
        make_budget("all", "day")
    with pytest.raises(BudgetError, match="exactly one limit"):
        make_budget("all", "day", usd="1", tokens="1")
    with pytest.raises(BudgetError, match="--period must be session"):
        make_budget("session", "day", usd="1")
    with pytest.raises(BudgetError, match="period 'year'"):
        make_budget("all", "year", usd="1")
    with pytest.raises(BudgetError, match="mode 'stop'"):
        make_budget("all", "day", usd="1", mode="stop")


def test_thresholds_cross_exactly_at_the_percentage() -> None:
    b = Budget("all", "day", "usd", limit=1000, thresholds=(50, 80, 100))
    assert crossed_thresholds(b, 499) == ()
    assert crossed_thresholds(b, 500) == (50,)
    assert crossed_thresholds(b, 999) == (50, 80)
    assert crossed_thresholds(b, 1000) == (50, 80, 100)
    assert percent(999, 1000) == 99 and percent(2500, 1000) == 250


def test_refusal_names_budget_spend_and_who_can_raise_it() -> None:
    b = Budget("team:web", "month", "usd", limit=parse_usd("100"), mode="block")
    text = refusal_message(b, parse_usd("123.456"), "2026-12", "ask ops@example.com")
    assert text == (
        "agent-trace budget blocked: team:web USD budget for this month (2026-12) is spent: "
        "$123.46 of $100.00. To raise it: ask ops@example.com."
    )
    warn = Budget("all", "session", "tokens", limit=1000, mode="warn")
    assert refusal_message(warn, 1500, "s1", "x").startswith(
        "agent-trace budget warning: all TOKENS budget for this session is spent: 1,500 tokens of 1,000 tokens."
    )


@pytest.mark.parametrize("text", ["user:\x1b]0;x\x07", "team:a\u202eb", "project:" + "p" * 1025])
def test_scope_names_are_printable_and_bounded(text: str) -> None:
    """A scope name is echoed by the CLI, status and alerts: no terminal escapes, no bidi tricks."""
    with pytest.raises(BudgetError, match="printable text"):
        parse_scope(text)
