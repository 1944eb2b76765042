"""Micro-benchmark of the OTLP source: log records per second, JSON and protobuf, decode and normalise.

    .venv/bin/python bench/otlp_decode.py [--records 2000] [--repeat 7]

Bodies are built from the real captures in ../shared/corpus/claude-code/real-client/*/otlp.jsonl
(all their log records, sampled evenly or cycled to --records per request), or from a synthetic api_request /
tool_result / hook mix when the corpus is absent. Each row is the best of --repeat runs on one
core. "MessageToDict + walk" is the alternative the protobuf decoder does not use: it parses with
protobuf, converts with `google.protobuf.json_format.MessageToDict`, then walks the dict like JSON.
"""

from __future__ import annotations

import argparse
import base64
import gc
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict, ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from agent_trace.sources.otlp import OtlpCorrelator, normalize, parse_request
from agent_trace.sources.otlp_decode import decode_request
from agent_trace.sources.otlp_json import decode_json_document

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "claude-code" / "real-client"
JSON = "application/json"
PROTOBUF = "application/x-protobuf"


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _synthetic_records() -> list[dict[str, Any]]:
    common = {
        "user.id": "u" * 64,
        "session.id": "4cfb44b3-b7b3-4f2b-a630-8f07ab4e910a",
        "terminal.type": "dumb",
    }
    events: list[dict[str, Any]] = [
        {
            "event.name": "api_request",
            "prompt.id": "0a307393-62cf-485b-ad78-353dfa17352d",
            "model": "claude-opus-5-5",
            "input_tokens": 15,
            "output_tokens": 140,
            "cache_read_tokens": 12850,
            "cache_creation_tokens": 470,
            "cost_usd": 0.00778,
            "duration_ms": 107,
            "ttft_ms": 6,
            "request_id": "req_a9a9aa7c784d46b489c567e4",
            "speed": "normal",
            "query_source": "sdk",
        },
        {
            "event.name": "tool_result",
            "tool_name": "Bash",
            "tool_use_id": "toolu_0a2484a9b210491c99e8497e",
            "success": "true",
            "duration_ms": "63",
            "tool_input": '{"command":"echo hello > out.txt && cat out.txt"}',
            "request_id": "req_6f913fa1256245b7b56dfc40",
        },
        {"event.name": "hook_execution_start", "hook_event": "PreToolUse", "num_hooks": "1"},
    ]
    records = []
    for n, event in enumerate(events):
        attrs = [_kv(k, v) for k, v in {**common, **event, "event.sequence": n}.items()]
        records.append(
            {
                "timeUnixNano": "1795557376413000000",
                "observedTimeUnixNano": "1795557376413000000",
                "body": {"stringValue": "claude_code." + event["event.name"]},
                "attributes": attrs,
                "traceId": "9e65ad7ae590658a85f07b0a673202f8",
                "spanId": "cc367a398a1831da",
            }
        )
    return records


def _corpus_records() -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    resource: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*/otlp.jsonl")):
        for line in path.read_text().splitlines():
            post = orjson.loads(line)
            if post.get("path") != "/v1/logs" or post.get("decoded_from") == "protobuf":
                continue  # the protobuf capture holds MessageToDict output: base64 ids
            for resource_logs in post["body"]["resourceLogs"]:
                resource = resource or resource_logs.get("resource")
                for scope_logs in resource_logs["scopeLogs"]:
                    records.extend(scope_logs["logRecords"])
    return (resource or {}, records) if records else None


def _hex_ids_to_base64(record: dict[str, Any]) -> dict[str, Any]:
    """protobuf's ParseDict reads bytes as base64; OTLP/JSON writes ids as hex."""
    out = dict(record)
    for key in ("traceId", "spanId"):
        if key in out:
            out[key] = base64.b64encode(bytes.fromhex(out[key])).decode()
    return out


def _bodies(count: int) -> tuple[str, bytes, bytes]:
    found = _corpus_records()
    origin = "corpus" if found else "synthetic"
    resource, records = found or ({"attributes": [_kv("service.name", "claude-code")]}, _synthetic_records())
    if count < len(records):  # an even sample, so that a small body has the same mix of events
        chosen = [records[i * len(records) // count] for i in range(count)]
    else:
        chosen = list(itertools.islice(itertools.cycle(records), count))
    scope = {"name": "com.anthropic.claude_code.events", "version": "2.1.331"}

    def doc(recs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceLogs": [{"resource": resource, "scopeLogs": [{"scope": scope, "logRecords": recs}]}]}

    json_body = orjson.dumps(doc(chosen))
    message = ParseDict(doc([_hex_ids_to_base64(r) for r in chosen]), ExportLogsServiceRequest())
    return origin, json_body, message.SerializeToString()


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="log records per request body")
    parser.add_argument("--repeat", type=int, default=7, help="runs per row (best is reported)")
    args = parser.parse_args(argv)
    origin, json_body, pb_body = _bodies(args.records)
    n = args.records

    def via_message_to_dict() -> object:
        message = ExportLogsServiceRequest.FromString(pb_body)
        return decode_json_document("logs", MessageToDict(message))

    rows: list[tuple[str, Callable[[], object]]] = [
        ("json: decode", lambda: decode_request("logs", JSON, json_body)),
        ("protobuf: decode (direct walk)", lambda: decode_request("logs", PROTOBUF, pb_body)),
        ("protobuf: decode (MessageToDict + walk)", via_message_to_dict),
        ("json: decode + normalise", lambda: parse_request("logs", JSON, json_body, received_ms=0)),
        (
            "protobuf: decode + normalise",
            lambda: parse_request("logs", PROTOBUF, pb_body, received_ms=0, correlator=OtlpCorrelator()),
        ),
    ]
    print(f"{n} log records per request ({origin}); json {len(json_body):,} B, protobuf {len(pb_body):,} B")
    print(f"{'step':<42}{'ms/request':>12}{'records/s':>14}")
    for label, fn in rows:
        gc.collect()
        seconds = _best(fn, args.repeat)
        print(f"{label:<42}{seconds * 1000:>12.2f}{n / seconds:>14,.0f}")
    decoded = decode_request("logs", PROTOBUF, pb_body)
    gc.collect()
    seconds = _best(lambda: normalize(decoded, received_ms=0), args.repeat)
    print(f"{'normalise only (decoded views kept alive)':<42}{seconds * 1000:>12.2f}{n / seconds:>14,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
