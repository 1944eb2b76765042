"""OTLP decoder workers: the same records as decoding in the collector process, joins kept by
routing every export of a session to one worker, and a dead worker replaced."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from typing import Any

import pytest

from agent_trace.config import Settings
from agent_trace.server.collector.decoders import OtlpDecoders, session_shard
from tests.server.collector.support import (
    REAL_CLIENT,
    fingerprint,
    otlp_captures,
    otlp_posts,
    running_collector,
    session_of,
)
from tests.server.collector.test_grpc import _channel, _export

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent"),
]


def _decoders(ctx: Any) -> OtlpDecoders:
    decoders = ctx.services.collector.decoders
    assert isinstance(decoders, OtlpDecoders)
    return decoders


@pytest.mark.parametrize("scenario", ["basic", "task"])
def test_an_export_goes_to_its_sessions_worker_whatever_the_encoding(scenario: str) -> None:
    json_posts = otlp_posts(scenario, protobuf=False)
    pb_posts = otlp_posts(scenario, protobuf=True)
    for shards in (2, 3, 7):
        expected = session_shard(json_posts[0].body, shards)
        assert {session_shard(p.body, shards) for p in json_posts + pb_posts} == {expected}
    assert session_shard(b"{}", 5) == 0  # no session: the first worker


def test_sessions_spread_over_the_workers() -> None:
    bodies = [f'{{"key":"session.id","value":{{"stringValue":"s-{i}"}}}}'.encode() for i in range(40)]
    assert len({session_shard(body, 4) for body in bodies}) == 4


@pytest.mark.parametrize("scenario", ["basic", "task", "taskbg"])
def test_workers_give_the_records_of_in_process_decoding(
    scenario: str, settings: Settings, tmp_path: Any
) -> None:
    """Logs over HTTP and traces over gRPC, so that OTLP joins must meet across transports."""
    session_id = session_of(scenario)
    results = []
    for workers in (0, 2):
        home = tmp_path / f"w{workers}"
        home.mkdir()
        each = replace(
            settings,
            home=home,
            database_url=f"sqlite:///{home / 'agent-trace.db'}",
            otel_grpc_address="127.0.0.1:0",
            ingest_workers=workers,
        )
        with running_collector(each) as (client, ctx), _channel(ctx) as channel:
            assert (ctx.services.collector.decoders is None) == (workers == 0)
            for post, capture in zip(otlp_posts(scenario), otlp_captures(scenario), strict=True):
                if capture["path"] == "/v1/traces":
                    _export(channel, capture)
                else:
                    post.send(client)
            results.append(fingerprint(ctx.store, session_id))
    assert results[1] == results[0]
    durations = [p["duration_ms"] for p in results[0]["prompts"].values()]
    assert any(d is not None for d in durations)  # the interaction span joined its user_prompt log


def test_a_dead_worker_is_replaced_and_its_request_retried(settings: Settings) -> None:
    post = otlp_posts("basic")[0]
    with running_collector(replace(settings, otel_grpc_address="off", ingest_workers=1)) as (client, ctx):
        decoders = _decoders(ctx)
        pool = decoders._pool(0)
        (pid,) = list(pool._processes)  # the worker's process id (the executor's own bookkeeping)
        os.kill(pid, signal.SIGKILL)
        answers = []
        for _ in range(3):  # the first may meet the dead worker (503), then a new one answers
            response = client.post(post.path, content=post.body, headers={"content-type": post.content_type})
            answers.append(response.status_code)
            if response.status_code == 503:
                assert response.headers["retry-after"]
                assert response.json()["error"]["code"] == "unavailable"
        assert answers[-1] == 200 and set(answers) <= {200, 503}
        assert ctx.store.counts()["raw_events"] > 0


def test_an_undecodable_export_is_400_from_a_worker_too(settings: Settings) -> None:
    with running_collector(replace(settings, otel_grpc_address="off", ingest_workers=1)) as (client, _ctx):
        response = client.post(
            "/v1/logs", content=b"\xff\x01junk", headers={"content-type": "application/x-protobuf"}
        )
        assert response.status_code == 400
        assert "protobuf" in response.json()["error"]["message"]
