"""Issue 9, problems 1 and 6 as a user meets them in the terminal: stored text never controls the
terminal, Rich markup in data is text, and a stored out-of-range instant breaks no command."""

from __future__ import annotations

import json
from pathlib import Path

from agent_trace.config import load_settings
from agent_trace.domain.records import Prompt, RecordBatch, Session
from agent_trace.store.factory import open_store
from tests.cli.test_cli import cli
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage

HOSTILE = "\x1b]52;c;aGVsbG8=\x07 [/red] [bold]x \x1b[2J \x1b]0;pwned\x07 \u202eevil\u202c done"


def test_escape_sequences_and_markup_in_transcripts_are_shown_escaped(home: Path, tmp_path: Path) -> None:
    t = Transcript(uid(), cwd="/work/[/red]")
    t.prompt(HOSTILE, prompt_id="p1")
    t.assistant(
        [text_block(HOSTILE), tool_use("Bash", {"command": "printf '\x1b[2J'"}, "toolu_1")], u=usage(1, 1)
    )
    t.tool_result("toolu_1", HOSTILE)
    t.write(tmp_path / "projects" / "-w" / f"{t.session_id}.jsonl")
    cli(home, "import", str(tmp_path / "projects"))
    for args in (
        ("sessions",),
        ("show", t.session_id),
        ("show", t.session_id, "--full"),
        ("report", "session"),
    ):
        out = cli(home, *args)
        for stream in (out.stdout, out.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream, args
        assert "Traceback" not in out.stderr
    shown = cli(home, "show", t.session_id).stdout
    assert "\\x1b]52" in shown and "[/red]" in shown and "\\u202e" in shown


def test_an_out_of_range_instant_in_the_store_breaks_no_command(home: Path) -> None:
    """A row stored before the collector checked ranges (problem 1): every read still answers."""
    settings = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(home.parent), "USER": "dev"})
    store = open_store(settings.database_url, settings.events_url)
    sid = "bad-ts-session"
    try:
        store.write(
            RecordBatch(
                sessions=[
                    Session(
                        sid, agent="claude-code", started_ms=253_402_300_800_123, ended_ms=-62_135_596_900_000
                    )
                ],
                prompts=[Prompt("p1", sid, ts_ms=253_402_300_800_123, text="hello")],
            )
        )
        store.refresh_derived()
    finally:
        store.close()
    for args in (
        ("sessions",),
        ("sessions", "--json"),
        ("show", sid),
        ("show", sid, "--json"),
        ("report", "daily"),
        ("report", "session", "--json"),
    ):
        out = cli(home, *args, check=False)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr
    listed = json.loads(cli(home, "sessions", "--json").stdout)["sessions"]
    assert [s["session_id"] for s in listed] == [sid]
