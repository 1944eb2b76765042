"""`init --collector-url` in every form users type, and `status` exit codes for each way capture
can fail - against a real `agent-trace serve --role collector` with an ingest token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent_trace.cli.errors import EXIT_USAGE
from agent_trace.hook import client_config
from tests.cli.test_install import cli as agent_trace

TOKEN = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("collector")
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "AGENT_TRACE_HOME": str(root / "home"),
        "COLLECTOR_PORT": str(port),
        "OTEL_GRPC_ADDRESS": "off",
        "AGENT_TRACE_INGEST_TOKEN": TOKEN,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", "collector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "collector did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def not_agent_trace() -> Iterator[str]:
    """Something else on a port: every path answers 404."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _recorded(home: Path) -> dict[str, object]:
    return json.loads((home / ".claude" / "agent-trace.json").read_text())


def _hook_urls(home: Path) -> set[str]:
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    return {
        h["url"]
        for groups in settings["hooks"].values()
        for g in groups
        for h in g["hooks"]
        if h["type"] == "http"
    }


@pytest.mark.parametrize("suffix", ["/v1/hooks", "/v1/hooks/", "", "/"])
def test_init_accepts_the_documented_forms(tmp_path: Path, collector: str, suffix: str) -> None:
    done = agent_trace(
        tmp_path, "init", "--collector-url", collector + suffix, "--privacy-tier", "2", "--token", TOKEN
    )
    assert done.returncode == 0, done.stderr
    assert "answers as an agent-trace collector" in done.stdout
    config = _recorded(tmp_path)
    assert config["collector_url"] == collector and config["otlp_endpoint"] == collector
    # With a token every hook is a command handler (issue 9: no token in settings.json), which
    # posts to the hook URL derived from the recorded base.
    assert _hook_urls(tmp_path) == set()
    cfg = client_config.load({"HOME": str(tmp_path), "AGENT_TRACE_HOME": str(tmp_path / ".agent-trace")})
    assert cfg is not None and cfg.hooks_url == collector + "/v1/hooks"
    settings = json.loads((tmp_path / ".claude" / "settings.json").read_text())
    assert settings["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == collector
    assert settings["env"]["OTEL_RESOURCE_ATTRIBUTES"] == f"agent_trace.user={config['user']}"
    status = agent_trace(tmp_path, "status")
    assert status.returncode == 0, status.stdout
    assert "Capture is set up" in status.stdout


def test_init_over_a_wrong_earlier_install_repairs_it(tmp_path: Path, collector: str) -> None:
    """A config written by the old init from the documented form (`…/v1/hooks/v1/hooks` hooks).

    Without a token, so that init writes `http` hooks (with one, every hook is a command handler)."""
    assert agent_trace(tmp_path, "init", "--collector-url", collector).returncode == 0
    config_path = tmp_path / ".claude" / "agent-trace.json"
    config = _recorded(tmp_path)
    config["collector_url"] = collector + "/v1/hooks"
    config_path.write_text(json.dumps(config))
    settings_path = tmp_path / ".claude" / "settings.json"
    settings_path.write_text(settings_path.read_text().replace("/v1/hooks", "/v1/hooks/v1/hooks"))
    assert agent_trace(tmp_path, "init").returncode == 0
    assert _hook_urls(tmp_path) == {collector + "/v1/hooks"}
    assert _recorded(tmp_path)["collector_url"] == collector


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:99999", "between 1 and 65535"),
        ("http://127.0.0.1:8317/v1/traces", "'/v1/traces' is not the collector's"),
        ("ftp://127.0.0.1:8317", "expected http(s)://host[:port]"),
        ("127.0.0.1:8317", "expected http(s)://host[:port]"),
    ],
)
def test_init_refuses_what_cannot_work(tmp_path: Path, url: str, words: str) -> None:
    proc = agent_trace(tmp_path, "init", "--collector-url", url)
    assert proc.returncode == EXIT_USAGE and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert words in line and "/v1/hooks" in line  # the accepted forms are named
    assert not (tmp_path / ".claude" / "agent-trace.json").exists()


def test_init_warns_but_installs_when_the_collector_is_down(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    proc = agent_trace(tmp_path, "init", "--collector-url", url + "/v1/hooks")
    assert proc.returncode == 0
    assert "does not answer" in proc.stderr and "spool" in proc.stderr
    assert _hook_urls(tmp_path) == {url + "/v1/hooks"}


def _status(home: Path) -> tuple[int, dict[str, object], str]:
    as_json = agent_trace(home, "status", "--json")
    text = agent_trace(home, "status")
    assert text.returncode == as_json.returncode and "Traceback" not in text.stderr
    return as_json.returncode, json.loads(as_json.stdout), text.stdout


def test_status_exit_codes(tmp_path: Path, collector: str, not_agent_trace: str) -> None:
    code, report, text = _status(tmp_path)
    assert code == 1 and "run `agent-trace init`" in text  # not installed

    cases = [
        (f"http://127.0.0.1:{_free_port()}", TOKEN, "does not answer", "agent-trace serve"),
        (not_agent_trace, TOKEN, "not as an agent-trace collector", "check the host and port"),
        (collector, "wrong-token", "refuses the ingest token", "--token"),
        (collector, None, "needs an ingest token", "--token"),
    ]
    for url, token, problem, fix in cases:
        config = tmp_path / ".claude" / "agent-trace.json"
        config.unlink(missing_ok=True)
        args = ["init", "--collector-url", url] + (["--token", token] if token else [])
        assert agent_trace(tmp_path, *args).returncode == 0
        code, report, text = _status(tmp_path)
        assert code == 1, (url, text)
        (item,) = report["problems"]  # type: ignore[misc]
        assert problem in item["problem"] and fix in item["fix"], item
        assert problem in text and fix in text

    config.unlink()
    assert agent_trace(tmp_path, "init", "--collector-url", collector, "--token", TOKEN).returncode == 0
    code, report, _ = _status(tmp_path)
    assert code == 0 and report["problems"] == []


def test_status_shows_the_spool_as_it_is_now(tmp_path: Path, collector: str) -> None:
    assert agent_trace(tmp_path, "init", "--collector-url", collector, "--token", TOKEN).returncode == 0
    cfg = client_config.load({"HOME": str(tmp_path), "AGENT_TRACE_HOME": str(tmp_path / ".agent-trace")})
    assert cfg is not None
    cfg.log_file.parent.mkdir(parents=True, exist_ok=True)
    cfg.log_file.write_text("2026-12-01 10:00:00 3 payload(s) wait: collector unreachable\n")
    _, report, text = _status(tmp_path)
    assert report["spool"]["payloads"] == 0  # type: ignore[index]
    assert "3 payload(s) wait" not in text  # an old log line is not the state now
