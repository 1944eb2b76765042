"""A real OpenID Connect provider for the tests: npm `oidc-provider`, pinned, installed once per
machine under ~/.cache/agent-trace-oidc (like the Claude Code CLI of tests/e2e), and run by
node with the small provider.mjs beside this file."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OIDC_PROVIDER_VERSION = "8.8.1"
SCRIPT = Path(__file__).with_name("provider.mjs")
START_S = 30.0


class ProviderUnavailable(RuntimeError):
    """node/npm missing (the test skips)."""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agent-trace-oidc"


def install_provider(version: str = OIDC_PROVIDER_VERSION, timeout: float = 600.0) -> Path:
    """The installed package's lib/index.js, running `npm install` only the first time."""
    prefix = cache_dir() / f"oidc-provider-{version}"
    module = prefix / "node_modules" / "oidc-provider" / "lib" / "index.js"
    marker = prefix / ".installed"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(prefix.parent / f".oidc-provider-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and module.is_file():
            return module
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise ProviderUnavailable("node and npm are needed to run the OpenID Connect provider")
        prefix.mkdir(parents=True, exist_ok=True)
        cmd = [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            f"oidc-provider@{version}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not module.is_file():
            raise RuntimeError(f"$ {' '.join(cmd)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        marker.write_text(version)
        return module


@contextmanager
def running_provider(port: int, client_id: str, client_secret: str, redirect_uri: str) -> Iterator[str]:
    """The provider's issuer URL while it runs."""
    module = install_provider()
    proc = subprocess.Popen(
        ["node", str(SCRIPT), str(port), client_id, client_secret, redirect_uri],
        env={**os.environ, "OIDC_PROVIDER_MODULE": str(module)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"the OIDC provider exited with {proc.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the OIDC provider did not start") from None
                time.sleep(0.1)
        yield issuer
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
