"""The spool: every payload is written here first, then delivered oldest-first (stdlib only).

    $AGENT_TRACE_HOME/spool/<time_ns>-<pid>-<n>.json    one sanitised payload per file
    $AGENT_TRACE_HOME/spool/rejected/                   payloads the collector refused for good
    $AGENT_TRACE_HOME/spool/.inflight/<pid>             a hook worker that is still running

Writing first and delivering second keeps the collector's view in order (a transcript delta
never overtakes an older one that is waiting) and makes delivery at-least-once: a file is
deleted only after the collector acknowledged it, which it does only after committing. A
payload delivered twice (a crash between the answer and the delete) changes nothing, because
every collector write is an idempotent merge, so the records arrive exactly once.

Files appear by rename, so a reader never sees half a payload. Delivery holds a lock, so two
hook calls do not send the same files at once; a call that finds it taken leaves the work to
the holder. Each hook call delivers a bounded amount (`max_batches`); `agent-trace hook-handler
--flush` delivers everything.

The spool never wedges on one payload. A payload the collector refuses for what it is (a 4xx
about the body: 400, 413 alone, 415, 422, or its index in a batch answer's `rejected`; also a 500,
which the collector documents as "the store rejected these particular records") is set aside in
rejected/ - kept, counted by `agent-trace status`, and sent again by hand with
`agent-trace hook-handler --flush --retry-rejected` - and the payloads after it flow on. A batch
answered 500 is split until the one payload is found. Answers about the request rather than the
payload (401/403/421: token or address; 503 and unreachable: retry later) stop delivery and
leave everything queued, in order.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_FILES = 500
# Past this the oldest payloads are dropped (and logged): a collector that stays away for weeks
# must not fill the developer's disk.
MAX_SPOOL_BYTES = 256 * 1024 * 1024
MAX_REJECTED_FILES = 1000
# A 4xx about the payload itself: sending it again cannot help.
PERMANENT_STATUSES = frozenset({400, 413, 415, 422})
NDJSON = "application/x-ndjson"


class DeliveryReport:
    """What one delivery attempt did (a plain class: `dataclasses` costs the hook ~15 ms)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.rejected = 0
        self.remaining = 0
        self.error: str | None = None
        self.messages: list[str] = []


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._seq = 0

    # -- writing -----------------------------------------------------------------------------

    def write(self, payload: bytes) -> Path:
        """Add one payload atomically (temp file + rename); returns its path."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq}.json"
        tmp = self.dir / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, payload)
        finally:
            os.close(fd)
        final = self.dir / name
        os.replace(tmp, final)
        return final

    def pending(self) -> list[Path]:
        """Spooled payloads, oldest first (names start with a fixed-width timestamp)."""
        try:
            names = [e.name for e in os.scandir(self.dir) if e.name.endswith(".json") and e.is_file()]
        except OSError:
            return []
        return [self.dir / n for n in sorted(names)]

    def size(self) -> tuple[int, int]:
        """(payloads, bytes) waiting."""
        count = total = 0
        for path in self.pending():
            try:
                total += path.stat().st_size
                count += 1
            except OSError:
                continue
        return count, total

    def enforce_cap(self, limit: int = MAX_SPOOL_BYTES) -> list[str]:
        """Drop the oldest payloads beyond `limit` bytes; returns what was dropped (for the log)."""
        files = self.pending()
        sizes = []
        for path in files:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        total = sum(sizes)
        dropped: list[str] = []
        for path, size in zip(files, sizes, strict=True):
            if total <= limit:
                break
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            dropped.append(path.name)
        return dropped

    # -- workers in flight -------------------------------------------------------------------

    @contextmanager
    def inflight(self) -> Iterator[None]:
        """Marks this process as a running hook worker (what `--flush --wait` waits for)."""
        marker = self.dir / ".inflight" / str(os.getpid())
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass
        try:
            yield
        finally:
            try:
                marker.unlink()
            except OSError:
                pass

    def running_workers(self, home: str | None = None) -> list[int]:
        """Pids of hook workers still running.

        A worker writes its marker only once it has started, which can be after Claude Code has
        already exited; on Linux the process table closes that gap (a forked worker exists from
        the moment the hook's foreground returns): hook processes whose HOME is `home` (default:
        ours) count too. Stale markers of dead workers are removed.
        """
        alive: set[int] = set(_hook_processes(home or os.environ.get("HOME")))
        try:
            entries = list(os.scandir(self.dir / ".inflight"))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid != os.getpid() and _alive(pid):
                alive.add(pid)
            elif pid != os.getpid():
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
        return sorted(alive)

    # -- delivery ----------------------------------------------------------------------------

    @contextmanager
    def _delivery_lock(self, wait_s: float) -> Iterator[bool]:
        """The delivery lock, waiting up to `wait_s` for it; yields whether it was taken."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".deliver.lock", os.O_RDWR | os.O_CREAT, 0o600)
        give_up = time.monotonic() + wait_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        yield False
                        return
                    time.sleep(0.02)
            yield True
        finally:
            os.close(fd)

    def deliver(
        self,
        url: str,
        token: str | None,
        deadline: float,
        *,
        max_batches: int | None = 2,
        lock_wait_s: float = 0.0,
    ) -> DeliveryReport:
        """Send waiting payloads oldest-first until done, an error, the deadline or max_batches.

        Another process delivering holds the lock; waiting for it (`lock_wait_s`) means a payload
        spooled just after that process looked is not left for the next hook call.
        """
        from agent_trace.hook.transport import TransportError, request  # only when sending

        report = DeliveryReport()
        wait = max(0.0, min(lock_wait_s, deadline - time.monotonic() - 0.5))
        with self._delivery_lock(wait) as locked:
            if not locked:
                report.remaining = len(self.pending())
                return report
            batches = 0
            batch_files = MAX_BATCH_FILES
            while max_batches is None or batches < max_batches:
                files = self.pending()
                if not files:
                    break
                remaining_s = deadline - time.monotonic()
                if remaining_s < 0.2:
                    report.error = "out of time"
                    break
                batch, body = _batch(files, batch_files)
                if not batch:
                    break  # nothing readable (removed meanwhile, or unreadable): try next time
                try:
                    status, answer = request(
                        "POST", url, body, min(10.0, remaining_s), token=token, content_type=NDJSON
                    )
                except TransportError as exc:
                    report.error = f"collector unreachable: {exc}"
                    break
                batches += 1
                if status in (200, 204):
                    refused = _rejections(answer, batch)
                    report.delivered += len(batch) - len(refused)
                    report.rejected += len(refused)
                    report.messages += [message for _, message in refused]
                    self._set_aside([batch[index] for index, _ in refused])
                    _unlink(batch)
                elif status in (413, 500) and len(batch) > 1:
                    batch_files = max(1, len(batch) // 2)  # find the one payload it is about
                elif status in PERMANENT_STATUSES or status == 500:
                    # Refused for what it is, not for when it came: sending it again cannot help.
                    report.rejected += len(batch)
                    report.messages.append(f"collector answered {status}: {answer[:300]!r}")
                    self._set_aside(batch)
                else:
                    report.error = f"collector answered {status}: {answer[:300]!r}"
                    break
            report.remaining = len(self.pending())
        return report

    @property
    def rejected_dir(self) -> Path:
        return self.dir / "rejected"

    def rejected(self) -> list[Path]:
        """Payloads set aside, oldest first."""
        try:
            names = [e.name for e in os.scandir(self.rejected_dir) if e.name.endswith(".json")]
        except OSError:
            return []
        return [self.rejected_dir / n for n in sorted(names)]

    def retry_rejected(self) -> int:
        """Put the payloads set aside back in the queue (in their original order: names are
        times); returns how many. For after a collector upgrade or a fixed configuration."""
        moved = 0
        for path in self.rejected():
            try:
                os.replace(path, self.dir / path.name)
                moved += 1
            except OSError:
                continue
        return moved

    def _set_aside(self, batch: list[Path]) -> None:
        if not batch:
            return
        rejected = self.rejected_dir
        rejected.mkdir(exist_ok=True)
        for path in batch:
            try:
                os.replace(path, rejected / path.name)
            except OSError:
                continue
        kept = sorted(rejected.iterdir())
        for old in kept[: max(0, len(kept) - MAX_REJECTED_FILES)]:
            try:
                old.unlink()
            except OSError:
                continue


def _batch(files: list[Path], max_files: int) -> tuple[list[Path], bytes]:
    """The oldest files that fit one request, as NDJSON (each payload is one line)."""
    batch: list[Path] = []
    lines: list[bytes] = []
    size = 0
    for path in files[:max_files]:
        try:
            data = path.read_bytes().strip()
        except OSError:
            continue
        if batch and size + len(data) > MAX_BATCH_BYTES:
            break
        batch.append(path)
        lines.append(data)
        size += len(data) + 1
    return batch, b"\n".join(lines) + b"\n"


def _rejections(answer: bytes, batch: list[Path]) -> list[tuple[int, str]]:
    """The collector's per-payload refusals in a 200 answer: (index in batch, message)."""
    try:
        data = json.loads(answer) if answer else {}
    except ValueError:
        return []
    out: list[tuple[int, str]] = []
    for item in data.get("rejected") or [] if isinstance(data, dict) else []:
        index = item.get("index") if isinstance(item, dict) else None
        if not (isinstance(index, int) and 0 <= index < len(batch)):
            continue
        out.append((index, f"collector rejected {batch[index].name}: {item.get('message')}"))
    return out


def _unlink(batch: list[Path]) -> None:
    for path in batch:
        try:
            path.unlink()
        except OSError:
            continue


# How a hook handler process shows in /proc/<pid>/cmdline (see cli/claude_settings.COMMAND_MARKERS).
_HOOK_CMDLINES = (b"agent_trace/hook/__main__.py", b"agent_trace.hook\0", b"\0hook-handler\0")


def _hook_processes(home: str | None) -> list[int]:
    """Running hook handlers of this user and HOME, other than this process and `--flush` runs
    (Linux; [] elsewhere). Another HOME's handlers deliver to another spool: not ours to wait for."""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    found: list[int] = []
    me = os.getpid()
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read() + b"\0"
        except OSError:
            continue
        if b"--flush" in cmdline or not any(marker in cmdline for marker in _HOOK_CMDLINES):
            continue
        if home is not None and not _same_home(pid, home):
            continue
        found.append(pid)
    return found


def _same_home(pid: int, home: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        return False  # another user's process (environ is private): not our worker
    return ("HOME=" + home).encode() in environ


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
