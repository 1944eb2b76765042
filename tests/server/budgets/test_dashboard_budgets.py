"""The dashboard's budgets: the banner on every page, and the admin page's forms."""

from __future__ import annotations

import time
from typing import Any

from agent_trace.config import Settings
from agent_trace.domain.budgets import make_budget
from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from tests.server.conftest import make_client


def _spent(store: Any, nusd: int) -> None:
    now = time.time_ns() // 1_000_000
    store.write(RecordBatch(
        sessions=[Session("s1", user_id="dev", project="/w/api")],
        llm_calls=[LlmCall("c1", "s1", model="m", ts_ms=now, usage=Usage(1, 1), cost_nusd=nusd)],
    ))  # fmt: skip


def test_banner_on_every_page_and_the_admin_page(settings: Settings, sqlite_store: Any) -> None:
    _spent(sqlite_store, 4_000_000_000)
    sqlite_store.save_budget(make_budget("all", "month", usd="5", mode="block"))
    with make_client(settings, sqlite_store, "dashboard") as dash:
        for path in ("/", "/cost", "/budgets"):
            page = dash.get(path)
            assert page.status_code == 200
            assert (
                'class="budget-banner"' in page.text
                and "budget all/month/usd: 80% — $4.00 of $5.00" in page.text
            )
        admin = dash.get("/budgets").text
        assert 'aria-current="page">budgets</a>' in admin and "$5.00" in admin and "remove" in admin

        origin = {"Origin": "http://127.0.0.1"}
        saved = dash.post("/budgets", data={"scope": "user:dev", "period": "day", "amount": "1.5", "unit": "usd", "mode": "block", "thresholds": "80,100"}, headers=origin, follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"] == "/budgets"
        assert [b.budget_id for b in sqlite_store.budgets()] == ["all/month/usd", "user:dev/day/usd"]
        page = dash.get("/budgets").text
        assert "budget user:dev/day/usd: SPENT — $4.00 of $1.50, prompts blocked" in page

        bad = dash.post("/budgets", data={"scope": "nobody", "amount": "1", "unit": "usd"}, headers=origin, follow_redirects=True)  # fmt: skip
        assert bad.status_code == 200 and "scope &#39;nobody&#39;: expected all" in bad.text

        hostile = [
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1"},
        ]
        for headers in hostile:
            evil = dash.post("/budgets/remove", data={"id": "all/month/usd"}, headers=headers)
            assert evil.status_code == 403 and len(sqlite_store.budgets()) == 2
        assert (
            dash.post(
                "/budgets/remove", data={"id": "all/month/usd"}, headers=origin, follow_redirects=False
            ).status_code
            == 303
        )
        assert [b.budget_id for b in sqlite_store.budgets()] == ["user:dev/day/usd"]
        assert (
            dash.post(
                "/budgets/allow", data={"session_id": "s1"}, headers=origin, follow_redirects=False
            ).status_code
            == 303
        )
        assert sqlite_store.allowed_sessions() == {"s1"}
        assert "allowed: s1" in dash.get("/budgets").text


def test_no_banner_without_budgets(settings: Settings, sqlite_store: Any) -> None:
    with make_client(settings, sqlite_store, "dashboard") as dash:
        assert "budget-banner" not in dash.get("/").text
        assert "No budgets yet" in dash.get("/budgets").text


def test_a_dashboard_reading_the_api_over_http(settings: Settings, sqlite_store: Any) -> None:
    """The same page and forms through HttpDataClient (DASHBOARD_API_BASE_URL)."""
    from agent_trace.server.context import AppContext
    from tests.server.collector.live import live_server

    _spent(sqlite_store, 4_000_000_000)
    ctx = AppContext(settings=settings, store=sqlite_store)
    with (
        live_server(ctx, "api") as api_url,
        make_client(settings, sqlite_store, "dashboard", dashboard_api_base_url=api_url) as dash,
    ):
        origin = {"Origin": "http://127.0.0.1"}
        form = {
            "scope": "project:api",
            "period": "week",
            "amount": "2m",
            "unit": "tokens",
            "mode": "warn",
        }
        assert dash.post("/budgets", data=form, headers=origin, follow_redirects=False).status_code == 303
        page = dash.get("/budgets").text
        assert "project:api/week/tokens" in page and "2,000,000 tokens" in page
        bad = dash.post("/budgets", data={**form, "amount": "-1"}, headers=origin, follow_redirects=False)
        assert "error=" in bad.headers["location"] and "must%20be" in bad.headers["location"]
        assert dash.post("/budgets/allow", data={"session_id": "s1"}, headers=origin).status_code == 200
        assert sqlite_store.allowed_sessions() == {"s1"}
        removed = dash.post(
            "/budgets/remove",
            data={"id": "project:api/week/tokens"},
            headers=origin,
            follow_redirects=False,
        )
        assert removed.status_code == 303 and sqlite_store.budgets() == []
        missing = dash.post(
            "/budgets/remove",
            data={"id": "project:api/week/tokens"},
            headers=origin,
            follow_redirects=False,
        )
        assert "no%20budget" in missing.headers["location"]
