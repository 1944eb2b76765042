"""`agent-trace audit [--json] [--since DAY]` and `agent-trace audit verify [--json]`.

Exit codes: 0 shown / chain intact · 1 the chain is broken (an entry was edited or removed) ·
2 a bad option.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from agent_trace.config import Settings
from agent_trace.domain.audit_chain import verify_chain
from agent_trace.store.identity import identity_of


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("audit", help="the tamper-evident audit log (sign-ins, views, changes)")
    p.add_argument("action", nargs="?", choices=("verify",), help="verify: check the hash chain")
    p.add_argument("--since", help="first local day (2026-02-11), ISO date-time or epoch ms")
    p.add_argument("--timezone", "-z", help="IANA time zone for --since and the times shown")
    p.add_argument("--json", action="store_true", help="one JSON entry per line")


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.reports.periods import resolve_timezone
    from agent_trace.store.factory import open_store

    tz = resolve_timezone(args.timezone or settings.timezone)
    since_ms = parse_since(args.since, tz) if args.since else None
    store = open_store(settings.database_url, settings.events_url)
    try:
        ids = identity_of(store)
        if args.action == "verify":
            rows = ids.audit_rows()
            problems = verify_chain(rows, ids.audit_head())
            if args.json:
                out = {
                    "ok": not problems,
                    "entries": len(rows),
                    "problems": [{"seq": p.seq, "message": p.message} for p in problems],
                }
                sys.stdout.write(orjson.dumps(out).decode() + "\n")
            elif problems:
                for p in problems:
                    print(f"audit entry {p.seq}: {p.message}", file=sys.stderr)
                print(
                    f"agent-trace audit verify: the log has been tampered with ({len(problems)} problem(s))",
                    file=sys.stderr,
                )
            else:
                print(f"audit log intact: {len(rows)} entries, hash chain verified")
            return 1 if problems else 0
        entries = ids.audit_entries(since_ms=since_ms)
        if args.json:
            for e in entries:
                sys.stdout.write(orjson.dumps(e.as_json()).decode() + "\n")
            return 0
        for e in entries:
            at = datetime.fromtimestamp(e.at_ms / 1000, tz or UTC).strftime("%Y-%m-%d %H:%M:%S")
            detail = " ".join(f"{k}={v}" for k, v in sorted(e.detail.items()) if v not in (None, [], ""))
            print(f"{e.seq:>6}  {at}  {e.actor or '-':<20} {e.action:<16} {e.target or '-':<24} {detail}")
        return 0
    finally:
        store.close()


def parse_since(text: str, tz: Any) -> int:
    from agent_trace.reports.periods import PeriodError, day_start_ms, parse_day

    value = text.strip()
    if value.isdigit() and len(value) > 8:
        return int(value)
    try:
        return day_start_ms(parse_day(value, "--since"), tz)
    except PeriodError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise PeriodError(f"--since {text!r}: a day (2026-02-11), an ISO date-time or epoch ms") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz or UTC)
        return int(moment.timestamp() * 1000)
