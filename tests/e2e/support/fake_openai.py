"""A scripted fake of the OpenAI Responses and Chat Completions APIs (streaming), for running the
real Codex CLI, Qwen Code and OpenCode offline.

Each request is matched to a script by the ``SCENARIO:<name>`` marker in the user's own text; the
**turn** is the number of assistant outputs (tool calls and answers) already in the conversation,
so a resumed session keeps counting and a script spans every prompt of a session. Requests with no
marker (title generation, summaries) get a short answer billed with ``side_usage`` and are logged
apart, so a test can tell them from the scripted turns.

Every reply's usage is fixed by the script and logged with the response id the fake made up, so a
test can compare what agent-trace stored with exactly what "the API" billed.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

SCENARIO_RE = re.compile(r"SCENARIO:([A-Za-z0-9_.-]+)")
CWD_PLACEHOLDER = "{cwd}"


@dataclass(frozen=True)
class Usage:
    """What one response bills, in OpenAI's convention: cached input is part of input, reasoning
    is part of output."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def responses_api(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens,
        }

    def chat_api(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any]
    # Codex's freeform tools (apply_patch) take raw text instead of JSON arguments.
    freeform: str | None = None
    expect_error: bool = False


@dataclass(frozen=True)
class Turn:
    usage: Usage
    text: str | None = None
    tool: ToolCall | None = None
    reasoning: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    prompts: tuple[str, ...]
    turns: tuple[Turn, ...]

    @property
    def tool_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.tool is not None]


@dataclass
class Served:
    """One response the fake sent: what it billed and the ids it made up."""

    api: str  # "responses" | "chat"
    scenario: str | None
    turn: int | None
    response_id: str
    usage: Usage
    call_id: str | None = None
    model: str | None = None


@dataclass
class _Recorder:
    requests: list[dict[str, Any]] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _substitute(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace(CWD_PLACEHOLDER, cwd)
    if isinstance(value, Mapping):
        return {k: _substitute(v, cwd) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, cwd) for v in value]
    return value


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return out


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for the duration of a `with` block."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeOpenAI(LocalServer):
    """``with FakeOpenAI([scenario], cwd=repo) as fake:`` serves ``fake.url + "/v1"``."""

    def __init__(
        self,
        scenarios: Iterable[Scenario],
        *,
        cwd: str = "",
        side_usage: Usage = Usage(11, 3),
    ) -> None:
        self.scenarios = {s.name: s for s in scenarios}
        self.cwd = cwd
        self.side_usage = side_usage
        self.record = _Recorder()
        super().__init__()

    @property
    def served(self) -> list[Served]:
        return list(self.record.served)

    def scripted(self, scenario: str) -> list[Served]:
        return [s for s in self.record.served if s.scenario == scenario]

    # -- matching -------------------------------------------------------------------------------

    def _match(self, user_texts: list[str], assistant_outputs: int) -> tuple[Scenario | None, int]:
        for text in user_texts:
            found = SCENARIO_RE.search(text)
            if found and found.group(1) in self.scenarios:
                return self.scenarios[found.group(1)], assistant_outputs
        return None, 0

    def _turn(self, scenario: Scenario | None, index: int) -> Turn:
        if scenario is None or index >= len(scenario.turns):
            return Turn(self.side_usage, text="OK")
        return scenario.turns[index]

    # -- HTTP -----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                # Model listings some clients ask for before the first request.
                body = json.dumps({"object": "list", "data": [], "models": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                with fake.record.lock:
                    fake.record.requests.append({"path": self.path, "body": body})
                if self.path.rstrip("/").endswith("/responses"):
                    fake._responses(self, body)
                elif self.path.rstrip("/").endswith("/chat/completions"):
                    fake._chat(self, body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        return Handler

    @staticmethod
    def _start_sse(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True

    # -- Responses API (Codex) ------------------------------------------------------------------

    def _responses(self, handler: BaseHTTPRequestHandler, body: Mapping[str, Any]) -> None:
        items = body.get("input") if isinstance(body.get("input"), list) else []
        user_texts: list[str] = []
        outputs = 0
        for item in items:
            if not isinstance(item, Mapping):
                continue
            kind = item.get("type", "message")
            if kind == "message" and item.get("role") == "user":
                user_texts.extend(_texts(item.get("content")))
            elif kind in ("function_call", "custom_tool_call", "local_shell_call") or (
                kind == "message" and item.get("role") == "assistant"
            ):
                outputs += 1
        scenario, index = self._match(user_texts, outputs)
        turn = self._turn(scenario, index)
        response_id = "resp_" + uuid.uuid4().hex
        call_id = "call_" + uuid.uuid4().hex[:24] if turn.tool else None
        model = str(body.get("model") or "")
        with self.record.lock:
            self.record.served.append(
                Served(
                    "responses",
                    scenario.name if scenario else None,
                    index if scenario else None,
                    response_id,
                    turn.usage,
                    call_id,
                    model,
                )
            )
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": {"id": response_id, "model": model}}
        ]
        out_items: list[dict[str, Any]] = []
        if turn.reasoning:
            out_items.append(
                {
                    "type": "reasoning",
                    "id": "rs_" + uuid.uuid4().hex[:24],
                    "summary": [{"type": "summary_text", "text": turn.reasoning}],
                }
            )
        if turn.tool is not None:
            tool = turn.tool
            if tool.freeform is not None:
                out_items.append(
                    {
                        "type": "custom_tool_call",
                        "id": "ctc_" + uuid.uuid4().hex[:24],
                        "status": "completed",
                        "call_id": call_id,
                        "name": tool.name,
                        "input": _substitute(tool.freeform, self.cwd),
                    }
                )
            else:
                out_items.append(
                    {
                        "type": "function_call",
                        "id": "fc_" + uuid.uuid4().hex[:24],
                        "status": "completed",
                        "call_id": call_id,
                        "name": tool.name,
                        "arguments": json.dumps(_substitute(dict(tool.arguments), self.cwd)),
                    }
                )
        if turn.text is not None:
            msg_id = "msg_" + uuid.uuid4().hex[:24]
            out_items.append(
                {
                    "type": "message",
                    "id": msg_id,
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
                }
            )
        for position, item in enumerate(out_items):
            events.append({"type": "response.output_item.done", "output_index": position, "item": item})
        events.append(
            {
                "type": "response.completed",
                "response": {
                    "id": response_id,
                    "object": "response",
                    "model": model,
                    "status": "completed",
                    "output": out_items,
                    "usage": turn.usage.responses_api(),
                },
            }
        )
        self._start_sse(handler)
        for event in events:
            handler.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        handler.wfile.flush()

    # -- Chat Completions (Qwen Code, OpenCode) -------------------------------------------------

    def _chat(self, handler: BaseHTTPRequestHandler, body: Mapping[str, Any]) -> None:
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        user_texts: list[str] = []
        outputs = 0
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            if message.get("role") == "user":
                user_texts.extend(_texts(message.get("content")))
            elif message.get("role") == "assistant":
                calls = message.get("tool_calls")
                outputs += len(calls) if isinstance(calls, list) and calls else 1
        scenario, index = self._match(user_texts, outputs)
        if not body.get("tools"):
            # A request that offers no tools is the client's own side request (OpenCode's session
            # title, summaries) even when it quotes the user's text: it gets the side answer.
            scenario, index = None, 0
        turn = self._turn(scenario, index)
        response_id = "chatcmpl-" + uuid.uuid4().hex
        call_id = "call_" + uuid.uuid4().hex[:24] if turn.tool else None
        model = str(body.get("model") or "")
        with self.record.lock:
            self.record.served.append(
                Served(
                    "chat",
                    scenario.name if scenario else None,
                    index if scenario else None,
                    response_id,
                    turn.usage,
                    call_id,
                    model,
                )
            )
        created = 1_700_000_000

        def chunk(delta: Mapping[str, Any], finish: str | None = None, usage: Usage | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": response_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": dict(delta), "finish_reason": finish}]
                if usage is None
                else [],
            }
            if usage is not None:
                data["usage"] = usage.chat_api()
            return f"data: {json.dumps(data)}\n\n".encode()

        self._start_sse(handler)
        write = handler.wfile.write
        write(chunk({"role": "assistant", "content": ""}))
        if turn.reasoning:
            write(chunk({"reasoning_content": turn.reasoning}))
        if turn.text is not None:
            write(chunk({"content": turn.text}))
        if turn.tool is not None:
            arguments = json.dumps(_substitute(dict(turn.tool.arguments), self.cwd))
            write(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": call_id,
                                "type": "function",
                                "function": {"name": turn.tool.name, "arguments": arguments},
                            }
                        ]
                    }
                )
            )
        write(chunk({}, "tool_calls" if turn.tool is not None else "stop"))
        write(chunk({}, usage=turn.usage))
        write(b"data: [DONE]\n\n")
        handler.wfile.flush()
