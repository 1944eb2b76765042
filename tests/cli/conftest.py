"""Every CLI test runs on each backend: the home's config.toml names the databases, so the
command lines under test stay exactly what a user types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import Backend


@pytest.fixture
def home(backend: Backend) -> Iterator[Path]:
    h = backend.settings.home
    h.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {value!r}" for key, value in _config(backend).items()]
    if lines:
        (h / "config.toml").write_text("\n".join(lines).replace("'", '"') + "\n", encoding="utf-8")
    yield h


def _config(backend: Backend) -> dict[str, str]:
    out: dict[str, str] = {}
    if "AGENT_TRACE_DATABASE_URL" in backend.env:
        out["database_url"] = backend.env["AGENT_TRACE_DATABASE_URL"]
    if "AGENT_TRACE_EVENTS_URL" in backend.env:
        out["events_url"] = backend.env["AGENT_TRACE_EVENTS_URL"]
    return out
