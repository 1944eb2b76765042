"""What a canonical record may hold: explicit ranges for every field (pure, stdlib only).

Every ingest path is checked against these rules. The collector checks each payload / record at
the edge and answers 4xx naming the field (`violations`), storing the good records of the same
batch; the writer repairs whatever still gets through (`repair`: an imported transcript line
with a year-10000 timestamp loses the timestamp, not the import). So nothing that is stored can
break a read (a timestamp past year 9999 made every `datetime` conversion raise), overflow a
BIGINT column, or blow the database up (a 4 MB session id).

Chosen ranges (docs/configuration.md, "Input limits"):
- instants: 2000-01-01 ≤ t < 2100-01-01 UTC (no coding agent ran before; nothing sane after);
- durations: 0 … 366 days in ms; token counts per call: 0 … 10^9; other counts: 0 … 10^9;
  money: 0 … 10^15 nano-dollars (one million dollars) per record;
- ids (session, prompt, call, tool use, agent, commit, event): 1 … 200 characters of
  `A-Z a-z 0-9 . _ : @ + = ~ -` (no `/`, no space, no control characters: ids go into URLs);
- short texts (model, cwd, paths, names…): at most 4,096 characters; long texts (prompts,
  outputs) are capped by the writer instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from agent_trace.domain.records import RecordBatch, Usage

MIN_TS_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z (exclusive)
MAX_DURATION_MS = 366 * 86_400_000
MAX_TOKENS = 10**9
MAX_COUNT = 10**9
MAX_NUSD = 10**15
MAX_ID_CHARS = 200
MAX_SHORT_TEXT = 4096
ID_PATTERN = re.compile(r"[A-Za-z0-9._:@+=~-]{1,200}\Z")


class LimitError(ValueError):
    """A field outside its range; the message names the field and the rule."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """The checked fields of one record type (attribute names)."""

    keys: tuple[str, ...] = ()  # required ids: a bad one drops the record
    ids: tuple[str, ...] = ()  # optional ids: a bad one is cleared on repair
    instants: tuple[str, ...] = ()
    durations: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    short: tuple[str, ...] = ()


_SHAPES: dict[str, _Shape] = {
    "sessions": _Shape(
        keys=("session_id",),
        instants=("started_ms", "ended_ms"),
        counts=("git_lines_added", "git_lines_removed", "git_files_changed", "compactions"),
        money=("reported_cost_nusd",),
        short=(
            "agent",
            "project",
            "cwd",
            "user_id",
            "version",
            "entrypoint",
            "title",
            "end_reason",
            "permission_mode",
            "git_repo",
            "git_branch",
            "git_head",
            "git_base_sha",
        ),
    ),
    "prompts": _Shape(
        keys=("prompt_id", "session_id"),
        ids=("line_uuid",),
        instants=("ts_ms",),
        durations=("duration_ms",),
        counts=("api_errors",),
        short=("kind",),
    ),
    "llm_calls": _Shape(
        keys=("call_id", "session_id"),
        ids=("message_id", "request_id", "agent_id", "prompt_id"),
        instants=("ts_ms",),
        durations=("duration_ms", "ttft_ms"),
        money=("cost_nusd", "reported_cost_nusd"),
        short=("model", "speed", "stop_reason", "query_source"),
    ),
    "tool_calls": _Shape(
        keys=("tool_use_id", "session_id"),
        ids=("agent_id", "prompt_id", "call_id", "subagent_id"),
        instants=("started_ms", "ended_ms"),
        durations=("duration_ms",),
        short=("tool_name", "status"),
    ),
    "file_touches": _Shape(keys=("tool_use_id", "session_id"), instants=("ts_ms",), short=("path", "op")),
    "subagents": _Shape(
        keys=("session_id", "agent_id"),
        ids=("parent_tool_use_id", "prompt_id"),
        instants=("started_ms", "ended_ms"),
        short=("agent_type", "description", "model"),
    ),
    "commits": _Shape(
        keys=("sha",),
        ids=("session_id",),
        instants=("ts_ms",),
        counts=("files_changed", "insertions", "deletions"),
        short=("repo", "branch", "author"),
    ),
    "raw_events": _Shape(
        keys=("event_id",), ids=("session_id",), instants=("ts_ms",), short=("source", "kind")
    ),
}
# Every token count, web searches too (the int fields: `inference_geo` is a short word, below).
_USAGE_FIELDS = tuple(f.name for f in fields(Usage) if f.type in (int, "int"))


def id_problem(value: object) -> str | None:
    """Why `value` cannot be an id, or None when it can."""
    if not isinstance(value, str):
        return "expected a string"
    if len(value) > MAX_ID_CHARS:
        return f"longer than {MAX_ID_CHARS} characters ({len(value)})"
    if ID_PATTERN.match(value) is None:
        return "only letters, digits and . _ : @ + = ~ - are allowed (no '/', spaces or control characters)"
    return None


def _int_problem(value: object, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "expected an integer"
    if value < low or value > high:
        return f"{value} is out of range {low}..{high}"
    return None


def _instant_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "expected an integer"
    if value < MIN_TS_MS or value >= MAX_TS_MS:
        return f"{value} ms is outside 2000-01-01..2100-01-01 UTC"
    return None


_GOOD_IDS: set[str] = set()  # ids seen valid (a session id repeats in every record of a session)
_GOOD_IDS_MAX = 65536


def _id_ok(value: object) -> bool:
    if value in _GOOD_IDS:
        return True
    if type(value) is str and len(value) <= MAX_ID_CHARS and ID_PATTERN.match(value) is not None:
        if len(_GOOD_IDS) >= _GOOD_IDS_MAX:
            _GOOD_IDS.clear()
        _GOOD_IDS.add(value)
        return True
    return False


def _record_ok(record: Any, shape: _Shape) -> bool:
    """The fast path (every record of an import goes through it): no message, no allocation."""
    for name in shape.keys:
        if not _id_ok(getattr(record, name)):
            return False
    for name in shape.ids:
        value = getattr(record, name)
        if value is not None and not _id_ok(value):
            return False
    for name in shape.instants:
        value = getattr(record, name)
        if value is not None and not (type(value) is int and MIN_TS_MS <= value < MAX_TS_MS):
            return False
    for names, high in (
        (shape.durations, MAX_DURATION_MS),
        (shape.counts, MAX_COUNT),
        (shape.money, MAX_NUSD),
    ):
        for name in names:
            value = getattr(record, name)
            if value is not None and not (type(value) is int and 0 <= value <= high):
                return False
    for name in shape.short:
        value = getattr(record, name)
        if type(value) is str and len(value) > MAX_SHORT_TEXT:
            return False
    usage = getattr(record, "usage", None)
    if usage is not None:
        for name in _USAGE_FIELDS:
            value = getattr(usage, name)
            if not (type(value) is int and 0 <= value <= MAX_TOKENS):
                return False
        geo = usage.inference_geo
        if geo is not None and not (type(geo) is str and len(geo) <= MAX_SHORT_TEXT):
            return False
    return True


def _record_problems(record: Any, shape: _Shape, where: str) -> list[tuple[str, bool]]:
    """[(message, fatal)]: fatal when a key is bad (the record cannot be kept at all)."""
    out: list[tuple[str, bool]] = []
    for name in shape.keys:
        problem = id_problem(getattr(record, name))
        if problem:
            out.append((f"{where}.{name}: {problem}", True))
    for name in shape.ids:
        value = getattr(record, name)
        if value is not None and (problem := id_problem(value)):
            out.append((f"{where}.{name}: {problem}", False))
    for name in shape.instants:
        value = getattr(record, name)
        if value is not None and (problem := _instant_problem(value)):
            out.append((f"{where}.{name}: {problem}", False))
    for names, high in (
        (shape.durations, MAX_DURATION_MS),
        (shape.counts, MAX_COUNT),
        (shape.money, MAX_NUSD),
    ):
        for name in names:
            value = getattr(record, name)
            if value is not None and (problem := _int_problem(value, 0, high)):
                out.append((f"{where}.{name}: {problem}", False))
    for name in shape.short:
        value = getattr(record, name)
        if isinstance(value, str) and len(value) > MAX_SHORT_TEXT:
            out.append((f"{where}.{name}: longer than {MAX_SHORT_TEXT} characters ({len(value)})", False))
    usage = getattr(record, "usage", None)
    if usage is not None:
        for name in _USAGE_FIELDS:
            if problem := _int_problem(getattr(usage, name), 0, MAX_TOKENS):
                out.append((f"{where}.usage.{name}: {problem}", False))
        geo = usage.inference_geo
        if geo is not None and not (isinstance(geo, str) and len(geo) <= MAX_SHORT_TEXT):
            out.append((f"{where}.usage.inference_geo: expected a short string", False))
    return out


def violations(batch: RecordBatch) -> list[str]:
    """Every rule `batch` breaks, each naming the field (empty when all is well)."""
    found: list[str] = []
    for kind, shape in _SHAPES.items():
        for index, record in enumerate(getattr(batch, kind)):
            if not _record_ok(record, shape):
                found.extend(message for message, _ in _record_problems(record, shape, f"{kind}[{index}]"))
    return found


def check(batch: RecordBatch) -> None:
    """Raise LimitError naming the first field that breaks a rule."""
    found = violations(batch)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise LimitError(found[0] + more)


def _clear(record: Any, message: str) -> None:
    """Unset the field a message names (`kind[i].field: …` or `kind[i].usage.x: …`)."""
    name = message.split(":", 1)[0].split(".")[1]
    setattr(record, name, None)


def _screen(batch: RecordBatch, *, lenient: bool) -> list[str]:
    changed: list[str] = []
    for kind, shape in _SHAPES.items():
        records = getattr(batch, kind)
        kept = []
        for index, record in enumerate(records):
            if _record_ok(record, shape):
                kept.append(record)
                continue
            problems = _record_problems(record, shape, f"{kind}[{index}]")
            if not problems:
                kept.append(record)
                continue
            changed.extend(message for message, _ in problems)
            if not lenient or any(fatal for _, fatal in problems):
                continue
            for message, _ in problems:
                _clear(record, message)
            kept.append(record)
        if len(kept) != len(records):
            records[:] = kept
    for event in batch.raw_events:
        if not MIN_TS_MS <= event.received_ms < MAX_TS_MS:
            event.received_ms = min(max(event.received_ms, MIN_TS_MS), MAX_TS_MS - 1)
    return changed


def drop_invalid(batch: RecordBatch) -> list[str]:
    """The collector's edge: drop every record that breaks a rule, in place; returns the rules
    broken (each naming the field), so the answer can say what was refused."""
    return _screen(batch, lenient=False)


def repair(batch: RecordBatch) -> list[str]:
    """The writer's last line: records with a bad key are dropped, other bad fields unset (an
    unknown value rather than a wrong one), in place. Returns what was changed."""
    return _screen(batch, lenient=True)
