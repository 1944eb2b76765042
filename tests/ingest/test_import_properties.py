"""Property tests of the transcript import (Hypothesis): any interleaving of a response's streamed
copies, any cut point, any order of files and any split into incremental imports give the same
totals and the same per-session attribution as one import of the whole (issue 10)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.store.port import Filters, SessionQuery
from tests.fixtures.stores import sqlite_store_at

BASE_MS = 1_770_804_000_000  # 2026-02-11T10:00:00Z


def _ts(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


message = st.tuples(
    st.integers(1, 5000),  # input
    st.integers(1, 3000),  # final output
    st.integers(0, 300_000),  # cache read (crosses the 200k long-context threshold)
    st.integers(1, 3),  # streamed copies
    st.sampled_from(["claude-opus-4-6", "claude-sonnet-4-20250514", "claude-haiku-4-5"]),
)


@st.composite
def corpus(draw: Any) -> dict[str, bytes]:
    """Files name → bytes: 1-3 sessions; a later one may repeat an earlier one's history."""
    files: dict[str, list[bytes]] = {}
    histories: list[list[dict[str, Any]]] = []
    for s in range(draw(st.integers(1, 3))):
        sid = f"{draw(st.sampled_from('0af')) * 8}-0000-4000-8000-{s:012d}"
        lines: list[dict[str, Any]] = []
        if histories and draw(st.booleans()):
            source = draw(st.sampled_from(histories))
            cut = draw(st.integers(0, len(source)))
            lines += [dict(line, sessionId=sid) for line in source[:cut]]
        base = BASE_MS + s * 3_600_000
        lines.append(
            {
                "type": "user",
                "uuid": f"u{s}",
                "sessionId": sid,
                "cwd": f"/w/p{s % 2}",
                "timestamp": _ts(base),
                "message": {"role": "user", "content": f"task {s}"},
            }
        )
        copies: list[dict[str, Any]] = []
        for m, (inp, out, read, n, model) in enumerate(draw(st.lists(message, min_size=1, max_size=4))):
            for c in range(n):
                partial = c < n - 1
                copies.append(
                    {
                        "type": "assistant",
                        "uuid": f"a{s}-{m}-{c}",
                        "sessionId": sid,
                        "cwd": f"/w/p{s % 2}",
                        "timestamp": _ts(base + 1000 * (m + 1) + c),
                        "requestId": f"req_{s}_{m}",
                        "message": {
                            "id": f"msg_{s}_{m}",
                            "model": model,
                            "role": "assistant",
                            "content": [{"type": "text", "text": f"block {c}"}],
                            "usage": {
                                "input_tokens": inp,
                                "output_tokens": max(1, out // 10) if partial else out,
                                "cache_read_input_tokens": read,
                                "cache_creation_input_tokens": 0,
                            },
                        },
                    }
                )
        lines += draw(st.permutations(copies))  # any interleaving of the streamed copies
        histories.append(lines)
        files[f"{sid}.jsonl"] = [orjson.dumps(line) + b"\n" for line in lines]
    return {name: b"".join(parts) for name, parts in files.items()}


def _answers(store: Any) -> tuple[tuple[int, ...], dict[str, tuple[int, ...]]]:
    totals = [0, 0, 0, 0, 0]
    for b in store.usage_buckets(Filters()):
        for i, v in enumerate((b.calls, b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cost_nusd)):
            totals[i] += v
    page = store.list_sessions(SessionQuery(filters=Filters(), limit=100))
    per_session = {
        s.session_id: (s.llm_calls, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cost_nusd)
        for s in page.sessions
    }
    return tuple(totals), per_session


def _import(store: Any, root: Path) -> None:
    Importer(Writer(store, PriceBook(), 2, "dev")).run([root], parallel=False)


PRICES = PriceBook()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=corpus(), data=st.data())
def test_any_cut_order_and_split_gives_the_whole_answer(files: dict[str, bytes], data: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        whole_root = base / "whole" / "-w-p"
        whole_root.mkdir(parents=True)
        for name, content in files.items():
            (whole_root / name).write_bytes(content)
        whole = sqlite_store_at(base / "whole.db")
        try:
            _import(whole, whole_root.parent)
            expected = _answers(whole)
        finally:
            whole.close()

        # The same files, arriving in pieces: each step grows some files to a random cut.
        root = base / "pieces" / "-w-p"
        root.mkdir(parents=True)
        pieces = sqlite_store_at(base / "pieces.db")
        try:
            written = dict.fromkeys(files, 0)
            for _ in range(data.draw(st.integers(0, 4), label="steps")):
                name = data.draw(st.sampled_from(sorted(files)), label="file")
                cut = data.draw(st.integers(written[name], len(files[name])), label="cut")
                written[name] = cut
                (root / name).write_bytes(files[name][:cut])
                _import(pieces, root.parent)
            for name in data.draw(st.permutations(sorted(files)), label="order"):
                (root / name).write_bytes(files[name])
                _import(pieces, root.parent)
            assert _answers(pieces) == expected
        finally:
            pieces.close()
