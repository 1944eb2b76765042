"""A scripted fake of the Gemini API (`models/<m>:streamGenerateContent?alt=sse`, `:generateContent`,
`:countTokens`), for running the real Gemini CLI offline.

Matching is the fake_openai rule: the scenario comes from a ``SCENARIO:<name>`` marker in the user's
own text, the turn is the number of model turns already in ``contents``. Requests without a marker
(Gemini CLI's side requests: next-speaker checks, loop detection, summaries) get a short JSON/text
answer billed with ``side_usage`` and are logged apart from the scripted turns.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_openai import SCENARIO_RE, LocalServer, _substitute


@dataclass(frozen=True)
class GeminiUsage:
    """`usageMetadata` as the Gemini API bills it: cached tokens are part of the prompt count,
    thoughts are NOT part of the candidates count (both billed as output)."""

    prompt: int
    candidates: int
    cached: int = 0
    thoughts: int = 0

    def api(self) -> dict[str, Any]:
        body = {
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": self.candidates,
            "totalTokenCount": self.prompt + self.candidates + self.thoughts,
        }
        if self.cached:
            body["cachedContentTokenCount"] = self.cached
        if self.thoughts:
            body["thoughtsTokenCount"] = self.thoughts
        return body


@dataclass(frozen=True)
class GeminiTurn:
    usage: GeminiUsage
    text: str | None = None
    call: tuple[str, Mapping[str, Any]] | None = None  # (function name, args)
    expect_error: bool = False


@dataclass(frozen=True)
class GeminiScenario:
    name: str
    prompts: tuple[str, ...]
    turns: tuple[GeminiTurn, ...]


@dataclass
class GeminiServed:
    scenario: str | None
    turn: int | None
    response_id: str
    usage: GeminiUsage
    model: str
    stream: bool


@dataclass
class _Record:
    requests: list[dict[str, Any]] = field(default_factory=list)
    served: list[GeminiServed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeGemini(LocalServer):
    def __init__(
        self,
        scenarios: Iterable[GeminiScenario],
        *,
        cwd: str = "",
        side_usage: GeminiUsage = GeminiUsage(13, 2),
    ) -> None:
        self.scenarios = {s.name: s for s in scenarios}
        self.cwd = cwd
        self.side_usage = side_usage
        self.record = _Record()
        super().__init__()

    def scripted(self, scenario: str) -> list[GeminiServed]:
        return [s for s in self.record.served if s.scenario == scenario]

    def _plan(self, body: Mapping[str, Any]) -> tuple[GeminiScenario | None, int]:
        contents = body.get("contents") if isinstance(body.get("contents"), list) else []
        texts: list[str] = []
        model_turns = 0
        for content in contents:
            if not isinstance(content, Mapping):
                continue
            parts = content.get("parts") if isinstance(content.get("parts"), list) else []
            if content.get("role") == "model":
                if any(isinstance(p, Mapping) and ("functionCall" in p or "text" in p) for p in parts):
                    model_turns += 1
            else:
                texts += [
                    p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)
                ]
        for text in texts:
            found = SCENARIO_RE.search(text)
            if found and found.group(1) in self.scenarios:
                return self.scenarios[found.group(1)], model_turns
        return None, 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, data: Any, status: int = 200) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                self._json({"models": []})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                with fake.record.lock:
                    fake.record.requests.append({"path": self.path, "body": body})
                path = self.path.split("?", 1)[0]
                model = path.rsplit("/", 1)[-1].split(":", 1)[0]
                if path.endswith(":countTokens"):
                    self._json({"totalTokens": 42})
                    return
                stream = path.endswith(":streamGenerateContent")
                scenario, index = fake._plan(body)
                if scenario is not None and index < len(scenario.turns):
                    turn = scenario.turns[index]
                else:
                    scenario = None
                    # Side requests that ask for JSON (next-speaker checks) get JSON back.
                    config = body.get("generationConfig") or {}
                    wants_json = (
                        isinstance(config, Mapping) and config.get("responseMimeType") == "application/json"
                    )
                    reply = '{"reasoning": "done", "next_speaker": "user"}' if wants_json else "OK"
                    turn = GeminiTurn(fake.side_usage, text=reply)
                response_id = uuid.uuid4().hex[:22]
                with fake.record.lock:
                    fake.record.served.append(
                        GeminiServed(
                            scenario.name if scenario else None,
                            index if scenario else None,
                            response_id,
                            turn.usage,
                            model,
                            stream,
                        )
                    )
                parts: list[dict[str, Any]] = []
                if turn.text is not None:
                    parts.append({"text": turn.text})
                if turn.call is not None:
                    parts.append(
                        {
                            "functionCall": {
                                "name": turn.call[0],
                                "args": _substitute(dict(turn.call[1]), fake.cwd),
                            }
                        }
                    )
                chunk = {
                    "candidates": [
                        {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
                    ],
                    "usageMetadata": turn.usage.api(),
                    "modelVersion": model,
                    "responseId": response_id,
                }
                if not stream:
                    self._json(chunk)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                self.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
                self.wfile.flush()

        return Handler
