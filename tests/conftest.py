"""Shared fixtures: settings in a temporary home, stores, and the shared corpus (skipped when absent)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_trace.config import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AGENT_TRACE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "claude-code"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "agent-trace-home"
    h.mkdir()
    return h


@pytest.fixture
def settings(home: Path, tmp_path: Path) -> Settings:
    return load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(tmp_path), "USER": "dev"})


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[object]:
    from agent_trace.store.factory import open_store

    store = open_store(settings)
    yield store
    store.close()
