"""Timestamp parsing: the fast path for Claude Code's shape must agree with the general one."""

from __future__ import annotations

from datetime import datetime

import pytest

from agent_trace.domain.timeutil import ms_to_iso, parse_iso_ms, unix_nano_to_ms


def _reference_ms(text: str) -> int:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(parsed.replace(microsecond=0).timestamp()) * 1000 + parsed.microsecond // 1000


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-11T20:36:45.618Z",
        "2026-02-11T00:00:00.000Z",
        "2026-02-11T23:59:59.999Z",
        "2024-02-29T12:30:05.001Z",  # leap day
        "1999-12-31T23:59:59.500Z",
    ],
)
def test_fast_path_matches_general_parse(text: str) -> None:
    assert parse_iso_ms(text) == _reference_ms(text)
    assert ms_to_iso(parse_iso_ms(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-11T20:36:45Z", "2026-02-11T20:36:45.000Z"),
        ("2026-02-11T20:36:45.618123Z", "2026-02-11T20:36:45.618Z"),  # microseconds truncate
        ("2026-02-11T21:36:45.618+01:00", "2026-02-11T20:36:45.618Z"),  # an offset
        ("2026-02-11T20:36:45.618", "2026-02-11T20:36:45.618Z"),  # naive means UTC
        ("2026-02-11T20:36:45.618z", "2026-02-11T20:36:45.618Z"),
    ],
)
def test_other_iso_forms(text: str, expected: str) -> None:
    assert ms_to_iso(parse_iso_ms(text)) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        42,
        "yesterday",
        "2026-02-11T20:36:4x.618Z",  # 24 characters, not digits: the fast path must not guess
        "2026-02-11T20:36:75.618Z",  # seconds out of range
        "2026-02-11T25:36:45.618Z",  # hour out of range
        "2026-13-11T20:36:45.618Z",  # month out of range
        "2026-02-11T20:36:4².618Z",  # a Unicode digit int() would reject
    ],
)
def test_unusable_values_are_none(value: object) -> None:
    assert parse_iso_ms(value) is None


def test_unix_nano() -> None:
    assert unix_nano_to_ms(1_770_842_205_618_000_000) == 1_770_842_205_618
    assert unix_nano_to_ms("1770842205618000000") == 1_770_842_205_618
    assert unix_nano_to_ms(0) is None
    assert unix_nano_to_ms(True) is None
    assert unix_nano_to_ms("12abc") is None
