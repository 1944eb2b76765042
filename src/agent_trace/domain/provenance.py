"""Commit provenance: which commit a session (and which prompt in it) produced, and how many of a
commit's added lines the agent wrote. Pure and standard-library only: the hook worker imports
`line_key` and `parse_log_patch` to describe commits on the developer's machine.

Rules (docs/outcomes.md):
- A line's key is the first 16 hex digits of sha256 of the line without its line ending. Only
  keys leave the developer's machine, never the added code itself.
- Agent-authored share: an added line of a commit counts as the agent's when the same line
  (same key) appears in the content a Write, or the `new_string` an Edit / MultiEdit edit, of the
  session wrote to the same file (the tool's absolute path ends with the commit's repository-
  relative path) before the commit was made. Lines are matched as a multiset: a line the agent
  wrote once counts once, however often the commit adds it. Exact lines, not time windows.
- Link to a prompt: an agent's commit is the one made inside a Bash tool call running `git
  commit` (the commit time falls within the call, with one second of slack because git stores
  whole seconds); the call's prompt is the commit's prompt. Any other commit made during the
  session (a person's, between prompts) belongs to the latest prompt before it.
- `Co-Authored-By: Claude` in the message is kept as a signal; nothing requires it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

KEY_HEX = 16
MAX_KEYS_PER_COMMIT = 20_000  # past this the keys are cut (agent_lines then counts those only)
AGENT_WRITE_TOOLS = ("Write", "Edit", "MultiEdit")
GIT_COMMIT_RE = re.compile(r"(?:^|[\s;&|(])git(?:\s+-[cC]\s+\S+)*\s+commit(?![-\w])")
_CO_AUTHOR_RE = re.compile(r"^co-authored-by:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
CLOCK_SLACK_MS = 1_000
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")


def normalize_remote(url: str) -> str:
    """`git@github.com:acme/app.git`, `https://tok@github.com/acme/app` → `github.com/acme/app`.

    Credentials in a remote URL must never leave the machine, and one repository should have one
    name whichever protocol a developer cloned it with.
    """
    url = url.strip()
    if "://" in url:
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host = hostport.rsplit("@", 1)[-1].split(":", 1)[0]
        name = f"{host}/{path}" if host else "/" + path
    else:
        scp = _SCP_LIKE.match(url)
        name = f"{scp.group(1)}/{scp.group(2)}" if scp and not url.startswith("/") else url
    name = name.rstrip("/")
    return name[:-4] if name.endswith(".git") else name


def line_key(line: str) -> str:
    """The key of one line (its text without the line ending)."""
    return hashlib.sha256(line.rstrip("\r\n").encode("utf-8", "surrogatepass")).hexdigest()[:KEY_HEX]


def text_keys(text: str) -> list[str]:
    """Keys of every line of a text as a file would hold it (a final newline ends, not adds, a line)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line_key(line) for line in lines]


def co_authors(message: str | None) -> list[str]:
    """The `Co-Authored-By:` trailers of a commit message."""
    return [m.strip() for m in _CO_AUTHOR_RE.findall(message or "")]


def co_authored_by_agent(message: str | None) -> bool:
    """Claude Code's own trailer (`Co-Authored-By: Claude … <noreply@anthropic.com>`)."""
    return any("claude" in a.lower() or "anthropic.com" in a.lower() for a in co_authors(message))


def is_git_commit(command: str | None) -> bool:
    """Does a shell command run `git commit` (possibly after `git add … &&`)?"""
    return bool(command) and GIT_COMMIT_RE.search(str(command)) is not None


_COMMIT_LINE = re.compile(r"^commit ([0-9a-f]{40,64})$", re.MULTILINE)


def parse_log_patch(text: str) -> dict[str, dict[str, list[str]]]:
    """`git log -p --format='commit %H'` output → {sha: {path: [keys of its added lines]}}.
    Binary files have no lines; renames name the new path. The same text is what `git patch-id
    --stable` reads."""
    out: dict[str, dict[str, list[str]]] = {}
    heads = list(_COMMIT_LINE.finditer(text))
    for i, head in enumerate(heads):
        body = text[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        files: dict[str, list[str]] = {}
        current: list[str] | None = None
        in_hunk = False
        for line in body.split("\n"):
            if line.startswith("diff --git "):
                current, in_hunk = None, False
            elif not in_hunk and line.startswith("+++ "):
                path = line[4:]
                # "+++ /dev/null" is a deletion: its removed lines count, no file gets keys.
                current = files.setdefault(path[2:], []) if path.startswith("b/") else None
            elif line.startswith("@@"):
                in_hunk = True
            elif (
                in_hunk
                and line.startswith("+")
                and current is not None
                and len(current) < MAX_KEYS_PER_COMMIT
            ):
                current.append(line_key(line[1:]))
        # Files that only lost lines have no keys to match; they are left out.
        out[head.group(1)] = {path: keys for path, keys in files.items() if keys}
    return out


def tool_input(row: dict[str, object]) -> dict[str, object]:
    """A tool call row's input as an object ({} when absent or not JSON), parsed once per row
    (several rules read it; the parsed value is kept in the row under "_input")."""
    cached = row.get("_input")
    if isinstance(cached, dict):
        return cached
    value: object = None
    raw = row.get("input_json")
    if isinstance(raw, str) and raw:
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
    parsed: dict[str, object] = value if isinstance(value, dict) else {}
    row["_input"] = parsed
    return parsed


def written_keys(tool_name: str | None, tool_input: dict[str, object]) -> list[str]:
    """Keys of the lines a Write / Edit / MultiEdit call wrote."""
    if tool_name == "Write":
        content = tool_input.get("content")
        return text_keys(content) if isinstance(content, str) else []
    if tool_name == "Edit":
        new = tool_input.get("new_string")
        return text_keys(new) if isinstance(new, str) else []
    if tool_name == "MultiEdit":
        keys: list[str] = []
        edits = tool_input.get("edits")
        for edit in edits if isinstance(edits, list) else []:
            if isinstance(edit, dict) and isinstance(edit.get("new_string"), str):
                keys.extend(text_keys(edit["new_string"]))
        return keys
    return []


def commit_files(raw: object) -> dict[str, list[str]] | None:
    """A commit's `files_json` ({path: [line keys]}), or None when unknown."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): [str(x) for x in v] for k, v in value.items() if isinstance(v, list)}


def _same_file(tool_path: str, repo_path: str) -> bool:
    tool_path = tool_path.replace("\\", "/")
    return tool_path == repo_path or tool_path.endswith("/" + repo_path)


def agent_lines(
    commit_files: dict[str, list[str]], commit_ms: int | None, tool_calls: list[dict[str, object]]
) -> int:
    """How many of a commit's added lines (keys per repository-relative path) the session's
    Write/Edit/MultiEdit calls wrote to the same file before the commit."""
    writes: list[tuple[str, list[str]]] = []
    for row in tool_calls:
        name = row.get("tool_name")
        if name not in AGENT_WRITE_TOOLS or row.get("status") in ("error", "denied"):
            continue
        started = row.get("started_ms") or row.get("ended_ms")
        if commit_ms is not None and isinstance(started, int) and started > commit_ms + CLOCK_SLACK_MS:
            continue
        data = tool_input(row)
        path = data.get("file_path")
        if isinstance(path, str) and path:
            writes.append((path, written_keys(str(name), data)))
    total = 0
    for repo_path, keys in commit_files.items():
        pool: Counter[str] = Counter()
        for tool_path, written in writes:
            if _same_file(tool_path, repo_path):
                pool.update(written)
        if not pool:
            continue
        for key in keys:
            if pool[key] > 0:
                pool[key] -= 1
                total += 1
    return total


# What `git commit` prints first: "[main 1a2b3c4] message" or "[main (root-commit) 1a2b3c4] …".
_COMMITTED_RE = re.compile(r"^\[[^\]\s]+(?: \([^)]*\))? ([0-9a-f]{7,64})\]", re.MULTILINE)


def committed_shas(output: str | None) -> list[str]:
    """The (short) shas a `git commit` command's output reports."""
    return _COMMITTED_RE.findall(output or "")


def link_commit(
    commit_ms: int | None,
    prompts: list[dict[str, object]],
    tool_calls: list[dict[str, object]],
    sha: str = "",
) -> tuple[str | None, str | None]:
    """(prompt_id, tool_use_id) of the commit: the `git commit` Bash call that made it, else the
    latest prompt before it; (None, None) without a time.

    The call whose output reports this sha ("[main 1a2b3c4] …") made it. A call whose output
    reports another sha did not; only a call with no such output (tier 1, or output not
    captured) is matched by time: the commit time falls within the call."""
    best: tuple[int, str, str | None] | None = None
    for row in tool_calls:
        if row.get("tool_name") != "Bash" or not is_git_commit(str(tool_input(row).get("command") or "")):
            continue
        prompt = row.get("prompt_id")
        reported = committed_shas(str(row.get("output_text") or ""))
        if sha and any(sha.startswith(short) for short in reported):
            return (str(prompt) if prompt else _prompt_before(commit_ms, prompts)), str(row["tool_use_id"])
        start, end = row.get("started_ms"), row.get("ended_ms")
        if reported or commit_ms is None or not isinstance(start, int):
            continue
        end = end if isinstance(end, int) else start
        if not (start - CLOCK_SLACK_MS <= commit_ms <= end + CLOCK_SLACK_MS):
            continue
        distance = abs(commit_ms - start)
        if best is None or distance < best[0]:
            best = (distance, str(row["tool_use_id"]), str(prompt) if prompt else None)
    if commit_ms is None:
        return None, None
    if best is not None:
        return best[2] or _prompt_before(commit_ms, prompts), best[1]
    return _prompt_before(commit_ms, prompts), None


def _prompt_before(ts: int | None, prompts: list[dict[str, object]]) -> str | None:
    if ts is None:
        return None
    chosen: tuple[int, str] | None = None
    for p in prompts:
        pts = p.get("ts_ms")
        if not isinstance(pts, int) or pts > ts + CLOCK_SLACK_MS or p.get("kind") == "task_notification":
            continue
        if chosen is None or pts >= chosen[0]:
            chosen = (pts, str(p["prompt_id"]))
    return chosen[1] if chosen else None


_REVERTS_RE = re.compile(r"This reverts commit ([0-9a-f]{7,64})")


def reverted_shas(message: str | None) -> list[str]:
    """The commits a message says it reverts (`git revert`'s own wording)."""
    return _REVERTS_RE.findall(message or "")


def session_for_commit(ts_ms: int | None, windows: list[tuple[str, int, int]]) -> str | None:
    """The session whose [start, end] window holds a commit time; of several, the latest to
    start (the most specific). `windows` = [(session_id, start_ms, end_ms)]."""
    if ts_ms is None:
        return None
    best: tuple[int, str] | None = None
    for sid, start, end in windows:
        if start - CLOCK_SLACK_MS <= ts_ms <= end + CLOCK_SLACK_MS and (best is None or (start, sid) > best):
            best = (start, sid)
    return best[1] if best else None
