"""GitHub and GitLab webhook payloads → canonical records (pull requests, pushed commits).

Pure: the collector route (server/collector/webhooks.py) verifies the delivery first. Handled:

- GitHub `pull_request` (any action: opened, closed, reopened, synchronize, edited…): the pull
  request's number, state (`merged` when `pull_request.merged` is true), head branch and sha,
  base branch, merge commit sha, times. `push`: each commit of `commits[]` on the pushed branch.
- GitLab `Merge Request Hook` (`object_kind` merge_request; `object_attributes.state` opened,
  closed, merged, locked) and `Push Hook` (`object_kind` push).

Repositories are named as domain.provenance.normalize_remote names a git remote
(`github.com/acme/app`), so a pull request meets the commits the hook handler recorded.
Other events are acknowledged and ignored (`WebhookIgnored`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from agent_trace.domain.provenance import normalize_remote
from agent_trace.domain.records import PrState, PullRequest, PushedCommit, RawEvent, RecordBatch, pr_key
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.sources.hook_fields import HookPayloadError, canonical_json

SOURCE = "webhook"


class WebhookPayloadError(HookPayloadError):
    """The payload lacks a field this event needs; the message names it."""


class WebhookIgnored(Exception):
    """An event this collector does not use (acknowledged, nothing stored)."""


def _obj(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise WebhookPayloadError(f"{where}{key}: required, an object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _sub(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional nested object ({} when absent)."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookPayloadError(f"{where}{key}: required, an integer")
    return value


def _time(value: object) -> int | None:
    """ISO 8601, or GitLab's older `2013-12-03 17:23:34 UTC`."""
    if isinstance(value, str) and value.endswith(" UTC"):
        value = value[:-4].replace(" ", "T") + "Z"
    return parse_iso_ms(value)


def _repo(project: Mapping[str, Any], where: str) -> str:
    for key in ("html_url", "web_url", "clone_url", "git_http_url", "url"):
        url = _str(project, key)
        if url and "://" in url:
            return normalize_remote(url)
    raise WebhookPayloadError(f"{where}html_url: required, the repository's URL")


def _branch(ref: str | None) -> str | None:
    if ref and ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :]
    return None


def _raw(
    provider: str, event: str, delivery: str | None, body: Mapping[str, Any], received_ms: int
) -> RawEvent:
    full = canonical_json(body)
    digest = hashlib.sha256("\x1f".join((SOURCE, provider, event, delivery or "", full)).encode()).hexdigest()
    return RawEvent(digest, f"{SOURCE}:{provider}", None, received_ms, None, event, full)


def github_records(
    event: str, delivery: str | None, body: Mapping[str, Any], received_ms: int
) -> RecordBatch:
    if event == "pull_request":
        pr = _obj(body, "pull_request", "")
        repo = _repo(_obj(body, "repository", ""), "repository.")
        number = _int(pr, "number", "pull_request.")
        head, base = _sub(pr, "head"), _sub(pr, "base")
        state: PrState = (
            "merged" if pr.get("merged") is True else ("open" if pr.get("state") == "open" else "closed")
        )
        user = _sub(pr, "user")
        record = PullRequest(
            pr_key("github", repo, number),
            "github",
            repo,
            number,
            state=state,
            title=_str(pr, "title"),
            url=_str(pr, "html_url"),
            author=_str(user, "login"),
            head_ref=_str(head, "ref"),
            head_sha=_str(head, "sha"),
            base_ref=_str(base, "ref"),
            # Before a merge GitHub names a test merge commit here; only a merged one is kept.
            merge_sha=_str(pr, "merge_commit_sha") if state == "merged" else None,
            opened_ms=_time(pr.get("created_at")),
            closed_ms=_time(pr.get("closed_at")),
            merged_ms=_time(pr.get("merged_at")),
            updated_ms=_time(pr.get("updated_at")),
        )
        return RecordBatch(
            pull_requests=[record], raw_events=[_raw("github", event, delivery, body, received_ms)]
        )
    if event == "push":
        return _push("github", event, delivery, body, _obj(body, "repository", ""), "id", received_ms)
    raise WebhookIgnored(event)


def gitlab_records(
    event: str, delivery: str | None, body: Mapping[str, Any], received_ms: int
) -> RecordBatch:
    kind = body.get("object_kind")
    if kind == "merge_request":
        attrs = _obj(body, "object_attributes", "")
        repo = _repo(_obj(body, "project", ""), "project.")
        number = _int(attrs, "iid", "object_attributes.")
        raw_state = attrs.get("state")
        state: PrState = (
            "merged" if raw_state == "merged" else ("open" if raw_state == "opened" else "closed")
        )
        last, user = _sub(attrs, "last_commit"), _sub(body, "user")
        record = PullRequest(
            pr_key("gitlab", repo, number),
            "gitlab",
            repo,
            number,
            state=state,
            title=_str(attrs, "title"),
            url=_str(attrs, "url"),
            author=_str(user, "username"),
            head_ref=_str(attrs, "source_branch"),
            head_sha=_str(last, "id"),
            base_ref=_str(attrs, "target_branch"),
            merge_sha=_str(attrs, "merge_commit_sha") if state == "merged" else None,
            opened_ms=_time(attrs.get("created_at")),
            closed_ms=_time(attrs.get("closed_at")) if state != "open" else None,
            merged_ms=_time(
                attrs.get("merged_at") or (attrs.get("updated_at") if state == "merged" else None)
            ),
            updated_ms=_time(attrs.get("updated_at")),
        )
        return RecordBatch(
            pull_requests=[record], raw_events=[_raw("gitlab", event, delivery, body, received_ms)]
        )
    if kind == "push":
        return _push("gitlab", event, delivery, body, _obj(body, "project", ""), "id", received_ms)
    raise WebhookIgnored(str(kind or event))


def _push(
    provider: str,
    event: str,
    delivery: str | None,
    body: Mapping[str, Any],
    project: Mapping[str, Any],
    id_key: str,
    received_ms: int,
) -> RecordBatch:
    ref = _branch(_str(body, "ref"))
    if ref is None:
        raise WebhookIgnored("push of a tag")
    repo = _repo(project, "repository." if provider == "github" else "project.")
    commits = body.get("commits")
    if not isinstance(commits, list):
        raise WebhookPayloadError("commits: required, a list")
    pushed: list[PushedCommit] = []
    for i, item in enumerate(commits):
        sha = _str(item, id_key) if isinstance(item, Mapping) else None
        if sha is None:
            raise WebhookPayloadError(f"commits[{i}].{id_key}: required, the commit sha")
        pushed.append(PushedCommit(repo, ref, sha, _time(item.get("timestamp"))))
    return RecordBatch(pushed_commits=pushed, raw_events=[_raw(provider, event, delivery, body, received_ms)])
