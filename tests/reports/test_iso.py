"""domain.timeutil.ms_to_iso (one ISO formatter, cached per second for the replay's thousands
of instants) writes what datetime writes."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_trace.domain.timeutil import ms_to_iso


def _reference(ms: int) -> str | None:
    try:
        text = datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    except (ValueError, OverflowError, OSError):
        return None
    return text + f"{ms % 1000:03d}Z"


def test_same_text_as_datetime() -> None:
    samples = [0, 1, 999, 1000, 1_770_768_000_000, 1_795_557_390_300, 4_102_444_799_999, -1, -1001]
    samples += list(range(1_700_000_000_000, 1_700_000_000_000 + 5_000_000_000, 9_999_991))
    samples += [-62_135_596_800_000, 253_402_300_799_999, 253_402_300_800_000, -62_135_596_800_001]
    for ms in samples:
        assert ms_to_iso(ms) == _reference(ms), ms
    assert ms_to_iso(None) is None
