"""Issue 13 in real Chromium: the ten things a user tripped over, each pinned by a test that
failed before the fix - responses at tier 2, overflow at 390/1440/2560 px, full-text search and
value pickers, the cost page, relative paths, Markdown and task notifications, batched
"unfold all", copy buttons/permalinks/Back, accessibility (axe-core), and the timeline with
in-session filters and sorting. Screenshots at 390, 1440 and 2560 px go to test-artifacts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.axe import AxeUnavailable, install_axe, serious_violations
from tests.browser.conftest import Served, Watched
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage

pytestmark = pytest.mark.browser

LONG_USER = "otel:" + "0123456789abcdef" * 4  # 69 characters, as OpenTelemetry user ids are
WIDTHS = (390, 1440, 2560)
TIER_NOTE = "privacy tier 3 keeps them"


@dataclass
class Extra:
    rich: str  # Markdown response, task notification, parallel and failed tools, an idle gap
    big: str  # one card with 150 lazily loaded tool calls
    tier2: str  # imported at privacy tier 2
    written_path: str
    write_tool: str
    bash_tool: str
    parallel: tuple[str, str]
    failed_tool: str


def _rich(root: Path) -> tuple[str, dict[str, Any]]:
    sid = str(uid())
    cwd = "/home/dev/acme-worktrees/acme-feature-x"
    t = Transcript(sid, cwd=cwd)
    t.prompt("Add a rounding helper", prompt_id=uid())
    write_id, bash_id = uid("toolu_"), uid("toolu_")
    path = f"{cwd}/src/money/rounding_helper.py"
    t.assistant(
        [tool_use("Write", {"file_path": path, "content": "def half_even(x):\n    return x\n"}, write_id)],
        usage(5, 20),
    )
    t.tool_result(write_id, "File created successfully")
    # Two tool calls issued together and running side by side.
    a, b = uid("toolu_"), uid("toolu_")
    t.assistant(
        [
            tool_use("Bash", {"command": "pytest tests/test_rounding.py"}, a),
            tool_use("Grep", {"pattern": "half_even", "path": cwd}, b),
        ],
        usage(5, 20),
    )
    t.clock += 5
    t.tool_result(
        a, "FAILED tests/test_rounding.py::test_half - ZeroDivisionError: rounding by zero", is_error=True
    )
    t.tool_result(b, f"{cwd}/src/money/rounding_helper.py:1:def half_even(x):")
    t.assistant(
        [tool_use("Bash", {"command": "git status --short"}, bash_id)], usage(5, 20), model="claude-haiku-4-5"
    )
    t.tool_result(bash_id, " M src/money/rounding_helper.py")
    t.assistant(
        [
            text_block(
                "## Summary\n\nThe helper is **written**; one test still fails:\n\n- `half_even` exists\n- the zero case raises\n\n```python\nhalf_even(2.5)\n```"
            )
        ],
        usage(5, 40),
    )
    t.clock += 900  # fifteen idle minutes
    t.prompt(
        "<task-notification>\n<task-id>b7636e2</task-id>\n<output-file>/tmp/claude/tasks/b7636e2.output</output-file>\n"
        '<status>completed</status>\n<summary>Background command "Run rounding tests" completed (exit code 0)</summary>\n'
        "</task-notification>\nRead the output file to retrieve the result: /tmp/claude/tasks/b7636e2.output",
        prompt_id=uid(),
    )
    t.assistant([text_block("The background run passed.")], usage(5, 10))
    t.write(root / "-home-dev-acme" / f"{sid}.jsonl")
    return sid, {"path": path, "write": write_id, "bash": bash_id, "parallel": (a, b), "failed": a}


def _big(root: Path) -> str:
    sid = str(uid())
    t = Transcript(sid, cwd="/home/dev/bigproj")
    t.prompt("Read every generated file", prompt_id=uid())
    for i in range(150):
        tid = uid("toolu_")
        t.assistant([tool_use("Read", {"file_path": f"/home/dev/bigproj/gen/file_{i}.py"}, tid)], usage(5, 5))
        t.tool_result(
            tid, "".join(f"{n:>6}→x_{i} = {n}  # generated line of filler text\n" for n in range(1, 90))
        )
    t.assistant([text_block("Read them all.")], usage(5, 5))
    t.write(root / "-home-dev-bigproj" / f"{sid}.jsonl")
    return sid


def _tier2(root: Path) -> str:
    sid = str(uid())
    t = Transcript(sid, cwd="/home/dev/private")
    t.prompt("Explain the build", prompt_id=uid())
    tid = uid("toolu_")
    t.assistant(
        [
            text_block("Looking at the Makefile."),
            tool_use("Read", {"file_path": "/home/dev/private/Makefile"}, tid),
        ],
        usage(5, 5),
    )
    t.tool_result(tid, "all:\n\tcc main.c\n")
    t.assistant([text_block("It compiles main.c with cc.")], usage(5, 5))
    t.write(root / "-home-dev-private" / f"{sid}.jsonl")
    return sid


@pytest.fixture(scope="module")
def extra(served: Served) -> Extra:
    root = served.projects.parent / "issue13"
    rich, ids = _rich(root / "rich")
    big = _big(root / "big")
    tier2 = _tier2(root / "tier2")
    served.cli("import", str(root / "rich"), env={"AGENT_TRACE_USER": LONG_USER})
    served.cli("import", str(root / "big"))
    served.cli("import", str(root / "tier2"), env={"AGENT_TRACE_PRIVACY_TIER": "2"})
    return Extra(rich, big, tier2, ids["path"], ids["write"], ids["bash"], ids["parallel"], ids["failed"])


@pytest.fixture(scope="module")
def axe_script() -> Path:
    try:
        return install_axe()
    except AxeUnavailable as exc:
        pytest.skip(f"axe-core unavailable: {exc}")


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


# 1. Responses at tier < 3 carry a note saying so and which setting keeps them.
def test_tier_note_where_responses_were_not_stored(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{extra.tier2}")
    note = page.locator("#p0 .tier-note")
    assert note.is_visible()
    assert TIER_NOTE in note.inner_text() and "AGENT_TRACE_PRIVACY_TIER=3" in note.inner_text()
    # At tier 3 the response is there and no such note is shown.
    page.goto(f"{served.dashboard}/sessions/{extra.rich}")
    assert page.locator(".tier-note").count() == 0
    assert page.locator("#p0 .response").is_visible()


# 2. Nothing overflows: the list (a 69-character user), replay, cost, search and timeline.
@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_the_screen(served: Served, browser: Any, extra: Extra, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    try:
        pages = {
            "sessions": "/",
            "replay": f"/sessions/{extra.rich}",
            "cost": "/cost",
            "search": "/search?q=rounding",
            "timeline": f"/sessions/{extra.rich}/timeline",
        }
        for name, path in pages.items():
            page.goto(served.dashboard + path)
            if name == "sessions":
                assert LONG_USER in page.inner_text("#sessions")
            assert _page_width(page) <= width, f"{name} at {width}px is {_page_width(page)}px wide"
            Watched(page).shot(f"{name}-{width}px", full_page=name != "replay")
        if width == 390 and served.corpus_loaded:
            # Real sessions: long paths, wide stats lines, big numbers.
            page.goto(served.dashboard + "/?q=spotter&limit=100")
            for href in [a.get_attribute("href") for a in page.locator("td.sid a").all()]:
                for path in (str(href), f"{href}/timeline"):
                    page.goto(served.dashboard + path)
                    assert _page_width(page) <= width, f"{path} at {width}px is {_page_width(page)}px wide"
        if width == 390:
            # On a phone the user and the cost of a row are on screen, not pushed off it.
            row = page.goto(served.dashboard + "/") and page.locator(f"tr[data-session-id='{extra.rich}']")
            for cell in ("td.cost", "td.user"):
                box = row.locator(cell).bounding_box()
                assert box is not None and box["x"] + box["width"] <= width + 1, cell
    finally:
        context.close()


# 3. Full-text search finds a path a session wrote, and links to the exact tool call.
def test_search_finds_a_written_path_and_links_to_the_tool_call(
    served: Served, watched: Watched, extra: Extra
) -> None:
    page = watched.page
    page.goto(served.dashboard + "/search")
    page.fill("#q", "money/rounding_helper.py")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"q=money"))
    hit = page.locator(f"li.hit[data-id='{extra.write_tool}']")
    assert hit.count() == 1
    assert hit.get_attribute("data-session-id") == extra.rich
    assert "rounding_helper.py" in hit.locator("mark").first.inner_text()
    watched.shot("search-path")
    hit.locator("a.hit-link", has_text="this tool call").click()
    page.wait_for_url(re.compile(rf"/tools/{extra.write_tool}"))
    assert page.locator(f"details.tool[data-tool-use-id='{extra.write_tool}']").count() == 1
    # An error message and a command are found too, and "in its prompt" lands on the tool call.
    page.goto(served.dashboard + "/search?q=ZeroDivisionError")
    assert page.locator(f"li.hit[data-id='{extra.failed_tool}']").count() == 1
    page.locator(f"li.hit[data-id='{extra.failed_tool}'] a.hit-link", has_text="in its prompt").click()
    page.wait_for_url(re.compile(rf"#t-{extra.failed_tool}$"))
    assert page.locator(f"details.tool[data-tool-use-id='{extra.failed_tool}']").evaluate("d => d.open")


def test_list_filters_offer_values(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(served.dashboard + "/")
    page.focus("input[name=user]")  # the lists load when a filter box is first used
    page.wait_for_selector("body[data-choices=loaded]")
    users = page.locator("#choices-user option").evaluate_all("os => os.map(o => o.value)")
    assert LONG_USER in users and "dev" in users
    assert "claude-haiku-4-5" in page.locator("#choices-model option").evaluate_all(
        "os => os.map(o => o.value)"
    )


# 4. The cost page: a default range with the data in it, spend per session, labelled columns,
#    ticks on round numbers, legible on a phone.
def test_cost_page_defaults_to_the_data_and_labels_everything(
    served: Served, watched: Watched, extra: Extra
) -> None:
    page = watched.page
    page.goto(served.dashboard + "/cost?since=2025-12-05&until=2026-12-31")
    wide_total = page.inner_text(".cost-head .big >> nth=0")
    page.goto(served.dashboard + "/cost")
    assert page.inner_text(".cost-head .big >> nth=0") == wide_total  # every dollar in view
    sessions = page.locator(".ranked", has_text="top sessions by spend")
    links = sessions.locator("tbody td.label a[href^='/sessions/']")
    assert 1 <= links.count() <= 15  # the priciest sessions, each linked to its replay
    tools = page.locator(".ranked", has_text="top tools")
    assert tools.locator("thead th").all_inner_texts() == ["tool", "share", "calls", "failed", "failure rate"]
    for label in page.locator("figure.chart svg.wide text.tick").all_text_contents():
        assert re.fullmatch(r"[\d,.$kMB]+|\d\d-\d\d", label), label
    counts = page.locator("figure.chart.small svg.wide").first
    y_labels = [t for t in counts.locator("text.tick[text-anchor='end']").all_text_contents()]
    assert all(float(v.replace(",", "")).is_integer() for v in y_labels), y_labels  # no "2" at 2.5


def test_cost_page_on_a_phone(served: Served, browser: Any, extra: Extra) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="UTC")
    page = context.new_page()
    try:
        page.goto(served.dashboard + "/cost")
        tick = page.locator("figure.chart svg.narrow text.tick").first
        assert tick.is_visible()
        assert tick.bounding_box()["height"] >= 9  # was ~3 px: the wide chart scaled down
        for cell in page.locator(".ranked td.label").all():
            assert cell.evaluate("c => c.scrollWidth <= c.clientWidth + 1"), cell.inner_text()
        Watched(page).shot("cost-390px-charts")
    finally:
        context.close()


# 5. Paths relative to the project root; the full path on hover and in the copy button.
def test_paths_are_relative_to_the_project(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{extra.rich}")
    title = page.locator(f"details.tool[data-tool-use-id='{extra.write_tool}'] .ttitle")
    assert title.inner_text() == "src/money/rounding_helper.py"
    assert title.get_attribute("title") == extra.written_path
    copy = page.locator(f"details.tool[data-tool-use-id='{extra.write_tool}'] button.copy[data-copy]")
    assert copy.get_attribute("data-copy") == extra.written_path
    written = page.locator("#session-head details.files", has_text="files written")
    listed = written.locator("li code").text_content() or ""
    assert listed == "src/money/rounding_helper.py"


# 6. Markdown rendered (no raw `##`), task notifications readable and not a prompt card.
def test_markdown_and_task_notifications(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{extra.rich}")
    response = page.locator("#p0 .response")
    assert response.locator("h2").inner_text() == "Summary"
    assert response.locator("strong").inner_text() == "written"
    assert response.locator("li").count() == 2
    assert response.locator(".hl").count() == 1  # the fenced block, highlighted
    assert "##" not in response.inner_text() and "**" not in response.inner_text()
    assert "<task-notification>" not in page.inner_text("body")
    assert page.locator("#cards article.card").count() == 1  # the notification is no card
    notice = page.locator("#cards article.notice")
    assert notice.count() == 1 and 'Background command "Run rounding tests" completed' in notice.inner_text()
    head = page.inner_text("#session-head")
    assert "1 prompt ·" in head and "1 background task report" in head


# 7. "Unfold all" on a 150-tool card: two batched requests, none per tool call.
def test_unfold_all_batches_its_requests(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{served.dashboard}/sessions/{extra.big}")
    assert page.locator("details.tool[data-lazy]").count() == 150
    requests.clear()
    page.keyboard.press("j")
    page.keyboard.press("e")
    page.wait_for_selector(
        "details.tool[data-lazy]", state="detached"
    )  # (a polled predicate would need eval, which the CSP forbids)
    assert page.locator("details.tool[open] .tool-body .sec").count() >= 150
    batched = [u for u in requests if "/tool-bodies" in u]
    single = [u for u in requests if "part=body" in u]
    assert (len(batched), len(single)) == (2, 0), requests


# 8. Copy buttons, visible permalinks for every prompt and tool call, open state kept on Back.
def test_copy_permalinks_and_back(served: Served, browser: Any, extra: Extra) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.dashboard)
    page = context.new_page()
    try:
        page.goto(f"{served.dashboard}/sessions/{extra.rich}")
        page.click("#session-head h1 button.copy")
        assert page.evaluate("navigator.clipboard.readText()") == extra.rich
        bash = page.locator(f"details.tool[data-tool-use-id='{extra.bash_tool}']")
        bash.locator("summary").click()
        bash.locator("button.copy[data-copy]").click()
        assert page.evaluate("navigator.clipboard.readText()") == "git status --short"
        bash.locator(".sec.command button.copy").click()  # the highlighted block, as text
        assert page.evaluate("navigator.clipboard.readText()").strip() == "git status --short"
        cards = page.locator("#cards article[data-index]")
        assert page.locator("#cards article[data-index] > a.perma").count() == cards.count()
        tools = page.locator("details.tool")
        assert page.locator("details.tool .tool-tools a.perma[href*='/tools/']").count() == tools.count()
        # Open state survives leaving and coming Back.
        page.locator(f"details.tool[data-tool-use-id='{extra.write_tool}'] > summary").click()
        bash.locator("a.perma[href*='/tools/']").click()
        page.wait_for_url(re.compile(r"/tools/"))
        page.go_back()
        page.wait_for_selector(f"details.tool[data-tool-use-id='{extra.bash_tool}'][open]")
        assert page.locator(f"details.tool[data-tool-use-id='{extra.write_tool}']").evaluate("d => d.open")
    finally:
        context.close()


# 9. Accessibility: axe-core finds nothing serious or critical; headings and plurals.
def test_axe_finds_no_serious_violations(
    served: Served, watched: Watched, extra: Extra, axe_script: Path
) -> None:
    page = watched.page
    found: dict[str, list[dict[str, Any]]] = {}
    for name, path in {
        "sessions": "/",
        "replay": f"/sessions/{extra.rich}",
        "replay-showcase": f"/sessions/{served.showcase.session_id}",
        "cost": "/cost",
        "search": "/search?q=rounding",
        "timeline": f"/sessions/{extra.rich}/timeline",
    }.items():
        page.goto(served.dashboard + path)
        if name.startswith("replay"):
            page.evaluate(
                "for (const d of document.querySelectorAll('details.card-details, details.tool')) d.open = true"
            )
            page.wait_for_selector("details[data-lazy]", state="detached")
        violations = serious_violations(page, axe_script)
        if violations:
            found[name] = violations
    if served.corpus_loaded:  # real sessions: Markdown tables, long outputs, subagents
        page.goto(served.dashboard + "/?q=spotter&limit=5")
        for href in [a.get_attribute("href") for a in page.locator("td.sid a").all()]:
            page.goto(served.dashboard + str(href))
            page.evaluate("for (const d of document.querySelectorAll('details.card-details')) d.open = true")
            page.wait_for_selector("details.card-details[data-lazy]", state="detached")
            page.evaluate(
                "for (const d of [...document.querySelectorAll('details.tool')].slice(0, 60)) d.open = true"
            )
            page.wait_for_selector("details.tool[open][data-lazy]", state="detached")
            violations = serious_violations(page, axe_script)
            if violations:
                found[str(href)] = violations
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_headings_and_plurals(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    for path in ("/", "/cost", "/search", f"/sessions/{extra.rich}", f"/sessions/{extra.rich}/timeline"):
        page.goto(served.dashboard + path)
        assert page.locator("h1").count() == 1, path
    page.goto(f"{served.dashboard}/sessions/{extra.tier2}")
    text = page.inner_text("body")
    for wrong in (
        "1 prompts",
        "1 tools",
        "1 subagents",
        "1 compactions",
        "1 files",
        "1 tool calls",
        "1 LLM calls",
    ):
        assert wrong not in text, wrong
    assert "1 prompt ·" in page.inner_text("#session-head")


# 10. Where the time went: the timeline, in-session filters, sorting the list.
def test_timeline_shows_parallel_calls_gaps_and_links(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{extra.rich}")
    page.click(".session-nav a:has-text('timeline')")
    page.wait_for_url(re.compile(r"/timeline$"))
    a, b = extra.parallel
    bars = {tid: page.locator(f"#waterfall a[href*='tool={tid}'] rect") for tid in (a, b)}
    box_a, box_b = (bars[t].bounding_box() for t in (a, b))
    assert box_a and box_b
    assert box_a["y"] != box_b["y"]  # stacked in two lanes…
    assert (
        box_a["x"] < box_b["x"] + box_b["width"] and box_b["x"] < box_a["x"] + box_a["width"]
    )  # …at the same time
    assert "failed" in (bars[a].get_attribute("class") or "")
    gap = page.locator("#waterfall rect.gap")
    assert gap.count() == 1 and "idle 15m" in (gap.locator("title").text_content() or "")
    watched.shot("timeline")
    page.locator(f"#waterfall a[href*='tool={b}']").click()
    page.wait_for_url(re.compile(rf"/sessions/{extra.rich}\?open=\d+#t-{b}$"))
    assert page.locator(f"details.tool[data-tool-use-id='{b}']").evaluate("d => d.open")


def test_filters_inside_a_session(served: Served, watched: Watched, extra: Extra) -> None:
    page = watched.page
    page.goto(f"{served.dashboard}/sessions/{extra.rich}")
    page.select_option(".session-filters select[name=tool]", "Bash")
    page.click(".session-filters button[type=submit]")
    page.wait_for_url(re.compile(r"tool=Bash"))
    assert set(page.locator("details.tool").evaluate_all("ds => ds.map(d => d.dataset.tool)")) == {"Bash"}
    page.goto(f"{served.dashboard}/sessions/{extra.rich}?failed=1")
    assert page.locator("details.tool").evaluate_all("ds => ds.map(d => d.dataset.toolUseId)") == [
        extra.failed_tool
    ]
    page.goto(f"{served.dashboard}/sessions/{extra.rich}?model=claude-haiku-4-5")
    assert page.locator("details.tool").evaluate_all("ds => ds.map(d => d.dataset.toolUseId)") == [
        extra.bash_tool
    ]
    assert page.locator(".session-filters select[name=model] option").all_inner_texts() == [
        "any",
        "claude-haiku-4-5",
        "claude-opus-4-6",
    ]


@pytest.mark.parametrize("column", ["user", "repo", "duration"])
def test_sorting_the_list(served: Served, watched: Watched, extra: Extra, column: str) -> None:
    page = watched.page
    page.goto(served.dashboard + "/?limit=200")
    page.click(f"#sessions thead a:has-text('{column}')")
    page.wait_for_url(re.compile(rf"sort=-{column}"))
    cells = {"user": "td.user", "repo": "td.repo .proj", "duration": "td[data-label=duration]"}[column]
    values = page.locator(f"#sessions tbody tr.row {cells}").all_inner_texts()
    assert len(values) >= 3
    if column == "duration":
        ids = page.locator("#sessions tbody tr.row").evaluate_all("rs => rs.map(r => r.dataset.sessionId)")
        assert ids.index(extra.rich) < ids.index(extra.tier2)  # 15 minutes before a few seconds
    elif column == "user":
        shown = [v for v in values if v != "–"]
        assert shown == sorted(shown, reverse=True), values
    else:
        # By repo, else project path: each repo's sessions together, in one run.
        runs = [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]
        assert len(runs) == len(set(runs)), values
