"""The cross-worker event bus (events.py) over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from examhall.config import Settings
from examhall.db import Database
from examhall.events import MAX_PAYLOAD_BYTES, QUEUE_SIZE, Event, EventBus, Resync
from tests.conftest import LiveServer, free_port, json_post, login, make_user, truncate_all

PASSWORD = "correct-horse-9"


def test_publish_reaches_every_subscriber_of_the_topic_in_order(pg_url: str) -> None:
    async def main() -> None:
        db = Database(pg_url, pool_size=2)
        bus = EventBus(db)
        await bus.start()
        try:
            async with bus.subscribe("room:1") as room1, bus.subscribe("room:2") as room2:
                seqs = [await bus.publish("room:1", {"seat": n}) for n in range(3)]
                got = [await asyncio.wait_for(room1.get(), 5) for _ in range(3)]
                assert all(isinstance(e, Event) for e in got)
                assert [e.data["seat"] for e in got if isinstance(e, Event)] == [0, 1, 2]
                assert [e.seq for e in got if isinstance(e, Event)] == seqs
                assert seqs == sorted(seqs)
                assert len(set(seqs)) == 3
                # Another topic's subscriber got nothing.
                assert room2.queue.empty()
        finally:
            await bus.stop()
            await db.close()

    asyncio.run(main())


def test_oversized_payload_is_refused_before_it_reaches_postgres(pg_url: str) -> None:
    async def main() -> None:
        db = Database(pg_url, pool_size=1)
        bus = EventBus(db)
        try:
            with pytest.raises(ValueError, match="exceeds"):
                await bus.publish("room:1", {"blob": "x" * MAX_PAYLOAD_BYTES})
        finally:
            await db.close()

    asyncio.run(main())


def test_a_subscriber_that_falls_behind_is_told_to_resync(pg_url: str) -> None:
    async def main() -> None:
        db = Database(pg_url, pool_size=2)
        bus = EventBus(db)
        await bus.start()
        try:
            async with bus.subscribe("sitting:7") as slow:
                for n in range(QUEUE_SIZE + 5):
                    await bus.publish("sitting:7", {"n": n})
                # Wait for the notifications to arrive, then look at what the slow reader gets.
                deadline = time.monotonic() + 5
                first: Event | Resync | None = None
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    if not slow.queue.empty():
                        first = slow.queue.get_nowait()
                        if isinstance(first, Resync):
                            break
                assert isinstance(first, Resync)
        finally:
            await bus.stop()
            await db.close()

    asyncio.run(main())


def test_listener_reconnects_and_subscribers_resync_after_losing_the_connection(pg_url: str) -> None:
    async def main() -> None:
        db = Database(pg_url, pool_size=2)
        bus = EventBus(db, reconnect_seconds=0.1)
        await bus.start()
        try:
            async with bus.subscribe("staff") as sub:
                pool = await db.raw_pool()
                async with pool.acquire() as conn:
                    # Kill this worker's listening connection, as a database restart would.
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
                    )
                item = await asyncio.wait_for(sub.get(), 10)
                assert isinstance(item, Resync)
                await asyncio.wait_for(bus.listening.wait(), 10)
                seq = await bus.publish("staff", {"after": "reconnect"})
                again = await asyncio.wait_for(sub.get(), 5)
                assert isinstance(again, Event)
                assert again.seq == seq
        finally:
            await bus.stop()
            await db.close()

    asyncio.run(main())


class Worker:
    """A separate server process, as `examhall serve --workers N` starts them."""

    def __init__(self, url: str, data_dir: Path, secret: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "EXAMHALL_DATABASE_URL": url,
            "EXAMHALL_DATA": str(data_dir),
            "EXAMHALL_SECRET_KEY": secret,
            "EXAMHALL_LOG_LEVEL": "WARNING",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "examhall.app:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--log-level",
                "warning",
            ],
            env=env,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "worker exited"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("worker did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


@pytest.fixture
def two_workers(pg_url: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    truncate_all(pg_url)
    workers = (
        Worker(pg_url, tmp_path, "shared-secret-0123456789"),
        Worker(pg_url, tmp_path, "shared-secret-0123456789"),
    )
    try:
        for w in workers:
            w.wait_ready()
        yield workers
    finally:
        for w in workers:
            w.stop()


def test_event_published_by_a_request_on_one_worker_reaches_a_websocket_on_the_other(
    two_workers: tuple[Worker, Worker], pg_url: str, test_settings: Settings
) -> None:
    worker_a, worker_b = two_workers
    make_user(pg_url, test_settings, "zhangmin", ["invigilator"])
    make_user(pg_url, test_settings, "lichief", ["chief"])

    with httpx.Client(base_url=worker_a.base) as invigilator, httpx.Client(base_url=worker_b.base) as chief:
        assert login(invigilator, "zhangmin", PASSWORD).status_code == 302
        assert login(chief, "lichief", PASSWORD).status_code == 302
        pid_a = invigilator.get("/healthz").headers["x-examhall-worker"]
        pid_b = chief.get("/healthz").headers["x-examhall-worker"]
        assert pid_a != pid_b, "the two workers must be separate processes"

        cookie = f"examhall_session={invigilator.cookies['examhall_session']}"
        ws_url = f"ws://127.0.0.1:{worker_a.port}/ws/staff"
        with connect(ws_url, additional_headers={"Cookie": cookie}, open_timeout=10) as socket:
            first = str(socket.recv(timeout=10))
            assert 'id="notices"' in first  # full state on connect
            posted = json_post(chief, "/api/v1/notices", {"text": "第一考场 09:30 开考，请各监考员就位"})
            assert posted.status_code == 201, posted.text
            started = time.monotonic()
            frame = ""
            while "09:30 开考" not in frame:
                frame = str(socket.recv(timeout=10))
            elapsed = time.monotonic() - started
            assert f'data-notice-id="{posted.json()["id"]}"' in frame
            assert 'hx-swap-oob="afterbegin"' in frame
            assert elapsed < 5


def test_staff_stream_refuses_anonymous_and_cross_site_connections(
    live_server: LiveServer, clean_db: str, test_settings: Settings
) -> None:
    base_ws = live_server.ws_url
    with pytest.raises(InvalidStatus):
        connect(f"{base_ws}/ws/staff", open_timeout=5)
    make_user(clean_db, test_settings, "zhangmin", ["invigilator"])
    with httpx.Client(base_url=live_server.url) as client:
        login(client, "zhangmin", PASSWORD)
        cookie = f"examhall_session={client.cookies['examhall_session']}"
    with connect(f"{base_ws}/ws/staff", additional_headers={"Cookie": cookie}, open_timeout=5) as ok:
        assert "notices" in str(ok.recv(timeout=5))  # the same login from our own origin is let in
    with pytest.raises(InvalidStatus):
        connect(
            f"{base_ws}/ws/staff",
            additional_headers={"Cookie": cookie},
            origin="http://evil.example",  # type: ignore[arg-type]
            open_timeout=5,
        )
