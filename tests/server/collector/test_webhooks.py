"""GitHub/GitLab webhooks: verified deliveries link pull requests to sessions through commits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import Settings
from agent_trace.domain.records import Commit, Prompt, RecordBatch, Session
from agent_trace.server.collector.webhooks import github_signature
from agent_trace.server.context import AppContext
from tests.server.collector.support import running_collector

FIXTURES = Path(__file__).parents[2] / "fixtures" / "webhooks"
SECRET = "It's a Secret to Everybody"
TOKEN = "gl-token-1"
SHA = "5c0ffee" + "0" * 33
T0 = 1_770_842_000_000


def fixture(name: str, sha: str = SHA) -> bytes:
    return (FIXTURES / name).read_text().replace("__HEAD_SHA__", sha).encode()


@pytest.fixture
def collector(settings: Settings) -> Iterator[tuple[TestClient, AppContext]]:
    configured = replace(
        settings, otel_grpc_address="off", github_webhook_secret=SECRET, gitlab_webhook_token=TOKEN
    )
    with running_collector(configured) as (client, ctx):
        ctx.store.write(
            RecordBatch(
                sessions=[Session("s1", project="/w/app", started_ms=T0)],
                prompts=[Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="add it")],
                commits=[Commit(SHA, "s1", repo="github.com/acme/app", branch="feature/add", ts_ms=T0 + 5)],
            )
        )
        yield client, ctx


def github(client: TestClient, event: str, body: bytes, delivery: str = "d-1", **headers: str) -> Any:
    return client.post(
        "/v1/webhooks/github",
        content=body,
        headers={
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": delivery,
            "x-hub-signature-256": github_signature(SECRET, body),
            **headers,
        },
    )


def state(ctx: AppContext) -> tuple[Any, ...]:
    detail = ctx.store.session_detail("s1")
    assert detail is not None
    raw = ctx.store.counts()["raw_events"]
    return detail.session["outcome_label"], detail.pull_requests, detail.commits, raw


def test_a_signed_merged_pull_request_ships_the_session(collector: tuple[TestClient, AppContext]) -> None:
    client, ctx = collector
    before = state(ctx)
    assert before[0] == "committed"
    response = github(client, "pull_request", fixture("github_pull_request_merged.json"))
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1}
    label, prs, commits, _ = state(ctx)
    assert label == "shipped"
    assert [(p["number"], p["state"], p["url"]) for p in prs] == [
        (42, "merged", "https://github.com/acme/app/pull/42")
    ]
    assert commits[0]["pr_id"] == "github:github.com/acme/app#42"
    # The same delivery again changes nothing.
    after = state(ctx)
    assert github(client, "pull_request", fixture("github_pull_request_merged.json")).status_code == 200
    assert state(ctx) == after


@pytest.mark.parametrize(
    "headers",
    [
        {"x-hub-signature-256": "sha256=" + "0" * 64},
        {"x-hub-signature-256": ""},
        {"x-hub-signature-256": github_signature("another secret", b"{}")},
    ],
)
def test_a_bad_signature_is_401_and_stores_nothing(
    collector: tuple[TestClient, AppContext], headers: dict[str, str]
) -> None:
    client, ctx = collector
    before = state(ctx)
    response = github(client, "pull_request", fixture("github_pull_request_merged.json"), **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert state(ctx) == before


def test_without_a_secret_github_webhooks_are_refused(settings: Settings) -> None:
    with running_collector(replace(settings, otel_grpc_address="off")) as (client, ctx):
        response = github(client, "pull_request", fixture("github_pull_request_merged.json"))
        assert response.status_code == 401
        assert "AGENT_TRACE_GITHUB_WEBHOOK_SECRET" in response.json()["error"]["message"]
        assert ctx.store.counts()["raw_events"] == 0


def test_a_push_links_a_later_pull_request_by_branch(collector: tuple[TestClient, AppContext]) -> None:
    client, ctx = collector
    other_head = "abc" + "0" * 37  # the PR's head is a later commit on the same branch
    assert github(client, "push", fixture("github_push.json")).json() == {"stored": 1}
    assert (
        github(
            client, "pull_request", fixture("github_pull_request_merged.json", other_head), "d-2"
        ).status_code
        == 200
    )
    label, prs, _, _ = state(ctx)
    assert label == "shipped" and [p["number"] for p in prs] == [42]


def test_events_not_used_are_acknowledged(collector: tuple[TestClient, AppContext]) -> None:
    client, ctx = collector
    before = state(ctx)
    assert github(client, "ping", b'{"zen": "Keep it logically awesome."}').json() == {"ignored": "ping"}
    assert state(ctx) == before


def test_a_malformed_payload_names_the_field(collector: tuple[TestClient, AppContext]) -> None:
    client, _ = collector
    body = json.dumps({"action": "opened", "pull_request": {"number": "x"}, "repository": {}}).encode()
    response = github(client, "pull_request", body)
    assert response.status_code == 400
    assert "html_url" in response.json()["error"]["message"]


def gitlab(client: TestClient, event: str, body: bytes, token: str = TOKEN) -> Any:
    return client.post(
        "/v1/webhooks/gitlab",
        content=body,
        headers={"content-type": "application/json", "x-gitlab-event": event, "x-gitlab-token": token},
    )


def test_gitlab_merge_request_and_push(collector: tuple[TestClient, AppContext]) -> None:
    client, ctx = collector
    ctx.store.write(
        RecordBatch(commits=[Commit(SHA, "s1", repo="gitlab.example.com/acme/app", branch="feature/add")])
    )
    before = state(ctx)
    assert (
        gitlab(client, "Merge Request Hook", fixture("gitlab_merge_request_merged.json"), "wrong").status_code
        == 401
    )
    assert (
        gitlab(client, "Merge Request Hook", fixture("gitlab_merge_request_merged.json"), "").status_code
        == 401
    )
    assert state(ctx) == before
    assert gitlab(client, "Push Hook", fixture("gitlab_push.json")).json() == {"stored": 1}
    assert gitlab(client, "Merge Request Hook", fixture("gitlab_merge_request_merged.json")).json() == {
        "stored": 1
    }
    label, prs, _, _ = state(ctx)
    assert label == "shipped"
    assert [(p["provider"], p["number"], p["merge_sha"]) for p in prs] == [
        ("gitlab", 7, "7e1c0ffee0000000000000000000000000000007")
    ]


def test_every_delivery_is_in_the_audit_log(collector: tuple[TestClient, AppContext]) -> None:
    from agent_trace.domain.audit_chain import verify_chain
    from agent_trace.store.identity import identity_of

    client, ctx = collector
    github(client, "pull_request", fixture("github_pull_request_merged.json"), "d-ok")
    github(client, "pull_request", b"{}", "d-forged", **{"x-hub-signature-256": "sha256=00"})
    github(client, "ping", b'{"zen": "hi"}', "d-ping")
    gitlab(client, "Push Hook", fixture("gitlab_push.json"), "wrong")
    ids = identity_of(ctx.store)
    entries = [e for e in ids.audit_entries() if e.action == "webhook_delivery"]
    assert [
        (e.actor, e.target, e.detail["event"], e.detail["outcome"], e.detail["status"]) for e in entries
    ] == [
        ("webhook:github", "d-ok", "pull_request", "accepted", 200),
        ("webhook:github", "d-forged", "pull_request", "refused", 401),
        ("webhook:github", "d-ping", "ping", "accepted", 200),
        ("webhook:gitlab", None, "Push Hook", "refused", 401),
    ]
    assert entries[0].detail["stored"] == 1 and entries[2].detail["ignored"] == "ping"
    assert "does not match the body" in entries[1].detail["reason"]
    assert entries[3].detail["source"] == "gitlab" and "X-Gitlab-Token" in entries[3].detail["reason"]
    rows = ids.audit_rows()
    assert verify_chain(rows, ids.audit_head()) == []
    # An edited delivery (refused rewritten as accepted) breaks the chain.
    seq = entries[1].seq
    edited = [(*r[:5], r[5].replace('"refused"', '"accepted"'), *r[6:]) if r[0] == seq else r for r in rows]
    problems = verify_chain(edited, ids.audit_head())
    assert [p.seq for p in problems] == [seq]


def test_a_delivery_with_a_personal_token_is_audited_as_its_user(settings: Settings) -> None:
    from agent_trace.domain.access import new_token, token_digest
    from agent_trace.store.identity import identity_of

    configured = replace(settings, otel_grpc_address="off", gitlab_webhook_token=TOKEN, auth=True)
    with running_collector(configured) as (client, ctx):
        token = new_token()
        identity_of(ctx.store).add_account("ci-bot", "member", token_hash=token_digest(token))
        response = client.post(
            "/v1/webhooks/gitlab",
            content=b'{"object_kind": "note"}',
            headers={
                "x-gitlab-event": "Note Hook",
                "x-gitlab-token": TOKEN,
                "x-gitlab-event-uuid": "u-1",
                "authorization": f"Bearer {token}",
            },
        )
        assert response.status_code == 200, response.text
        (entry,) = [e for e in identity_of(ctx.store).audit_entries() if e.action == "webhook_delivery"]
        assert (entry.actor, entry.target, entry.detail["user"], entry.detail["outcome"]) == (
            "ci-bot",
            "u-1",
            "ci-bot",
            "accepted",
        )
