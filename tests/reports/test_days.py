"""Local days from 15-minute buckets: DST-exact offsets, and folding a range into one group."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from agent_trace.reports.analytics import cost_daily, day_filters, range_totals
from agent_trace.reports.periods import (
    SystemZone,
    day_indexer,
    days_range_ms,
    fold_offsets,
    local_datetime,
    local_day,
    period_days,
    period_label,
    utc_offsets,
)
from agent_trace.store.port import DAY_MS, Filters

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000


def ms(text: str) -> int:
    from agent_trace.domain.timeutil import parse_iso_ms

    value = parse_iso_ms(text)
    assert value is not None
    return value


def test_offsets_change_at_the_dst_switch() -> None:
    start, end = ms("2026-03-27T23:00:00Z"), ms("2026-03-31T22:00:00Z")
    assert utc_offsets(start, end, BERLIN) == [(start, HOUR), (ms("2026-03-29T01:00:00Z"), 2 * HOUR)]
    assert utc_offsets(start, end, ZoneInfo("UTC")) == [(start, 0)]


def test_fold_offsets_put_every_bucket_on_day_zero() -> None:
    start = ms("2026-03-27T23:00:00Z")
    end = start + 5 * DAY_MS - HOUR
    segments = fold_offsets(start, end)
    assert segments is not None and len(segments) == 5
    for bucket in range(start, end, 15 * 60_000):
        offset = [o for s, o in segments if s <= bucket][-1]
        assert (bucket + offset) // DAY_MS == 0
    assert fold_offsets(start, start + 400 * DAY_MS) is None  # long ranges sum daily rows instead


def _call(call_id: str, sid: str, when: str, cost: int) -> LlmCall:
    usage = Usage(input_tokens=1, output_tokens=1)
    return LlmCall(call_id, sid, model="m", ts_ms=ms(when), usage=usage, cost_nusd=cost)


def test_days_across_dst_in_berlin(sqlite_store: Any) -> None:
    sessions = [Session("a", user_id="u1", project="/p/one"), Session("b", user_id="u2", project="/p/two")]
    calls = [
        _call("c1", "a", "2026-03-28T23:30:00Z", 100),  # UTC+1: 00:30 on the 29th
        _call("c2", "a", "2026-03-29T21:30:00Z", 20),  # UTC+2: 23:30 on the 29th
        _call("c3", "b", "2026-03-29T22:30:00Z", 3),  # UTC+2: 00:30 on the 30th
    ]
    sqlite_store.write(RecordBatch(sessions=sessions, llm_calls=calls))
    body = cost_daily(sqlite_store, date(2026, 3, 28), date(2026, 3, 30), BERLIN, "Europe/Berlin", Filters())
    assert [(d["date"], d["cost_nusd"]) for d in body["days"]] == [
        ("2026-03-28", 0),
        ("2026-03-29", 120),
        ("2026-03-30", 3),
    ]
    assert {p["project"]: p["cost_nusd"] for p in body["by_project"]} == {"/p/one": 120, "/p/two": 3}
    assert {u["user"]: u["cost_nusd"] for u in body["by_user"]} == {"u1": 120, "u2": 3}
    filters, offsets = day_filters(date(2026, 3, 28), date(2026, 3, 30), BERLIN, Filters())
    folded = range_totals(sqlite_store, "usage", filters, offsets, ("project",))
    assert folded == {("/p/one",): folded[("/p/one",)], ("/p/two",): folded[("/p/two",)]}
    assert folded[("/p/one",)]["cost_nusd"] == 120 and folded[("/p/one",)]["calls"] == 2


# Zones with DST switches both ways, half-hour and 45-minute offsets, and a 30-minute DST.
ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe")


def test_one_day_rule_for_every_bucket_of_a_year() -> None:
    # The CLI (day_indexer over the same offsets the store query gets) and an exact zone lookup
    # per instant (local_day) give the local calendar date of every 15-minute bucket of 2026.
    start, end = ms("2026-01-01T00:00:00Z"), ms("2027-01-01T00:00:00Z")
    for name in ZONES:
        zone = ZoneInfo(name)
        day_of = day_indexer(start, end, zone)
        for bucket in range(start, end, 15 * 60_000):
            expected = (local_datetime(bucket, zone).date() - date(1970, 1, 1)).days
            assert local_day(bucket, zone) == expected, (name, bucket)
            assert day_of(bucket) == expected, (name, bucket)


def test_system_local_time_follows_its_dst(monkeypatch: Any) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        start, end = ms("2026-03-07T00:00:00Z"), ms("2026-03-10T00:00:00Z")
        day_of = day_indexer(start, end, None)
        for zone in (None, SystemZone()):
            for bucket in range(start, end, 15 * 60_000):
                expected = (
                    local_datetime(bucket, ZoneInfo("America/New_York")).date() - date(1970, 1, 1)
                ).days
                assert local_day(bucket, zone) == expected == day_of(bucket)
        # 2026-03-08 is 23 hours long in New York.
        assert days_range_ms(date(2026, 3, 8), date(2026, 3, 8), SystemZone()) == (
            ms("2026-03-08T05:00:00Z"),
            ms("2026-03-09T04:00:00Z"),
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_period_labels_and_days() -> None:
    day = (date(2026, 3, 1) - date(1970, 1, 1)).days  # a Sunday
    assert period_label(day, "daily") == "2026-03-01"
    assert period_label(day, "weekly") == "2026-02-23"
    assert period_label(day, "weekly", week_start=6) == "2026-03-01"
    assert period_label(day, "monthly") == "2026-03"
    assert period_days(day, "weekly") == (date(2026, 2, 23), date(2026, 3, 2))
    assert period_days(day, "monthly") == (date(2026, 3, 1), date(2026, 4, 1))
    assert period_days(day, "daily") == (date(2026, 3, 1), date(2026, 3, 2))
