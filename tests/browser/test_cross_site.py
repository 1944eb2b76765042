"""Issue 9, problem 2 in real Chromium: a page on another origin (another localhost port) tries
every way a browser can post without a CORS preflight, and one with; nothing is stored.

The collector runs as a real uvicorn server over a real SQLite store; the attacker's page is
served by a second server on another port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from agent_trace.config import Settings
from tests.server.collector.live import live_server
from tests.server.collector.support import running_collector

SESSION = "a77ac4e5-0000-4000-8000-00000000c0de"


def _payload(user: str) -> dict[str, Any]:
    return {
        "session_id": SESSION,
        "transcript_path": f"/x/{SESSION}.jsonl",
        "cwd": "/x",
        "hook_event_name": "UserPromptSubmit",
        "prompt": "pwned",
        "prompt_id": "p-attack",
        "agent_trace": {"ts_ms": 1_767_225_600_000, "user": user},
    }


ATTACK_PAGE = """<!doctype html><html><body><form id=f method=POST enctype="text/plain" target=sink>
<input name='{"x":"' value='"}'></form><iframe name=sink></iframe><script>
const target = TARGET + "/v1/hooks";
const body = JSON.stringify(PAYLOAD);
const tries = [
  fetch(target, {method: "POST", mode: "no-cors", body: new Blob([body])}),
  fetch(target, {method: "POST", mode: "no-cors", body: body}),
  fetch(target, {method: "POST", mode: "no-cors", body: new Blob([body], {type: "text/plain"})}),
  fetch(target, {method: "POST", mode: "no-cors", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: body}),
  fetch(target, {method: "POST", headers: {"Content-Type": "application/json"}, body: body}),
  fetch(target + "?x=1", {method: "POST", mode: "no-cors", body: new URLSearchParams({p: body})}),
];
navigator.sendBeacon(target, new Blob([body], {type: "text/plain"}));
document.getElementById("f").action = target;
document.getElementById("f").submit();
Promise.allSettled(tries).then(() => { document.title = "done"; });
</script></body></html>"""


@pytest.fixture
def attacker_site() -> Iterator[tuple[str, list[str]]]:
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", pages  # type: ignore[misc]
    finally:
        server.shutdown()


def test_a_page_on_another_origin_cannot_write_to_the_collector(
    settings: Settings, browser: Any, attacker_site: tuple[str, Any]
) -> None:
    site, pages = attacker_site
    with (
        running_collector(replace(settings, otel_grpc_address="off")) as (_client, ctx),
        live_server(ctx) as url,
    ):
        for target in (url, url.replace("127.0.0.1", "localhost")):
            pages["/attack.html"] = (
                ATTACK_PAGE.replace("TARGET", json.dumps(target))
                .replace("PAYLOAD", json.dumps(_payload("attacker")))
                .encode()
            )
            context = browser.new_context()
            page = context.new_page()
            page.goto(site + "/attack.html")
            page.wait_for_function("document.title === 'done'", timeout=20_000)
            page.wait_for_timeout(500)  # the beacon and the form post
            context.close()
        assert ctx.store.counts()["sessions"] == 0
        assert ctx.store.counts()["raw_events"] == 0
        # The same payload from a client that is not a web page is stored: the page failed
        # because it is a page.
        stored = httpx.post(url + "/v1/hooks", json=_payload("dev"), timeout=30)
        assert stored.status_code == 204, stored.text
        assert ctx.store.counts()["sessions"] == 1
