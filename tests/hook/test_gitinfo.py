"""Git enrichment: repository, branch, HEAD, diff stats against the baseline, commits since."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from agent_trace.hook.gitinfo import Git, normalize_remote, repo_state, session_git, worktree_snapshot

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent)}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    (path / "a.txt").write_text("one\ntwo\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def probe(path: Path) -> Git:
    return Git(str(path), time.monotonic() + 30)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@github.com:acme/app.git", "github.com/acme/app"),
        ("https://x-access-token:ghs_secret@github.com/acme/app.git", "github.com/acme/app"),
        ("ssh://git@gitlab.example.com:2222/group/app", "gitlab.example.com/group/app"),
        ("/srv/git/app.git", "/srv/git/app"),
    ],
)
def test_remote_names_carry_no_credentials(url: str, name: str) -> None:
    assert normalize_remote(url) == name


def test_state_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert repo_state(probe(tmp_path)) is None


def test_state_of_a_repository(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "git@github.com:acme/app.git")
    state = repo_state(probe(repo))
    assert state == {
        "toplevel": str(repo.resolve()),
        "repo": "github.com/acme/app",
        "branch": "main",
        "head": git(repo, "rev-parse", "HEAD").strip(),
    }


def test_repository_without_commits(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.mkdir()
    git(path, "-c", "init.defaultBranch=trunk", "init", "-q")
    (path / "new.py").write_text("x = 1\ny = 2\n")
    state = repo_state(probe(path))
    assert state is not None and state["branch"] == "trunk" and state["head"] is None
    info = session_git(probe(path), None)
    assert info is not None and info["lines_added"] == 2 and info["files_changed"] == 1


def test_session_changes_and_commits_since_the_baseline(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a.txt").write_text("one\nTWO\nthree\n")  # 2 added, 1 removed
    git(repo, "commit", "-q", "-am", "Edit a")
    (repo / "b.txt").write_text("new\nfile\n")  # untracked: 2 added
    (repo / ".gitignore").write_text("ignored.log\n")  # untracked: 1 added
    (repo / "ignored.log").write_text("never counted\n")
    info = session_git(probe(repo), base)
    assert info is not None
    assert (info["lines_added"], info["lines_removed"], info["files_changed"]) == (5, 1, 3)
    assert info["base_sha"] == base and info["branch"] == "main"
    (commit,) = info["commits"]
    assert commit["sha"] == info["head"] and commit["message"] == "Edit a"
    assert commit["author"] == "Dev <dev@example.com>"
    assert (commit["files_changed"], commit["insertions"], commit["deletions"]) == (1, 2, 1)
    assert commit["ts_ms"] > 0


def test_no_time_left_means_no_git(repo: Path) -> None:
    assert repo_state(Git(str(repo), time.monotonic())) is None


def test_only_what_the_session_changed_counts(repo: Path) -> None:
    """Untracked files and uncommitted edits that were there at SessionStart are not the session's."""
    for i in range(2):
        (repo / f"notes{i}.md").write_text("old\n" * 3)  # untracked before the session (+6 lines)
    (repo / "a.txt").write_text("one\ntwo\nthree\n")  # uncommitted edit before the session (+1)
    base = git(repo, "rev-parse", "HEAD").strip()
    toplevel = str(repo)
    baseline = worktree_snapshot(probe(repo), toplevel, base)
    assert baseline is not None

    # A session that only ran `echo`: nothing of its own.
    info = session_git(probe(repo), base, None, baseline)
    assert info is not None
    assert (info["lines_added"], info["lines_removed"], info["files_changed"]) == (0, 0, 0)

    # Then it adds a file, appends to a file that was untracked, and edits the edited file again.
    (repo / "new.py").write_text("x = 1\ny = 2\n")
    with (repo / "notes0.md").open("a") as f:
        f.write("more\n")
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    info = session_git(probe(repo), base, None, baseline)
    assert info is not None
    assert (info["lines_added"], info["lines_removed"], info["files_changed"]) == (2 + 1 + 1, 0, 3)
    # Without a baseline (an older handler's state), everything since HEAD counts, as before.
    old = session_git(probe(repo), base)
    assert old is not None and old["lines_added"] == 2 + 4 + 3 + 2


def test_commits_carry_parent_line_keys_patch_id_and_the_co_author_signal(repo: Path) -> None:
    from agent_trace.domain.provenance import text_keys

    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "src").mkdir()
    (repo / "src" / "add.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "a.txt").write_text("one\n")  # one line removed
    git(repo, "add", "-A")
    git(
        repo,
        "commit",
        "-q",
        "-m",
        "Add add\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
    )
    info = session_git(probe(repo), base)
    assert info is not None
    (commit,) = info["commits"]
    assert commit["parent_sha"] == base
    assert commit["files"] == {"src/add.py": text_keys("def add(a, b):\n    return a + b\n")}
    assert commit["co_authored"] is True
    expected = subprocess.run(
        ["git", "patch-id", "--stable"],
        input=git(repo, "show", "HEAD"),
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
    ).stdout.split()[0]
    assert commit["patch_id"] == expected
    assert (commit["insertions"], commit["deletions"]) == (2, 1)
