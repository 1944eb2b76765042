"""Codex CLI, Gemini CLI and Qwen Code sessions through the commands a user types, on every
backend: import of files the real clients wrote (tests/fixtures/agents), `--agent` filters, the
per-agent split, the agent column; `init --agent codex|opencode` and `uninstall --agent codex|opencode`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import cli, report

AGENTS = Path(__file__).resolve().parents[1] / "fixtures" / "agents"


def test_mixed_agents_import_report_and_filters(home: Path) -> None:
    out = cli(home, "import", str(AGENTS)).stdout
    assert "Imported 4 file(s)" in out
    assert "qwen3-coder-plus" in out  # unpriced, and said so
    totals = report(home, "daily", "--since", "2026-12-01", "--until", "2026-12-31")["totals"]
    assert totals["llm_calls"] == 6 + 6 + 5 + 5
    by_agent = {a["agent"]: a for a in totals["agent_breakdowns"]}
    assert {name: a["llm_calls"] for name, a in by_agent.items()} == {
        "codex": 12,
        "gemini-cli": 5,
        "qwen-code": 5,
    }
    assert by_agent["qwen-code"]["unpriced_calls"] == 5 and by_agent["codex"]["cost_nusd"] > 0
    # Codex: cached input moved out of input, reasoning left inside output, per call.
    codex = report(home, "daily", "--agent", "codex", "--since", "2026-12-01", "--until", "2026-12-31")[
        "totals"
    ]
    assert (codex["input_tokens"], codex["cache_read_tokens"], codex["output_tokens"]) == (
        2 * 2000,
        2 * 6000,
        2 * 375,
    )
    gemini = report(home, "daily", "--agent", "gemini", "--since", "2026-12-01", "--until", "2026-12-31")[
        "totals"
    ]
    assert (gemini["input_tokens"], gemini["cache_read_tokens"], gemini["output_tokens"]) == (
        4425,
        6600,
        265 + 40,
    )
    sessions = json.loads(cli(home, "sessions", "--json").stdout)
    rows = sessions["sessions"] if isinstance(sessions, dict) else sessions
    assert sorted(r["agent"] for r in rows) == ["codex", "codex", "gemini-cli", "qwen-code"]
    table = cli(home, "sessions").stdout
    assert "gemini-cli" in table and "qwen-code" in table
    again = cli(home, "import", str(AGENTS)).stdout
    assert "4 unchanged" in again


def test_init_and_uninstall_codex_keep_the_users_config(tmp_path: Path) -> None:
    home = tmp_path / ".agent-trace"
    config = tmp_path / ".codex" / "config.toml"
    config.parent.mkdir(parents=True)
    original = 'model = "gpt-5.5"\n\n[projects."/work"]\ntrust_level = "trusted"\n'
    config.write_text(original)
    first = cli(home, "init", "--agent", "codex", "--collector-url", "http://127.0.0.1:9999")
    assert "Codex CLI exports its telemetry" in first.stdout
    text = config.read_text()
    assert text.startswith(original) and 'endpoint = "http://127.0.0.1:9999/v1/logs"' in text
    assert (
        "nothing to change"
        in cli(home, "init", "--agent", "codex", "--collector-url", "http://127.0.0.1:9999").stdout
    )
    cli(home, "uninstall", "--agent", "codex")
    assert config.read_text() == original
    # A config with an [otel] table of the user's own is left alone, with one clear line.
    config.write_text(original + '\n[otel]\nenvironment = "mine"\n')
    refused = cli(home, "init", "--agent", "codex", check=False)
    assert refused.returncode == 2 and "[otel]" in refused.stderr and "Traceback" not in refused.stderr


def test_init_and_uninstall_opencode_write_and_remove_only_its_plugin(tmp_path: Path) -> None:
    home = tmp_path / ".agent-trace"
    opencode = tmp_path / ".config" / "opencode"
    (opencode / "plugin").mkdir(parents=True)
    config = opencode / "opencode.json"
    config.write_text('{"model": "fake/gpt-4.1"}\n')
    mine = opencode / "plugin" / "mine.js"
    mine.write_text("export const Mine = async () => ({})\n")
    url = "http://127.0.0.1:9999"
    dry = cli(home, "init", "--agent", "opencode", "--collector-url", url, "--token", "s3cret", "--dry-run")
    assert "+++" in dry.stdout and "s3cret" not in dry.stdout
    plugin = opencode / "plugin" / "agent-trace.js"
    assert not plugin.exists()
    first = cli(home, "init", "--agent", "opencode", "--collector-url", url, "--privacy-tier", "1")
    assert "OpenCode sends its sessions" in first.stdout
    text = plugin.read_text()
    assert '"endpoint": "http://127.0.0.1:9999/v1/logs"' in text and '"tier": 1' in text
    assert plugin.stat().st_mode & 0o077 == 0  # it may hold the ingest token
    again = cli(home, "init", "--agent", "opencode", "--collector-url", url, "--privacy-tier", "1")
    assert "nothing to change" in again.stdout
    cli(home, "uninstall", "--agent", "opencode")
    assert not plugin.exists() and mine.exists() and config.read_text() == '{"model": "fake/gpt-4.1"}\n'
    # A file of that name that is not ours is left alone, with one clear line.
    plugin.write_text("export const Other = async () => ({})\n")
    refused = cli(home, "init", "--agent", "opencode", check=False)
    assert refused.returncode == 2 and "not agent-trace's plugin" in refused.stderr
    assert "Traceback" not in refused.stderr
    kept = cli(home, "uninstall", "--agent", "opencode")
    assert "left as it is" in kept.stdout and plugin.exists()
