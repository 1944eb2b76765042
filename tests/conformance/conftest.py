"""One conformance run per backend: ingest the inputs twice, keep the answers after each pass."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_trace.config import load_settings
from agent_trace.store.factory import open_store
from tests.backends import SQLITE, PgServer, backend_params, backend_settings
from tests.conformance.answers import all_answers
from tests.conformance.inputs import Inputs, build_inputs, ingest


@dataclass
class Outcome:
    backend: str
    first: dict[str, Any]  # answers after one delivery of everything
    second: dict[str, Any]  # answers after everything was delivered again


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    return build_inputs(tmp_path_factory.mktemp("conformance-inputs"))


def _run(name: str, inputs: Inputs, tmp: Path, pg_server: PgServer | None, *, twice: bool) -> Outcome:
    base = load_settings(
        {
            "AGENT_TRACE_HOME": str(tmp / "home"),
            "HOME": str(tmp),
            "USER": "dev",
            "AGENT_TRACE_TIMEZONE": "UTC",
        }
    )
    backend, urls = backend_settings(name, base, tmp, pg_server)
    store = open_store(backend.settings.database_url, backend.settings.events_url)
    try:
        ingest(backend.settings, store, inputs)
        first = all_answers(backend.settings, store)
        second = first
        if twice:
            ingest(backend.settings, store, inputs, copies_root=tmp / "again")
            second = all_answers(backend.settings, store)
    finally:
        store.close()
        for url in urls:
            assert pg_server is not None
            pg_server.drop(url)
    return Outcome(name, first, second)


@pytest.fixture(scope="session")
def reference(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The embedded default's answers (SQLite): what every backend must give after the same
    deliveries."""
    return _run(SQLITE, inputs, tmp_path_factory.mktemp("conformance-reference"), None, twice=True)


@pytest.fixture(scope="module", params=backend_params())
def outcome(
    request: pytest.FixtureRequest,
    inputs: Inputs,
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: PgServer | None,
) -> Iterator[Outcome]:
    yield _run(
        request.param, inputs, tmp_path_factory.mktemp(f"conformance-{request.param}"), pg_server, twice=True
    )
