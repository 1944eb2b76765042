"""The spool: atomic files, oldest-first delivery, kept until the collector acknowledges."""

from __future__ import annotations

import json
import time
from pathlib import Path

from agent_trace.hook.spool import Spool
from tests.hook.conftest import StubCollector


def deadline() -> float:
    return time.monotonic() + 10


def test_payloads_are_delivered_in_order_and_then_removed(tmp_path: Path, collector: StubCollector) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(5):
        spool.write(json.dumps({"n": i}).encode())
    assert spool.size()[0] == 5
    report = spool.deliver(collector.url + "/v1/hooks", "tok", deadline())
    assert (report.delivered, report.remaining, report.error) == (5, 0, None)
    assert [p["n"] for p in collector.payloads] == [0, 1, 2, 3, 4]
    path, headers, _ = collector.requests[0]
    assert path == "/v1/hooks" and headers["Authorization"] == "Bearer tok"
    assert headers["Content-Type"] == "application/x-ndjson"
    assert spool.pending() == []


def test_an_unreachable_collector_keeps_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(b'{"n":1}')
    report = spool.deliver("http://127.0.0.1:9/v1/hooks", None, deadline())
    assert report.delivered == 0 and report.remaining == 1 and "unreachable" in (report.error or "")


def test_server_errors_keep_the_payloads_for_later(tmp_path: Path, collector: StubCollector) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(b'{"n":1}')
    collector.status = 503
    report = spool.deliver(collector.url + "/v1/hooks", None, deadline())
    assert report.remaining == 1 and "503" in (report.error or "")
    collector.status = None
    assert spool.deliver(collector.url + "/v1/hooks", None, deadline()).delivered == 1


def test_refused_payloads_are_set_aside_not_retried(tmp_path: Path, collector: StubCollector) -> None:
    spool = Spool(tmp_path / "spool")
    spool.write(b'{"n":1}')
    spool.write(b'{"n":2}')
    collector.reject = {1}
    report = spool.deliver(collector.url + "/v1/hooks", None, deadline())
    assert (report.delivered, report.rejected, report.remaining) == (1, 1, 0)
    assert "collector rejected" in report.messages[0]
    collector.reject = set()
    collector.status = 400
    spool.write(b'{"n":3}')
    report = spool.deliver(collector.url + "/v1/hooks", None, deadline())
    assert report.rejected == 1 and report.remaining == 0
    # Both refusals are kept (the batch's named one and the 400), for `--retry-rejected`.
    assert len(list((tmp_path / "spool" / "rejected").glob("*.json"))) == 2


def test_bounded_work_per_call(tmp_path: Path, collector: StubCollector, monkeypatch: object) -> None:
    import agent_trace.hook.spool as spool_module

    monkeypatch.setattr(spool_module, "MAX_BATCH_FILES", 2)  # type: ignore[attr-defined]
    spool = Spool(tmp_path / "spool")
    for i in range(7):
        spool.write(json.dumps({"n": i}).encode())
    report = spool.deliver(collector.url + "/v1/hooks", None, deadline(), max_batches=2)
    assert (report.delivered, report.remaining) == (4, 3)
    report = spool.deliver(collector.url + "/v1/hooks", None, deadline(), max_batches=None)
    assert report.remaining == 0 and [p["n"] for p in collector.payloads] == list(range(7))


def test_size_cap_drops_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(4):
        spool.write(json.dumps({"n": i, "pad": "x" * 100}).encode())
    dropped = spool.enforce_cap(limit=250)
    assert len(dropped) == 2
    assert [json.loads(p.read_bytes())["n"] for p in spool.pending()] == [2, 3]


def test_running_workers_are_tracked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (tmp_path / "spool" / ".inflight").mkdir(parents=True)
    (tmp_path / "spool" / ".inflight" / "999999999").touch()  # a dead worker's marker
    assert spool.running_workers() == []
    assert not (tmp_path / "spool" / ".inflight" / "999999999").exists()
