"""`agent-trace git scan [REPO…] [--default-branch B] [--json]` (ingest/git_scan.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from agent_trace.config import Settings


def cmd_git(args: argparse.Namespace, settings: Settings) -> int:
    if args.git_command != "scan":
        print("agent-trace git: say `agent-trace git scan [REPO…]`", file=sys.stderr)
        return 2
    from agent_trace.cli.report_cmd import _all_sessions
    from agent_trace.ingest.git_scan import (
        SESSION_TAIL_MS,
        RepoScan,
        ScanError,
        scan_batch,
        scan_repo,
        toplevel,
    )
    from agent_trace.ingest.prices import price_book
    from agent_trace.ingest.writer import Writer
    from agent_trace.store.factory import open_store
    from agent_trace.store.port import Filters

    wanted: list[str] = []
    for repo in args.repos:
        top = toplevel(repo)
        if top is None:
            print(f"agent-trace git scan: {repo}: not a git repository", file=sys.stderr)
            return 1
        wanted.append(top)
    store = open_store(settings.database_url, settings.events_url)
    try:
        tops: dict[str, str | None] = {}
        windows: dict[str, list[tuple[str, int, int]]] = {}
        for sess in _all_sessions(store, Filters()):
            if sess.started_ms is None:
                continue
            folder = sess.cwd or sess.project
            if not folder:
                continue
            if folder not in tops:
                tops[folder] = toplevel(folder)
            top = tops[folder]
            if top is None or (wanted and top not in wanted):
                continue
            end = max(v for v in (sess.ended_ms, sess.last_activity_ms, sess.started_ms) if v is not None)
            windows.setdefault(top, []).append((sess.session_id, sess.started_ms, end + SESSION_TAIL_MS))
        scans: list[RepoScan] = []
        for top in wanted or sorted(windows):
            sessions = windows.get(top, [])
            known = {str(r["sha"]): r for r in store.session_commits([w[0] for w in sessions])}
            try:
                scans.append(scan_repo(top, sessions, known, args.default_branch))
            except ScanError as exc:
                print(f"agent-trace git scan: {exc}", file=sys.stderr)
                return 1
        batch = scan_batch(scans)
        if batch.commits:
            writer = Writer(store, price_book(settings.price_override_file), settings.privacy_tier)
            writer.write(batch)
            store.refresh_derived()
    finally:
        store.close()
    summary: dict[str, Any] = {"repositories": [s.as_json() for s in scans]}
    if args.json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not scans:
        print(
            "agent-trace git scan: no repository found among the sessions' folders (name one: git scan REPO)"
        )
    for s in scans:
        print(
            f"{s.path} ({s.repo}, default {s.default_branch or 'none'}): {s.sessions} sessions, "
            f"{s.commits} commits ({s.new_links} newly linked), {s.on_default} on the default branch "
            f"({s.rewritten} rebased/squashed), {s.reverted} reverted"
        )
    return 0
