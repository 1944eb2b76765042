"""Read docker/docker-compose*.yml and docker/*.Dockerfile the way Docker would, and turn each
service into the command and environment its container runs - for running them as plain
processes (no Docker engine runs where the tests do).

Only what the stack uses is understood: `${VAR}` / `${VAR:-default}` interpolation, compose
override merging (maps merge, `command` is replaced), and the Dockerfile's ENV and CMD.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def _merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(override, list) and key in ("ports", "volumes"):
        return base + [v for v in override if v not in base]
    return override


def load_compose(*names: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose files merged in order (as `docker compose -f a -f b` does), interpolated."""
    merged: dict[str, Any] = {}
    for name in names:
        merged = _merge(merged, yaml.safe_load((DOCKER / name).read_text(encoding="utf-8")))
    return dict(interpolate(merged, env or {}))


@dataclass
class Dockerfile:
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    run: list[str] = field(default_factory=list)
    exposed: list[int] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def _exec_form(args: str) -> list[str]:
    if args.startswith("["):
        parsed: list[str] = json.loads(args)
        return parsed
    return ["/bin/sh", "-c", args]


def load_dockerfile(name: str) -> Dockerfile:
    """The final stage of a Dockerfile (what the container runs)."""
    stages: list[Dockerfile] = []
    for word, args in _instructions((DOCKER / name).read_text(encoding="utf-8")):
        if word == "FROM":
            stages.append(Dockerfile())
        elif word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                stages[-1].env[key] = value
        elif word == "CMD":
            stages[-1].cmd = _exec_form(args)
        elif word == "ENTRYPOINT":
            stages[-1].entrypoint = _exec_form(args)
        elif word == "HEALTHCHECK":
            stages[-1].healthcheck = _exec_form(args.split(" CMD ", 1)[1])
        elif word == "RUN":
            stages[-1].run.append(args)
        elif word == "EXPOSE":
            stages[-1].exposed.extend(int(p.split("/")[0]) for p in args.split())
    return stages[-1]


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]  # what the container executes (entrypoint + command)
    env: dict[str, str]  # the container's environment (image ENV, then compose `environment`)
    healthcheck: list[str]  # the compose health check's command (after "CMD")


def service_process(compose: dict[str, Any], name: str) -> ServiceProcess:
    service = compose["services"][name]
    image = load_dockerfile(Path(service["build"]["dockerfile"]).name)
    env = dict(image.env)
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({k: str(v) for k, v in environment.items()})
    command = service.get("command") or image.cmd
    argv = [*image.entrypoint, *command]
    check = service.get("healthcheck", {}).get("test") or ["CMD", *image.healthcheck]
    if check[0] == "CMD-SHELL":
        check = ["/bin/sh", "-c", check[1]]
    elif check[0] == "CMD":
        check = check[1:]
    return ServiceProcess(name, argv, env, check)
