"""The Compose stack's services, run as plain processes: exactly the commands their containers
run (compose `command`, Dockerfile ENV, compose `environment`), with the containers' neighbours
swapped for what runs here - the real PostgreSQL server for `postgres`, chdb for `clickhouse`,
127.0.0.1 and free ports for service names and published ports. Then every health check the
stack defines, scripts/health-check.sh, and data flowing collector → API → dashboard."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_trace.config import load_settings
from tests.backends import PgServer
from tests.deploy.stack import REPO, load_compose, load_dockerfile, service_process

pytestmark = pytest.mark.postgres

STACKS = {"prod": ("docker-compose.yml",), "dev": ("docker-compose.yml", "docker-compose.dev.yml")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argv(argv: list[str]) -> list[str]:
    # The image's `agent-trace` console script is this interpreter's module entry point.
    if argv and argv[0] == "agent-trace":
        return [sys.executable, "-m", "agent_trace.cli.main", *argv[1:]]
    if argv and argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return argv


class Processes:
    """Processes this test started, stopped (by their own pid) at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            _argv(argv), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=env["AGENT_TRACE_HOME"]
        )
        self.running.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for _, proc in reversed(self.running):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], procs: Processes, name: str, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}:\n{procs.log(name)}")
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            last = f"{response.status_code} {response.text}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise AssertionError(f"{url} never became healthy ({last}):\n{procs.log(name)}")


def _local_env(
    service_env: dict[str, str], home: Path, swaps: dict[str, str], drop: set[str]
) -> dict[str, str]:
    env = {k: v for k, v in service_env.items() if k not in drop}
    env.update(swaps)
    # The stack listens on 0.0.0.0; these processes run without tokens (see docker-compose.yml).
    env["AGENT_TRACE_INSECURE_NO_AUTH"] = "true"
    env["AGENT_TRACE_HOME"] = str(home)
    env["HOME"] = str(home)
    env["PATH"] = os.environ.get("PATH", "")
    if "PYTHONPATH" in env:  # the dev stack mounts src/ at /opt/agent-trace/src
        env["PYTHONPATH"] = str(REPO / "src")
    home.mkdir(parents=True, exist_ok=True)
    return env


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_stack_runs_as_processes(
    stack: str, tmp_path: Path, processes: Processes, pg_server: PgServer | None
) -> None:
    if pg_server is None:
        pytest.skip("PostgreSQL server not reachable")
    compose = load_compose(*STACKS[stack])
    runtime = service_process(compose, "runtime")
    dashboard = service_process(compose, "dashboard")
    pg_url = pg_server.create(from_template=False)  # empty: the runtime migrates on first boot
    ports = {"COLLECTOR_PORT": _free_port(), "API_PORT": _free_port(), "DASHBOARD_PORT": _free_port()}
    runtime_env = _local_env(
        runtime.env,
        tmp_path / "runtime-home",
        {
            "POSTGRES_CONNECTION_STRING": pg_url,
            "AGENT_TRACE_EVENTS_URL": f"chdb:///{tmp_path / 'clickhouse'}?database=agent_trace",
            "COLLECTOR_PORT": str(ports["COLLECTOR_PORT"]),
            "API_PORT": str(ports["API_PORT"]),
            "OTEL_GRPC_ADDRESS": f"127.0.0.1:{_free_port()}",
        },
        drop={"CLICKHOUSE_URL", "CLICKHOUSE_USERNAME", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_DATABASE"},
    )
    proc = processes.start("runtime", runtime.argv, runtime_env)
    collector_url = f"http://127.0.0.1:{ports['COLLECTOR_PORT']}"
    api_url = f"http://127.0.0.1:{ports['API_PORT']}"
    health = _wait_healthy(f"{api_url}/health", proc, processes, "runtime")
    assert health["database"] == "ok" and health["events"] == "ok" and health["role"] == "api"
    assert _wait_healthy(f"{collector_url}/health", proc, processes, "runtime")["events"] == "ok"
    # The stack's own health check, as Docker would run it inside the container.
    check = subprocess.run(_argv(runtime.healthcheck), env=runtime_env, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr.decode()

    session_id = "5fa11e5e-0000-4000-8000-00000000d0c4"
    hook = {
        "session_id": session_id,
        "hook_event_name": "UserPromptSubmit",
        "cwd": "/home/dev/stack",
        "prompt": "deploy the stack",
        "prompt_id": "p-stack-1",
        "agent_trace": {"ts_ms": 1_770_000_000_000, "user": "ops"},
    }
    posted = httpx.post(f"{collector_url}/v1/hooks", json=hook, timeout=30)
    assert posted.status_code in (200, 202, 204), posted.text
    deadline = time.monotonic() + 30
    while True:
        listing = httpx.get(f"{api_url}/v1/sessions", timeout=10).json()
        if any(s["session_id"] == session_id for s in listing["sessions"]) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert [s["first_prompt"] for s in listing["sessions"] if s["session_id"] == session_id] == [
        "deploy the stack"
    ]

    dashboard_env = _local_env(
        dashboard.env,
        tmp_path / "dashboard-home",
        {"DASHBOARD_PORT": str(ports["DASHBOARD_PORT"]), "DASHBOARD_API_BASE_URL": api_url},
        drop=set(),
    )
    assert (
        "AGENT_TRACE_DATABASE_URL" not in dashboard_env and "POSTGRES_CONNECTION_STRING" not in dashboard_env
    )
    dash = processes.start("dashboard", dashboard.argv, dashboard_env)
    dash_url = f"http://127.0.0.1:{ports['DASHBOARD_PORT']}"
    dash_health = _wait_healthy(f"{dash_url}/health", dash, processes, "dashboard")
    assert dash_health["api"] == "ok" and dash_health["database"].startswith("not used")
    check = subprocess.run(_argv(dashboard.healthcheck), env=dashboard_env, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stderr.decode()
    page = httpx.get(f"{dash_url}/", timeout=30)
    assert page.status_code == 200 and "deploy the stack" in page.text

    script = subprocess.run(
        ["bash", str(REPO / "scripts" / "health-check.sh"), "--wait", "30"],
        env={"PATH": os.environ.get("PATH", ""), **{k: str(v) for k, v in ports.items()}},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0, script.stdout + script.stderr
    assert script.stdout.count("ok ") == 3

    # A clean stop, then a second boot on the migrated databases without migrating.
    assert processes.stop(dash) == 0
    assert processes.stop(proc) == 0, processes.log("runtime")
    again = processes.start("runtime-again", runtime.argv, {**runtime_env, "RUNTIME_RUN_MIGRATIONS": "false"})
    _wait_healthy(f"{api_url}/health", again, processes, "runtime-again")
    detail = httpx.get(f"{api_url}/v1/sessions/{session_id}", timeout=10)
    assert detail.status_code == 200
    assert processes.stop(again) == 0
    pg_server.drop(pg_url)


def test_a_role_without_migrations_refuses_an_unmigrated_database(
    tmp_path: Path, processes: Processes, pg_server: PgServer | None
) -> None:
    if pg_server is None:
        pytest.skip("PostgreSQL server not reachable")
    runtime = service_process(load_compose("docker-compose.yml"), "runtime")
    pg_url = pg_server.create(from_template=False)
    env = _local_env(
        runtime.env,
        tmp_path / "home",
        {"POSTGRES_CONNECTION_STRING": pg_url, "RUNTIME_RUN_MIGRATIONS": "false", "OTEL_GRPC_ADDRESS": "off"},
        drop={"CLICKHOUSE_URL"},
    )
    proc = processes.start("runtime", runtime.argv, env)
    assert proc.wait(120) == 1
    assert "agent-trace db upgrade" in processes.log("runtime")
    pg_server.drop(pg_url)


def test_compose_settings_resolve_to_the_stack_databases() -> None:
    """What the runtime container's environment means to agent-trace (no neighbours swapped)."""
    runtime = service_process(
        load_compose("docker-compose.yml", env={"CLICKHOUSE_PASSWORD": "s3cr/t"}), "runtime"
    )
    settings = load_settings({**runtime.env, "HOME": "/var/lib/agent-trace"})
    assert settings.database_url == "postgresql+psycopg://agent_trace:agent-trace@postgres:5432/agent_trace"
    assert settings.events_url == "clickhouse://agent_trace:s3cr%2Ft@clickhouse:8123/agent_trace"
    assert (settings.role, settings.host, settings.run_migrations) == ("collector,api", "0.0.0.0", True)
    assert (settings.collector_port, settings.api_port, settings.otel_grpc_address) == (
        8317,
        8318,
        "0.0.0.0:4717",
    )
    dashboard = service_process(load_compose("docker-compose.yml"), "dashboard")
    dash_settings = load_settings({**dashboard.env, "HOME": "/var/lib/agent-trace"})
    assert dash_settings.dashboard_api_base_url == "http://runtime:8318" and dash_settings.role == "dashboard"


def test_images_and_stack_agree() -> None:
    compose = load_compose("docker-compose.yml")
    assert compose["services"]["clickhouse"]["image"].split(":")[1] >= "24.8"
    assert compose["services"]["postgres"]["image"] == "postgres:16"
    runtime = load_dockerfile("runtime.Dockerfile")
    assert set(runtime.exposed) == {8317, 8318, 4717}
    assert any("[server]" in line for line in runtime.run)
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "server" in extras and not any("chdb" in dep for dep in extras["server"])
    for name in ("runtime", "dashboard"):
        service = compose["services"][name]
        assert service["healthcheck"]["test"][0] == "CMD"
        assert (REPO / "docker" / Path(service["build"]["dockerfile"]).name).is_file()
    for volume in ("postgres-data", "clickhouse-data"):
        assert volume in compose["volumes"]


@pytest.mark.parametrize("script", ["start-stack.sh", "stop-stack.sh", "health-check.sh"])
def test_scripts_parse_and_pass_shellcheck(script: str) -> None:
    path = REPO / "scripts" / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in path.read_text()
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    from shutil import which

    if which("shellcheck") is None:
        pytest.skip("shellcheck not installed (.ci/run installs it)")
    lint = subprocess.run(["shellcheck", "--severity=style", str(path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout


def test_start_stack_explains_a_missing_docker(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "docker").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "docker").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin"}
    for script in ("start-stack.sh", "stop-stack.sh"):
        proc = subprocess.run(
            ["bash", str(REPO / "scripts" / script)], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 1 and "docker compose" in proc.stderr
    bad = subprocess.run(
        ["bash", str(REPO / "scripts" / "start-stack.sh"), "prod"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
