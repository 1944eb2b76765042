"""The budgets admin page and banner in real Chromium, on both dashboards (API over HTTP and
in-process). Leaves no budget behind: the other browser tests share the servers."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Served, Watched


@pytest.mark.parametrize("which", ["dashboard", "dashboard_inproc"])
def test_set_see_and_remove_a_budget(served: Served, watched: Watched, which: str) -> None:
    base = getattr(served, which)
    page = watched.page
    page.goto(base + "/budgets")
    assert page.locator("nav a[aria-current='page']").inner_text() == "budgets"
    page.fill("input[name=scope]", "session")
    page.select_option("select[name=period]", "session")
    page.fill("input[name=amount]", "0.000001")
    page.select_option("select[name=mode]", "block")
    page.click("form[aria-label='set a budget'] button[type=submit]")
    page.wait_for_selector("table.budgets tr.err")  # the largest showcase session is far over it
    row = page.inner_text("table.budgets tbody tr")
    assert "session/session/usd" in row and "block" in row and "$0.000001" in row
    assert "budget session/session/usd" in page.inner_text(".budget-banner")
    watched.shot(f"budgets-{which}")
    page.goto(base + "/cost")
    assert "SPENT" in page.inner_text(".budget-banner")  # on every page

    page.goto(base + "/budgets")
    page.fill("input[name=scope]", "nobody")
    page.fill("input[name=amount]", "1")
    page.click("form[aria-label='set a budget'] button[type=submit]")
    assert "scope 'nobody'" in page.inner_text("p.error")

    page.click("table.budgets button[title='remove session/session/usd']")
    page.wait_for_selector("text=No budgets yet")
    assert page.locator(".budget-banner").count() == 0
