"""Shared fixtures: one embedded PostgreSQL per test run (real, never SQLite), migrated once.

- ``pg_url``: the migrated test database (or EXAMHALL_TEST_DATABASE_URL, an external server).
- ``live_server``: the real app under uvicorn on a free port in a background thread;
  tests talk to it over real HTTP and websockets.
- every test that touches the database starts from empty tables (``clean_db``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from examhall.app import create_app
from examhall.config import Settings, load_settings
from examhall.db import Database, EmbeddedPostgres, asyncpg_connect_args, upgrade

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("EXAMHALL_TEST_DATABASE_URL")
    if external:
        upgrade(external)
        yield external
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "pg")
    url = embedded.start()
    upgrade(url)
    yield url
    embedded.stop()


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("data")
    return load_settings(env={}, data_dir=data, secret_key="test-secret-key-0123456789abcdef")


def run_db(url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run async database work from a synchronous test, on a fresh connection."""

    async def main() -> T:
        db = Database(url, pool_size=1)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(main())


def sql(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    """Run one SQL statement as the superuser and return its rows as dicts."""
    import asyncpg

    async def main() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return asyncio.run(main())


TABLES_KEPT = {"alembic_version"}


def truncate_all(url: str) -> None:
    """Empty every table. Ids restart at 1, but a live server running in this process keeps
    decrypted papers by id: they are forgotten too, or a paper of an earlier test would be served."""
    import asyncpg

    from examhall.sittings import examday

    examday._PAPERS.clear()

    async def main() -> None:
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            tables = [
                r["tablename"]
                for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                if r["tablename"] not in TABLES_KEPT
            ]
            # The audit log refuses TRUNCATE by trigger; replica mode switches triggers off for the
            # test harness only (it needs superuser rights, which the application never uses).
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(main())


@pytest.fixture
def clean_db(pg_url: str) -> str:
    truncate_all(pg_url)
    return pg_url


class LiveServer:
    """The real application served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, url),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(pg_url: str, test_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(test_settings, pg_url)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(live_server: LiveServer, clean_db: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=20) as c:
        yield c


def csrf_token(client: httpx.Client) -> str:
    """The double-submit CSRF token: fetched with a GET the way a browser would get it."""
    token = client.cookies.get("csrftoken")
    if token is None:
        client.get("/login")
        token = client.cookies.get("csrftoken")
    assert token, "the server set no CSRF cookie"
    return token


def form_post(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    return client.post(path, data={**data, "_csrf_token": csrf_token(client)})


def json_post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body, headers={"x-csrftoken": csrf_token(client)})


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return form_post(client, "/login", {"username": username, "password": password, "next": "/"})


def make_user(url: str, settings: Settings, username: str, roles: list[str], password: str = "correct-horse-9") -> None:
    from examhall.security import service
    from examhall.security.passwords import Passwords

    async def work(db: Database) -> None:
        async with db.session() as session:
            await service.create_user(
                session,
                Passwords(settings),
                username=username,
                display_name=username.title(),
                password=password,
                roles=roles,
                actor="test",
            )

    run_db(url, work)


REPO = Path(__file__).resolve().parent.parent
