"""OpenID Connect sign-in end to end in real Chromium: `agent-trace serve` with auth on, a real
provider (npm oidc-provider) started here, a person provisioned at first sign-in in the default
role, with the teams of the `groups` claim; then sign-out, and the audit entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import _wait_healthy, free_port
from tests.browser.oidc.support import ProviderUnavailable, running_provider


@pytest.fixture
def sso(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    dashboard_port, provider_port = free_port(), free_port()
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    try:
        provider = running_provider(
            provider_port, "agent-trace", "test-secret", f"{dashboard}/auth/oidc/callback"
        )
        issuer = provider.__enter__()
    except ProviderUnavailable as exc:
        pytest.skip(str(exc))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AGENT_TRACE_HOME": str(tmp_path / "home"),
        "USER": "dev",
        "TZ": "UTC",
        "AGENT_TRACE_AUTH": "on",
        "AGENT_TRACE_OIDC_ISSUER": issuer,
        "AGENT_TRACE_OIDC_CLIENT_ID": "agent-trace",
        "AGENT_TRACE_OIDC_CLIENT_SECRET": "test-secret",
        "AGENT_TRACE_OIDC_DEFAULT_ROLE": "member",
        "AGENT_TRACE_OIDC_TEAMS_CLAIM": "groups",
        "DASHBOARD_PORT": str(dashboard_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", "dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(dashboard, proc)
        yield dashboard, env
    finally:
        proc.terminate()
        proc.wait(10)
        provider.__exit__(None, None, None)


def _cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_oidc_sign_in_in_chromium(browser: Any, sso: tuple[str, dict[str, str]]) -> None:
    dashboard, env = sso
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{dashboard}/team")
        assert page.url.startswith(f"{dashboard}/login?next=%2Fteam")
        page.click("a.sso")
        # The provider's own sign-in page (development interactions: any password).
        page.wait_for_selector("input[name=login]")
        page.fill("input[name=login]", "alice")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        # Its consent page, then back to agent-trace.
        page.wait_for_url(lambda url: url.startswith(dashboard) or "/interaction/" in url)
        if not page.url.startswith(dashboard):
            page.click("button[type=submit]")
        try:
            page.wait_for_url(f"{dashboard}/team**")
        except Exception as exc:
            raise AssertionError(f"stuck at {page.url}:\n{page.inner_text('body')[:1500]}") from exc
        assert "alice@example.com" in page.inner_text("header")
        assert page.locator("nav a[href='/audit']").count() == 0  # a member, not an admin
        cookies = {c["name"]: c for c in context.cookies(dashboard)}
        session = cookies["agent_trace_session"]
        assert session["httpOnly"] and session["sameSite"] == "Lax"
        page.click("header form button")  # sign out (a form with its CSRF token)
        page.wait_for_url(f"{dashboard}/login**")
        page.goto(f"{dashboard}/team")
        assert page.url.startswith(f"{dashboard}/login")
    finally:
        context.close()
    assert errors == []
    users = json.loads(_cli(env, "users", "list", "--json"))
    assert [(u["name"], u["role"], u["source"], u["teams"]) for u in users] == [
        ("alice@example.com", "member", "oidc", ["platform"])
    ]
    actions = [json.loads(line)["action"] for line in _cli(env, "audit", "--json").splitlines()]
    assert actions[:4] == ["user_add", "team_add", "team_member_add", "login"] and "logout" in actions
