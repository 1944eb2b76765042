"""Auth on at the collector: personal tokens on hooks, OTLP/HTTP and OTLP/gRPC; records stored as
the token's user whatever the payload claims; a rotated token or a disabled user refused at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import grpc
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from agent_trace.config import Settings
from agent_trace.domain.access import new_token, token_digest
from agent_trace.server.collector.grpc_service import OtlpGrpcService
from agent_trace.server.context import AppContext
from agent_trace.store.identity import identity_of
from agent_trace.store.port import SessionQuery
from tests.server.collector.support import running_collector


@pytest.fixture
def collector(settings: Settings) -> Iterator[tuple[TestClient, AppContext, dict[str, str]]]:
    auth = replace(settings, auth=True, otel_grpc_address="127.0.0.1:0", ingest_token="shared-secret")
    from agent_trace.store.factory import open_store

    setup = open_store(auth.database_url, auth.events_url)
    ids = identity_of(setup)
    tokens = {}
    for name in ("alice", "bob"):
        tokens[name] = new_token()
        ids.add_account(name, "member", token_hash=token_digest(tokens[name]))
    setup.close()
    with running_collector(auth) as (client, ctx):
        yield client, ctx, tokens


def _hook(session_id: str, claimed_user: str) -> bytes:
    return orjson.dumps(
        {
            "session_id": session_id,
            "hook_event_name": "UserPromptSubmit",
            "prompt": "hello",
            "cwd": "/work/app",
            "agent_trace": {"user": claimed_user, "ts_ms": 1_770_000_000_000},
        }
    )


def _owner(ctx: AppContext, session_id: str) -> str | None:
    found = ctx.store.list_sessions(SessionQuery(session_ids=(session_id,))).sessions
    return found[0].user_id if found else None


def _post(client: TestClient, body: bytes, token: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return client.post("/v1/hooks", content=body, headers=headers)


def test_hooks_need_a_personal_token(collector: Any) -> None:
    client, ctx, tokens = collector
    for token in (None, "at_wrong", "shared-secret"):  # the shared ingest token is not a person
        r = _post(client, _hook("s-anon", "alice"), token)
        assert r.status_code == 401, (token, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert ctx.store.counts()["sessions"] == 0
    assert _post(client, _hook("s-ok", "alice"), tokens["alice"]).status_code == 204


def test_a_payload_claiming_another_user_is_stored_as_the_token_owner(collector: Any) -> None:
    client, ctx, tokens = collector
    assert _post(client, _hook("s-spoof", "bob"), tokens["alice"]).status_code == 204
    ctx.store.refresh_derived()
    assert _owner(ctx, "s-spoof") == "alice"
    # Several payloads in one request: every one of them.
    body = orjson.dumps([orjson.loads(_hook("s-many-1", "bob")), orjson.loads(_hook("s-many-2", "root"))])
    assert _post(client, body, tokens["alice"]).status_code == 200
    assert {_owner(ctx, "s-many-1"), _owner(ctx, "s-many-2")} == {"alice"}


def test_rotation_refuses_the_old_token_on_the_next_request(collector: Any) -> None:
    client, ctx, tokens = collector
    assert _post(client, _hook("s-r1", "bob"), tokens["bob"]).status_code == 204
    fresh = new_token()
    identity_of(ctx.store).replace_token("bob", token_digest(fresh))  # as `users token rotate` does
    assert _post(client, _hook("s-r2", "bob"), tokens["bob"]).status_code == 401
    assert _post(client, _hook("s-r3", "bob"), fresh).status_code == 204


def test_a_disabled_user_is_refused_at_once(collector: Any) -> None:
    client, ctx, tokens = collector
    assert _post(client, _hook("s-d1", "bob"), tokens["bob"]).status_code == 204
    identity_of(ctx.store).set_disabled("bob", True)
    assert _post(client, _hook("s-d2", "bob"), tokens["bob"]).status_code == 401
    identity_of(ctx.store).set_disabled("bob", False)
    assert _post(client, _hook("s-d3", "bob"), tokens["bob"]).status_code == 204


def _otlp_logs(session_id: str, claimed_user: str) -> logs_service_pb2.ExportLogsServiceRequest:
    def attr(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    record = LogRecord(
        time_unix_nano=1_770_000_000_000_000_000,
        attributes=[
            attr("event.name", "user_prompt"),
            attr("session.id", session_id),
            attr("user.id", claimed_user),
            attr("user.email", f"{claimed_user}@example.com"),
            attr("prompt", "hi"),
            attr("prompt_length", "2"),
        ],
    )
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])]
    )


def test_otlp_http_is_attributed_to_the_token_owner(collector: Any) -> None:
    client, ctx, tokens = collector
    body = _otlp_logs("s-otlp-http", "bob").SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 401
    headers["authorization"] = f"Bearer {tokens['alice']}"
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 200
    assert _owner(ctx, "s-otlp-http") == "alice"


def test_otlp_grpc_metadata_token_and_attribution(collector: Any) -> None:
    _client, ctx, tokens = collector
    (service,) = [s for s in ctx.services.background if isinstance(s, OtlpGrpcService)]
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        for metadata in ((), (("authorization", "Bearer at_nope"),)):
            with pytest.raises(grpc.RpcError) as failed:
                stub.Export(_otlp_logs("s-grpc", "bob"), metadata=metadata, timeout=10)
            assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(
            _otlp_logs("s-grpc", "bob"),
            metadata=(("authorization", f"Bearer {tokens['alice']}"),),
            timeout=10,
        )
    assert _owner(ctx, "s-grpc") == "alice"


def test_nobody_can_add_to_someone_elses_session(collector: Any) -> None:
    client, ctx, tokens = collector
    assert _post(client, _hook("s-bobs", "bob"), tokens["bob"]).status_code == 204
    ctx.store.refresh_derived()
    r = _post(client, _hook("s-bobs", "bob"), tokens["alice"])
    assert r.status_code == 403 and "belongs to another user" in r.json()["error"]["message"]
    body = _otlp_logs("s-bobs", "alice").SerializeToString()
    headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {tokens['alice']}"}
    assert client.post("/v1/logs", content=body, headers=headers).status_code == 403
    # Bob's own further events are welcome; the session stays his.
    assert _post(client, _hook("s-bobs", "bob"), tokens["bob"]).status_code == 204
    assert _owner(ctx, "s-bobs") == "bob"
    (service,) = [s for s in ctx.services.background if isinstance(s, OtlpGrpcService)]
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.Export(
                _otlp_logs("s-bobs", "x"),
                metadata=(("authorization", f"Bearer {tokens['alice']}"),),
                timeout=10,
            )
        assert failed.value.code() == grpc.StatusCode.PERMISSION_DENIED
