"""The options of the read commands that may ask a remote server instead of the local store.

Argparse only: main.py builds every parser at start-up, and this must not cost it an import.
"""

from __future__ import annotations

import argparse


def add_remote_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        metavar="URL",
        help="read from this agent-trace API (e.g. https://trace.example.com:8318) instead of the "
        "local database; the server applies your role (AGENT_TRACE_SERVER, config `server`)",
    )
    p.add_argument(
        "--token",
        metavar="TOKEN",
        help="with --server: your personal token (default: AGENT_TRACE_TOKEN, config `token`, "
        "else the one `agent-trace init --token` recorded)",
    )
