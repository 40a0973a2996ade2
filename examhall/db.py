"""The one place for database connections and sessions.

- :class:`EmbeddedPostgres` starts PostgreSQL (the ``pgserver`` package's binaries) in the
  data folder when no ``EXAMHALL_DATABASE_URL`` is given, and stops it on exit.
- :class:`Database` owns the SQLAlchemy async engine, the session factory and a small raw
  asyncpg pool for measured hot paths and for the event bus's NOTIFY.
- :func:`upgrade` applies the Alembic migrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from examhall.config import Settings

if TYPE_CHECKING:
    from examhall.events import EventBus

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Stable constraint names so that Alembic migrations stay readable and reproducible.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every ORM model of every domain."""

    metadata = MetaData(naming_convention=NAMING)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or started; the message says why in plain words."""


class EmbeddedPostgres:
    """PostgreSQL 16 from pgserver, running in ``<data>/pg`` on a unix socket only."""

    def __init__(self, pg_dir: Path) -> None:
        self.pg_dir = pg_dir
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the cluster and return a libpq URL for the ``examhall`` database."""
        from pgserver.postgres_server import get_server

        # pgserver logs every pg_ctl call at INFO; the operator needs only its problems.
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._server = get_server(self.pg_dir, cleanup_mode="stop")
        except Exception as exc:
            raise DatabaseUnavailable(f"could not start the embedded PostgreSQL in {self.pg_dir}: {exc}") from exc
        exists = self._server.psql("SELECT 1 FROM pg_database WHERE datname = 'examhall';")
        if "(1 row)" not in exists:
            self._server.psql("CREATE DATABASE examhall;")
        return str(self._server.get_uri("examhall"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def asyncpg_url(url: str) -> str:
    """SQLAlchemy's spelling of a libpq URL for the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise DatabaseUnavailable(f"EXAMHALL_DATABASE_URL must be a postgresql:// URL, got {url.split(':')[0]}:…")


def libpq_url(url: str) -> str:
    """Plain libpq URL (what asyncpg.connect, psql and pg_dump understand)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """asyncpg.connect() keywords for a URL; handles the unix-socket ``?host=/dir`` form."""
    parts = urlsplit(libpq_url(url))
    query = parse_qs(parts.query)
    args: dict[str, Any] = {
        "user": parts.username or "postgres",
        "password": parts.password or None,
        "database": (parts.path or "/postgres").lstrip("/") or "postgres",
    }
    if "host" in query:
        args["host"] = query["host"][0]
    else:
        args["host"] = parts.hostname or "127.0.0.1"
        args["port"] = parts.port or 5432
    return args


class Database:
    """Engine, session factory and raw pool of one process (one server worker)."""

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = libpq_url(url)
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._raw_pool: asyncpg.Pool | None = None
        self._raw_pool_made: asyncio.Future[asyncpg.Pool] | None = None
        self._pool_size = pool_size
        self.bus: EventBus | None = None

    async def raw_pool(self) -> asyncpg.Pool:
        """A raw asyncpg pool for hot paths (answer saves) and NOTIFY; created on first use.

        Its users leave no session state behind (no SET, LISTEN, cursors or session-level advisory
        locks), so a connection goes back to the pool without asyncpg's reset query — a round trip
        per use otherwise, on every save and every terminal request; an open transaction is still
        rolled back."""
        if self._raw_pool is None:
            if self._raw_pool_made is None:  # the first of concurrent callers makes it, the others wait
                self._raw_pool_made = asyncio.ensure_future(
                    asyncpg.create_pool(
                        **asyncpg_connect_args(self.url), min_size=1, max_size=self._pool_size, reset=_keep_session
                    )
                )
            made = self._raw_pool_made
            try:
                pool = await asyncio.shield(made)
            except BaseException:
                if made.done() and not made.cancelled() and made.exception() is not None:
                    self._raw_pool_made = None  # try again on the next call
                raise
            if self._raw_pool is None:
                self._raw_pool = pool
        return self._raw_pool

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends without error.

        Events queued with :func:`examhall.events.publish_after_commit` go out after the commit.
        """
        from examhall import events

        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await events.flush_after_commit(session, self.bus)

    async def ping(self) -> None:
        pool = await self.raw_pool()
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        if self._raw_pool is not None:
            await self._raw_pool.close()
            self._raw_pool = None
        self._raw_pool_made = None
        await self.engine.dispose()


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The raw pool's reset: nothing to reset (see Database.raw_pool)."""


def resolve_database_url(settings: Settings, embedded: EmbeddedPostgres | None = None) -> str:
    """The configured external URL, or the URL of the embedded server (started if needed)."""
    if settings.database_url:
        return settings.database_url
    if embedded is None:
        raise DatabaseUnavailable("no EXAMHALL_DATABASE_URL and no embedded PostgreSQL started")
    return embedded.start()


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (synchronous; call outside an event loop)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = libpq_url(url)
    command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    async def read() -> str | None:
        conn = await asyncpg.connect(**asyncpg_connect_args(url))
        try:
            exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
            if not exists:
                return None
            value = await conn.fetchval("SELECT version_num FROM alembic_version")
            return str(value) if value is not None else None
        finally:
            await conn.close()

    return asyncio.run(read())


def database_url_from_env() -> str:
    """For worker processes spawned by ``examhall serve``: the parent puts the URL in the env."""
    url = os.environ.get("EXAMHALL_DATABASE_URL", "")
    if not url:
        raise DatabaseUnavailable("EXAMHALL_DATABASE_URL is not set for this worker")
    return url
