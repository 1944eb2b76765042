"""A small, known data set for API and dashboard tests: four sessions over three days, three
users, three projects, three models, imported through the real importer at privacy tier 3."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from tests.fixtures.showcase import Showcase, build_showcase
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage


@dataclass
class Dataset:
    showcase: Showcase
    alpha_late: str  # alice, /home/alice/alpha, sonnet, 2026-02-09 23:30 UTC (02-10 in Berlin)
    alpha_docs: str  # alice, /home/alice/alpha, haiku, 2026-02-10 12:00 UTC
    beta: str  # bob, /srv/beta, opus, 2026-02-12 08:00 UTC

    @property
    def all_ids(self) -> set[str]:
        return {self.showcase.session_id, self.alpha_late, self.alpha_docs, self.beta}


def dated_session(
    root: Path, cwd: str, prompt: str, model: str, day: str, hour: int, minute: int = 0, tools: int = 1
) -> str:
    sid = str(uid())
    t = Transcript(sid, cwd=cwd)
    t.clock = minute * 60
    t.prompt(prompt, prompt_id=uid())
    for n in range(tools):
        tid = uid("toolu_")
        t.assistant(
            [tool_use("Bash", {"command": f"echo step {n}"}, tid)], usage(10, 20, read=100), model=model
        )
        t.tool_result(tid, f"step {n}")
    t.assistant([text_block("done")], usage(10, 30, read=200), model=model)
    for line in t.lines:
        stamp = str(line["timestamp"])
        line["timestamp"] = f"{day}T{hour:02d}:{stamp[14:]}"
    project = cwd.replace("/", "-")
    t.write(root / project / f"{sid}.jsonl")
    return sid


def load_dataset(store: Any, root: Path) -> Dataset:
    prices = PriceBook()

    def run(user: str, folder: Path) -> None:
        Importer(Writer(store, prices, 3, user)).run([folder])

    show = build_showcase(root / "dev")
    run("dev", root / "dev")
    alpha_late = dated_session(
        root / "alice", "/home/alice/alpha", "refactor the parser", "claude-sonnet-4-5", "2026-02-09", 23, 30
    )
    alpha_docs = dated_session(
        root / "alice",
        "/home/alice/alpha",
        "write docs for the parser",
        "claude-haiku-4-5",
        "2026-02-10",
        12,
        tools=2,
    )
    run("alice", root / "alice")
    beta = dated_session(
        root / "bob", "/srv/beta", "deploy beta", "claude-opus-4-6", "2026-02-12", 8, tools=3
    )
    run("bob", root / "bob")
    store.refresh_derived()
    return Dataset(show, alpha_late, alpha_docs, beta)
