"""The pinned Gemini CLI, installed once per machine, run offline against the fake Gemini API.

Gemini CLI is pointed at the fake with `GOOGLE_GEMINI_BASE_URL` (read by @google/genai) and an API
key (`security.auth.selectedType = gemini-api-key`); `GEMINI_CLI_TRUST_WORKSPACE` lets a headless
run use `--yolo` in a fresh folder. The model is `gemini-2.5-pro` (priced by genai-prices).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claude_cli import install_npm_cli, make_git_repo, npm_bin, run_cli
from .fake_gemini import GeminiScenario, GeminiTurn, GeminiUsage

GEMINI_VERSION = "0.61.0"
GEMINI_PACKAGE = "@google/gemini-cli"
GEMINI_MODEL = "gemini-2.5-pro"


def install_gemini_cli(version: str = GEMINI_VERSION, cache_dir: Path | None = None) -> Path:
    return install_npm_cli(
        GEMINI_PACKAGE,
        version,
        lambda prefix: npm_bin(prefix, "gemini", version),
        cache_dir=cache_dir,
        name="gemini-cli",
    )


# A shell command, a file write, an edit and a failing command, then an answer. Cached tokens are
# part of the prompt count, thoughts are not part of the candidates count (the Gemini API's rules).
GEMINI_SCENARIO = GeminiScenario(
    "gemini-tools",
    ("SCENARIO:gemini-tools make notes.txt",),
    (
        GeminiTurn(GeminiUsage(2003, 31, 0, 7), call=("run_shell_command", {"command": "echo hello"})),
        GeminiTurn(
            GeminiUsage(2107, 42, 1501, 9),
            call=("write_file", {"file_path": "{cwd}/notes.txt", "content": "alpha\nbeta\n"}),
        ),
        GeminiTurn(
            GeminiUsage(2211, 53, 1603, 0),
            call=(
                "replace",
                {
                    "file_path": "{cwd}/notes.txt",
                    "old_string": "beta",
                    "new_string": "gamma",
                    "instruction": "swap",
                },
            ),
        ),
        GeminiTurn(
            GeminiUsage(2317, 64, 1705, 11),
            call=("run_shell_command", {"command": "ls /nonexistent-agent-trace"}),
            expect_error=True,
        ),
        GeminiTurn(GeminiUsage(2419, 75, 1807, 13), text="notes.txt holds alpha and gamma."),
    ),
)


@dataclass
class GeminiSession:
    base_url: str
    root: Path
    binary: Path
    settings: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.home.mkdir(parents=True, exist_ok=True)
        self.repo = make_git_repo(self.root / "repo", self.home).resolve()
        self.write_settings()

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def settings_path(self) -> Path:
        return self.home / ".gemini" / "settings.json"

    def write_settings(self) -> None:
        self.settings_path.parent.mkdir(parents=True, exist_ok=True)
        base = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": True},
            "privacy": {"usageStatisticsEnabled": False},
        }
        self.settings_path.write_text(json.dumps({**base, **self.settings}, indent=2) + "\n")

    def run(self, prompt: str, *, timeout: float = 180.0) -> dict[str, Any]:
        cmd = [str(self.binary), "-p", prompt, "--yolo", "--output-format", "json", "-m", GEMINI_MODEL]
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "dumb",
            "GEMINI_API_KEY": "fake-key",
            "GOOGLE_GEMINI_BASE_URL": self.base_url,
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        }
        _code, stdout, _stderr = run_cli("gemini", cmd, cwd=self.repo, env=env, timeout=timeout)
        result: dict[str, Any] = json.loads(stdout[stdout.index("{") :])
        self.session_id = self.session_id or result.get("session_id")
        return result

    def chat_files(self) -> list[Path]:
        return sorted((self.home / ".gemini" / "tmp").rglob("session-*.json*"))
