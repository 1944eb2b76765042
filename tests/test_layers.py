"""The layer rules of docs/ARCHITECTURE.md are checked by import-linter (`make test`), and the
check bites: the real tree passes, and a copy of it with one forbidden import fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(config: Path, src: Path, cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}  # the copy wins over the installed package
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", *only, str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT / "pyproject.toml", ROOT / "src", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("domain/timeutil.py", "from agent_trace.server import app", "domain"),
        ("sources/otlp.py", "from agent_trace.store import factory", "sources"),
        # Indirect: the hook imports domain.redaction, which would now load a third-party package.
        ("domain/redaction.py", "import orjson", "hook"),
        ("hook/worker.py", "from agent_trace.hook import handler", "hook-cycle"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "agent_trace", src / "agent_trace", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = tmp_path / "pyproject.toml"
    shutil.copy(ROOT / "pyproject.toml", config)
    target = src / "agent_trace" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    # Only the contract under test: one import may break several (domain -> server breaks the
    # rules of every layer above domain too); the real tree keeps them all (test above).
    result = _lint_imports(config, src, tmp_path, contract)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "1 broken" in result.stdout, result.stdout
