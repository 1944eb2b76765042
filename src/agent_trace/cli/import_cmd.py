"""`agent-trace import [PATH…]`: bring transcripts into the store and say what happened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from agent_trace.config import Settings
from agent_trace.ingest.transcripts import Importer, ImportSummary, unknown_field_report


def _summary_json(summary: ImportSummary, paths: list[Path]) -> dict[str, Any]:
    before, after = summary.counts_before, summary.counts_after
    return {
        "paths": [str(p) for p in paths],
        "files": {
            "found": summary.files_found,
            "read": summary.files_read,
            "unchanged": summary.files_unchanged,
            "unreadable": [{"path": p, "error": e} for p, e in summary.files_unreadable],
        },
        "bytes_read": summary.bytes_read,
        "seconds": round(summary.seconds, 3),
        "lines": summary.stats.lines,
        "skipped": [{"reason": reason, "count": n} for reason, n in summary.skipped_reasons()],
        "unknown_fields": dict(unknown_field_report(summary.stats, 50)),
        "totals": after,
        "new": {key: after.get(key, 0) - before.get(key, 0) for key in after},
        "unpriced_models": summary.unpriced_models,
        "unpriced_reasons": summary.unpriced_reasons,
        "estimated_timestamps": summary.stats.estimated_times,
    }


def _print_summary(summary: ImportSummary, paths: list[Path]) -> None:
    data = _summary_json(summary, paths)
    out = sys.stdout
    mb = summary.bytes_read / 1e6
    rate = mb / summary.seconds if summary.seconds > 0 else 0.0
    files = data["files"]
    print(
        f"Imported {files['read']} file(s) ({mb:,.1f} MB in {summary.seconds:.1f} s, {rate:,.0f} MB/s); "
        f"{files['unchanged']} unchanged of {files['found']} found.",
        file=out,
    )
    totals, new = data["totals"], data["new"]
    for label, key in (
        ("sessions", "sessions"),
        ("prompts", "prompts"),
        ("LLM calls", "llm_calls"),
        ("tool calls", "tool_calls"),
        ("subagents", "subagents"),
    ):
        print(f"  {label:<11} {totals.get(key, 0):>10,}  (+{new.get(key, 0):,} new)", file=out)
    if data["skipped"]:
        print("Skipped (nothing else was lost):", file=out)
        for item in data["skipped"]:
            print(f"  {item['count']:>8,}  {item['reason']}", file=out)
    if summary.stats.estimated_times:
        print(
            f"{summary.stats.estimated_times:,} LLM call(s) had no usable timestamp: dated from the "
            "neighbouring lines (else the file's modification time).",
            file=out,
        )
    for entry in files["unreadable"]:
        print(f"  could not read {entry['path']}: {entry['error']}", file=out)
    if summary.unpriced_reasons:
        print("Unpriced calls (counted in tokens, not in cost):", file=out)
        for model, reason in summary.unpriced_reasons.items():
            print(f"  {model}: {reason}", file=out)


class _Progress:
    """A rich progress bar with MB/s on a terminal; nothing when output is piped."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task: Any = None

    def plan(self, files: int, total: int) -> None:
        self.task = self.bar.add_task("import", total=max(total, 1))
        self.bar.start()

    def advance(self, n: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)

    def stop(self) -> None:
        self.bar.stop()


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.ingest.prices import price_book
    from agent_trace.ingest.writer import Writer
    from agent_trace.store.factory import open_store

    if args.paths:
        paths = [Path(p).expanduser() for p in args.paths]
        missing = [p for p in paths if not p.exists()]
        if missing:
            print(
                f"agent-trace import: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr
            )
            return 2
    else:
        roots = [*settings.claude_projects_dirs, *settings.agent_session_dirs]
        paths = [p for p in roots if p.is_dir()]
        if not paths:
            looked = ", ".join(str(p) for p in roots)
            print(f"No agent transcripts found (looked in {looked}).", file=sys.stderr)
            return 0
    from agent_trace.identity import resolve_user

    user = resolve_user(settings.user)  # the same rule as live capture (init records it)
    store = open_store(settings.database_url, settings.events_url)
    try:
        writer = Writer(store, price_book(settings.price_override_file), settings.privacy_tier, user)
        progress = _Progress() if sys.stderr.isatty() and not args.quiet and not args.json else None
        importer = Importer(
            writer,
            progress=progress.advance if progress else None,
            on_plan=progress.plan if progress else None,
        )
        try:
            summary = importer.run(paths)
        finally:
            if progress:
                progress.stop()
    finally:
        store.close()
    if args.json:
        sys.stdout.write(
            orjson.dumps(_summary_json(summary, paths), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        _print_summary(summary, paths)
    return 0
