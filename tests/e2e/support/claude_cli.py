"""Install the pinned Claude Code CLI once per machine and run it offline in a throwaway HOME and repo.

Typical use::

    with FakeAnthropic([scenario]) as fake:
        session = ClaudeSession(fake.url, tmp_path, binary=install_claude_cli())
        session.write_settings({"hooks": {...}})          # optional, before the first run
        first = session.run(scenario.prompts[0])          # new session
        second = session.run(scenario.prompts[1])         # --resume first.session_id
        first.transcript_path, first.subagent_transcripts()
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLAUDE_CODE_VERSION = "2.1.331"
CLAUDE_CODE_PACKAGE = "@anthropic-ai/claude-code"
# Marks a verified install; a prefix without it is a half-finished install and is redone.
_INSTALLED_MARKER = ".agent-trace-installed"


class NpmNotFoundError(RuntimeError):
    """``npm`` is not on PATH, so the real CLI cannot be installed (tests skip on this)."""


class CliInstallError(RuntimeError):
    """``npm install`` failed or produced no runnable binary; the message carries npm's output."""


class CliTimeoutError(RuntimeError):
    """A CLI run did not finish in time; its process group was killed."""


# --------------------------------------------------------------------------------------------
# Install
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    if os.environ.get("AGENT_TRACE_E2E_CACHE"):
        return Path(os.environ["AGENT_TRACE_E2E_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-trace-e2e"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Parallel test processes (xdist, two checkouts) must not run npm into the same prefix at once.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _binary_version(binary: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _find_binary(prefix: Path, version: str) -> Path | None:
    """The native binary: the wrapper's bin once postinstall linked it, else the platform package's.

    npm may skip postinstall (``--ignore-scripts``, allowScripts policies); then ``bin/claude.exe`` is a
    placeholder stub, but the optional platform package still holds the real binary.
    """
    scope = prefix / "node_modules" / "@anthropic-ai"
    candidates = [scope / "claude-code" / "bin" / "claude.exe", *sorted(scope.glob("claude-code-*/claude"))]
    for candidate in candidates:
        if candidate.is_file() and (_binary_version(candidate) or "").startswith(version):
            return candidate
    return None


def npm_install(prefix: Path, spec: str, timeout: float) -> str:
    """`npm install spec` into a fresh `prefix` (emptied first); npm's output. Raises
    NpmNotFoundError without npm and CliInstallError (with npm's output) on failure. Callers
    hold the prefix's lock (`_locked`)."""
    npm = shutil.which("npm")
    if npm is None:
        raise NpmNotFoundError("npm is not on PATH; install Node.js/npm to install " + spec)
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--save-exact", spec]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise CliInstallError(
            f"{' '.join(cmd)} timed out after {timeout}s\n{_text(exc.stdout)}\n{_text(exc.stderr)}"
        ) from exc
    output = f"$ {' '.join(cmd)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    if proc.returncode != 0:
        raise CliInstallError(output)
    return output


def install_claude_cli(
    version: str = CLAUDE_CODE_VERSION, cache_dir: Path | None = None, *, timeout: float = 900.0
) -> Path:
    """Return the path of the native ``claude`` binary, running ``npm install`` only the first time.

    Raises ``NpmNotFoundError`` without npm and ``CliInstallError`` (with npm's output) on failure.
    """
    return install_npm_cli(
        CLAUDE_CODE_PACKAGE,
        version,
        lambda prefix: _find_binary(prefix, version),
        cache_dir=cache_dir,
        name="claude-code",
        timeout=timeout,
    )


def install_npm_cli(
    package: str,
    version: str,
    find_binary: Callable[[Path], Path | None],
    *,
    cache_dir: Path | None = None,
    name: str | None = None,
    timeout: float = 900.0,
) -> Path:
    """Install ``package@version`` once into ``<cache>/<name>-<version>`` and return its binary.

    The one home for "an npm CLI, pinned, installed once per machine": a lock keeps parallel test
    processes from running npm into the same prefix, and a marker file tells a finished install
    from a half-finished one (which is redone). ``find_binary(prefix)`` returns the runnable
    binary in an install, or None.
    """
    cache = cache_dir or default_cache_dir()
    label = name or package.rsplit("/", 1)[-1]
    prefix = cache / f"{label}-{version}"
    with _locked(cache / f".{label}-{version}.lock"):
        if (prefix / _INSTALLED_MARKER).is_file():
            binary = find_binary(prefix)
            if binary is not None:
                return binary
        output = npm_install(prefix, f"{package}@{version}", timeout)
        binary = find_binary(prefix)
        if binary is None:
            raise CliInstallError(
                f"npm install succeeded but no runnable {package} {version} was found\n{output}"
            )
        (prefix / _INSTALLED_MARKER).write_text(str(binary) + "\n")
        return binary


def run_cli(
    name: str,
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    check: bool = True,
) -> tuple[int, str, str]:
    """Run one headless CLI invocation in its own process group (so a hung run and the tools it
    spawned are killed as a whole): (exit code, stdout, stderr). CliTimeoutError past `timeout`;
    with `check`, AssertionError (with both outputs) on a non-zero exit."""
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise CliTimeoutError(
            f"{name} did not finish in {timeout}s: {' '.join(cmd)}\n--- stdout ---\n{stdout[-4000:]}\n"
            f"--- stderr ---\n{stderr[-4000:]}"
        ) from None
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{name} exited {proc.returncode}\n$ {' '.join(cmd)}\n{stdout[-3000:]}\n{stderr[-3000:]}"
        )
    return proc.returncode, stdout, stderr


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among a CLI's output lines."""
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def npm_bin(prefix: Path, command: str, version: str) -> Path | None:
    """``node_modules/.bin/<command>`` of an install when ``<command> --version`` names ``version``."""
    candidate = prefix / "node_modules" / ".bin" / command
    if candidate.exists() and version in (_binary_version(candidate) or ""):
        return candidate
    return None


# --------------------------------------------------------------------------------------------
# Workspace
# --------------------------------------------------------------------------------------------

GIT_USER_NAME = "Agent Trace E2E"
GIT_USER_EMAIL = "e2e@agent-trace.invalid"


def _git(repo: Path, *args: str, home: Path) -> None:
    # The harness's own git calls ignore the developer's global config, like the CLI under env -i.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL
    )


def make_git_repo(path: Path, home: Path, files: Mapping[str, str] | None = None) -> Path:
    """A git repo on branch ``main`` with repo-local identity (the agent's commits need it) and one commit."""
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "-c", "init.defaultBranch=main", "init", "-q", home=home)
    _git(path, "config", "user.name", GIT_USER_NAME, home=home)
    _git(path, "config", "user.email", GIT_USER_EMAIL, home=home)
    _git(path, "config", "commit.gpgsign", "false", home=home)
    for name, content in (files or {"README.md": "# e2e workspace\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    _git(path, "add", "-A", home=home)
    _git(path, "commit", "-q", "-m", "Initial commit", home=home)
    return path


def project_dir_name(cwd: Path) -> str:
    """The CLI's folder name under ``~/.claude/projects`` for a start cwd (short paths only)."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


def cli_env(home: Path, base_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a run (``env -i`` semantics): nothing leaks in from the test process."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "TERM": "dumb",
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-ant-dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    if os.geteuid() == 0:
        # As root, --dangerously-skip-permissions exits 1 unless the CLI is told it is sandboxed.
        env["IS_SANDBOX"] = "1"
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Objects of a JSONL file; invalid or partial lines are skipped, as any reader must."""
    out: list[dict[str, Any]] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


@dataclass
class CliRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]  # parsed stream-json stdout lines
    duration_s: float
    session_id: str | None
    home: Path
    cwd: Path

    @property
    def result(self) -> dict[str, Any] | None:
        """The last ``result`` event (a background agent yields two, cumulative)."""
        return next((e for e in reversed(self.events) if e.get("type") == "result"), None)

    @property
    def projects_dir(self) -> Path:
        return self.home / ".claude" / "projects"

    @property
    def transcript_path(self) -> Path | None:
        if not self.session_id:
            return None
        expected = self.projects_dir / project_dir_name(self.cwd) / f"{self.session_id}.jsonl"
        if expected.is_file():
            return expected
        # Long or unusual paths get a hashed folder name; find the file instead of re-deriving it.
        return next(iter(sorted(self.projects_dir.glob(f"*/{self.session_id}.jsonl"))), None)

    @property
    def transcript_dir(self) -> Path:
        path = self.transcript_path
        return path.parent if path else self.projects_dir / project_dir_name(self.cwd)

    def transcript(self) -> list[dict[str, Any]]:
        path = self.transcript_path
        return read_jsonl(path) if path else []

    def subagent_transcripts(self) -> list[Path]:
        if not self.session_id:
            return []
        return sorted((self.transcript_dir / self.session_id / "subagents").glob("agent-*.jsonl"))

    def describe(self) -> str:
        """For assertion messages: what ran and what it printed."""
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode} in {self.duration_s:.2f}s\n"
            f"--- stdout (tail) ---\n{self.stdout[-4000:]}\n--- stderr (tail) ---\n{self.stderr[-4000:]}"
        )


def run_claude(
    binary: Path,
    prompt: str,
    *,
    home: Path,
    cwd: Path,
    base_url: str,
    resume: str | None = None,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 120.0,
) -> CliRun:
    """One headless CLI invocation. ``env`` is added to the ``cli_env`` baseline (e.g. ``OTEL_*``)."""
    cmd = [str(binary), "-p", prompt, "--output-format", "stream-json", "--verbose"]
    cmd += ["--dangerously-skip-permissions"]
    if resume:
        cmd += ["--resume", resume]
    cmd += list(args)
    started = time.monotonic()
    returncode, stdout, stderr = run_cli(
        "claude", cmd, cwd=cwd, env=cli_env(home, base_url, env), timeout=timeout, check=False
    )
    events = json_lines(stdout)
    session_id = next((e["session_id"] for e in events if isinstance(e.get("session_id"), str)), None)
    return CliRun(
        args=cmd,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        events=events,
        duration_s=time.monotonic() - started,
        session_id=session_id or resume,
        home=home,
        cwd=cwd,
    )


@dataclass
class ClaudeSession:
    """A HOME and a git repo under ``root`` that several CLI runs share (resume continues the session).

    Write ``~/.claude/settings.json`` with ``write_settings`` before a run to install hooks or ``env``.
    """

    base_url: str
    root: Path
    binary: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    repo_files: Mapping[str, str] | None = None
    session_id: str | None = None
    runs: list[CliRun] = field(default_factory=list)
    repo: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.home.mkdir(parents=True, exist_ok=True)
        # Resolved so the path matches the cwd the CLI reports and encodes into the projects folder.
        self.repo = make_git_repo(self.root / "repo", self.home, self.repo_files).resolve()
        if self.binary is None:
            self.binary = install_claude_cli()

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def settings_path(self) -> Path:
        return self.home / ".claude" / "settings.json"

    def write_settings(self, settings: Mapping[str, Any]) -> Path:
        self.settings_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings_path.write_text(json.dumps(settings, indent=2))
        return self.settings_path

    def run(
        self,
        prompt: str,
        *,
        resume: bool | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        timeout: float = 120.0,
        check: bool = True,
    ) -> CliRun:
        """Run one prompt. By default the first run starts the session and later runs resume it.

        ``resume=False`` starts a new session in the same HOME and repo. ``check`` raises on a non-zero
        exit, with the CLI's output in the message.
        """
        if resume is None:
            resume = self.session_id is not None
        if resume and self.session_id is None:
            raise ValueError("nothing to resume: no earlier run in this session")
        assert self.binary is not None
        run = run_claude(
            self.binary,
            prompt,
            home=self.home,
            cwd=self.repo,
            base_url=self.base_url,
            resume=self.session_id if resume else None,
            env={**self.env, **(env or {})},
            args=args,
            timeout=timeout,
        )
        self.runs.append(run)
        if run.session_id:
            self.session_id = run.session_id
        if check and run.returncode != 0:
            raise AssertionError(f"claude exited {run.returncode}\n{run.describe()}")
        return run

    @property
    def projects_dir(self) -> Path:
        return self.home / ".claude" / "projects"

    @property
    def transcript_path(self) -> Path | None:
        return self.runs[-1].transcript_path if self.runs else None
