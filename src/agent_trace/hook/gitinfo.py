"""Git facts for the `agent_trace.git` enrichment (stdlib only; runs `git`, never changes a repo).

- `repo_state(cwd)`: the repository (origin URL without credentials, else the top-level path),
  branch, HEAD. SessionStart records HEAD as the session's baseline.
- `session_git(cwd, base_sha)`: the same plus diff stats of base_sha..worktree (tracked changes,
  staged or not, plus untracked files that are not ignored, counted as added lines) and the
  commits made since base_sha (`base_sha..HEAD`).

Every call has a timeout bounded by the caller's deadline, and `GIT_OPTIONAL_LOCKS=0` keeps git
from refreshing the index: the agent may be running git in the same repository at that moment.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from agent_trace.domain.provenance import normalize_remote

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# `git hash-object -t tree /dev/null`: diff against it when the repository had no commit yet.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAX_COMMITS = 100
MAX_LINE_KEYS = 50_000  # per payload (~1 MB of keys), all commits together
MAX_UNTRACKED_FILES = 500
MAX_UNTRACKED_FILE_BYTES = 2_000_000
PER_CALL_TIMEOUT_S = 3.0

_SHORTSTAT = re.compile(r"(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?")


class GitError(Exception):
    """git failed, timed out, or is not installed."""


class Git:
    def __init__(self, cwd: str, deadline: float, per_call_timeout_s: float = PER_CALL_TIMEOUT_S) -> None:
        self.cwd = cwd
        self.deadline = deadline
        self.per_call_timeout_s = per_call_timeout_s
        env = dict(os.environ)
        env.update({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        self.env = env

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,), stdin: bytes | None = None) -> str:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0.05:
            raise GitError("no time left")
        try:
            proc = subprocess.run(
                ["git", "-c", "core.quotepath=false", *args],
                cwd=self.cwd,
                env=self.env,
                input=stdin if stdin is not None else b"",
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                timeout=min(self.per_call_timeout_s, remaining),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GitError(str(exc)) from exc
        if proc.returncode not in ok_codes:
            raise GitError(f"git {args[0]} exited {proc.returncode}")
        return proc.stdout.decode("utf-8", errors="replace")


def repo_state(git: Git) -> dict[str, Any] | None:
    """{toplevel, repo, branch, head} of the repository at git.cwd, or None outside one."""
    head: str | None = None
    try:
        # One process when HEAD exists: top level, HEAD's sha, HEAD's ref (or "HEAD" detached).
        out = git.run("rev-parse", "--show-toplevel", "HEAD", "--symbolic-full-name", "HEAD").split("\n")
        toplevel, head, ref = out[0], out[1], out[2]
    except (GitError, IndexError):
        try:  # a repository without commits yet
            toplevel = git.run("rev-parse", "--show-toplevel").strip()
            ref = git.run("symbolic-ref", "-q", "HEAD", ok_codes=(0, 1)).strip()
        except GitError:
            return None
    if not toplevel:
        return None
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else None
    try:
        remote = git.run("config", "--get", "remote.origin.url", ok_codes=(0, 1)).strip()
    except GitError:
        remote = ""
    return {
        "toplevel": toplevel,
        "repo": normalize_remote(remote) if remote else toplevel,
        "branch": branch,
        "head": head or None,
    }


def worktree_snapshot(git: Git, toplevel: str, base_sha: str | None) -> dict[str, Any] | None:
    """What the worktree already held when the session started, beyond base_sha: uncommitted
    changes per tracked file (`dirty`: path → [added, removed]) and untracked files
    (`untracked`: name → [size, mtime_ns, lines]). diff_stats subtracts it, so a session is
    credited only with what it changed itself."""
    try:
        numstat = git.run("diff", "--numstat", "--no-renames", base_sha or EMPTY_TREE, "--")
        untracked = git.run("ls-files", "--others", "--exclude-standard", "-z")
    except GitError:
        return None
    dirty: dict[str, list[int]] = {}
    for path, added, removed in _numstat(numstat):
        dirty[path] = [added, removed]
    files: dict[str, list[int]] = {}
    for name in untracked.split("\0")[:MAX_UNTRACKED_FILES]:
        if name:
            files[name] = _file_state(Path(toplevel) / name)
    return {"dirty": dirty, "untracked": files}


def diff_stats(
    git: Git, toplevel: str, base_sha: str | None, baseline: dict[str, Any] | None = None
) -> dict[str, int] | None:
    """Lines added/removed and files changed from base_sha to the worktree, untracked included,
    less what `baseline` (worktree_snapshot at the session's start) already held."""
    try:
        numstat = git.run("diff", "--numstat", "--no-renames", base_sha or EMPTY_TREE, "--")
        untracked = git.run("ls-files", "--others", "--exclude-standard", "-z")
    except GitError:
        return None
    dirty = (baseline or {}).get("dirty") or {}
    before_untracked = (baseline or {}).get("untracked") or {}
    added = removed = files = 0
    for path, a, r in _numstat(numstat):
        a0, r0 = dirty.get(path) or (0, 0)
        if (a, r) == (a0, r0) and path in dirty:
            continue  # changed before the session, and not since
        files += 1
        added += max(a - a0, 0)
        removed += max(r - r0, 0)
    for name in untracked.split("\0")[:MAX_UNTRACKED_FILES]:
        if not name:
            continue
        before = before_untracked.get(name)
        if before is None:
            files += 1
            added += _count_lines(Path(toplevel) / name)
            continue
        now = _file_state(Path(toplevel) / name)
        if now[:2] != list(before[:2]):  # there before the session, and changed since
            files += 1
            added += max(now[2] - int(before[2]), 0)
    return {"lines_added": added, "lines_removed": removed, "files_changed": files}


def _numstat(text: str) -> list[tuple[str, int, int]]:
    out = []
    for line in text.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        out.append(
            (parts[2], int(parts[0]) if parts[0].isdigit() else 0, int(parts[1]) if parts[1].isdigit() else 0)
        )
    return out


def _file_state(path: Path) -> list[int]:
    try:
        st = path.stat()
    except OSError:
        return [-1, -1, 0]
    return [st.st_size, st.st_mtime_ns, _count_lines(path)]


def _count_lines(path: Path) -> int:
    """Lines of a new text file, as `git diff` would count them; binary and huge files count 0."""
    try:
        if path.is_symlink() or path.stat().st_size > MAX_UNTRACKED_FILE_BYTES:
            return 0
        data = path.read_bytes()
    except OSError:
        return 0
    if b"\0" in data[:8000] or not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def commits_since(git: Git, base_sha: str | None, head: str | None) -> list[dict[str, Any]]:
    """Commits reachable from HEAD but not from base_sha (newest first, at most MAX_COMMITS),
    with what outcomes need (see `describe_commits`)."""
    if not head or not base_sha or head == base_sha:
        return []
    return describe_commits(git, [f"-n{MAX_COMMITS}", f"{base_sha}..{head}"])


# %(trailers:…) lists Co-Authored-By values (git matches the key case-insensitively).
_LOG_FORMAT = (
    "--format=%x1e%H%x1f%P%x1f%an <%ae>%x1f%ct%x1f%s%x1f"
    "%(trailers:key=Co-authored-by,valueonly,separator=%x1d)"
)


def describe_commits(git: Git, revs: list[str]) -> list[dict[str, Any]]:
    """sha, parent, author, time, subject, +/- lines, files and their added lines' keys
    (domain.provenance.line_key: the code itself is never sent), patch-id and whether Claude is
    a co-author, for the commits `git log REVS` lists. Three git calls whatever the number."""
    from agent_trace.domain.provenance import co_authored_by_agent, parse_log_patch

    try:
        out = git.run("log", "--no-color", _LOG_FORMAT, "--shortstat", *revs)
    except GitError:
        return []
    commits: list[dict[str, Any]] = []
    for record in out.split("\x1e")[1:]:
        header, _, rest = record.partition("\n")
        fields = header.split("\x1f")
        if len(fields) < 6 or not fields[0]:
            continue
        commit: dict[str, Any] = {"sha": fields[0], "author": fields[2], "message": fields[4]}
        parents = fields[1].split()
        if parents:
            commit["parent_sha"] = parents[0]
        if fields[3].isdigit():
            commit["ts_ms"] = int(fields[3]) * 1000
        co = [v for v in fields[5].split("\x1d") if v.strip()]
        commit["co_authored"] = co_authored_by_agent("\n".join("Co-Authored-By: " + v for v in co))
        stat = _SHORTSTAT.search(rest)
        commit["files_changed"] = int(stat.group(1)) if stat else 0
        commit["insertions"] = int(stat.group(2) or 0) if stat else 0
        commit["deletions"] = int(stat.group(3) or 0) if stat else 0
        commits.append(commit)
    if not commits:
        return commits
    try:
        patch = git.run(
            "log", "--no-color", "--no-ext-diff", "--no-renames", "-p", "--format=commit %H", *revs
        )
    except GitError:
        return commits
    files = parse_log_patch(patch)
    patch_ids: dict[str, str] = {}
    try:
        for line in git.run("patch-id", "--stable", stdin=patch.encode("utf-8")).splitlines():
            pid, _, sha = line.partition(" ")
            patch_ids[sha.strip()] = pid
    except GitError:
        pass
    budget = MAX_LINE_KEYS
    for commit in commits:
        parsed = files.get(commit["sha"])
        keys = sum(len(k) for k in parsed.values()) if parsed is not None else 0
        if parsed is not None and keys <= budget:
            # Newest first: past the budget older commits go without keys (agent_lines unknown)
            # rather than the payload outgrowing the collector's body limit.
            commit["files"] = parsed
            budget -= keys
        if commit["sha"] in patch_ids:
            commit["patch_id"] = patch_ids[commit["sha"]]
    return commits


def session_git(
    git: Git,
    base_sha: str | None,
    state: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The full `agent_trace.git` object for a session boundary (Stop, SessionEnd)."""
    state = state or repo_state(git)
    if state is None:
        return None
    out: dict[str, Any] = {
        "repo": state["repo"],
        "branch": state["branch"],
        "head": state["head"],
        "base_sha": base_sha,
    }
    stats = diff_stats(git, state["toplevel"], base_sha, baseline)
    if stats is not None:
        out.update(stats)
    out["commits"] = commits_since(git, base_sha, state["head"])
    return {k: v for k, v in out.items() if v is not None}
