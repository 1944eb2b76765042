"""The dashboard in real Chromium: list, replay, every tool view, hostile content, keyboard,
cost charts, and sessions ingested while the page is open (by another process, into the same
SQLite file) appearing within 2 s."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Served, Watched
from tests.fixtures.showcase import TOOLS
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage

pytestmark = pytest.mark.browser

LIVE_DEADLINE_MS = 2_000  # the functional promise: visible within 2 s of the ingest finishing


def expand_all_tools(page: Any) -> None:
    """Open every card and tool view (lazy bodies load on open) and wait for them."""
    page.evaluate(
        "for (const d of document.querySelectorAll('details.card-details, details.tool')) d.open = true"
    )
    page.wait_for_function("document.querySelectorAll('details[data-lazy]').length === 0")


def test_sessions_list_renders(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(served.dashboard + "/")
    rows = page.locator("#sessions tbody tr.row")
    assert rows.count() >= (18 if served.corpus_loaded else 1)
    row = page.locator(f"tr[data-session-id='{served.showcase.session_id}']")
    assert row.is_visible()
    # Local time: the browser (Europe/Berlin here) rewrote the server's UTC fallback text.
    when = row.locator("td.when time")
    assert "UTC" not in when.inner_text() and "11:00" in when.inner_text()
    assert "showcase" in row.inner_text() and "main" in row.inner_text()
    watched.shot("sessions")
    page.fill("#q", "Fix the login")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"q=Fix"))
    assert page.locator("#sessions tbody tr.row").count() == 1
    watched.shot("sessions-search")


def test_a_session_opens_and_every_tool_view_renders(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(served.dashboard + "/")
    page.click(f"tr[data-session-id='{served.showcase.session_id}'] td.sid a")
    page.wait_for_url(re.compile(r"/sessions/"))
    assert page.locator("#cards article.card").count() == 2
    expand_all_tools(page)
    for name in TOOLS:
        view = page.locator(f"details.tool[data-tool='{name}']").first
        assert view.is_visible(), name
        assert view.locator(".tool-body .sec").count() >= 1, name
    assert page.locator("details.tool[data-tool='mcp__github__create_issue'] .mcp").inner_text() == (
        "MCP github › create_issue"
    )
    failed = page.locator(f"details.tool[data-tool-use-id='{served.showcase.failed_tool_id}']")
    assert "failed" in (failed.get_attribute("class") or "")
    assert failed.locator(".status").inner_text() == "failed"
    nested = page.locator("details.tool[data-tool='Agent'] .subagent details.tool[data-tool='Bash']")
    assert nested.count() == 1 and "grep -rn textarea" in nested.inner_text()
    edit = page.locator("details.tool[data-tool='Edit'] .diff")
    assert edit.locator(".gd").count() >= 1 and edit.locator(".gi").count() >= 1
    write = page.locator("details.tool[data-tool='Write'] .file")
    assert write.locator(".nt").count() >= 1  # HTML tags highlighted as such
    thinking = page.locator("details.thinking").first
    assert not thinking.evaluate("d => d.open")  # folded away
    response = page.locator("#p0 .response")
    assert response.locator(".hl").count() == 1 and "Fixed it." in response.inner_text()
    files = page.locator("#p0 .card-files").inner_text()
    assert "files read" in files and "files written" in files
    assert "$" in page.locator("#p0 .usage").inner_text()
    watched.shot("replay")


def test_hostile_content_stays_inert(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{served.showcase.session_id}")
    expand_all_tools(page)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.scripts.length") == 1
    for selector in (
        "img",
        "iframe",
        "textarea",
        "[onerror]",
        "[onload]",
        "a[href^='javascript:']",
        "svg[onload]",
    ):
        assert page.locator(selector).count() == 0, selector
    body = page.inner_text("body")
    assert "<script>window.__pwned = 1; alert('xss')</script>" in body
    assert '</textarea><img src=x onerror="window.__pwned=2">' in body
    assert "javascript:window.__pwned=4" in body  # shown, never a link
    external = page.locator("a.ext")
    assert external.count() == 1
    assert external.get_attribute("href") == "https://example.com/docs?a=1&b=2"
    assert external.get_attribute("rel") == "noopener noreferrer nofollow"
    watched.shot("replay-hostile")


def test_keyboard(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(served.dashboard + f"/?q={served.showcase.session_id[:8]}")
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sessions/"))
    page.keyboard.press("j")
    card = page.locator("article.card.selected")
    assert card.get_attribute("id") == "p0"
    assert card.locator("details.card-details").evaluate("d => d.open")
    page.keyboard.press("Enter")
    assert not card.locator("details.card-details").evaluate("d => d.open")
    page.keyboard.press("e")
    assert card.locator("details.tool[open]").count() == card.locator("details.tool").count() > 0
    page.keyboard.press("j")
    assert page.locator("article.card.selected").get_attribute("id") == "p1"
    page.keyboard.press("?")
    assert page.locator("#keys").is_visible()
    watched.shot("keyboard-help")
    page.keyboard.press("Escape")
    assert not page.locator("#keys").is_visible()
    page.keyboard.press("/")
    page.wait_for_url(re.compile(r"/search$"))
    assert page.evaluate("document.activeElement.id") == "q"


def test_cost_page(served: Served, watched: Watched) -> None:
    page = watched.page
    page.goto(served.dashboard + "/cost?since=2026-01-01&until=2026-12-31")
    # Days are grouped in the browser's zone: the first visit tells the server, and redraws once.
    page.wait_for_selector(".cost-head[data-tz='Europe/Berlin']")
    assert page.locator("figure.chart").count() == 5
    assert page.locator("figure.chart svg rect").count() > 0
    assert page.locator(".ranked").count() == 5  # sessions, projects, users, models, tools
    assert "claude-opus-4-6" in page.inner_text(".ranked >> nth=3")
    watched.shot("cost")


@pytest.mark.parametrize("which", ["dashboard", "dashboard_inproc"])
def test_a_session_ingested_while_open_appears_live(served: Served, watched: Watched, which: str) -> None:
    base = getattr(served, which)
    page = watched.page
    page.goto(base + "/")
    page.wait_for_selector("body[data-live=open]")
    root = served.projects.parent / f"live-{which}"
    sid = str(uid())
    t = Transcript(sid, cwd="/home/dev/live")
    t.prompt("first prompt of a live session", prompt_id=uid())
    first_tool = uid("toolu_")
    t.assistant([tool_use("Bash", {"command": "echo one"}, first_tool)], usage(5, 10))
    t.tool_result(first_tool, "one")
    path = t.write(root / "-home-dev-live" / f"{sid}.jsonl")

    served.cli("import", str(root))  # another process writes the same SQLite file
    page.wait_for_selector(f"tr[data-session-id='{sid}']", timeout=LIVE_DEADLINE_MS)
    assert "first prompt of a live session" in page.inner_text(f"tr[data-session-id='{sid}']")
    watched.shot(f"live-list-{which}")

    page.click(f"tr[data-session-id='{sid}'] td.sid a")
    page.wait_for_url(re.compile(sid))
    page.wait_for_selector("body[data-live=open]")
    assert page.locator("article.card").count() == 1
    t.assistant([text_block("done with one")], usage(5, 10))
    t.prompt("second prompt, added while the replay is open", prompt_id=uid())
    second_tool = uid("toolu_")
    t.assistant([tool_use("Bash", {"command": "echo two"}, second_tool)], usage(5, 10))
    t.tool_result(second_tool, "two")
    t.write(path)
    served.cli("import", str(root))
    page.wait_for_selector("article.card#p1", timeout=LIVE_DEADLINE_MS)
    assert "second prompt" in page.inner_text("article.card#p1 summary")
    page.wait_for_selector(f"details.tool[data-tool-use-id='{second_tool}']", state="attached")
    watched.shot(f"live-replay-{which}")


def test_corpus_sessions_open(served: Served, watched: Watched) -> None:
    if not served.corpus_loaded:
        pytest.skip("shared corpus not present")
    page = watched.page
    page.goto(served.dashboard + "/?q=spotter&limit=100")
    links = [a.get_attribute("href") for a in page.locator("td.sid a").all()]
    assert links
    biggest: tuple[int, str] = (0, "")
    for href in links:
        page.goto(served.dashboard + str(href))
        assert page.locator("#cards article.card").count() >= 1, href
        tools = int(page.locator("#session-head").get_attribute("data-tool-calls") or 0)
        biggest = max(biggest, (tools, str(href)))
    page.goto(served.dashboard + biggest[1])
    lazy = page.locator("details.tool[data-lazy]")
    assert lazy.count() > 0  # the biggest corpus session is big enough for lazy tool bodies
    first = lazy.first.element_handle()  # a handle: the locator would move on once it loads
    first.query_selector("summary").click()
    page.wait_for_function("d => !d.dataset.lazy", arg=first)
    assert len(first.query_selector_all(".tool-body .sec")) >= 1
    watched.shot("replay-corpus-largest", full_page=False)
    # "e" unfolds a whole card, fetching its lazy bodies in batches.
    card = page.locator("article.card").last
    card.click(position={"x": 5, "y": 5})
    page.keyboard.press("k")
    page.keyboard.press("j")
    page.keyboard.press("e")
    selected = page.locator("article.card.selected")
    page.wait_for_function(
        "c => c.querySelectorAll('details.tool:not([open]), details.tool[data-lazy]').length === 0",
        arg=selected.element_handle(),
    )
    assert (
        selected.locator("details.tool .tool-body .sec").count() >= selected.locator("details.tool").count()
    )
    watched.shot("replay-corpus-largest-unfolded", full_page=False)  # thousands of pixels tall
    page.goto(served.dashboard + "/cost?since=2026-02-01&until=2026-02-28")
    watched.shot("cost-corpus")


def test_a_loop_is_labelled_spun_and_its_calls_highlighted(served: Served, watched: Watched) -> None:
    root = served.projects.parent / "loop"
    sid = str(uid())
    t = Transcript(sid, cwd="/home/dev/loop")
    t.prompt("make the tests pass", prompt_id=uid())
    runs = [uid("toolu_") for _ in range(5)]
    for i, run in enumerate(runs):
        t.assistant(
            [tool_use("Bash", {"command": "pytest -q", "description": f"try {i}"}, run)], usage(5, 10)
        )
        t.tool_result(run, "Exit code 1\nFAILED test_a.py::test_x - assert 1 == 2", is_error=True)
    t.assistant([text_block("I could not fix it.")], usage(5, 10))
    t.write(root / "-home-dev-loop" / f"{sid}.jsonl")
    served.cli("import", str(root))
    page = watched.page
    page.goto(served.dashboard + f"/sessions/{sid}")
    assert page.inner_text(".outcome-panel .outcome") == "spun"
    expand_all_tools(page)
    page.wait_for_selector("details.tool.loop")
    highlighted = page.eval_on_selector_all("details.tool.loop", "els => els.map(e => e.dataset.toolUseId)")
    assert highlighted == runs
    watched.shot("replay-loop")
    page.goto(served.dashboard + "/outcomes?since=2026-02-01&until=2026-02-28")
    assert page.locator(f"a[href='/sessions/{sid}']").count() == 1
    watched.shot("outcomes")
