"""axe-core (Deque's accessibility engine, from npm) for the browser tests: installed once per
machine next to the e2e harness's Claude Code CLI (~/.cache/agent-trace-e2e), injected into the
page under test with Playwright (a test-only script: the dashboard's own CSP is not involved,
Playwright evaluates it through the DevTools protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.support.claude_cli import (
    CliInstallError,
    NpmNotFoundError,
    _locked,
    default_cache_dir,
    npm_install,
)

AXE_VERSION = "4.14.1"
SERIOUS = ("serious", "critical")


class AxeUnavailable(RuntimeError):
    pass


def install_axe(version: str = AXE_VERSION, timeout: float = 300.0) -> Path:
    """The path of axe.min.js, running `npm install axe-core@version` only the first time."""
    prefix = default_cache_dir() / f"axe-core-{version}"
    script = prefix / "node_modules" / "axe-core" / "axe.min.js"
    with _locked(default_cache_dir() / f".axe-core-{version}.lock"):
        if not script.is_file():
            try:
                npm_install(prefix, f"axe-core@{version}", timeout)
            except (NpmNotFoundError, CliInstallError) as exc:
                raise AxeUnavailable(str(exc)) from exc
        if not script.is_file():
            raise AxeUnavailable(f"npm installed axe-core@{version} but {script} is missing")
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
