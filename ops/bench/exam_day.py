"""Exam-day load benchmark: N candidates on one server — start storm, steady saves while every
room console streams, saturation measured against pgbench, the end storm at E, and an audit of
every acknowledged answer.

Usage: .venv/bin/python ops/bench/exam_day.py [--candidates N] [--workers W] [--think S]
           [--duration S] [--saturation S] [--savers C] [--quick]
       .venv/bin/python ops/bench/exam_day.py --url http://HOST:PORT --database-url postgresql://…

By default it starts its own embedded PostgreSQL in a temporary folder and ``examhall serve
--workers W`` on a free port of 127.0.0.1; with ``--url`` it targets a running server instead
(the database URL and the server's data folder or keys must then be in this process's
environment too: the site is seeded straight into the database with the server's keys).

Set-up (not timed): a sitting of N candidates in rooms of 30 (``examhall.demo.seed_sitting``:
the sample bank, per-candidate papers of 100 items, an enrolled terminal per seat, everybody
checked in, papers still sealed), a chief examiner and one invigilator per room. The sitting's
start S is then placed so that every attempt's end time E = S + 10 min falls right after the
last save phase, and every room console connects (one invigilator each).

Then, in this one process (asyncio, real HTTP and websocket clients, one per terminal):

1. start storm — the chief unseals; all N terminals at once log in (ticket + ID number), open
   the paper and receive it with the answer (first question), then open their websocket;
2. steady state — every candidate saves an answer every ``--think`` s over the websocket for
   ``--duration`` s; save latency (send → acknowledgement, which the server sends only after the
   commit) and console latency (the acknowledgement → the seat's tile with the new answered
   count arriving at the room console);
3. saturation — ``--savers`` candidates save back to back for ``--saturation`` s: the peak rate;
4. end storm — E arrives for everybody at once; the server's automatic hand-in submits and
   scores every attempt (time from E until all are scored, and until every terminal has its
   receipt); a tenth of the terminals try one save just after E, which must be refused;
5. pgbench — the same single-row durable upsert as a save, at the same concurrency, against the
   same PostgreSQL (after the server has stopped, so it has the machine to itself, as the
   server had during saturation): ``save_to_pg_ratio`` is a figure that holds on a noisy machine;
6. audit — every acknowledged answer is compared with the ``answers`` table.

Prints one JSON object. Not a pass/fail test; the smoke test (tests/integration/
test_exam_day_bench.py) runs ``--quick`` and fails only on lost answers or errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import msgspec
import websockets
from _common import (
    CpuMeter,
    HttpClient,
    HttpResponse,
    LocalSite,
    RssSampler,
    Server,
    listening_pid,
    local_site,
    lost_answers,
    percentile,
    postmaster_pid,
    seed,
)
from websockets.asyncio.client import ClientConnection

from examhall.config import Settings, load_settings
from examhall.db import Database, asyncpg_connect_args
from examhall.demo import SeededSeat, SeededSitting
from examhall.security import service as security_service
from examhall.security.passwords import Passwords
from examhall.security.terminals import TERMINAL_COOKIE

STAFF_PASSWORD = "bench-staff-password-1"  # noqa: S105 - a throw-away site
DURATION_MINUTES = 10  # the shortest sitting the scheduler accepts: E = S + 10 min
TILE = re.compile(r'<div id="seat-(\d+)"[^>]*?data-answered="(\d+)"')


@dataclass
class Plan:
    candidates: int
    workers: int
    think: float
    duration: float
    saturation: float
    savers: int
    storm_budget: float
    quick: bool


class Errors:
    """HTTP and websocket errors and broken rules, by kind, with the first few examples."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.examples: list[str] = []

    def add(self, kind: str, detail: str = "") -> None:
        self.kinds[kind] += 1
        if len(self.examples) < 8:
            self.examples.append(f"{kind}: {detail}"[:300])

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


class Browser:
    """One PC: its own keep-alive HTTP connection and cookies (``_common.HttpClient``)."""

    def __init__(self, base: str) -> None:
        self.client = HttpClient(base)
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None  # reads the socket's messages
        self.closing = False  # a close from this side is not an error

    async def csrf(self) -> str:
        token = self.client.cookies.get("csrftoken")
        if token is None:
            response = await self.client.request("GET", "/api/v1/terminal")
            if response.status != 200:
                raise RuntimeError(f"/api/v1/terminal: {response.status}")
            token = self.client.cookies.get("csrftoken")
        if not token:
            raise RuntimeError("the server set no CSRF cookie")
        return token

    async def post(self, path: str, body: Any = None) -> HttpResponse:
        return await self.client.request("POST", path, body, {"x-csrftoken": await self.csrf()})

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)

    async def open_socket(self, url: str) -> ClientConnection:
        """A websocket with this PC's cookies (no pings: the run is short, the server ticks)."""
        return await websockets.connect(
            url,
            additional_headers={"Cookie": self.client.cookie_header()},
            open_timeout=120,
            ping_interval=None,
            max_size=None,
            compression=None,
        )


# --- the candidate's terminal ---------------------------------------------------------------------


class Terminal(Browser):
    def __init__(self, base: str, seat: SeededSeat) -> None:
        super().__init__(base)
        self.seat = seat
        self.client.cookies[TERMINAL_COOKIE] = seat.terminal_cookie
        self.items: list[dict[str, Any]] = []
        self.seq = 0
        self.waiting: dict[int, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.acked: dict[int, tuple[int, str]] = {}  # position → (seq, response) of the last ack
        self.state_seen = asyncio.Event()
        self.receipt_at: float | None = None  # wall clock
        self.new_positions = 0  # distinct positions answered so far (the console's count)

    async def sit_down(self) -> None:
        """Log in at the seat, open the paper and receive it (the first question is on screen)."""
        body = {"ticket_number": self.seat.ticket, "id_number": self.seat.id_number}
        response = HttpResponse(0, {}, b"")
        for path, payload in (("/api/v1/candidate/login", body), ("/api/v1/attempt/start", None)):
            response = await self.post(path, payload)
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {response.text[:160]}")
        opened = msgspec.json.decode(response.body).get("paper")  # the paper comes with "open"
        if opened is None:  # as terminal.js: ask for it when it did not
            paper = await self.client.request("GET", "/api/v1/attempt/paper")
            if paper.status != 200:
                raise RuntimeError(f"paper: {paper.status} {paper.text[:160]}")
            opened = msgspec.json.decode(paper.body)
        self.items = opened["items"]

    async def connect(self, ws_base: str, errors: Errors) -> None:
        self.ws = await self.open_socket(f"{ws_base}/api/v1/attempt/ws")
        self.reader = asyncio.create_task(self._read(errors))
        await asyncio.wait_for(self.state_seen.wait(), 120)

    async def _read(self, errors: Errors) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                message = msgspec.json.decode(raw)
                kind = message.get("t")
                if kind in ("ack", "refused"):
                    future = self.waiting.pop(message.get("seq"), None)
                    if future is not None and not future.done():
                        future.set_result((time.perf_counter(), message))
                elif kind == "state":
                    self.state_seen.set()
                    if message.get("receipt_code") and self.receipt_at is None:
                        self.receipt_at = time.time()
        except websockets.ConnectionClosed as exc:
            if not self.closing:
                errors.add("terminal_ws_closed", f"seat {self.seat.room_id}/{self.seat.seat_no}: {exc}")
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("websocket closed"))
            self.waiting.clear()

    def answer_for(self, position: int, variant: int) -> str:
        item = self.items[position - 1]
        if item["type"] == "judge":
            return "T" if variant % 2 else "F"
        letters = [o["letter"] for o in item["options"]]
        if item["type"] == "multiple":
            return "".join(sorted({letters[variant % len(letters)], letters[(variant + 1) % len(letters)]}))
        return letters[variant % len(letters)]

    async def save(self, position: int, response: str, wait: float = 60) -> tuple[float, dict[str, Any]]:
        """Send one save; returns (latency in s, the ack or refusal)."""
        assert self.ws is not None
        self.seq += 1
        seq = self.seq
        future: asyncio.Future[tuple[float, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = future
        started = time.perf_counter()
        await self.ws.send(json.dumps({"t": "save", "position": position, "response": response, "seq": seq}))
        arrived, message = await asyncio.wait_for(future, wait)
        if message.get("t") == "ack":
            self.acked[position] = (seq, message["response"])
        return arrived - started, message


# --- the invigilator's room console ---------------------------------------------------------------


class ConsoleLatency:
    """Matches each acknowledged save with the first console frame showing its answered count."""

    def __init__(self) -> None:
        self.acks: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)  # (room, seat) → count → t
        self.seen: dict[tuple[int, int], tuple[int, float]] = {}  # (room, seat) → (max count, when)
        self.latencies: list[float] = []
        self.measuring = False

    def acked(self, room: int, seat: int, count: int, at: float) -> None:
        if not self.measuring:
            return
        shown = self.seen.get((room, seat))
        if shown is not None and shown[0] >= count:
            self.latencies.append(0.0)  # the console was faster than the terminal's ack
        else:
            self.acks[(room, seat)][count] = at

    def frame(self, room: int, text: str, at: float) -> None:
        for seat_text, answered_text in TILE.findall(text):
            key, answered = (room, int(seat_text)), int(answered_text)
            if answered > self.seen.get(key, (-1, 0.0))[0]:
                self.seen[key] = (answered, at)
            waiting = self.acks.get(key)
            if waiting:
                for count in [c for c in waiting if c <= answered]:
                    self.latencies.append(max(0.0, at - waiting.pop(count)))

    def missing(self) -> int:
        return sum(len(v) for v in self.acks.values())


class Console(Browser):
    def __init__(self, base: str, username: str, room_id: int) -> None:
        super().__init__(base)
        self.username, self.room_id = username, room_id
        self.first_frame = asyncio.Event()
        self.frames = 0

    async def login(self) -> None:
        response = await self.post("/api/v1/login", {"username": self.username, "password": STAFF_PASSWORD})
        if response.status != 200:
            raise RuntimeError(f"staff login {self.username}: {response.status} {response.text[:160]}")

    async def connect(self, ws_base: str, sitting_id: int, tracker: ConsoleLatency, errors: Errors) -> None:
        self.ws = await self.open_socket(f"{ws_base}/ws/console/sittings/{sitting_id}/rooms/{self.room_id}")
        self.reader = asyncio.create_task(self._read(tracker, errors))
        await asyncio.wait_for(self.first_frame.wait(), 120)

    async def _read(self, tracker: ConsoleLatency, errors: Errors) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                at = time.perf_counter()
                self.first_frame.set()
                if raw:
                    self.frames += 1
                    tracker.frame(self.room_id, str(raw), at)
        except websockets.ConnectionClosed as exc:
            if not self.closing:
                errors.add("console_ws_closed", f"room {self.room_id}: {exc}")


# --- set-up ------------------------------------------------------------------------------------------


@dataclass
class Staff:
    chief: str
    invigilators: dict[int, str]  # room id → username


async def create_staff(url: str, settings: Settings, label: str, room_ids: list[int]) -> Staff:
    passwords = Passwords(settings)
    db = Database(url, pool_size=2)
    staff = Staff(f"bench-chief-{label}", {room: f"bench-inv-{label}-{room}" for room in room_ids})
    try:
        async with db.session() as session:
            for username, roles in [(staff.chief, ["chief"])] + [
                (u, ["invigilator"]) for u in staff.invigilators.values()
            ]:
                await security_service.create_user(
                    session,
                    passwords,
                    username=username,
                    display_name=username,
                    password=STAFF_PASSWORD,
                    roles=roles,
                    actor="bench",
                )
    finally:
        await db.close()
    return staff


async def place_start(url: str, sitting_id: int, end: datetime) -> None:
    """Set-up only: put S where E = S + 10 min falls right after the save phases (the attempts
    are checked in, none started, so nothing else depends on S yet)."""
    starts = end - timedelta(minutes=DURATION_MINUTES)
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        async with conn.transaction():
            await conn.execute("UPDATE sittings SET starts_at = $2 WHERE id = $1", sitting_id, starts)
            await conn.execute(
                "UPDATE attempts SET ends_at = $2 WHERE sitting_id = $1 AND started_at IS NULL", sitting_id, end
            )
    finally:
        await conn.close()


# --- the phases -----------------------------------------------------------------------------------


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(c: Any) -> Any:
        async with gate:
            return await c

    return await asyncio.gather(*(one(c) for c in coroutines), return_exceptions=True)


async def start_storm(
    terminals: list[Terminal], chief: Browser, sitting_id: int, ws_base: str, errors: Errors
) -> tuple[float, list[float]]:
    """The chief unseals, then every terminal at once: login, open the paper, receive it, connect."""
    t0 = time.perf_counter()
    unsealed = await chief.post(f"/api/v1/sittings/{sitting_id}/unseal")
    if unsealed.status != 200:
        errors.add("unseal", f"{unsealed.status} {unsealed.text[:160]}")
    times: list[float] = []

    async def one(t: Terminal) -> None:
        try:
            await t.sit_down()
            times.append(time.perf_counter() - t0)
            await t.connect(ws_base, errors)
        except Exception as exc:  # counted, the run goes on with the others
            errors.add("start_storm", f"{t.seat.ticket}: {type(exc).__name__} {exc}")

    await asyncio.gather(*(one(t) for t in terminals))
    return time.perf_counter() - t0, times


async def acknowledged(t: Terminal, position: int, phase: str, end_wall: float, errors: Errors) -> float | None:
    """One save and its latency once acknowledged; None when the candidate is to stop (an error,
    counted, or the refusal that must come once E has passed)."""
    try:
        latency, message = await t.save(position, t.answer_for(position, t.seq))
    except Exception as exc:
        errors.add(f"{phase}_save", f"{t.seat.ticket}: {type(exc).__name__} {exc}")
        return None
    if message.get("t") != "ack":
        if not (message.get("code") in ("closed", "ended") and time.time() >= end_wall):
            errors.add(f"{phase}_refused", f"{t.seat.ticket}: {message.get('code')}")
        return None
    return latency


async def steady_state(
    terminals: list[Terminal], think: float, until: float, end_wall: float, tracker: ConsoleLatency, errors: Errors
) -> list[float]:
    latencies: list[float] = []

    async def candidate(t: Terminal) -> None:
        if t.ws is None:
            return
        next_at = time.monotonic() + random.uniform(0, think)
        while True:
            if next_at >= until or t.new_positions >= len(t.items):
                return
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            position = t.new_positions + 1
            latency = await acknowledged(t, position, "steady", end_wall, errors)
            if latency is None:
                return
            latencies.append(latency)
            t.new_positions = position
            tracker.acked(t.seat.room_id, t.seat.seat_no, position, time.perf_counter())
            next_at += think

    await asyncio.gather(*(candidate(t) for t in terminals))
    return latencies


async def saturation(savers: list[Terminal], until: float, end_wall: float, errors: Errors) -> list[float]:
    latencies: list[float] = []

    async def saver(t: Terminal) -> None:
        if t.ws is None or not t.items:
            return
        n = 0
        while time.monotonic() < until:
            position = n % len(t.items) + 1
            n += 1
            latency = await acknowledged(t, position, "saturation", end_wall, errors)
            if latency is None:
                return
            latencies.append(latency)
            t.new_positions = max(t.new_positions, position)

    await asyncio.gather(*(saver(t) for t in savers))
    return latencies


async def end_storm(
    url: str, sitting_id: int, end: datetime, terminals: list[Terminal], errors: Errors
) -> dict[str, Any]:
    """From E: the server hands every attempt in; a tenth of the terminals try a save after E."""
    e_wall = end.timestamp()
    await asyncio.sleep(max(0.0, e_wall - time.time()))
    late = terminals[::10]

    async def late_save(t: Terminal) -> str:
        await asyncio.sleep(max(0.0, e_wall + 0.3 - time.time()))
        if t.ws is None or not t.items:
            return "skipped"
        try:
            _latency, message = await t.save(1, t.answer_for(1, t.seq + 1))
        except Exception as exc:
            errors.add("late_save", f"{t.seat.ticket}: {type(exc).__name__} {exc}")
            return "error"
        if message.get("t") == "ack":
            errors.add("ack_after_end", f"{t.seat.ticket}: a save at E + 0.3 s was acknowledged")
            return "ack"
        return str(message.get("code"))

    late_task = asyncio.gather(*(late_save(t) for t in late))
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    scored_s: float | None = None
    try:
        # Only attempts that were started are handed in at E (a candidate who never opened the
        # paper is absent, R-CLOCK-2); the start storm counts those who failed to start.
        started = await conn.fetchval(
            "SELECT count(*) FROM attempts WHERE sitting_id = $1 AND started_at IS NOT NULL", sitting_id
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            done = await conn.fetchval(
                "SELECT count(*) FROM attempts WHERE sitting_id = $1 AND started_at IS NOT NULL"
                " AND state = 'closed' AND scored_at IS NOT NULL",
                sitting_id,
            )
            if done >= started:
                scored_s = time.time() - e_wall
                break
            await asyncio.sleep(0.05)
        closing = started - done
    finally:
        await conn.close()
    if closing:
        errors.add("not_handed_in", f"{closing} attempts not submitted and scored 120 s after E")
    codes = Counter(await late_task)
    connected = [t for t in terminals if t.ws is not None]
    deadline = time.time() + 30
    while time.time() < deadline and any(t.receipt_at is None for t in connected):  # noqa: ASYNC110 - polls
        await asyncio.sleep(0.1)
    missing = [t for t in connected if t.receipt_at is None]
    if missing:
        errors.add("no_receipt", f"{len(missing)} terminals got no receipt within 30 s")
    receipts = [t.receipt_at - e_wall for t in connected if t.receipt_at is not None]
    return {
        "end_storm_s": round(scored_s, 3) if scored_s is not None else None,
        "end_receipts_s": round(max(receipts), 3) if receipts else None,
        "late_saves": dict(codes),
    }


def pgbench_binary() -> Path:
    import pgserver

    found = Path(pgserver.__file__).resolve().parent / "pginstall" / "bin" / "pgbench"
    if found.exists():
        return found
    other = shutil.which("pgbench")
    if other is None:
        raise SystemExit("pgbench not found (pgserver's pginstall/bin, or PATH)")
    return Path(other)


PGBENCH_SCRIPT = """\\set p random(1, 100)
INSERT INTO bench_pg_answers AS ans (attempt_id, position, response, flagged, seq, saved_at)
VALUES (:client_id + 1, :p, 'AB', false, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
ON CONFLICT (attempt_id, position) DO UPDATE
    SET response = EXCLUDED.response, flagged = EXCLUDED.flagged, seq = EXCLUDED.seq, saved_at = EXCLUDED.saved_at
    WHERE ans.seq < EXCLUDED.seq;
"""


async def pgbench(url: str, clients: int, seconds: float) -> float:
    """The ceiling of the database: the save's single-row upsert (one committed transaction each,
    synchronous commit as configured for the server) from ``clients`` connections."""
    conn = await asyncpg.connect(**asyncpg_connect_args(url))
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_pg_answers")
        await conn.execute("CREATE TABLE bench_pg_answers (LIKE answers INCLUDING ALL)")
    finally:
        await conn.close()
    args = asyncpg_connect_args(url)
    env = {**os.environ}
    if args.get("password"):
        env["PGPASSWORD"] = str(args["password"])
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(PGBENCH_SCRIPT)
        command = [
            str(pgbench_binary()),
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(max(1, round(seconds))),
            "-f",
            script.name,
            "-h",
            str(args["host"]),
            "-U",
            str(args["user"]),
        ]
        if args.get("port"):
            command += ["-p", str(args["port"])]
        command.append(str(args["database"]))
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, check=False)
    finally:
        os.unlink(script.name)
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            await conn.execute("DROP TABLE IF EXISTS bench_pg_answers")
        finally:
            await conn.close()
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr[-800:]}")
    return float(match.group(1))


# --- one run --------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def exercise(
    plan: Plan,
    base: str,
    url: str,
    seeded: SeededSitting,
    staff: Staff,
    server_pid: int | None,
) -> tuple[dict[str, Any], dict[tuple[int, int], str], Errors, RssSampler, list[Terminal]]:
    errors = Errors()
    ws_base = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    rss = RssSampler(server_pid)
    rss.start()
    terminals = [Terminal(base, seat) for seat in seeded.seats]
    consoles = [Console(base, staff.invigilators[room], room) for room in seeded.room_ids]
    chief = Browser(base)
    tracker = ConsoleLatency()
    result: dict[str, Any] = {}
    try:
        # Staff log in (argon2: a few at a time, as the server allows).
        response = await chief.post("/api/v1/login", {"username": staff.chief, "password": STAFF_PASSWORD})
        if response.status != 200:
            raise RuntimeError(f"chief login: {response.status} {response.text[:160]}")
        for outcome in await gather_limited([c.login() for c in consoles], 8):
            if isinstance(outcome, Exception):
                errors.add("staff_login", str(outcome))

        # S and E: E right after the save phases, with room for the consoles and the storm.
        connect_budget = 3 + len(consoles) * 0.05
        end = datetime.now(UTC) + timedelta(
            seconds=connect_budget + plan.storm_budget + plan.duration + plan.saturation + 2
        )
        end = end.replace(microsecond=0) + timedelta(seconds=1)
        await place_start(url, seeded.sitting_id, end)
        phase_end = end.timestamp() - 2  # wall clock: the save phases stop 2 s before E

        for outcome in await asyncio.gather(
            *(c.connect(ws_base, seeded.sitting_id, tracker, errors) for c in consoles), return_exceptions=True
        ):
            if isinstance(outcome, Exception):
                errors.add("console_connect", f"{type(outcome).__name__} {outcome}")

        # 1. start storm
        cpu0 = time.process_time()
        meter = CpuMeter(server_pid, await postmaster_pid(url))
        cpu: dict[str, dict[str, float]] = {}
        rss_at: dict[str, float] = {"before_start_storm": round(rss.sample(), 1)}
        storm_s, firsts = await start_storm(terminals, chief, seeded.sitting_id, ws_base, errors)
        result.update(
            start_storm_s=round(storm_s, 3),
            start_p50_s=round(percentile(firsts, 0.5), 3),
            start_p99_s=round(percentile(firsts, 0.99), 3),
            started=len(firsts),
        )
        cpu["start_storm"] = meter.lap()
        rss_at["after_start_storm"] = round(rss.sample(), 1)

        # 2. steady state: the time left before saturation and E, normally exactly --duration
        steady_s = max(0.0, min(plan.duration, phase_end - plan.saturation - time.time()))
        tracker.measuring = True
        steady_until = time.monotonic() + steady_s
        saves = await steady_state(terminals, plan.think, steady_until, end.timestamp(), tracker, errors)
        tracker.measuring = False
        grace = time.monotonic() + 3
        while tracker.missing() and time.monotonic() < grace:  # noqa: ASYNC110 - polls
            await asyncio.sleep(0.05)
        cpu["steady"] = meter.lap()
        rss_at["after_steady"] = round(rss.sample(), 1)
        missed = tracker.missing()
        if missed:
            errors.add("console_missed", f"{missed} acknowledged saves never reached their room console")
        result.update(
            steady_s=round(steady_s, 1),
            steady_saves=len(saves),
            save_p50_ms=ms(percentile(saves, 0.5)),
            save_p99_ms=ms(percentile(saves, 0.99)),
            console_updates=len(tracker.latencies),
            console_p50_ms=ms(percentile(tracker.latencies, 0.5)),
            console_p99_ms=ms(percentile(tracker.latencies, 0.99)),
        )

        # 3. saturation: savers spread over the rooms
        step = max(1, len(terminals) // plan.savers)
        savers = [t for t in terminals[::step] if t.ws is not None][: plan.savers]
        sat_s = max(0.5, min(plan.saturation, phase_end - time.time()))
        started = time.monotonic()
        peak = await saturation(savers, started + sat_s, end.timestamp(), errors)
        elapsed = time.monotonic() - started
        cpu["saturation"] = meter.lap()
        result.update(
            savers=len(savers),
            saturation_s=round(elapsed, 2),
            saves_per_s_peak=round(len(peak) / elapsed, 1) if elapsed else 0.0,
            saturation_p50_ms=ms(percentile(peak, 0.5)),
            saturation_p99_ms=ms(percentile(peak, 0.99)),
        )

        # 4. end storm
        meter.lap()  # the wait for E
        result.update(await end_storm(url, seeded.sitting_id, end, terminals, errors))
        cpu["end_storm"] = meter.lap()
        result["cpu_s"] = cpu
        result["server_rss_mb_at"] = rss_at
        result["client_cpu_s"] = round(time.process_time() - cpu0, 1)
        result["console_frames"] = sum(c.frames for c in consoles)
    finally:
        await asyncio.gather(*(c.close() for c in consoles), return_exceptions=True)
        await asyncio.gather(*(t.close() for t in terminals), return_exceptions=True)
        await rss.stop()
        await asyncio.gather(*(b.client.close() for b in [chief, *consoles, *terminals]), return_exceptions=True)
    acked = {
        (t.seat.candidate_id, position): response for t in terminals for position, (_seq, response) in t.acked.items()
    }
    return result, acked, errors, rss, terminals


def run(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    label = f"B{datetime.now(UTC):%H%M%S}"
    server: Server | None = None
    with local_site() if args.url is None else _external_site(args) as site:
        try:
            seed_started = time.perf_counter()
            seeded = asyncio.run(
                seed(
                    site.url,
                    site.settings,
                    plan.candidates,
                    label=label,
                    starts_at=datetime.now(UTC),
                    duration_minutes=DURATION_MINUTES,
                    unseal=False,
                )
            )
            staff = asyncio.run(create_staff(site.url, site.settings, label, seeded.room_ids))
            seed_s = time.perf_counter() - seed_started
            if args.url is None:
                server = Server(site, plan.workers, log_path=args.server_log, profile=args.profile)
                server.wait_ready()
                base, pid = server.base, server.process.pid
            else:
                base = args.url.rstrip("/")
                pid = listening_pid(urlsplit(base).port or 80)
            result, acked, errors, rss, _terminals = _run_async(plan, base, site.url, seeded, staff, pid)
            if server is not None:
                server.stop()
                server = None
            # 5. pgbench at the saturation's concurrency, on the same PostgreSQL
            try:
                pg = asyncio.run(pgbench(site.url, max(1, result.get("savers", plan.savers)), plan.saturation))
            except Exception as exc:
                errors.add("pgbench", str(exc))
                pg = 0.0
            # 6. audit
            lost = asyncio.run(lost_answers(site.url, acked))
        finally:
            if server is not None:
                server.stop()
    peak = result.get("saves_per_s_peak", 0.0)
    out: dict[str, Any] = {
        "candidates": plan.candidates,
        "workers": plan.workers if args.url is None else None,
        "rooms": len(seeded.room_ids),
        "quick": plan.quick,
        "think_s": plan.think,
        **result,
        "pg_upserts_per_s": round(pg, 1),
        "save_to_pg_ratio": round(peak / pg, 3) if pg else None,
        "acked_answers": len(acked),
        "lost_answers": lost,
        "errors": errors.total,
        "error_kinds": dict(errors.kinds),
        "first_errors": errors.examples,
        "server_rss_mb": round(rss.peak, 1) if pid is not None else None,
        "seed_s": round(seed_s, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    return out


def _run_async(
    plan: Plan, base: str, url: str, seeded: SeededSitting, staff: Staff, pid: int | None
) -> tuple[dict[str, Any], dict[tuple[int, int], str], Errors, RssSampler, list[Terminal]]:
    try:
        import uvloop

        return uvloop.run(exercise(plan, base, url, seeded, staff, pid))
    except ImportError:
        return asyncio.run(exercise(plan, base, url, seeded, staff, pid))


class _external_site:
    """``--url``: the server's database and keys, from this process's environment."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = load_settings()
        url = args.database_url or settings.database_url
        if not url:
            raise SystemExit("--url needs --database-url (or EXAMHALL_DATABASE_URL) to seed and audit")
        self.site = LocalSite(settings.data_dir, url, settings)

    def __enter__(self) -> LocalSite:
        return self.site

    def __exit__(self, *exc: object) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=None, help="candidates (default 2000; --quick 300)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--url", default=None, help="target a running server instead of starting one")
    parser.add_argument("--database-url", default=None, help="with --url: its PostgreSQL (EXAMHALL_DATABASE_URL)")
    parser.add_argument("--think", type=float, default=10.0, help="seconds between a candidate's saves (default 10)")
    parser.add_argument("--duration", type=float, default=None, help="steady state in s (default 60; --quick 15)")
    parser.add_argument("--saturation", type=float, default=None, help="saturation in s (default 10; --quick 5)")
    parser.add_argument("--savers", type=int, default=64, help="concurrent savers at saturation (default 64)")
    parser.add_argument("--storm-budget", type=float, default=None, help="s reserved for the start storm")
    parser.add_argument("--server-log", type=Path, default=None, help="keep the server's stderr in this file")
    parser.add_argument("--profile", type=Path, default=None, help="record the server with py-spy into this file")
    parser.add_argument("--quick", action="store_true", help="300 candidates, 15 s: the smoke test (< 1 min)")
    args = parser.parse_args(argv)
    candidates = args.candidates or (300 if args.quick else 2000)
    plan = Plan(
        candidates=candidates,
        workers=args.workers,
        think=args.think,
        duration=args.duration if args.duration is not None else (15.0 if args.quick else 60.0),
        saturation=args.saturation if args.saturation is not None else (5.0 if args.quick else 10.0),
        savers=min(args.savers, candidates),
        storm_budget=args.storm_budget if args.storm_budget is not None else max(6.0, candidates / 60),
        quick=args.quick,
    )
    print(json.dumps(run(plan, args), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
