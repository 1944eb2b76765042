"""The pinned Qwen Code CLI, installed once per machine, run offline against the fake Chat
Completions API (`security.auth.selectedType = openai`, `OPENAI_BASE_URL` → the fake)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claude_cli import install_npm_cli, make_git_repo, npm_bin, run_cli
from .fake_openai import Scenario, ToolCall, Turn, Usage

QWEN_VERSION = "0.24.4"
QWEN_PACKAGE = "@qwen-code/qwen-code"
QWEN_MODEL = "qwen3-coder-plus"


def install_qwen_cli(version: str = QWEN_VERSION, cache_dir: Path | None = None) -> Path:
    return install_npm_cli(
        QWEN_PACKAGE,
        version,
        lambda prefix: npm_bin(prefix, "qwen", version),
        cache_dir=cache_dir,
        name="qwen-code",
    )


# A shell command, a file write, an edit and a failing command, then an answer. Chat Completions
# counts: cached input inside prompt_tokens, reasoning inside completion_tokens.
QWEN_SCENARIO = Scenario(
    "qwen-tools",
    ("SCENARIO:qwen-tools make notes.txt",),
    (
        Turn(Usage(3001, 41, 0, 5), tool=ToolCall("run_shell_command", {"command": "echo hello"})),
        Turn(
            Usage(3103, 52, 2501, 7),
            tool=ToolCall("write_file", {"file_path": "{cwd}/notes.txt", "content": "alpha\nbeta\n"}),
        ),
        Turn(
            Usage(3205, 63, 2603, 0),
            tool=ToolCall(
                "edit", {"file_path": "{cwd}/notes.txt", "old_string": "beta", "new_string": "gamma"}
            ),
        ),
        Turn(
            Usage(3307, 74, 2705, 9),
            tool=ToolCall("run_shell_command", {"command": "ls /nonexistent-agent-trace"}, expect_error=True),
        ),
        Turn(Usage(3409, 85, 2807, 11), text="notes.txt holds alpha and gamma."),
    ),
)


@dataclass
class QwenSession:
    base_url: str
    root: Path
    binary: Path
    session_id: str | None = None
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.home.mkdir(parents=True, exist_ok=True)
        self.repo = make_git_repo(self.root / "repo", self.home).resolve()
        self.settings_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings_path.write_text(
            json.dumps(
                {
                    "security": {"auth": {"selectedType": "openai"}},
                    "general": {"disableAutoUpdate": True},
                    "privacy": {"usageStatisticsEnabled": False},
                },
                indent=2,
            )
            + "\n"
        )

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def settings_path(self) -> Path:
        return self.home / ".qwen" / "settings.json"

    def run(self, prompt: str, *, timeout: float = 180.0) -> list[dict[str, Any]]:
        cmd = [str(self.binary), "-p", prompt, "--yolo", "--output-format", "json"]
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "dumb",
            "OPENAI_API_KEY": "sk-fake",
            "OPENAI_BASE_URL": self.base_url + "/v1",
            "OPENAI_MODEL": QWEN_MODEL,
            "QWEN_CODE_SUPPRESS_YOLO_WARNING": "1",
        }
        _code, stdout, _stderr = run_cli("qwen", cmd, cwd=self.repo, env=env, timeout=timeout)
        events: list[dict[str, Any]] = json.loads(stdout[stdout.index("[") :])
        self.session_id = self.session_id or next(
            (e["session_id"] for e in events if isinstance(e, dict) and e.get("session_id")), None
        )
        return events
