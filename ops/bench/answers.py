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
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import websockets
from _common import Server, local_site, lost_answers, percentile, seed

from examhall.demo import SeededSeat
from examhall.security.terminals import TERMINAL_COOKIE


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
        acked = {(t.seat.candidate_id, position): response for t in terminals for position, response in t.acked.items()}
        result["lost_answers"] = await lost_answers(url, acked)
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

    with local_site() as site:
        seats = asyncio.run(seed(site.url, site.settings, args.candidates)).seats
        server = Server(site, args.workers)
        try:
            server.wait_ready()
            concurrency = min(args.concurrency, len(seats))
            result = asyncio.run(measure(server.base, site.url, seats, args.seconds, concurrency))
        finally:
            server.stop()
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
