"""Fixtures for the end-to-end tests: the real Claude Code CLI, the fake Messages API, and a real
`agent-trace serve` collector with `agent-trace init` run in the CLI's temporary HOME.

- `claude_binary` (session): the pinned CLI, installed once per machine (skips without npm).
- `fake`: the scripted fake API with every scenario registered.
- `session`: a ClaudeSession (throwaway HOME and git repo) without agent-trace.
- `collector_factory`: starts `agent-trace serve --role collector` subprocesses on ephemeral ports,
  each with its own AGENT_TRACE_HOME (SQLite), stopped at the end of the test.
- `Capture`: a ClaudeSession in which `agent-trace init` was run, plus `settle()` (wait for the
  detached hook workers, deliver the spool) and the store's SQLite file.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .support.claude_cli import ClaudeSession, CliInstallError, NpmNotFoundError, install_claude_cli
from .support.fake_anthropic import FakeAnthropic
from .support.scenarios import ALL_SCENARIOS

AGENT_TRACE = [sys.executable, "-m", "agent_trace.cli.main"]


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    try:
        return install_claude_cli()
    except NpmNotFoundError as exc:
        pytest.skip(f"real Claude Code CLI unavailable: {exc}")
    except CliInstallError as exc:
        pytest.fail(f"installing the Claude Code CLI failed:\n{exc}", pytrace=False)


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(ALL_SCENARIOS.values()) as server:
        yield server


@pytest.fixture
def session(fake: FakeAnthropic, claude_binary: Path, tmp_path: Path) -> ClaudeSession:
    return ClaudeSession(fake.url, tmp_path, binary=claude_binary)


# -- agent-trace ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The OS user of every Capture. Its HOME has no git user.email and AGENT_TRACE_USER is unset, so
# the identity rule (configured user, else git user.email, else the OS user) lands here.
E2E_USER = "e2e-dev"


class Collector:
    """`agent-trace serve --role collector` as a user runs it, with a SQLite store of its own."""

    def __init__(
        self, root: Path, *, tier: int = 2, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.extra_env = dict(env or {})  # more settings for the server (e.g. alert channels)
        self.root = root
        self.extra_env = env or {}  # e.g. AGENT_TRACE_AUTH=on
        self.home = root / "agent-trace-home"
        self.tier = tier
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def hooks_url(self) -> str:
        """The documented `init --collector-url` form: the hook endpoint itself."""
        return self.url + "/v1/hooks"

    @property
    def database(self) -> Path:
        return self.home / "agent-trace.db"

    def start(self) -> Collector:
        self.root.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "AGENT_TRACE_HOME": str(self.home),
            "AGENT_TRACE_PRIVACY_TIER": str(self.tier),
            "COLLECTOR_PORT": str(self.port),
            "OTEL_GRPC_ADDRESS": "off",
            **self.extra_env,
        }
        log = (self.root / "collector.log").open("ab")
        self.proc = subprocess.Popen(
            [*AGENT_TRACE, "serve", "--role", "collector"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"collector did not answer /health:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        path = self.root / "collector.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def stored_bytes(self) -> bytes:
        """Every byte of the store: the database, its WAL and shared memory."""
        return b"".join(p.read_bytes() for p in sorted(self.home.glob("agent-trace.db*")))


@pytest.fixture
def collector_factory(tmp_path: Path) -> Iterator[Callable[..., Collector]]:
    started: list[Collector] = []

    def make(
        name: str = "collector",
        *,
        tier: int = 2,
        port: int | None = None,
        start: bool = True,
        env: dict[str, str] | None = None,
    ) -> Collector:
        collector = Collector(tmp_path / name, tier=tier, port=port, env=env)
        started.append(collector)
        return collector.start() if start else collector

    yield make
    for collector in started:
        collector.stop()


class Capture:
    """A ClaudeSession whose HOME ran `agent-trace init` against a collector URL."""

    def __init__(
        self,
        fake: FakeAnthropic,
        binary: Path,
        root: Path,
        collector_url: str,
        *,
        tier: int = 2,
        transport: str = "auto",
        token: str | None = None,
    ) -> None:
        self.claude = ClaudeSession(fake.url, root, binary=binary)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.claude.home),
            "USER": E2E_USER,
        }
        self.agent_trace_home = self.claude.home / ".agent-trace"
        result = self.agent_trace(
            "init",
            "--collector-url",
            collector_url,
            "--privacy-tier",
            str(tier),
            "--hook-transport",
            transport,
            *(("--token", token) if token else ()),
        )
        assert result.returncode == 0, result.stderr

    def agent_trace(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AGENT_TRACE, *args],
            env=self.env,
            cwd=self.claude.repo,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run_all(self, prompts: tuple[str, ...]) -> None:
        for prompt in prompts:
            self.claude.run(prompt)

    def wait_for_workers(self, timeout: float = 30.0) -> None:
        """Until the detached hook workers of earlier runs are done (they deliver on their own)."""
        from agent_trace.hook.spool import Spool

        spool = Spool(self.agent_trace_home / "spool")
        deadline = time.monotonic() + timeout
        while spool.running_workers(home=str(self.claude.home)):
            assert time.monotonic() < deadline, "hook workers still running"
            time.sleep(0.05)

    def settle(self) -> subprocess.CompletedProcess[str]:
        """Wait for the hook workers, then deliver whatever is still spooled."""
        return self.agent_trace("hook-handler", "--flush", "--wait", "30")

    def spooled_bytes(self) -> bytes:
        files = [p for p in self.agent_trace_home.rglob("*") if p.is_file()]
        return b"".join(p.read_bytes() for p in sorted(files))

    def hook_log(self) -> str:
        path = self.agent_trace_home / "logs" / "hook.log"
        return path.read_text() if path.exists() else ""
