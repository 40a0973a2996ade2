"""Benchmark of answer saves: over the terminal's websocket versus over HTTP PUT.

Usage: .venv/bin/python ops/bench/answers.py [--candidates N] [--seconds S] [--workers W] [--concurrency C]

Starts its own embedded PostgreSQL in a temporary folder and ``examhall serve --workers W`` on a
free port of 127.0.0.1, seeds a running sitting of N candidates (rooms of 30, per-candidate
papers from the sample bank, unsealed, checked in, one enrolled terminal each), logs every
candidate in at their terminal and opens their paper. Then, for S seconds per transport, C
candidates save answers back to back (each save waits for its acknowledgement, which the
server sends only after the commit), first over HTTP (``PUT /api/v1/attempt/answers/{n}``, a
keep-alive connection per candidate), then over the websocket each terminal holds. At the end
every acknowledged answer is compared with the database. Prints one JSON object.
Not a pass/fail test: the figures go into the notes and ops/bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from examhall.bank import io  # noqa: E402 - after the path set-up, so a plain checkout runs too
from examhall.config import load_settings  # noqa: E402
from examhall.db import Database, EmbeddedPostgres, asyncpg_connect_args, upgrade  # noqa: E402
from examhall.demo import SeededSeat, seed_sitting  # noqa: E402
from examhall.security.terminals import TERMINAL_COOKIE  # noqa: E402

BENCH_SECRET = "bench-secret-key-0123456789abcdef"  # noqa: S105 - a throw-away site


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def seed(url: str, settings: Any, candidates: int) -> list[SeededSeat]:
    document = io.read_bank(REPO / "question_bank" / "hgzkg").document
    assert document is not None
    db = Database(url, pool_size=2)
    try:
        async with db.session() as session:
            now = datetime.now(UTC)
            seeded = await seed_sitting(
                session,
                settings,
                bank_document=document,
                label="BENCH",
                starts_at=now - timedelta(minutes=1),
                duration_minutes=120,
                candidates=candidates,
                now=now,
            )
        return seeded.seats
    finally:
        await db.close()


class Terminal:
    """One candidate at their seat: an HTTP client with the terminal and session cookies."""

    def __init__(self, base: str, seat: SeededSeat) -> None:
        self.seat = seat
        self.client = httpx.AsyncClient(base_url=base, timeout=30)
        self.client.cookies.set(TERMINAL_COOKIE, seat.terminal_cookie)
        self.items: list[dict[str, Any]] = []
        self.seq = 0
        self.acked: dict[int, str] = {}

    async def csrf(self) -> str:
        token = self.client.cookies.get("csrftoken")
        if token is None:
            await self.client.get("/api/v1/terminal")
            token = self.client.cookies.get("csrftoken")
        assert token
        return token

    async def open_paper(self) -> None:
        headers = {"x-csrftoken": await self.csrf()}
        body = {"ticket_number": self.seat.ticket, "id_number": self.seat.id_number}
        login = await self.client.post("/api/v1/candidate/login", json=body, headers=headers)
        login.raise_for_status()
        (await self.client.post("/api/v1/attempt/start", headers=headers)).raise_for_status()
        paper = await self.client.get("/api/v1/attempt/paper")
        paper.raise_for_status()
        self.items = paper.json()["items"]

    def next_answer(self) -> tuple[int, str, int]:
        self.seq += 1
        item = self.items[self.seq % len(self.items)]
        letter = "T" if item["type"] == "judge" else item["options"][self.seq % len(item["options"])]["letter"]
        return item["position"], letter, self.seq

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.client.cookies.items())


async def run_http(terminal: Terminal, until: float, latencies: list[float], errors: list[str]) -> None:
    headers = {"x-csrftoken": await terminal.csrf()}
    while time.monotonic() < until:
        position, letter, seq = terminal.next_answer()
        started = time.perf_counter()
        response = await terminal.client.put(
            f"/api/v1/attempt/answers/{position}", json={"response": letter, "seq": seq}, headers=headers
        )
        latencies.append(time.perf_counter() - started)
        if response.status_code == 200:
            terminal.acked[position] = response.json()["response"]
        else:
            errors.append(f"http {response.status_code}: {response.text[:120]}")


async def run_ws(terminal: Terminal, ws_base: str, until: float, latencies: list[float], errors: list[str]) -> None:
    async with websockets.connect(
        f"{ws_base}/api/v1/attempt/ws", additional_headers={"Cookie": terminal.cookie_header()}
    ) as socket:
        while time.monotonic() < until:
            position, letter, seq = terminal.next_answer()
            started = time.perf_counter()
            await socket.send(json.dumps({"t": "save", "position": position, "response": letter, "seq": seq}))
            while True:
                message = json.loads(await socket.recv())
                if message.get("t") in ("ack", "refused") and message.get("seq") == seq:
                    break
            latencies.append(time.perf_counter() - started)
            if message["t"] == "ack":
                terminal.acked[position] = message["response"]
            else:
                errors.append(f"ws refused: {message.get('code')}")


def summary(latencies: list[float], seconds: float, errors: list[str]) -> dict[str, Any]:
    return {
        "saves": len(latencies),
        "saves_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
        "errors": len(errors),
    }


async def lost_answers(url: str, terminals: list[Terminal]) -> int:
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        rows = await conn.fetch(
            "SELECT a.candidate_id, s.position, s.response FROM answers s JOIN attempts a ON a.id = s.attempt_id"
        )
    finally:
        await conn.close()
    stored = {(r["candidate_id"], r["position"]): r["response"] for r in rows}
    return sum(
        1
        for t in terminals
        for position, response in t.acked.items()
        if stored.get((t.seat.candidate_id, position)) != response
    )


async def measure(base: str, url: str, seats: list[SeededSeat], seconds: float, concurrency: int) -> dict[str, Any]:
    terminals = [Terminal(base, seat) for seat in seats]
    try:
        gate = asyncio.Semaphore(32)

        async def open_one(t: Terminal) -> None:
            async with gate:
                await t.open_paper()

        await asyncio.gather(*(open_one(t) for t in terminals))
        savers = terminals[:concurrency]
        ws_base = base.replace("http://", "ws://")
        result: dict[str, Any] = {}
        for name in ("http", "websocket"):
            latencies: list[float] = []
            errors: list[str] = []
            until = time.monotonic() + seconds
            if name == "http":
                await asyncio.gather(*(run_http(t, until, latencies, errors) for t in savers))
            else:
                await asyncio.gather(*(run_ws(t, ws_base, until, latencies, errors) for t in savers))
            result[name] = summary(latencies, seconds, errors)
            if errors:
                result[name]["first_error"] = errors[0]
        result["lost_answers"] = await lost_answers(url, terminals)
        return result
    finally:
        await asyncio.gather(*(t.client.aclose() for t in terminals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="examhall-bench-") as tmp:
        data = Path(tmp)
        embedded = EmbeddedPostgres(data / "pg")
        url = embedded.start()
        server: subprocess.Popen[bytes] | None = None
        try:
            upgrade(url)
            settings = load_settings(env={}, data_dir=data, secret_key=BENCH_SECRET)
            seats = asyncio.run(seed(url, settings, args.candidates))
            port = free_port()
            env = {
                **os.environ,
                "EXAMHALL_DATABASE_URL": url,
                "EXAMHALL_DATA": str(data),
                "EXAMHALL_SECRET_KEY": BENCH_SECRET,
                "EXAMHALL_PORT": str(port),
                "EXAMHALL_WORKERS": str(args.workers),
                "EXAMHALL_LOG_LEVEL": "WARNING",
            }
            server = subprocess.Popen(
                [sys.executable, "-m", "examhall", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            result = asyncio.run(measure(base, url, seats, args.seconds, min(args.concurrency, len(seats))))
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            embedded.stop()
    faster = "websocket" if result["websocket"]["saves_per_s"] > result["http"]["saves_per_s"] else "http"
    print(
        json.dumps(
            {
                "candidates": args.candidates,
                "workers": args.workers,
                "concurrency": min(args.concurrency, args.candidates),
                "seconds_per_transport": args.seconds,
                **result,
                "faster": faster,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
