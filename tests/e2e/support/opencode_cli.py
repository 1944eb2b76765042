"""The pinned OpenCode CLI, installed once per machine, run offline against the fake Chat
Completions API through a custom `@ai-sdk/openai-compatible` provider in its config.

OpenCode installs that provider package from npm on first use (into its own cache under the test
HOME), so a run needs the npm registry once; the model API itself is the local fake.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claude_cli import _binary_version, install_npm_cli, json_lines, make_git_repo, run_cli
from .fake_openai import Scenario, ToolCall, Turn, Usage

OPENCODE_VERSION = "1.18.33"
OPENCODE_PACKAGE = "opencode-ai"
OPENCODE_MODEL = "gpt-4.1"


def _find_opencode(prefix: Path, version: str) -> Path | None:
    # npm may skip the wrapper's postinstall; the platform package holds the real binary.
    modules = prefix / "node_modules"
    for candidate in [modules / ".bin" / "opencode", *sorted(modules.glob("opencode-linux-*/bin/opencode"))]:
        if candidate.exists() and version in (_binary_version(candidate) or ""):
            return candidate
    return None


def install_opencode_cli(version: str = OPENCODE_VERSION, cache_dir: Path | None = None) -> Path:
    return install_npm_cli(
        OPENCODE_PACKAGE,
        version,
        lambda prefix: _find_opencode(prefix, version),
        cache_dir=cache_dir,
        name="opencode",
    )


# A shell command, a file write, an edit and a failing command, then an answer; a second prompt in
# the same session. Chat Completions counts: cached inside prompt_tokens, reasoning inside
# completion_tokens.
OPENCODE_SCENARIO = Scenario(
    "opencode-tools",
    ("SCENARIO:opencode-tools make notes.txt", "SCENARIO:opencode-tools and summarise"),
    (
        Turn(
            Usage(4001, 41, 0, 5),
            tool=ToolCall("bash", {"command": "echo hello", "description": "say hello"}),
        ),
        Turn(
            Usage(4103, 52, 3501, 7),
            tool=ToolCall("write", {"filePath": "{cwd}/notes.txt", "content": "alpha\nbeta\n"}),
        ),
        Turn(
            Usage(4205, 63, 3603, 0),
            tool=ToolCall("edit", {"filePath": "{cwd}/notes.txt", "oldString": "beta", "newString": "gamma"}),
        ),
        Turn(
            Usage(4307, 74, 3705, 9),
            tool=ToolCall(
                "bash", {"command": "ls /nonexistent-agent-trace", "description": "fail"}, expect_error=True
            ),
        ),
        Turn(Usage(4409, 85, 3807, 11), text="notes.txt holds alpha and gamma."),
        Turn(Usage(4511, 29, 3909, 3), text="Summary: one file written, edited once."),
    ),
)


@dataclass
class OpencodeSession:
    base_url: str
    root: Path
    binary: Path
    session_id: str | None = None
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.home.mkdir(parents=True, exist_ok=True)
        self.repo = make_git_repo(self.root / "repo", self.home).resolve()
        config = self.home / ".config" / "opencode" / "opencode.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            json.dumps(
                {
                    "$schema": "https://opencode.ai/config.json",
                    "provider": {
                        "fake": {
                            "npm": "@ai-sdk/openai-compatible",
                            "name": "Fake",
                            "options": {"baseURL": self.base_url + "/v1", "apiKey": "sk-fake"},
                            "models": {OPENCODE_MODEL: {"name": OPENCODE_MODEL}},
                        }
                    },
                    "model": f"fake/{OPENCODE_MODEL}",
                    "autoupdate": False,
                    "share": "disabled",
                    "permission": {"edit": "allow", "bash": "allow", "webfetch": "allow"},
                },
                indent=2,
            )
        )

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def database(self) -> Path:
        return self.home / ".local" / "share" / "opencode" / "opencode.db"

    def run(self, prompt: str, *, timeout: float = 300.0) -> list[dict[str, Any]]:
        cmd = [str(self.binary), "run", prompt, "--model", f"fake/{OPENCODE_MODEL}", "--format", "json"]
        if self.session_id:
            cmd += ["--session", self.session_id]
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "dumb",
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
        }
        _code, stdout, _stderr = run_cli("opencode", cmd, cwd=self.repo, env=env, timeout=timeout)
        events = json_lines(stdout)
        self.session_id = self.session_id or next(
            (e["sessionID"] for e in events if e.get("sessionID")), None
        )
        return events
