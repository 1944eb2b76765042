"""Collector throughput: a real `agent-trace serve --role collector` on loopback, SQLite in a temp home.

    .venv/bin/python bench/collector.py [--seconds 8] [--senders 8] [--log-batch 200]

8 concurrent senders (keep-alive HTTP/1.1 connections, requests pre-encoded so that the load
generator costs little of the machine's two cores) drive, one phase at a time:

* `POST /v1/noop` — the same server answering a route that does nothing: the HTTP stack's ceiling;
* `POST /v1/hooks` — one hook payload per request, as Claude Code's hooks send them (the real
  2.1.331 payloads of real-client/basic, with fresh ids: every request is a new fact);
* `POST /v1/logs` — OTLP/JSON export requests of --log-batch log records each (Claude Code's
  own log records, fresh request/tool/prompt ids per request), the encoding Claude Code uses
  with `http/json`; and the same in protobuf.

Each phase runs --seconds after a one-second warm-up; the table gives requests/s, events/s
(hook payloads or log records), and latency percentiles. Every answer must be a success, and
at the end the store must hold every acknowledged event (checked by counting raw events).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository (or beside the folder of git worktrees it is one of).
CORPUS = next(
    (
        base / "shared" / "corpus" / "claude-code" / "real-client"
        for base in (REPO.parent, REPO.parent.parent)
        if (base / "shared" / "corpus" / "claude-code" / "real-client").is_dir()
    ),
    REPO.parent / "shared" / "corpus" / "claude-code" / "real-client",
)
SESSIONS = 50  # facts are spread over this many sessions, as from a team's machines


# -- request bodies ------------------------------------------------------------------------------


def _hook_templates() -> list[bytes]:
    """Hook payloads with placeholders: @S@ (session), @N@ (request number)."""
    path = CORPUS / "basic" / "hooks.jsonl"
    payloads = [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = []
    for payload in payloads:
        payload["session_id"] = "bench-session-@S@"
        for key in ("tool_use_id", "prompt_id"):
            if key in payload:
                payload[key] = f"{payload[key]}-@N@"
        for call in payload.get("tool_calls") or []:
            call["tool_use_id"] = f"{call['tool_use_id']}-@N@"
        out.append(orjson.dumps(payload))
    return out


def _log_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for scenario in ("basic", "task", "fail", "denied", "cwd"):
        for line in (CORPUS / scenario / "otlp.jsonl").read_text().splitlines():
            capture = orjson.loads(line)
            if capture["path"] != "/v1/logs":
                continue
            for resource in capture["body"]["resourceLogs"]:
                for scope in resource["scopeLogs"]:
                    records.extend(scope["logRecords"])
    return records


def _log_template(batch: int) -> tuple[dict[str, Any], bytes]:
    """An ExportLogsServiceRequest (OTLP/JSON) of `batch` records, with @S@/@N@ placeholders."""
    source = _log_records()
    unique_keys = {"request_id", "tool_use_id", "prompt.id", "message.uuid"}
    chosen = []
    for j in range(batch):
        record = orjson.loads(orjson.dumps(source[j % len(source)]))
        for attr in record["attributes"]:
            value = attr["value"]
            if attr["key"] == "session.id":
                value["stringValue"] = "bench-session-@S@"
            elif attr["key"] in unique_keys and "stringValue" in value:
                value["stringValue"] = f"{value['stringValue']}-@N@-{j}"
            elif attr["key"] == "event.sequence":
                attr["value"] = {"stringValue": f"@N@-{j}"}
        chosen.append(record)
    doc = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]
                },
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": chosen}],
            }
        ]
    }
    return doc, orjson.dumps(doc)


def _protobuf_log_bodies(doc: dict[str, Any], count: int) -> list[bytes]:
    """Protobuf bodies can't hold text placeholders portably: encode `count` distinct ones ahead."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: base64.b64encode(bytes.fromhex(v)).decode()
                if k in ("traceId", "spanId") and isinstance(v, str)
                else fix(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    text = orjson.dumps(fix(doc))
    bodies = []
    for n in range(count):
        filled = text.replace(b"@N@", f"pb{n}".encode()).replace(b"@S@", str(n % SESSIONS).encode())
        bodies.append(ParseDict(orjson.loads(filled), ExportLogsServiceRequest()).SerializeToString())
    return bodies


# -- the load generator --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    path: str
    content_type: str | None
    body: Callable[[int], bytes]  # request number → body
    events_per_request: int
    method: str = "POST"


@dataclass
class Result:
    name: str
    requests: int = 0
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    server_cpu_s: float = 0.0  # CPU time the server process used while measured
    sender_cpu_s: float = 0.0


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process and its descendants (OTLP decoder workers are
    children of its forkserver); this process alone when pid is None."""
    if pid is None:
        return time.process_time()
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = int(fields[11]) + int(fields[12])
    total = 0
    for candidate, ticks in times.items():
        walk = candidate
        while walk not in (0, 1, pid) and walk in parents:
            walk = parents[walk]
        if walk == pid:
            total += ticks
    return total / os.sysconf("SC_CLK_TCK")


# `--auth`: the personal token every request carries (AGENT_TRACE_AUTH=on on the server).
AUTH_HEADER: list[str] = []


def _request(phase: Phase, body: bytes) -> bytes:
    # A loopback collector answers loopback host names only (server/security.cross_site_problem).
    head = f"{phase.method} {phase.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(AUTH_HEADER)
    if phase.content_type:
        head += f"Content-Type: {phase.content_type}\r\n"
    if phase.method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _sender(
    port: int, phase: Phase, counter: list[int], stop_at: float, measure_from: float, result: Result
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            n = counter[0]
            counter[0] += 1
            writer.write(_request(phase, phase.body(n)))
            status = await _read_response(reader)
            done = time.perf_counter()
            if status not in (200, 204):
                result.errors[status] = result.errors.get(status, 0) + 1
                if status == 503:
                    await asyncio.sleep(0.05)
                continue
            if now >= measure_from:
                result.requests += 1
                result.events += phase.events_per_request
                result.latencies.append(done - now)
    finally:
        writer.close()


async def _run_phase(
    port: int, phase: Phase, senders: int, seconds: float, counter: list[int], server_pid: int | None
) -> Result:
    result = Result(phase.name)
    start = time.perf_counter()
    measure_from = start + 1.0  # warm-up
    stop_at = measure_from + seconds

    async def cpu_meter() -> None:
        await asyncio.sleep(measure_from - time.perf_counter())
        server, sender = _cpu_seconds(server_pid) if server_pid else 0.0, _cpu_seconds(None)
        await asyncio.sleep(stop_at - time.perf_counter())
        result.server_cpu_s = (_cpu_seconds(server_pid) - server) if server_pid else float("nan")
        result.sender_cpu_s = _cpu_seconds(None) - sender

    await asyncio.gather(
        cpu_meter(), *(_sender(port, phase, counter, stop_at, measure_from, result) for _ in range(senders))
    )
    result.seconds = seconds
    return result


# -- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Path, port: int, workers: int | None, auth: bool = False) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_TRACE_", "OTEL_"))},
        "AGENT_TRACE_HOME": str(home),
        "COLLECTOR_PORT": str(port),
        "OTEL_GRPC_ADDRESS": "off",
    }
    if auth:
        # A person with a personal token; every request then carries it (Authorization: Bearer).
        env["AGENT_TRACE_AUTH"] = "on"
        added = subprocess.run(
            [sys.executable, "-m", "agent_trace.cli.main", "users", "add", "bench", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        AUTH_HEADER.append(f"Authorization: Bearer {orjson.loads(added.stdout)['token']}\r\n")
    if workers is not None:
        env["AGENT_TRACE_INGEST_WORKERS"] = str(workers)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", "collector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    process.stderr.read().decode() if process.stderr else "server exited"
                ) from None
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the collector did not start within 30 s")


def _stored_raw_events(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "agent-trace.db") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM raw_events").fetchone()[0])


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--senders", type=int, default=8, help="concurrent connections")
    parser.add_argument("--log-batch", type=int, default=200, help="log records per OTLP request")
    parser.add_argument("--phases", default="noop,health,hooks,logs-json,logs-protobuf")
    parser.add_argument(
        "--port", type=int, help="drive an already running collector on this port (for profiling it)"
    )
    parser.add_argument("--pid", type=int, help="with --port: the collector's process id, for its CPU time")
    parser.add_argument(
        "--workers", type=int, help="AGENT_TRACE_INGEST_WORKERS for the server (default: its own default)"
    )
    parser.add_argument(
        "--auth", action="store_true", help="AGENT_TRACE_AUTH=on: every request carries a personal token"
    )
    parser.add_argument("--token", help="with --port: the personal token to send (a collector with auth on)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench/collector.py needs the real-client captures at {CORPUS}", file=sys.stderr)
        return 2

    hooks = _hook_templates()

    def hook_body(n: int) -> bytes:
        template = hooks[n % len(hooks)]
        return template.replace(b"@N@", str(n).encode()).replace(b"@S@", str(n % SESSIONS).encode())

    log_doc, log_text = _log_template(args.log_batch)

    def log_body(n: int) -> bytes:
        return log_text.replace(b"@N@", str(n).encode()).replace(b"@S@", str(n % SESSIONS).encode())

    chosen = args.phases.split(",")
    pb_bodies: list[bytes] = []
    if "logs-protobuf" in chosen:
        pb_bodies = _protobuf_log_bodies(log_doc, 400)

    phases = {
        "noop": Phase("POST /v1/noop (no-op route)", "/v1/noop", None, lambda n: b"", 0),
        "health": Phase("GET /health (one SQL read)", "/health", None, lambda n: b"", 0, method="GET"),
        "hooks": Phase("POST /v1/hooks (1 payload)", "/v1/hooks", "application/json", hook_body, 1),
        "logs-json": Phase(
            f"POST /v1/logs JSON ({args.log_batch} records)",
            "/v1/logs",
            "application/json",
            log_body,
            args.log_batch,
        ),
        "logs-protobuf": Phase(
            f"POST /v1/logs protobuf ({args.log_batch} records)",
            "/v1/logs",
            "application/x-protobuf",
            lambda n: pb_bodies[n % len(pb_bodies)],
            args.log_batch,
        ),
    }

    results: list[Result] = []
    acknowledged = 0

    def run_phases(port: int, server_pid: int | None) -> None:
        nonlocal acknowledged
        for name in chosen:
            phase = phases[name]
            counter = [0]
            result = asyncio.run(_run_phase(port, phase, args.senders, args.seconds, counter, server_pid))
            results.append(result)
            if name == "hooks":
                acknowledged += counter[0] - sum(result.errors.values())

    stored: int | None = None
    if args.token:
        AUTH_HEADER.append(f"Authorization: Bearer {args.token}\r\n")
    if args.port:
        run_phases(args.port, args.pid)
    else:
        with tempfile.TemporaryDirectory(prefix="agent-trace-bench-") as tmp:
            home = Path(tmp) / "home"
            home.mkdir()
            port = _free_port()
            server = _start_server(home, port, args.workers, args.auth)
            try:
                run_phases(port, server.pid)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(60)
            stored = _stored_raw_events(home)

    cpu = os.cpu_count()
    load = os.getloadavg()[0]
    print(
        f"agent-trace collector{' with auth on' if args.auth else ''}, {args.senders} senders on loopback, "
        f"SQLite (WAL), {cpu} cores, "
        f"{args.seconds:g} s per phase, load average {load:.2f} at the end\n"
    )
    header = (
        f"{'route':<38} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'server CPU':>10} {'µs CPU/event':>12} {'non-2xx':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rate = r.requests / r.seconds
        events = f"{r.events / r.seconds:,.0f}" if r.events else "-"
        per_event = f"{r.server_cpu_s / r.events * 1e6:,.0f}" if r.events else "-"
        print(
            f"{r.name:<38} {rate:>8,.0f} {events:>9} {_pct(r.latencies, 0.5):>7.1f} "
            f"{_pct(r.latencies, 0.99):>7.1f} {r.server_cpu_s / r.seconds:>9.0%} {per_event:>12} "
            f"{sum(r.errors.values()):>7}"
        )
    sender_share = sum(r.sender_cpu_s for r in results) / sum(r.seconds for r in results)
    print("\nserver CPU: the collector process and its OTLP decoder workers, in cores (2 cores = 200%);")
    print(f"the senders used {sender_share:.0%} of a core on average.")
    if stored is not None:
        print(f"\nraw events stored: {stored:,} (hook requests acknowledged: {acknowledged:,})")
    if any(r.errors for r in results):
        print("answers other than 2xx:", {r.name: r.errors for r in results if r.errors})
        return 1  # a figure over refused requests measures nothing
    return 0


if __name__ == "__main__":
    sys.exit(main())
