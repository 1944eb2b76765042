"""Real Chromium against real `agent-trace serve` processes.

Three servers share one SQLite file: the API, a dashboard reading it over HTTP
(DASHBOARD_API_BASE_URL) and a dashboard reading the store in-process; data comes from the
project's showcase fixture and, when present, ../shared/corpus. Screenshots of every page go to
test-artifacts/screenshots/ (the path is printed at the end of the run).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, REPO
from tests.fixtures.showcase import Showcase, build_showcase

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
START_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    home: Path
    projects: Path
    showcase: Showcase
    api: str
    dashboard: str  # reads the API over HTTP
    dashboard_inproc: str  # reads the store in-process
    env: dict[str, str]
    corpus_loaded: bool
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "agent_trace.cli.main", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, f"agent-trace {' '.join(args)}: {proc.stderr}"
        return proc


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url}: not healthy after {START_S}s")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("browser")
    home = tmp / "home"
    projects = tmp / "projects"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "AGENT_TRACE_HOME": str(home),
        "AGENT_TRACE_PRIVACY_TIER": "3",
        "USER": "dev",
        "TZ": "UTC",
    }
    if os.environ.get("PYTHONPATH"):  # e.g. to run these tests against another checkout's src/
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    ports = {role: free_port() for role in ("api", "dashboard", "inproc", "collector")}
    api_url = f"http://127.0.0.1:{ports['api']}"
    served = Served(
        home=home,
        projects=projects,
        showcase=build_showcase(projects),
        api=api_url,
        dashboard=f"http://127.0.0.1:{ports['dashboard']}",
        dashboard_inproc=f"http://127.0.0.1:{ports['inproc']}",
        env=env,
        corpus_loaded=CORPUS.is_dir(),
    )
    served.cli("import", str(projects))
    if served.corpus_loaded:
        served.cli("import", str(CORPUS))
    launches = [
        ("api", {"API_PORT": str(ports["api"])}, api_url),
        (
            "dashboard",
            {"DASHBOARD_PORT": str(ports["dashboard"]), "DASHBOARD_API_BASE_URL": api_url},
            served.dashboard,
        ),
        ("dashboard", {"DASHBOARD_PORT": str(ports["inproc"])}, served.dashboard_inproc),
    ]
    try:
        for role, extra, url in launches:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", role],
                env={**env, **extra},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            served.processes.append(proc)
            _wait_healthy(url, proc)
        yield served
    finally:
        for proc in served.processes:
            proc.terminate()
        for proc in served.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Watched:
    """A page, and everything it said that a clean page never says."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page, timeout=60_000)
        return path


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    page.set_default_timeout(10_000)
    w = Watched(page)

    def on_dialog(dialog: Any) -> None:
        w.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: w.errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: w.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    yield w
    context.close()
    assert w.dialogs == [], f"a dialog fired: {w.dialogs}"
    assert w.errors == [], f"the page reported errors: {w.errors}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS}")
