"""`agent-trace budgets set|list|rm|allow`: budgets in the configured store.

Exit codes: 0 done · 1 nothing to act on (no such budget, no such session) · 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from agent_trace.config import Settings
from agent_trace.domain.budgets import BudgetError, budget_id, make_budget, parse_period, parse_scope
from agent_trace.store.port import Store


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("budgets", help="spend limits with alerts, enforced on the agent's hooks")
    bsub = p.add_subparsers(dest="budgets_command", metavar="ACTION")
    s = bsub.add_parser("set", help="create or replace a budget (same scope, period and unit)")
    s.add_argument("--scope", required=True, help="all | user:NAME | team:NAME | project:NAME | session")
    s.add_argument(
        "--period", help="day | week | month | session (default: month; session for scope session)"
    )
    limit = s.add_mutually_exclusive_group(required=True)
    limit.add_argument("--usd", help="limit in US dollars, e.g. 25 or 12.50")
    limit.add_argument("--tokens", help="limit in tokens (input + output + cache), e.g. 2000000 or 2m")
    s.add_argument("--mode", choices=("warn", "block"), help="warn (default): message only; block: refuse")
    s.add_argument("--thresholds", help="alert at these percentages (default 50,80,100)")
    ls = bsub.add_parser("list", help="budgets, their spend now, recent alerts and deliveries")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    rm = bsub.add_parser("rm", help="remove a budget")
    rm.add_argument("budget_id", nargs="?", help="the id `budgets list` shows (scope/period/unit)")
    rm.add_argument("--scope", help="instead of the id: the budget's scope …")
    rm.add_argument("--period", help="… and period (every unit of it)")
    al = bsub.add_parser("allow", help="let one session run past blocking budgets")
    al.add_argument("--session", required=True, help="the session id (a unique prefix is enough)")


def cmd_budgets(args: argparse.Namespace, settings: Settings) -> int:
    action = getattr(args, "budgets_command", None)
    if not action:
        print("agent-trace budgets: say set, list, rm or allow (agent-trace budgets --help)", file=sys.stderr)
        return 2
    from agent_trace.store.factory import open_store

    try:
        if action == "set":
            budget = make_budget(
                args.scope,
                args.period,
                usd=args.usd,
                tokens=args.tokens,
                thresholds=args.thresholds,
                mode=args.mode,
            )
        elif action == "rm" and not args.budget_id and not (args.scope and args.period):
            raise BudgetError("say which budget: its id, or --scope and --period")
    except BudgetError as exc:
        print(f"agent-trace budgets {action}: {exc}", file=sys.stderr)
        return 2
    store = open_store(settings.database_url, settings.events_url)
    try:
        if action == "set":
            store.save_budget(budget)
            print(f"budget {budget.budget_id}: {budget.to_json()['limit']} per {budget.period}, {budget.mode}, "
                  f"alerts at {','.join(str(t) for t in budget.thresholds)}%")  # fmt: skip
            return 0
        if action == "list":
            return _list(store, settings, as_json=args.json)
        if action == "rm":
            return _rm(store, args)
        return _allow(store, args.session)
    finally:
        store.close()


def _list(store: Store, settings: Settings, *, as_json: bool) -> int:
    from agent_trace.reports.periods import resolve_timezone
    from agent_trace.server.budgets.report import budgets_report

    report = budgets_report(store, resolve_timezone(settings.timezone))
    if as_json:
        print(json.dumps(report, indent=2))
        return 0
    if not report["budgets"]:
        print("No budgets. Add one: agent-trace budgets set --scope all --period month --usd 500")
        return 0
    from rich.table import Table

    from agent_trace.cli.render import make_console

    console = make_console()
    table = Table(header_style="bold")
    for name, justify in (("Budget", "left"), ("Mode", "left"), ("Period", "left"), ("Spent", "right"),
                          ("Limit", "right"), ("%", "right"), ("Alerts at", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for b in report["budgets"]:
        where = f"session {b['session_id'][:8]}" if b.get("session_id") else (b["period_key"] or "–")
        table.add_row(b["id"], b["mode"], where, b["spent"], b["limit"], str(b["percent"]),
                      ",".join(str(t) for t in b["thresholds"]))  # fmt: skip
    console.print(table)
    if report["alerts"]:
        print("\nRecent alerts:")
        for a in report["alerts"][:10]:
            print(f"  {a['threshold']:>3}%  {a['message']}")
    failing = [d for d in report["deliveries"] if d["status"] in ("failed", "pending") and d["attempts"]]
    for d in failing:
        print(
            f"  delivery via {d['channel']}: {d['status']} after {d['attempts']} attempt(s): {d['last_error']}"
        )
    return 0


def _rm(store: Store, args: argparse.Namespace) -> int:
    if args.budget_id:
        ids = [args.budget_id]
    else:
        try:
            scope = parse_scope(args.scope)
            period = parse_period(args.period, scope)
        except BudgetError as exc:
            print(f"agent-trace budgets rm: {exc}", file=sys.stderr)
            return 2
        ids = [budget_id(scope, period, unit) for unit in ("usd", "tokens")]
    removed = [i for i in ids if store.delete_budget(i)]
    if not removed:
        print(
            f"agent-trace budgets rm: no budget {' or '.join(ids)} (see agent-trace budgets list)",
            file=sys.stderr,
        )
        return 1
    for i in removed:
        print(f"removed budget {i}")
    return 0


def _allow(store: Store, prefix: str) -> int:
    wanted = prefix.strip()
    found = store.find_session_ids(wanted, limit=2) if wanted else []
    if len(found) > 1 and wanted not in found:
        print(
            f"agent-trace budgets allow: {wanted!r} matches several sessions; give more of the id",
            file=sys.stderr,
        )
        return 2
    if not found:
        print(f"agent-trace budgets allow: no session {wanted!r} (see agent-trace sessions)", file=sys.stderr)
        return 1
    session_id = wanted if wanted in found else found[0]
    store.allow_session(session_id)
    print(f"session {session_id} may go on past blocking budgets (from its next prompt or tool call)")
    return 0
