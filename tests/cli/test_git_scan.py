"""`agent-trace git scan` on a scripted repository: each fate of a session's commits is found."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from agent_trace.domain.records import Prompt, RecordBatch, Session
from agent_trace.store.factory import open_store
from tests.backends import Backend
from tests.cli.test_cli import cli

T0 = 1_770_000_000  # seconds; the session runs for an hour from here


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = T0 + 60
        path.mkdir()
        self.git("-c", "init.defaultBranch=main", "init", "-q")

    def git(self, *args: str, at: int | None = None) -> str:
        when = f"@{at if at is not None else self.clock} +0000"
        env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.path.parent),
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            "GIT_AUTHOR_DATE": when,
            "GIT_COMMITTER_DATE": when,
        }
        out = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return out.stdout.strip()

    def commit(self, name: str, content: str, message: str, at: int | None = None) -> str:
        self.clock += 60
        (self.path / name).write_text(content)
        self.git("add", "-A", at=at)
        self.git("commit", "-q", "-m", message, at=at)
        return self.git("rev-parse", "HEAD")


def scripted(tmp_path: Path) -> tuple[Repo, dict[str, Any]]:
    repo = Repo(tmp_path / "app")
    repo.commit("README", "app\n", "initial", at=T0 - 86_400)
    shas: dict[str, Any] = {}
    # merged: a feature branch merged into main with a merge commit
    repo.git("checkout", "-q", "-b", "feature")
    shas["merged"] = repo.commit("merged.py", "print('merged')\n", "feature work")
    repo.git("checkout", "-q", "main")
    repo.clock += 60
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    # reverted: committed on main, then reverted
    shas["reverted"] = repo.commit("bad.py", "oops\n", "bad idea")
    repo.clock += 60
    repo.git("revert", "--no-edit", shas["reverted"])
    shas["revert"] = repo.git("rev-parse", "HEAD")
    # rebased: a branch commit replayed onto main (new sha, same patch-id)
    repo.git("checkout", "-q", "-b", "topic", shas["merged"])
    shas["rebased"] = repo.commit("topic.py", "print('topic')\n", "topic work")
    repo.git("checkout", "-q", "main")
    repo.clock += 60
    repo.git("cherry-pick", shas["rebased"])
    shas["rebased_copy"] = repo.git("rev-parse", "HEAD")
    # squashed: two commits squashed into one on main
    repo.git("checkout", "-q", "-b", "squashme", "main")
    shas["squash1"] = repo.commit("sq.py", "one\n", "squash part 1")
    shas["squash2"] = repo.commit("sq.py", "one\ntwo\n", "squash part 2")
    repo.git("checkout", "-q", "main")
    repo.clock += 60
    repo.git("merge", "-q", "--squash", "squashme")
    repo.git("commit", "-q", "-m", "Squashed")
    shas["squashed"] = repo.git("rev-parse", "HEAD")
    # unmerged: stays on its branch
    repo.git("checkout", "-q", "-b", "wip", "main")
    shas["unmerged"] = repo.commit("wip.py", "wip\n", "work in progress")
    repo.git("checkout", "-q", "main")
    # a commit long after the session: not linked
    shas["later"] = repo.commit("later.py", "later\n", "much later", at=T0 + 86_400)
    return repo, shas


def test_git_scan_finds_each_fate(home: Path, backend: Backend, tmp_path: Path) -> None:
    repo, shas = scripted(tmp_path)
    store: Any = open_store(backend.settings.database_url, backend.settings.events_url)
    try:
        store.write(
            RecordBatch(
                sessions=[
                    Session(
                        "s1",
                        cwd=str(repo.path),
                        project=str(repo.path),
                        started_ms=T0 * 1000,
                        ended_ms=(T0 + 3600) * 1000,
                    )
                ],
                prompts=[Prompt("p1", "s1", ts_ms=T0 * 1000, kind="prompt", text="do it all")],
            )
        )
    finally:
        store.close()
    out = json.loads(cli(home, "git", "scan", str(repo.path), "--json").stdout)
    (summary,) = out["repositories"]
    assert summary["default_branch"] == "main" and summary["sessions"] == 1
    replay = json.loads(cli(home, "show", "s1", "--json").stdout)
    commits = {c["sha"]: c for c in replay["commits"]}
    assert shas["later"] not in commits
    assert commits[shas["merged"]]["on_default"] is True
    assert commits[shas["merged"]]["rewritten_as"] is None
    assert commits[shas["reverted"]]["reverted_by"] == shas["revert"]
    assert commits[shas["rebased"]]["rewritten_as"] == shas["rebased_copy"]
    assert commits[shas["rebased"]]["on_default"] is True
    assert commits[shas["squash1"]]["rewritten_as"] == shas["squashed"]
    assert commits[shas["squash2"]]["rewritten_as"] == shas["squashed"]
    assert commits[shas["unmerged"]]["on_default"] is False
    assert all(c["prompt_id"] == "p1" and c["by_agent"] is False for c in commits.values())
    assert replay["outcome"]["label"] == "shipped"
    # Scanning again changes nothing.
    again = json.loads(cli(home, "git", "scan", str(repo.path), "--json").stdout)
    assert again["repositories"][0]["new_links"] == 0
    assert json.loads(cli(home, "show", "s1", "--json").stdout)["commits"] == replay["commits"]
    report = json.loads(cli(home, "report", "outcomes", "--json").stdout)
    assert report["totals"]["labels"]["shipped"] == 1 and report["totals"]["commits"] == len(commits)
    human = cli(home, "report", "outcomes").stdout
    assert "Outcomes by project" in human


def test_git_scan_of_a_folder_that_is_no_repository(home: Path, tmp_path: Path) -> None:
    proc = cli(home, "git", "scan", str(tmp_path), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"agent-trace git scan: {tmp_path}: not a git repository"
