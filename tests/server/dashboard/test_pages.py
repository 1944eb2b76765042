"""Dashboard pages rendered in-process (the store read directly): content, escaping, fragments.

The browser tests (tests/browser) check the same pages in real Chromium; these check the HTML
itself, including that nothing inline (scripts, styles, handlers) exists for the CSP to block.
"""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient

from tests.fixtures.showcase import JS_LINK, SCRIPT, TEXTAREA, TOOLS
from tests.server.dataset import Dataset

HTML = {"Accept": "text/html"}


class Audit(HTMLParser):
    """Collects what could execute or inject: scripts, styles, handlers, link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=…> inline style")
            scheme = (value or "").split("?", 1)[0].split("/", 1)[0]
            if (
                name in ("href", "src", "action")
                and ":" in scheme
                and not scheme.startswith(("http:", "https:"))
            ):
                self.problems.append(f"<{tag} {name}={value!r}> non-http URL")
        if tag == "script" and not named.get("src"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag in ("iframe", "object", "embed", "img"):
            self.problems.append(f"<{tag}> element")


def audit(html: str) -> Audit:
    parser = Audit()
    parser.feed(html)
    return parser


def page(client: TestClient, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_sessions_page_lists_rows_safely(dashboard: TestClient, dataset: Dataset) -> None:
    html = page(dashboard, "/")
    for sid in dataset.all_ids:
        assert f'data-session-id="{sid}"' in html
    assert SCRIPT not in html  # the first prompt is shown, escaped
    assert "&lt;script&gt;window.__pwned" in html
    found = audit(html)
    assert found.problems == []
    scripts = [a["src"] for t, a in found.tags if t == "script"]
    assert len(scripts) == 1 and str(scripts[0]).startswith("/static/app.js?v=")


def test_sessions_page_filters_and_bad_input(dashboard: TestClient, dataset: Dataset) -> None:
    html = page(dashboard, "/?user=alice")
    assert dataset.alpha_docs in html and dataset.beta not in html
    bad = dashboard.get("/?since=garbage", headers=HTML)
    assert bad.status_code == 400 and "since:" in bad.text
    assert "/live/sessions?user=alice" in page(dashboard, "/?user=alice")


def test_replay_renders_every_tool_view_escaped(dashboard: TestClient, dataset: Dataset) -> None:
    html = page(dashboard, f"/sessions/{dataset.showcase.session_id}")
    for name in TOOLS:
        assert f'data-tool="{name}"' in html, name
    assert "MCP github › create_issue" in html
    assert 'class="tool t-bash failed"' in html
    assert 'class="subagent"' in html and dataset.showcase.agent_id in html
    assert '<details class="thinking">' in html
    assert 'class="gi"' in html and 'class="gd"' in html  # Edit/MultiEdit as diffs
    assert 'class="linenos"' in html  # Read/Write content with line numbers
    assert 'class="response"' in html
    for hostile in (SCRIPT, TEXTAREA, f'href="{JS_LINK}"'):
        assert hostile not in html
    assert "&lt;/textarea&gt;" in html
    assert audit(html).problems == []
    links = [a.get("href") for t, a in audit(html).tags if t == "a" and a.get("target") == "_blank"]
    assert links == ["https://example.com/docs?a=1&b=2"]


def test_tool_page_and_lazy_fragments(dashboard: TestClient, dataset: Dataset) -> None:
    sid = dataset.showcase.session_id
    full = page(dashboard, f"/sessions/{sid}/tools/{dataset.showcase.failed_tool_id}")
    assert "pytest -q tests/test_login.py" in full and "failed" in full
    body = page(dashboard, f"/sessions/{sid}/tools/{dataset.showcase.subagent_tool_id}?part=body")
    assert 'class="subagent"' in body and "<html" not in body
    card = page(dashboard, f"/sessions/{sid}/cards/0")
    assert 'data-tool="Bash"' in card and audit(card).problems == []
    chunk = page(dashboard, f"/sessions/{sid}/cards/0?from=1")
    assert chunk.startswith('<div class="chunk">')
    assert dashboard.get(f"/sessions/{sid}/cards/9").status_code == 404
    assert dashboard.get(f"/sessions/{sid}/tools/nope", headers=HTML).status_code == 404


def test_tool_bodies_in_one_request(dashboard: TestClient, dataset: Dataset) -> None:
    show = dataset.showcase
    ids = ",".join([show.tool_ids["Write"], show.tool_ids["Agent"], "no-such-tool"])
    html = page(dashboard, f"/sessions/{show.session_id}/tool-bodies?ids={ids}")
    assert html.count("<template data-for=") == 2
    assert f'data-for="{show.tool_ids["Write"]}"' in html and 'class="subagent"' in html
    assert audit(html).problems == []


def test_short_ids_redirect_and_unknown_sessions_404(dashboard: TestClient, dataset: Dataset) -> None:
    sid = dataset.beta
    short = dashboard.get(f"/sessions/{sid[:8]}", headers=HTML, follow_redirects=False)
    assert short.status_code == 303 and short.headers["location"] == f"/sessions/{sid}"
    missing = dashboard.get("/sessions/ffffffff-none", headers=HTML)
    assert missing.status_code == 404 and "<html" in missing.text and "ffffffff-none" in missing.text
    assert dashboard.get("/no/such/page", headers=HTML).status_code == 404


def test_cost_page_draws_charts(dashboard: TestClient, dataset: Dataset) -> None:
    html = page(dashboard, "/cost?since=2026-02-08&until=2026-02-13&tz=UTC")
    assert html.count("<svg viewBox") >= 5
    assert "daily spend by model" in html and "claude-opus-4-6" in html
    assert "top projects" in html and "/home/alice/alpha" in html
    assert "top tools" in html and "mcp__github__create_issue" in html
    assert audit(html).problems == []
    bad = dashboard.get("/cost?since=nope", headers=HTML)
    assert bad.status_code == 400 and "since:" in bad.text


def test_static_assets_and_highlight_css(dashboard: TestClient) -> None:
    css = dashboard.get("/static/highlight.css")
    assert css.status_code == 200 and ".hl .k" in css.text
    js = dashboard.get("/static/app.js")
    assert js.status_code == 200 and "EventSource" in js.text
    assert "innerHTML" in js.text  # only ever with fragments our server escaped (see app.js)
