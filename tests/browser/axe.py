"""axe-core (Deque's accessibility engine, from npm) for the browser tests: installed once per
machine next to the e2e harness's Claude Code CLI (~/.cache/agent-trace-e2e), injected into the
page under test with Playwright (a test-only script: the dashboard's own CSP is not involved,
Playwright evaluates it through the DevTools protocol)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.support.claude_cli import _locked, default_cache_dir

AXE_VERSION = "4.14.1"
SERIOUS = ("serious", "critical")


class AxeUnavailable(RuntimeError):
    pass


def install_axe(version: str = AXE_VERSION, timeout: float = 300.0) -> Path:
    """The path of axe.min.js, running `npm install axe-core@version` only the first time."""
    prefix = default_cache_dir() / f"axe-core-{version}"
    script = prefix / "node_modules" / "axe-core" / "axe.min.js"
    with _locked(default_cache_dir() / f".axe-core-{version}.lock"):
        if script.is_file():
            return script
        npm = shutil.which("npm")
        if npm is None:
            raise AxeUnavailable("npm is not on PATH")
        shutil.rmtree(prefix, ignore_errors=True)
        prefix.mkdir(parents=True)
        cmd = [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            f"axe-core@{version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not script.is_file():
            raise AxeUnavailable(
                f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return script


def serious_violations(page: Any, script: Path) -> list[dict[str, Any]]:
    """axe's violations of impact serious or critical on the page as it is now, each with its
    rule id, impact, help text and the first few offending nodes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(script.read_text())
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " count: v.nodes.length, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [v for v in result if v["impact"] in SERIOUS]
