"""reports.iso.iso_ms (the replay's fast formatter) agrees with domain.timeutil.ms_to_iso."""

from __future__ import annotations

from agent_trace.domain.timeutil import ms_to_iso
from agent_trace.reports.iso import iso_ms


def test_same_text_as_the_domain_formatter() -> None:
    samples = [0, 1, 999, 1000, 1_770_768_000_000, 1_795_557_390_300, 4_102_444_799_999]
    samples += list(range(1_700_000_000_000, 1_700_000_000_000 + 5_000_000_000, 9_999_991))
    for ms in samples:
        assert iso_ms(ms) == ms_to_iso(ms), ms
    assert iso_ms(None) is None
