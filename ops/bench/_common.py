"""What the server benchmarks share: a throw-away site (embedded PostgreSQL, migrated, seeded
through ``examhall.demo.seed_sitting``), the server as a subprocess, its memory, percentiles, and
the comparison of acknowledged answers with the database.

Not a module of the application: imported by the scripts next to it (``ops/bench/*.py``), which
put the repository on ``sys.path`` first.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from examhall.bank import io  # noqa: E402 - after the path set-up, so a plain checkout runs too
from examhall.config import Settings, load_settings  # noqa: E402
from examhall.db import Database, EmbeddedPostgres, asyncpg_connect_args, upgrade  # noqa: E402
from examhall.demo import SeededSitting, seed_sitting  # noqa: E402

BENCH_SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 - a throw-away site
SAMPLE_BANK = REPO / "question_bank" / "hgzkg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sample_document() -> io.BankDocument:
    document = io.read_bank(SAMPLE_BANK).document
    assert document is not None, "the sample bank does not import"
    return document


async def seed(
    url: str,
    settings: Settings,
    candidates: int,
    *,
    label: str = "BENCH",
    starts_at: datetime | None = None,
    duration_minutes: int = 120,
    unseal: bool = True,
    check_in: bool = True,
) -> SeededSitting:
    """A sitting of ``candidates`` in rooms of 30 with per-candidate papers of the sample bank
    and an enrolled terminal per seat (``examhall.demo.seed_sitting``)."""
    db = Database(url, pool_size=2)
    try:
        async with db.session() as session:
            now = datetime.now(UTC)
            return await seed_sitting(
                session,
                settings,
                bank_document=sample_document(),
                label=label,
                starts_at=starts_at or now - timedelta(minutes=1),
                duration_minutes=duration_minutes,
                candidates=candidates,
                unseal=unseal,
                check_in=check_in,
                now=now,
            )
    finally:
        await db.close()


@dataclass
class LocalSite:
    """A temporary data folder with a migrated embedded PostgreSQL and the settings to match."""

    data: Path
    url: str
    settings: Settings


@contextmanager
def local_site() -> Iterator[LocalSite]:
    with tempfile.TemporaryDirectory(prefix="examhall-bench-") as tmp:
        data = Path(tmp)
        embedded = EmbeddedPostgres(data / "pg")
        url = embedded.start()
        try:
            upgrade(url)
            yield LocalSite(data, url, load_settings(env={}, data_dir=data, secret_key=BENCH_SECRET))
        finally:
            embedded.stop()


class Server:
    """``examhall serve --workers W`` on a free port of 127.0.0.1, against ``url``."""

    def __init__(
        self,
        site: LocalSite,
        workers: int,
        extra_env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        profile: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "EXAMHALL_DATABASE_URL": site.url,
            "EXAMHALL_DATA": str(site.data),
            "EXAMHALL_SECRET_KEY": BENCH_SECRET,
            "EXAMHALL_PORT": str(self.port),
            "EXAMHALL_WORKERS": str(workers),
            "EXAMHALL_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        # The server's stderr (warnings and tracebacks): kept in a file, shown if it fails to start.
        self.log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
        command = [sys.executable, "-m", "examhall", "serve"]
        if profile is not None:
            # py-spy (a tool, not a dependency: pip install py-spy) samples every worker process;
            # collapsed stacks, one line per stack with its count (flamegraph.pl, speedscope).
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            command = [spy, "record", "--subprocesses", "--format", "raw", "--rate", "200", "-o", str(profile), "--"]
            command += [sys.executable, "-m", "examhall", "serve"]
        self.profiling = profile is not None
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=self.profiling
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"the server did not start:\n{self.stderr()[-3000:]}")
            time.sleep(0.2)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.profiling:  # py-spy and the server it runs: py-spy writes its profile on SIGINT
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- a lean HTTP/1.1 client for load generators --------------------------------------------------


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names (Set-Cookie kept apart, in the cookies)
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class HttpClient:
    """One PC's HTTP/1.1 connection to the server, kept alive, with its own cookies.

    A load generator on the same small machine as the server must not spend the CPU the server
    needs: a general client (httpx) costs about as much per request as the server's handler. This
    speaks plain HTTP/1.1 over one TCP connection (Content-Length or chunked bodies, cookies by
    name), reconnecting when the server closed an idle connection."""

    IDLE_REUSE = 2.0  # s; uvicorn closes idle keep-alive connections after 5 s

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http":
            raise ValueError("the load generator speaks plain http:// (put it on the server's LAN side)")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def request(
        self, method: str, path: str, json_body: Any = None, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json"]
        if self.cookies:
            lines.append(f"Cookie: {self.cookie_header()}")
        if json_body is not None or method in ("POST", "PUT"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        for retry in (False, True):
            fresh = self._writer is None or time.monotonic() - self._used > self.IDLE_REUSE
            if fresh:
                await self.close()
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(head + body)
                response = await self._read(self._reader)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if fresh or retry:  # a reused connection the server had just closed: once more
                    raise
        self._used = time.monotonic()
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response

    async def _read(self, reader: asyncio.StreamReader) -> HttpResponse:
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            if key == "set-cookie":
                self._take_cookie(value)
            else:
                headers[key] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            payload = b"".join(chunks)
        else:
            payload = await reader.readexactly(int(headers.get("content-length", "0")))
        return HttpResponse(status, headers, payload)

    def _take_cookie(self, value: str) -> None:
        pair, *attributes = value.split(";")
        name, _, cookie = pair.strip().partition("=")
        gone = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
        if gone or not cookie:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = cookie.strip('"')

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with suppress(Exception):
                await writer.wait_closed()


# --- memory of the server's processes (Linux /proc) ----------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(p) for p in text.split())
    except OSError:
        pass
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (uvicorn's parent and its worker processes)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def rss_mb(pids: Iterable[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
                    break
        except OSError:
            continue
    return total_kib / 1024


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1/0.0.0.0 ``port`` (for ``--url`` runs on this machine)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(fields[9])
    if not inodes:
        return None
    owners: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners.append(int(entry))
                    break
        except OSError:
            continue
    if not owners:
        return None
    # The oldest owner is the parent (uvicorn's workers inherit the listening socket).
    return min(owners, key=lambda pid: _start_time(pid))


def _start_time(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 1 << 62


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of these processes so far, their exited children included (a
    PostgreSQL backend that ends counts in the postmaster's children times)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


async def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine (from ``postmaster.pid`` in its
    data folder), else None."""
    try:
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            folder = await conn.fetchval("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        finally:
            await conn.close()
        return int(Path(str(folder), "postmaster.pid").read_text().split()[0])  # noqa: ASYNC240 - tiny file
    except (OSError, IndexError, ValueError, asyncpg.PostgresError):
        return None


class CpuMeter:
    """CPU seconds used by the server, PostgreSQL and this process between two readings."""

    def __init__(self, server_pid: int | None, pg_pid: int | None) -> None:
        self.server_pid, self.pg_pid = server_pid, pg_pid
        self.last = self._read()

    def _read(self) -> tuple[float, float, float]:
        server = cpu_seconds(process_tree(self.server_pid)) if self.server_pid else 0.0
        pg = cpu_seconds(process_tree(self.pg_pid)) if self.pg_pid else 0.0
        return server, pg, time.process_time()

    def lap(self) -> dict[str, float]:
        now = self._read()
        server, pg, bench = (round(b - a, 1) for a, b in zip(self.last, now, strict=True))
        self.last = now
        return {"server": server, "postgres": pg, "bench": bench}


class RssSampler:
    """Samples the summed RSS of a process tree in the background; keeps the peak."""

    def __init__(self, pid: int | None, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> float:
        if self.pid is None:
            return 0.0
        value = rss_mb(process_tree(self.pid))
        self.peak = max(self.peak, value)
        return value

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self.pid is not None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self.sample()


# --- the audit of acknowledged answers ------------------------------------------------------------


async def lost_answers(url: str, acked: Mapping[tuple[int, int], str]) -> int:
    """How many acknowledged answers — (candidate id, position) → the last acknowledged
    response — the ``answers`` table does not hold exactly."""
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        rows = await conn.fetch(
            "SELECT a.candidate_id, s.position, s.response FROM answers s JOIN attempts a ON a.id = s.attempt_id"
        )
    finally:
        await conn.close()
    stored: dict[tuple[int, int], Any] = {(r["candidate_id"], r["position"]): r["response"] for r in rows}
    return sum(1 for key, response in acked.items() if stored.get(key) != response)
