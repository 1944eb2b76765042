"""`agent-trace git scan`: local git history → commit records with their fates.

For each repository (given, or found from the folders the sessions ran in):
1. link: commits made while a session ran there (committer time inside the session's
   [start, last activity + a minute] window; of overlapping sessions, the latest to start) become
   that session's commits, beside those the hook handler already recorded;
2. describe: parent, +/- lines, the keys of the added lines per file, patch-id, Co-Authored-By
   (hook.gitinfo.describe_commits, the same code the hook handler runs);
3. fates, against the default branch (--default-branch, else origin/HEAD, else main/master):
   `on_default` when the commit is reachable from it; `rewritten_as` when a commit of the default
   branch has the same patch-id (a rebase or cherry-pick) or the same patch-id as the whole run
   of a session's commits (a squash); `reverted_by` when a commit says "This reverts commit <sha>"
   of it (or of its rewritten copy).
Everything is written through the one writer as Commit records (idempotent merges): scanning
twice changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_trace.domain.provenance import reverted_shas, session_for_commit
from agent_trace.domain.records import Commit, RecordBatch
from agent_trace.hook.gitinfo import Git, GitError, describe_commits, repo_state

SESSION_TAIL_MS = 60_000  # a person's commit right after the agent's last answer still counts
SCAN_TIMEOUT_S = 120.0
MAX_SCANNED_COMMITS = 5_000


class ScanError(Exception):
    """A repository given on the command line cannot be scanned (the message says why)."""


@dataclass
class RepoScan:
    path: str
    repo: str
    default_branch: str | None
    sessions: int = 0
    commits: int = 0
    new_links: int = 0
    on_default: int = 0
    rewritten: int = 0
    reverted: int = 0
    commit_records: list[Commit] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "repo": self.repo,
            "default_branch": self.default_branch,
            "sessions": self.sessions,
            "commits": self.commits,
            "new_links": self.new_links,
            "on_default": self.on_default,
            "rewritten": self.rewritten,
            "reverted": self.reverted,
        }


def toplevel(path: str) -> str | None:
    if not Path(path).is_dir():
        return None
    try:
        return Git(path, time.monotonic() + 10).run("rev-parse", "--show-toplevel").strip() or None
    except GitError:
        return None


def default_branch(git: Git, chosen: str | None) -> str | None:
    candidates = [chosen] if chosen else []
    if not chosen:
        try:
            ref = git.run("symbolic-ref", "-q", "refs/remotes/origin/HEAD", ok_codes=(0, 1)).strip()
        except GitError:
            ref = ""
        if ref:
            candidates.append(ref.removeprefix("refs/remotes/"))
        candidates += ["origin/main", "origin/master", "main", "master"]
    for name in candidates:
        try:
            git.run("rev-parse", "-q", "--verify", f"{name}^{{commit}}")
            return name
        except GitError:
            continue
    if chosen:
        raise ScanError(f"--default-branch {chosen}: no such branch")
    return None


def _patch_ids(git: Git, revs: list[str]) -> dict[str, str]:
    """sha → patch-id for the commits `git log REVS` lists."""
    try:
        patch = git.run(
            "log", "--no-color", "--no-ext-diff", "--no-renames", "-p", "--format=commit %H", *revs
        )
        out = git.run("patch-id", "--stable", stdin=patch.encode("utf-8"))
    except GitError:
        return {}
    ids: dict[str, str] = {}
    for line in out.splitlines():
        pid, _, sha = line.partition(" ")
        ids[sha.strip()] = pid
    return ids


def _range_patch_id(git: Git, first_parent: str, last: str) -> str | None:
    """The patch-id of everything from first_parent to last: what a squash of that run gives."""
    try:
        diff = git.run("diff", "--no-color", "--no-ext-diff", "--no-renames", first_parent, last)
        out = git.run("patch-id", "--stable", stdin=diff.encode("utf-8"))
    except GitError:
        return None
    return out.split()[0] if out.strip() else None


def scan_repo(
    path: str,
    windows: list[tuple[str, int, int]],
    known: dict[str, dict[str, Any]],
    chosen_default: str | None,
) -> RepoScan:
    """One repository. `windows`: (session_id, start_ms, end_ms) of the sessions that ran in it;
    `known`: its commits already stored (sha → row), e.g. from the hook handler."""
    git = Git(path, time.monotonic() + SCAN_TIMEOUT_S, per_call_timeout_s=60.0)
    state = repo_state(git)
    if state is None:
        raise ScanError(f"{path}: not a git repository")
    default = default_branch(git, chosen_default)
    result = RepoScan(path, str(state["repo"]), default, sessions=len(windows))
    starts = [w[1] for w in windows] + [int(r["ts_ms"]) for r in known.values() if r.get("ts_ms")]
    if not starts:
        return result
    since = f"--since=@{min(starts) // 1000 - 86_400}"
    # 1. every commit of any ref made while a session ran here
    linked = _link_commits(git, since, windows, known, result)
    if not linked:
        return result
    # 2. describe them (three git calls per batch of revisions)
    described: dict[str, dict[str, Any]] = {}
    shas = sorted(linked)
    for start in range(0, len(shas), 200):
        chunk = shas[start : start + 200]
        for c in describe_commits(git, ["--no-walk=unsorted", *chunk]):
            described[c["sha"]] = c
    # 3. fates against the default branch
    on_default: set[str] = set()
    default_ids: dict[str, str] = {}
    if default:
        try:
            on_default = set(git.run("rev-list", since, default).split())
        except GitError:
            on_default = set()
        default_ids = {pid: sha for sha, pid in _patch_ids(git, [since, default]).items()}
    reverts = _reverts(git, since)
    squashes = _squash_matches(git, described, linked, default_ids, on_default)
    for sha in shas:
        c = described.get(sha, {"sha": sha})
        rewritten = None
        if sha not in on_default:
            pid = c.get("patch_id")
            rewritten = default_ids.get(pid) if pid else None
            rewritten = rewritten or squashes.get(sha)
        reverted_by = _reverted_by(reverts, sha, rewritten)
        commit = Commit(
            sha=sha,
            session_id=linked[sha],
            repo=result.repo,
            message=c.get("message"),
            author=c.get("author"),
            ts_ms=c.get("ts_ms"),
            files_changed=c.get("files_changed"),
            insertions=c.get("insertions"),
            deletions=c.get("deletions"),
            parent_sha=c.get("parent_sha"),
            patch_id=c.get("patch_id"),
            files_json=_files_json(c.get("files")),
            co_authored=c.get("co_authored"),
            on_default=(sha in on_default or rewritten is not None) if default else None,
            reverted_by=reverted_by,
            rewritten_as=rewritten,
        )
        result.commit_records.append(commit)
        result.commits += 1
        result.on_default += bool(commit.on_default)
        result.rewritten += rewritten is not None
        result.reverted += reverted_by is not None
    return result


def _reverted_by(reverts: dict[str, str], sha: str, rewritten: str | None) -> str | None:
    for target in (sha, rewritten):
        if not target:
            continue
        for prefix, by in reverts.items():
            if target.startswith(prefix):
                return by
    return None


def _squash_matches(
    git: Git,
    described: dict[str, dict[str, Any]],
    linked: dict[str, str],
    default_ids: dict[str, str],
    on_default: set[str],
) -> dict[str, str]:
    """Each session's run of commits off the default branch (a parent chain ending where the
    branch left it) whose combined diff has the patch-id of one default-branch commit: all of
    them were squashed into it."""
    if not default_ids:
        return {}
    out: dict[str, str] = {}
    by_session: dict[str, list[dict[str, Any]]] = {}
    for sha, sid in linked.items():
        if sha in described and sha not in on_default:
            by_session.setdefault(sid, []).append(described[sha])
    for commits in by_session.values():
        if len(commits) < 2:
            continue
        shas = {c["sha"] for c in commits}
        heads = [c for c in commits if not any(o.get("parent_sha") == c["sha"] for o in commits)]
        for head in heads:
            chain = [head]
            while chain[-1].get("parent_sha") in shas:
                chain.append(described[str(chain[-1]["parent_sha"])])
            oldest_parent = chain[-1].get("parent_sha")
            if len(chain) < 2 or not oldest_parent:
                continue
            pid = _range_patch_id(git, str(oldest_parent), str(head["sha"]))
            if pid and pid in default_ids:
                for c in chain:
                    out[str(c["sha"])] = default_ids[pid]
    return out


def _files_json(files: object) -> str | None:
    if not isinstance(files, dict):
        return None
    import json

    return json.dumps(files, sort_keys=True, separators=(",", ":"))


def scan_batch(scans: list[RepoScan]) -> RecordBatch:
    return RecordBatch(commits=[c for s in scans for c in s.commit_records])


def _link_commits(
    git: Git,
    since: str,
    windows: list[tuple[str, int, int]],
    known: dict[str, dict[str, Any]],
    result: RepoScan,
) -> dict[str, str]:
    """sha → session: the commits already linked, and every commit of any ref made while one of
    `windows` ran (counted in `result.new_links`)."""
    try:
        listed = git.run("log", "--all", since, f"-n{MAX_SCANNED_COMMITS}", "--format=%H %ct").split("\n")
    except GitError:
        listed = []
    linked = {sha: str(row["session_id"]) for sha, row in known.items() if row.get("session_id")}
    for line in listed:
        sha, _, ct = line.partition(" ")
        if not sha or sha in linked or not ct.strip().isdigit():
            continue
        sid = session_for_commit(int(ct) * 1000, windows)
        if sid is not None:
            linked[sha] = sid
            result.new_links += 1
    return linked


def _reverts(git: Git, since: str) -> dict[str, str]:
    """reverted sha → the first commit whose message says it reverts it."""
    try:
        log = git.run("log", "--all", since, "--grep=This reverts commit", "--format=%x1e%H%x1f%B")
    except GitError:
        log = ""
    reverts: dict[str, str] = {}
    for record in log.split("\x1e")[1:]:
        sha, _, body = record.partition("\x1f")
        for reverted in reverted_shas(body):
            reverts.setdefault(reverted, sha.strip())
    return reverts
