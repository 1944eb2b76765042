"""Claude Code's own cost figures against ours (pure: store rows in, a reconciliation out).

Claude Code reports a list-price cost per API request (OTLP `api_request` `cost_usd`, kept as the
call's `reported_cost_nusd`). For each session the reconciliation compares, over the calls that
carry such a figure, the reported sum with our computed sum, and lists the calls whose difference
no known rule explains. Known rules:

- rounding: Claude Code's figure is a float in USD; a difference of at most 1,000 nano-dollars
  ($0.000001) or one part in a million is rounding;
- unpriced: we have no list price for the call (the reason is given), so there is nothing to
  compare.

Anything else (a model Claude Code prices differently, a missed fast-mode or long-context rate,
a 1-hour cache write priced at another rate) is listed with both figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agent_trace.domain.records import NANO_PER_USD

ROUNDING_NUSD = 1000
ROUNDING_PARTS = 1_000_000
EXPLAINED_ROUNDING = "rounding of Claude Code's figure"
EXPLAINED_UNPRICED = "unpriced here"


def _usd(nusd: int) -> float:
    return nusd / NANO_PER_USD


def explain(reported: int, computed: int | None) -> str | None:
    """Which known rule explains the difference of one call (None: none does)."""
    if computed is None:
        return EXPLAINED_UNPRICED
    difference = abs(reported - computed)
    if difference <= ROUNDING_NUSD or difference * ROUNDING_PARTS <= max(abs(reported), abs(computed)):
        return EXPLAINED_ROUNDING
    return None


def reconcile(calls: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """session id → its reconciliation, for the sessions with at least one reported call."""
    out: dict[str, dict[str, Any]] = {}
    for call in calls:
        reported = int(call["reported_cost_nusd"])
        computed = None if call["cost_nusd"] is None else int(call["cost_nusd"])
        entry = out.setdefault(
            str(call["session_id"]),
            {
                "calls": 0,
                "reported_nusd": 0,
                "priced_reported_nusd": 0,
                "computed_nusd": 0,
                "unpriced_calls": 0,
                "unexplained": [],
            },
        )
        entry["calls"] += 1
        entry["reported_nusd"] += reported
        if computed is None:
            entry["unpriced_calls"] += 1
        else:
            entry["computed_nusd"] += computed
            entry["priced_reported_nusd"] += reported
        if explain(reported, computed) is None:
            assert computed is not None
            entry["unexplained"].append(
                {
                    "call_id": call["call_id"],
                    "model": call["model"],
                    "speed": call["speed"],
                    "reported_cost_usd": _usd(reported),
                    "computed_cost_usd": _usd(computed),
                    "difference_usd": _usd(reported - computed),
                }
            )
    return {sid: _as_json(entry) for sid, entry in out.items()}


def _as_json(entry: dict[str, Any]) -> dict[str, Any]:
    computed = entry["computed_nusd"]
    return {
        "calls_with_reported_cost": entry["calls"],
        "reported_cost_usd": _usd(entry["reported_nusd"]),
        "computed_cost_usd": _usd(computed),
        # Reported minus computed, over the calls we price (an unpriced call has no figure here).
        "difference_usd": _usd(entry["priced_reported_nusd"] - computed),
        "unpriced_calls": entry["unpriced_calls"],
        "unexplained_calls": entry["unexplained"],
    }
