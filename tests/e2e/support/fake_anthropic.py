"""A scripted fake of the Anthropic Messages API for running the real Claude Code CLI offline.

The CLI talks to ``POST /v1/messages?beta=true``. Each request is matched to a script:

* the **scenario** comes from a ``SCENARIO:<name>`` marker in the user's own text (system reminders and
  tool results are ignored, so a file or commit that quotes a marker cannot re-route a request);
* the **thread** is ``main``, ``subagent:<marker>`` when the user text contains a subagent marker of a
  registered scenario (the Agent tool's prompt is a subagent's first user message), or ``compact`` when
  the last user message carries the compaction instruction;
* the **turn** is the number of assistant messages already in ``messages``, which is how far that
  thread has got. A resumed session keeps counting, so a scenario's ``main`` list spans all prompts.

Every reply's usage is fixed by the script and logged with the ids the fake made up, so a test can
compare what agent-trace stored with exactly what "the API" billed. Tool inputs may contain ``{cwd}``,
replaced by the session's working directory, which the CLI sends only inside ``role:"system"``
entries of ``messages`` ("Primary working directory: ...").
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

SCENARIO_RE = re.compile(r"SCENARIO:([A-Za-z0-9_.-]+)")
COMPACT_MARKER = "Respond with TEXT ONLY"
CWD_PLACEHOLDER = "{cwd}"
_CWD_RE = re.compile(r"Primary working directory: (\S[^\n]*)")
_SYSTEM_REMINDER = "<system-reminder>"


def new_id(prefix: str) -> str:
    """An id shaped like the real ones (``msg_`` + 24 hex), unique across runs and servers."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# --------------------------------------------------------------------------------------------
# Script format
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Token usage of one response. The cache-write total is always 5m + 1h, so it cannot drift."""

    input_tokens: int
    output_tokens: int
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    # False omits the ``cache_creation`` split object, as older API responses did.
    report_split: bool = True

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def to_api(self, output_tokens: int | None = None) -> dict[str, Any]:
        """The ``usage`` object as the API sends it (``output_tokens`` overridable for message_start)."""
        body: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
            "service_tier": "standard",
        }
        if self.report_split:
            body["cache_creation"] = {
                "ephemeral_5m_input_tokens": self.cache_write_5m,
                "ephemeral_1h_input_tokens": self.cache_write_1h,
            }
        return body

    def as_report(self) -> dict[str, int]:
        """Same keys as ``agent-trace report --json`` rows (DESIGN.md §4), for direct comparison."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_tokens": self.cache_creation_input_tokens,
            "cache_creation_5m_tokens": self.cache_write_5m,
            "cache_creation_1h_tokens": self.cache_write_1h,
            "cache_read_tokens": self.cache_read,
        }

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_write_5m=self.cache_write_5m + other.cache_write_5m,
            cache_write_1h=self.cache_write_1h + other.cache_write_1h,
            cache_read=self.cache_read + other.cache_read,
            report_split=self.report_split and other.report_split,
        )


ZERO_USAGE = Usage(0, 0)
# Served when no script matches or a script ran out; distinctive so a stray request shows in totals.
FALLBACK_USAGE = Usage(input_tokens=1, output_tokens=1)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Thinking:
    thinking: str


@dataclass(frozen=True)
class ToolUse:
    """A tool call. String values in ``input`` may contain ``{cwd}``; the id is made up per response."""

    name: str
    input: Mapping[str, Any]
    # Test expectation only (never sent): the tool is meant to fail, giving an is_error tool_result.
    expect_error: bool = False


Block = Text | Thinking | ToolUse


@dataclass(frozen=True)
class HttpError:
    """Answer the request with an HTTP error instead of the turn (529 = overloaded; the CLI retries)."""

    status: int = 529
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass(frozen=True)
class StreamError:
    """Start a 200 SSE stream, send ``after_blocks`` complete blocks, then an ``error`` event.

    ``message_start=False`` sends the error as the very first event (nothing was billed yet);
    ``error_event=False`` just ends the stream there, without an error or ``message_stop``.
    """

    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    after_blocks: int = 0
    message_start: bool = True
    error_event: bool = True


Failure = HttpError | StreamError
OVERLOADED = HttpError()


@dataclass(frozen=True)
class Turn:
    """One assistant response. ``failures`` are served, in order, on the first attempts at this turn."""

    blocks: tuple[Block, ...]
    usage: Usage
    stop_reason: str | None = None  # default: tool_use when the turn calls a tool, else end_turn
    failures: tuple[Failure, ...] = ()
    model: str | None = None  # default: echo the requested model

    @property
    def resolved_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"

    @property
    def tool_uses(self) -> list[ToolUse]:
        return [b for b in self.blocks if isinstance(b, ToolUse)]


def turn(
    *blocks: Block | str,
    usage: Usage,
    failures: Sequence[Failure] = (),
    stop_reason: str | None = None,
    model: str | None = None,
) -> Turn:
    """Shorthand for ``Turn``; a bare string is a text block."""
    return Turn(
        blocks=tuple(Text(b) if isinstance(b, str) else b for b in blocks),
        usage=usage,
        stop_reason=stop_reason,
        failures=tuple(failures),
        model=model,
    )


@dataclass(frozen=True)
class Scenario:
    """A scripted conversation.

    ``main`` is indexed by the number of assistant turns already in the request, across every prompt
    of the session. ``subagents`` maps a marker that appears in an Agent tool prompt to that
    subagent's own script (markers must be unique across registered scenarios and must not contain
    ``SCENARIO:``). ``prompts`` are the prompts a test should send, in order (``--resume`` after the
    first); the first must contain ``SCENARIO:<name>``.
    """

    name: str
    main: tuple[Turn, ...]
    prompts: tuple[str, ...]
    subagents: Mapping[str, tuple[Turn, ...]] = field(default_factory=dict)
    compact: Turn | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not self.prompts or f"SCENARIO:{self.name}" not in self.prompts[0]:
            raise ValueError(f"scenario {self.name!r}: prompts[0] must contain 'SCENARIO:{self.name}'")
        for marker in self.subagents:
            if "SCENARIO:" in marker:
                raise ValueError(f"scenario {self.name!r}: subagent marker {marker!r} contains SCENARIO:")
        # A subagent's first user message is the Agent prompt; a scenario marker there would route
        # the subagent's requests to the main script.
        for thread, turns in self.threads().items():
            for t in turns:
                for tu in t.tool_uses:
                    if tu.name in ("Agent", "Task") and "SCENARIO:" in str(tu.input.get("prompt", "")):
                        raise ValueError(f"scenario {self.name!r}: {thread} Agent prompt contains SCENARIO:")

    def threads(self) -> dict[str, tuple[Turn, ...]]:
        scripts: dict[str, tuple[Turn, ...]] = {"main": self.main}
        for marker, turns in self.subagents.items():
            scripts[f"subagent:{marker}"] = turns
        if self.compact is not None:
            scripts["compact"] = (self.compact,)
        return scripts

    def expected_usage(self) -> dict[str, list[Usage]]:
        """Usage of every successful response, by thread, in order.

        Failed attempts are not included: a 529 bills nothing, but see ``StreamError`` for the usage
        an aborted stream already announced.
        """
        return {thread: [t.usage for t in turns] for thread, turns in self.threads().items()}

    def total_usage(self) -> Usage:
        total = ZERO_USAGE
        for usages in self.expected_usage().values():
            for u in usages:
                total = total + u
        return total

    def expected_tool_calls(self) -> list[tuple[str, ToolUse]]:
        """(thread, tool call) for every scripted tool call, main thread first."""
        return [(thread, tu) for thread, turns in self.threads().items() for t in turns for tu in t.tool_uses]

    def describe(self) -> str:
        """A readable table of the script: thread, turn, tool calls, usage (for docs and failures)."""
        lines = [f"scenario {self.name}: {self.description}".rstrip(": ")]
        lines += [f"  prompt {i}: {p!r}" for i, p in enumerate(self.prompts)]
        for thread, turns in self.threads().items():
            for i, t in enumerate(turns):
                calls = ", ".join(f"{tu.name}{'!' if tu.expect_error else ''}" for tu in t.tool_uses) or "-"
                fails = f" failures={[type(f).__name__ for f in t.failures]}" if t.failures else ""
                u = t.usage
                lines.append(
                    f"  {thread}[{i}] tools={calls} usage(in={u.input_tokens} out={u.output_tokens} "
                    f"w5m={u.cache_write_5m} w1h={u.cache_write_1h} read={u.cache_read}){fails}"
                )
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Request / response log
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    seq: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    raw: bytes
    received_at: float
    scenario: str | None = None
    thread: str | None = None  # main | subagent:<marker> | compact | unmatched; None for non-messages paths
    turn_index: int | None = None
    cwd: str | None = None

    @property
    def session_id(self) -> str | None:
        return self.headers.get("x-claude-code-session-id")

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


@dataclass(frozen=True)
class RecordedResponse:
    request_seq: int
    status: int
    kind: str  # message | http_error | stream_error | other
    request_id: str | None = None
    stream: bool = False
    message_id: str | None = None
    model: str | None = None
    # Final usage for ``message``; for ``stream_error`` the usage already sent in message_start.
    usage: Usage | None = None
    content: tuple[dict[str, Any], ...] = ()
    stop_reason: str | None = None
    scenario: str | None = None
    thread: str | None = None
    turn_index: int | None = None
    exhausted: bool = False  # no script turn left: a fallback text was served

    @property
    def tool_use_ids(self) -> list[str]:
        return [b["id"] for b in self.content if b.get("type") == "tool_use"]


# --------------------------------------------------------------------------------------------
# Request analysis
# --------------------------------------------------------------------------------------------


def _texts(content: Any, *, skip_reminders: bool) -> list[str]:
    """Plain text of a message's content; tool results are never included."""
    if isinstance(content, str):
        return [] if skip_reminders and content.lstrip().startswith(_SYSTEM_REMINDER) else [content]
    out: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                text = block["text"]
                if not (skip_reminders and text.lstrip().startswith(_SYSTEM_REMINDER)):
                    out.append(text)
    return out


def _messages(body: Any) -> list[dict[str, Any]]:
    msgs = body.get("messages") if isinstance(body, dict) else None
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def user_texts(body: Any) -> list[str]:
    """What the user (or the Agent tool, for a subagent) wrote, in order, without system reminders."""
    return [
        t
        for m in _messages(body)
        if m.get("role") == "user"
        for t in _texts(m.get("content"), skip_reminders=True)
    ]


def find_cwd(body: Any) -> str | None:
    texts: list[str] = []
    if isinstance(body, dict):
        texts += _texts(body.get("system"), skip_reminders=False)
    for m in _messages(body):
        texts += _texts(m.get("content"), skip_reminders=False)
    for text in texts:
        match = _CWD_RE.search(text)
        if match:
            return match.group(1).strip()
    return None


def _substitute(value: Any, cwd: str) -> Any:
    if isinstance(value, str):
        return value.replace(CWD_PLACEHOLDER, cwd)
    if isinstance(value, Mapping):
        return {k: _substitute(v, cwd) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, cwd) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    scenario: str | None
    thread: str
    turn_index: int
    turn: Turn
    failure: Failure | None
    exhausted: bool


class FakeAnthropic:
    """The fake API on 127.0.0.1 with an ephemeral port, served from a background thread.

    Use as a context manager (``with FakeAnthropic([scenario]) as fake: ... fake.url``). All logs are
    thread-safe snapshots; ``reset()`` clears them and the failure counters between runs.
    """

    def __init__(self, scenarios: Iterable[Scenario] = (), *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Condition()
        self._scenarios: dict[str, Scenario] = {}
        self._requests: list[RecordedRequest] = []
        self._responses: list[RecordedResponse] = []
        # Attempts per (session, scenario, thread, turn), so scripted failures hit only the first tries.
        self._attempts: dict[tuple[str, str | None, str, int], int] = {}
        # Called with each scripted Messages request before it is answered (tests use it to
        # wait for something the agent's earlier turns caused, e.g. spend reaching a budget).
        self.before_answer: Callable[[RecordedRequest], None] | None = None
        for scenario in scenarios:
            self.add_scenario(scenario)
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropic:
        if self._thread is None:
            self._thread = threading.Thread(
                # A short poll interval: shutdown() waits for it, and tests stop a server each.
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fake-anthropic",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------

    def add_scenario(self, scenario: Scenario) -> None:
        with self._lock:
            for other in self._scenarios.values():
                clash = set(other.subagents) & set(scenario.subagents)
                if other.name != scenario.name and clash:
                    raise ValueError(f"subagent markers {sorted(clash)} used by {other.name!r} too")
            self._scenarios[scenario.name] = scenario

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            self._attempts.clear()

    # -- log access --------------------------------------------------------------------------

    def requests(self, *, messages_only: bool = True) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if not messages_only or r.thread is not None]

    def responses(self, *, kind: str | None = None, thread: str | None = None) -> list[RecordedResponse]:
        with self._lock:
            return [
                r
                for r in self._responses
                if (kind is None or r.kind == kind) and (thread is None or r.thread == thread)
            ]

    def messages(self, *, thread: str | None = None) -> list[RecordedResponse]:
        """Successful message responses: the API calls that should be billed."""
        return self.responses(kind="message", thread=thread)

    def usage_by_message_id(self) -> dict[str, Usage]:
        return {r.message_id: r.usage for r in self.messages() if r.message_id and r.usage}

    def total_usage(self) -> Usage:
        total = ZERO_USAGE
        for r in self.messages():
            if r.usage is not None:
                total = total + r.usage
        return total

    def tool_use_ids(self, *, thread: str | None = None) -> list[str]:
        return [i for r in self.messages(thread=thread) for i in r.tool_use_ids]

    def wait_for_responses(self, count: int, timeout: float = 10.0) -> list[RecordedResponse]:
        """Block until ``count`` responses were sent (for callers that run the CLI asynchronously)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._responses) >= count, timeout):
                raise TimeoutError(f"{len(self._responses)} of {count} responses after {timeout}s")
            return list(self._responses)

    # -- request handling (called from handler threads) ---------------------------------------

    def _record_request(self, **kwargs: Any) -> RecordedRequest:
        with self._lock:
            req = RecordedRequest(seq=len(self._requests), **kwargs)
            self._requests.append(req)
            return req

    def _record_response(self, resp: RecordedResponse) -> None:
        with self._lock:
            self._responses.append(resp)
            self._lock.notify_all()

    def _plan(self, body: Any, session_id: str | None) -> _Plan:
        msgs = _messages(body)
        index = sum(1 for m in msgs if m.get("role") == "assistant")
        texts = user_texts(body)
        last_user = next((m for m in reversed(msgs) if m.get("role") == "user"), None)
        with self._lock:
            scenario: Scenario | None = None
            thread = "unmatched"
            script: Sequence[Turn] = ()
            if last_user is not None and any(
                COMPACT_MARKER in t for t in _texts(last_user.get("content"), skip_reminders=False)
            ):
                thread = "compact"
                scenario = self._scenario_in(texts)
                compact = scenario.compact if scenario and scenario.compact else _DEFAULT_COMPACT
                script, index = (compact,), 0
            elif (scenario := self._scenario_in(texts)) is not None:
                thread, script = "main", scenario.main
            else:
                for candidate in self._scenarios.values():
                    marker = next((m for m in candidate.subagents if any(m in t for t in texts)), None)
                    if marker is not None:
                        scenario, thread, script = (
                            candidate,
                            f"subagent:{marker}",
                            candidate.subagents[marker],
                        )
                        break
            exhausted = index >= len(script)
            chosen = _EXHAUSTED if exhausted else script[index]
            name = scenario.name if scenario else None
            key = (session_id or "", name, thread, index)
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
            failure = chosen.failures[attempt] if attempt < len(chosen.failures) else None
        return _Plan(name, thread, index, chosen, failure, exhausted)

    def _scenario_in(self, texts: list[str]) -> Scenario | None:
        # First marker wins, so later prompts of a resumed session stay on the first prompt's script.
        for text in texts:
            for match in SCENARIO_RE.finditer(text):
                if match.group(1) in self._scenarios:
                    return self._scenarios[match.group(1)]
        return None


_DEFAULT_COMPACT = Turn(
    blocks=(Text("<summary>The conversation so far, summarised.</summary>"),), usage=FALLBACK_USAGE
)
_EXHAUSTED = Turn(blocks=(Text("[fake-anthropic] no scripted turn left."),), usage=FALLBACK_USAGE)


# --------------------------------------------------------------------------------------------
# Wire format
# --------------------------------------------------------------------------------------------


def _materialise(turn_: Turn, cwd: str | None) -> list[dict[str, Any]]:
    """Content blocks as the API returns them, with fresh tool ids and ``{cwd}`` filled in."""
    blocks: list[dict[str, Any]] = []
    for b in turn_.blocks:
        if isinstance(b, Text):
            blocks.append({"type": "text", "text": b.text})
        elif isinstance(b, Thinking):
            blocks.append(
                {"type": "thinking", "thinking": b.thinking, "signature": "sig_" + uuid.uuid4().hex}
            )
        else:
            tool_input = _substitute(dict(b.input), cwd) if cwd else dict(b.input)
            blocks.append({"type": "tool_use", "id": new_id("toolu"), "name": b.name, "input": tool_input})
    return blocks


def _halves(s: str) -> list[str]:
    # Two deltas per block so the client really has to assemble the stream.
    mid = len(s) // 2
    return [part for part in (s[:mid], s[mid:]) if part] or [""]


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": p} for p in _halves(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _halves(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": p} for p in _halves(json.dumps(block["input"]))
        ]
    events = [
        _sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
    ]
    events += [
        _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    ]
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _message_start(message_id: str, model: str, usage: Usage) -> bytes:
    # Like the real API: message_start carries the input side and a placeholder output count of 1.
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage.to_api(output_tokens=1),
    }
    return _sse("message_start", {"type": "message_start", "message": message})


def _error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def _make_handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive with explicit Content-Length: the CLI reuses connections, and a fake needs no
        # real streaming, so each SSE body is built whole and sent at once.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log replaces stderr chatter

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def _handle(self) -> None:
            raw = self._read_body()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = None
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            common = {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "headers": headers,
                "body": body,
                "raw": raw,
                "received_at": time.time(),
            }
            if self.command != "POST" or parts.path.rstrip("/") != "/v1/messages":
                req = fake._record_request(**common)
                fake._record_response(RecordedResponse(request_seq=req.seq, status=200, kind="other"))
                self._send(200, b"{}", "application/json")
                return
            plan = fake._plan(body, headers.get("x-claude-code-session-id"))
            cwd = find_cwd(body)
            req = fake._record_request(
                **common, scenario=plan.scenario, thread=plan.thread, turn_index=plan.turn_index, cwd=cwd
            )
            if fake.before_answer is not None:
                fake.before_answer(req)
            self._answer(req, plan, cwd)

        def _answer(self, req: RecordedRequest, plan: _Plan, cwd: str | None) -> None:
            request_id = new_id("req")
            where: dict[str, Any] = {
                "scenario": plan.scenario,
                "thread": plan.thread,
                "turn_index": plan.turn_index,
            }
            failure = plan.failure
            if isinstance(failure, HttpError):
                # 2.1.331 ignores retry-after(-ms) and backs off ~0.5 s, then ~1 s, by itself.
                headers = {"request-id": request_id, "x-should-retry": "true"}
                payload = _error_body(failure.error_type, failure.message, request_id)
                fake._record_response(
                    RecordedResponse(
                        request_seq=req.seq,
                        status=failure.status,
                        kind="http_error",
                        request_id=request_id,
                        **where,
                    )
                )
                self._send(failure.status, json.dumps(payload).encode(), "application/json", headers)
                return

            turn_ = plan.turn
            model = (
                turn_.model
                or (req.body.get("model") if isinstance(req.body, dict) else None)
                or "claude-fake"
            )
            message_id = new_id("msg")
            content = _materialise(turn_, cwd)
            stop_reason = turn_.resolved_stop_reason
            usage = turn_.usage
            headers = {"request-id": request_id}

            if isinstance(failure, StreamError):
                sent = content[: failure.after_blocks] if failure.message_start else []
                events = (
                    [_message_start(message_id, model, usage), _sse("ping", {"type": "ping"})]
                    if failure.message_start
                    else []
                )
                for i, block in enumerate(sent):
                    events += _block_events(i, block)
                if failure.error_event:
                    events.append(_sse("error", _error_body(failure.error_type, failure.message, request_id)))
                fake._record_response(
                    RecordedResponse(
                        request_seq=req.seq,
                        status=200,
                        kind="stream_error",
                        request_id=request_id,
                        stream=True,
                        message_id=message_id,
                        model=model,
                        usage=usage,
                        content=tuple(sent),
                        **where,
                    )
                )
                self._send(200, b"".join(events), "text/event-stream; charset=utf-8", headers)
                return

            record = RecordedResponse(
                request_seq=req.seq,
                status=200,
                kind="message",
                request_id=request_id,
                stream=req.stream,
                message_id=message_id,
                model=model,
                usage=usage,
                content=tuple(content),
                stop_reason=stop_reason,
                exhausted=plan.exhausted,
                **where,
            )
            if req.stream:
                events = [_message_start(message_id, model, usage), _sse("ping", {"type": "ping"})]
                for i, block in enumerate(content):
                    events += _block_events(i, block)
                events.append(
                    _sse(
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                            "usage": usage.to_api(),
                        },
                    )
                )
                events.append(_sse("message_stop", {"type": "message_stop"}))
                # Log before sending: the CLI may act on the reply (and exit) before this thread resumes.
                fake._record_response(record)
                self._send(200, b"".join(events), "text/event-stream; charset=utf-8", headers)
            else:
                message: dict[str, Any] = {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": usage.to_api(),
                }
                fake._record_response(record)
                self._send(200, json.dumps(message).encode(), "application/json", headers)

        do_POST = _handle
        do_GET = _handle
        do_PUT = _handle
        do_DELETE = _handle
        do_PATCH = _handle

        def do_HEAD(self) -> None:
            self._send(200, b"", "application/json")

    return Handler
