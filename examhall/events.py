"""The cross-worker event bus: publish(topic, data) / subscribe(topic).

Every server worker holds one dedicated asyncpg connection that LISTENs on one PostgreSQL
channel; a publish is one ``pg_notify`` carrying ``{"t": topic, "s": seq, "d": data}``. The
sequence number comes from a database sequence, so it is monotonic across all workers, and
a console that reconnects can tell whether it missed something.

Rules of use (ARCHITECTURE.md, "the hot path"):
- publish *after* the commit, never inside a transaction (a NOTIFY in a transaction takes a
  database-wide lock at commit). Inside a request, use :func:`publish_after_commit`; the
  session provider sends the queued events once the transaction has committed.
- publish small signals (ids, counters), never whole pages: the payload is capped at 8,000 bytes.
- a subscriber that falls behind, or whose worker lost its listening connection, receives a
  :data:`RESYNC` marker and must reload the full state of what it shows.

We use our own listener rather than Litestar's channels plugin: its PostgreSQL backends
have had delivery bugs (litestar issue #4110), and this module is small enough to own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

import asyncpg

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from examhall.db import Database

log = logging.getLogger(__name__)

CHANNEL: Final = "examhall_events"
MAX_PAYLOAD_BYTES: Final = 8000
QUEUE_SIZE: Final = 256
_PENDING_KEY: Final = "examhall_pending_events"


@dataclasses.dataclass(frozen=True)
class Event:
    topic: str
    seq: int
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Resync:
    """Events may have been missed: reload the full state."""

    reason: str


RESYNC_LAGGED: Final = Resync("subscriber fell behind")
RESYNC_RECONNECTED: Final = Resync("event listener reconnected")


class Subscription:
    def __init__(self, bus: EventBus, topics: frozenset[str]) -> None:
        self.bus = bus
        self.topics = topics
        self.queue: asyncio.Queue[Event | Resync] = asyncio.Queue(maxsize=QUEUE_SIZE)

    def deliver(self, item: Event | Resync) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Drop what is queued and tell the subscriber to reload: never a silent gap.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC_LAGGED)

    async def get(self) -> Event | Resync:
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Event | Resync]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event | Resync]:
        while True:
            yield await self.queue.get()


class EventBus:
    """One per worker process. ``start()`` at app startup, ``stop()`` at shutdown."""

    def __init__(self, db: Database, reconnect_seconds: float = 1.0) -> None:
        self.db = db
        self.reconnect_seconds = reconnect_seconds
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._conn: asyncpg.Connection | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stopping = False
        self.listening = asyncio.Event()
        db.bus = self

    async def start(self) -> None:
        self._stopping = False
        await self._connect()
        self._watchdog = asyncio.create_task(self._watch(), name="examhall-event-listener")

    async def stop(self) -> None:
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._conn = None
        self.listening.clear()

    async def _connect(self) -> None:
        from examhall.db import asyncpg_connect_args

        conn = await asyncpg.connect(**asyncpg_connect_args(self.db.url))
        await conn.add_listener(CHANNEL, self._on_notify)
        self._conn = conn
        self.listening.set()

    async def _watch(self) -> None:
        """Reconnect the listening connection if it drops; subscribers then resync."""
        while not self._stopping:
            await asyncio.sleep(self.reconnect_seconds)
            if self._conn is not None and not self._conn.is_closed():
                try:
                    await self._conn.execute("SELECT 1")
                    continue
                except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
                    log.warning("event listener connection lost")
            self.listening.clear()
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event listener cannot reconnect yet: %s", exc)
                continue
            log.info("event listener reconnected")
            for subs in self._subscriptions.values():
                for sub in subs:
                    sub.deliver(RESYNC_RECONNECTED)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            raw = json.loads(payload)
            event = Event(topic=raw["t"], seq=int(raw["s"]), data=raw["d"])
        except (ValueError, KeyError, TypeError):
            log.error("malformed event payload ignored: %.200s", payload)
            return
        for sub in self._subscriptions.get(event.topic, ()):
            sub.deliver(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[Subscription]:
        sub = Subscription(self, frozenset(topics))
        for topic in topics:
            self._subscriptions.setdefault(topic, set()).add(sub)
        try:
            yield sub
        finally:
            for topic in topics:
                subs = self._subscriptions.get(topic)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscriptions[topic]

    async def publish(self, topic: str, data: dict[str, Any]) -> int:
        """Send an event to every subscriber of ``topic`` in every worker; returns its sequence."""
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if len(body.encode()) + len(topic.encode()) + 64 > MAX_PAYLOAD_BYTES:
            raise ValueError(f"event payload for {topic!r} exceeds {MAX_PAYLOAD_BYTES} bytes; publish ids")
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            seq = await conn.fetchval(
                """
                WITH s AS (SELECT nextval('event_seq') AS seq)
                SELECT s.seq FROM s, LATERAL (
                    SELECT pg_notify($1, json_build_object('t', $2::text, 's', s.seq, 'd', $3::json)::text)
                ) n
                """,
                CHANNEL,
                topic,
                body,
            )
        return int(seq)

    async def publish_many(self, events: list[tuple[str, dict[str, Any]]]) -> list[int]:
        """Send several events in one statement, in order (what one commit queued)."""
        if not events:
            return []
        topics, bodies = [], []
        for topic, data in events:
            body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            if len(body.encode()) + len(topic.encode()) + 64 > MAX_PAYLOAD_BYTES:
                raise ValueError(f"event payload for {topic!r} exceeds {MAX_PAYLOAD_BYTES} bytes; publish ids")
            topics.append(topic)
            bodies.append(body)
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """
                WITH e AS (
                    SELECT t.topic, t.body, t.n, nextval('event_seq') AS seq
                    FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(topic, body, n)
                    ORDER BY t.n
                )
                SELECT e.seq, pg_notify($1, json_build_object('t', e.topic, 's', e.seq, 'd', e.body::json)::text)
                FROM e ORDER BY e.n
                """,
                CHANNEL,
                topics,
                bodies,
            )
        return [int(r["seq"]) for r in rows]


def publish_after_commit(session: AsyncSession, topic: str, data: dict[str, Any]) -> None:
    """Queue an event on the session; it is published once the session's transaction commits."""
    session.info.setdefault(_PENDING_KEY, []).append((topic, data))


async def flush_after_commit(session: AsyncSession, bus: EventBus | None) -> None:
    """Publish what the committed transaction queued (called by :meth:`Database.session`)."""
    pending: list[tuple[str, dict[str, Any]]] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    if bus is None:
        log.warning("no event bus running; %d event(s) not published", len(pending))
        return
    try:
        if len(pending) == 1:
            await bus.publish(*pending[0])
        else:
            await bus.publish_many(pending)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        # The transaction is committed; a lost signal only delays a console, which resyncs.
        log.exception("%d event(s) could not be published after commit", len(pending))
