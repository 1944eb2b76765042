"""The pinned Codex CLI, installed once per machine, run offline against the fake Responses API.

Typical use::

    repo = ...
    with FakeOpenAI([CODEX_SCENARIO], cwd=str(repo)) as fake:
        codex = CodexSession(fake.url, tmp_path, binary=install_codex_cli())
        codex.run(CODEX_SCENARIO.prompts[0])      # codex exec (a new session)
        codex.run(CODEX_SCENARIO.prompts[1])      # codex exec resume <session>

Codex talks to a custom model provider (`[model_providers.fake]`, `wire_api = "responses"`) whose
`base_url` is the fake; the API key comes from an environment variable the provider names. The
model is `gpt-5.5`, one Codex ships metadata for (so it offers its full tool set, `apply_patch`
included) and genai-prices prices.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claude_cli import install_npm_cli, json_lines, make_git_repo, npm_bin, run_cli
from .fake_openai import Scenario, ToolCall, Turn, Usage

CODEX_VERSION = "0.171.0"
CODEX_PACKAGE = "@openai/codex"
CODEX_MODEL = "gpt-5.5"


def install_codex_cli(version: str = CODEX_VERSION, cache_dir: Path | None = None) -> Path:
    return install_npm_cli(
        CODEX_PACKAGE,
        version,
        lambda prefix: npm_bin(prefix, "codex", version),
        cache_dir=cache_dir,
        name="codex",
    )


_ADD = "*** Begin Patch\n*** Add File: notes.txt\n+alpha\n+beta\n*** End Patch\n"
_EDIT = "*** Begin Patch\n*** Update File: notes.txt\n@@\n alpha\n-beta\n+gamma\n*** End Patch\n"

# A shell command, a file write, an edit and a failing command, then an answer; a resumed second
# prompt. Every count is distinct, cached input is part of input and reasoning part of output
# (the Responses API's convention), so a parser that adds them again cannot land on the totals.
CODEX_SCENARIO = Scenario(
    "codex-tools",
    ("SCENARIO:codex-tools make notes.txt", "SCENARIO:codex-tools and summarise"),
    (
        Turn(Usage(1003, 51, 0, 11), tool=ToolCall("exec_command", {"cmd": "echo hello"})),
        Turn(
            Usage(1207, 62, 1001, 23),
            tool=ToolCall("apply_patch", {}, freeform=_ADD),
            reasoning="Write the file with apply_patch.",
        ),
        Turn(Usage(1319, 73, 1109, 0), tool=ToolCall("apply_patch", {}, freeform=_EDIT)),
        Turn(
            Usage(1431, 84, 1217, 31),
            tool=ToolCall("exec_command", {"cmd": "ls /nonexistent-agent-trace"}, expect_error=True),
        ),
        Turn(Usage(1543, 95, 1327, 41), text="notes.txt holds alpha and gamma."),
        Turn(Usage(1657, 27, 1433, 7), text="Summary: one file written, edited once."),
    ),
)


@dataclass
class CodexRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]

    @property
    def thread_id(self) -> str | None:
        return next((e["thread_id"] for e in self.events if e.get("type") == "thread.started"), None)

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
        )


@dataclass
class CodexSession:
    """A HOME (with ~/.codex/config.toml) and a git repo under `root`; runs share one session."""

    base_url: str
    root: Path
    binary: Path
    otel_block: str = ""  # extra TOML appended to config.toml (agent-trace init writes its own)
    session_id: str | None = None
    runs: list[CodexRun] = field(default_factory=list)
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.home.mkdir(parents=True, exist_ok=True)
        self.repo = make_git_repo(self.root / "repo", self.home).resolve()
        self.write_config()

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def codex_home(self) -> Path:
        return self.home / ".codex"

    @property
    def config_path(self) -> Path:
        return self.codex_home / "config.toml"

    def write_config(self) -> None:
        self.codex_home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f'model = "{CODEX_MODEL}"\n'
            'model_provider = "fake"\n'
            "[model_providers.fake]\n"
            'name = "fake"\n'
            f'base_url = "{self.base_url}/v1"\n'
            'wire_api = "responses"\n'
            'env_key = "FAKE_OPENAI_API_KEY"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n" + self.otel_block
        )

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "TERM": "dumb",
            "FAKE_OPENAI_API_KEY": "sk-fake",
        }

    def run(self, prompt: str, *, timeout: float = 120.0) -> CodexRun:
        cmd = [str(self.binary), "exec", "--json", "--skip-git-repo-check"]
        cmd += ["--dangerously-bypass-approvals-and-sandbox"]
        cmd += ["resume", self.session_id, prompt] if self.session_id else [prompt]
        _code, stdout, stderr = run_cli("codex", cmd, cwd=self.repo, env=self.env(), timeout=timeout)
        run = CodexRun(cmd, 0, stdout, stderr, json_lines(stdout))
        self.runs.append(run)
        self.session_id = self.session_id or run.thread_id
        return run

    def rollouts(self) -> list[Path]:
        return sorted((self.codex_home / "sessions").rglob("rollout-*.jsonl"))

    def wait_for_rollout(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.rollouts():
            assert time.monotonic() < deadline, "codex wrote no rollout file"
            time.sleep(0.05)
