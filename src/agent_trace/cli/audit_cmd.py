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

from agent_trace.cli.remote_args import add_remote_options
from agent_trace.config import Settings
from agent_trace.domain.audit_chain import chain_json, verify_chain
from agent_trace.store.identity import identity_of

# Remote mode: the newest entries the server answers at most (GET /v1/audit `limit`).
REMOTE_LIMIT = 10_000


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("audit", help="the tamper-evident audit log (sign-ins, views, changes)")
    p.add_argument("action", nargs="?", choices=("verify",), help="verify: check the hash chain")
    p.add_argument("--since", help="first local day (2026-02-11), ISO date-time or epoch ms")
    p.add_argument("--timezone", "-z", help="IANA time zone for --since and the times shown")
    p.add_argument("--json", action="store_true", help="one JSON entry per line")
    add_remote_options(p)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.cli.remote import remote_of
    from agent_trace.reports.periods import resolve_timezone

    tz = resolve_timezone(args.timezone or settings.timezone)
    since_ms = parse_since(args.since, tz) if args.since else None
    remote = remote_of(args, settings)
    if remote is not None:
        # The server checks the chain itself and answers only an admin (403 otherwise).
        params = {"limit": str(REMOTE_LIMIT), **({"since": str(since_ms)} if since_ms is not None else {})}
        answer = remote.get_json("/v1/audit", params)
        chain, entries = answer["chain"], answer["entries"]
    else:
        chain, entries = _local_audit(settings, since_ms, args.action == "verify")
    if args.action == "verify":
        return _print_verify(chain, args.json)
    for e in entries:
        if args.json:
            sys.stdout.write(orjson.dumps(e).decode() + "\n")
            continue
        at = datetime.fromtimestamp(e["at_ms"] / 1000, tz or UTC).strftime("%Y-%m-%d %H:%M:%S")
        detail = " ".join(f"{k}={v}" for k, v in sorted(e["detail"].items()) if v not in (None, [], ""))
        print(
            f"{e['seq']:>6}  {at}  {e['actor'] or '-':<20} {e['action']:<16} {e['target'] or '-':<24} {detail}"
        )
    return 0


def _local_audit(
    settings: Settings, since_ms: int | None, verify: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chain's state (when verifying) and the entries (in their JSON shape) of the local store."""
    from agent_trace.store.factory import open_store

    store = open_store(settings.database_url, settings.events_url)
    try:
        ids = identity_of(store)
        if verify:
            rows = ids.audit_rows()
            return chain_json(len(rows), verify_chain(rows, ids.audit_head())), []
        return {}, [e.as_json() for e in ids.audit_entries(since_ms=since_ms)]
    finally:
        store.close()


def _print_verify(chain: dict[str, Any], as_json: bool) -> int:
    problems = chain["problems"]
    if as_json:
        sys.stdout.write(orjson.dumps(chain).decode() + "\n")
    elif problems:
        for p in problems:
            print(f"audit entry {p['seq']}: {p['message']}", file=sys.stderr)
        print(
            f"agent-trace audit verify: the log has been tampered with ({len(problems)} problem(s))",
            file=sys.stderr,
        )
    else:
        print(f"audit log intact: {chain['entries']} entries, hash chain verified")
    return 1 if problems else 0


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
