"""Live progress of the seats for the invigilators' consoles, kept off the answer hot path.

A save does not publish anything itself: it notes (room, attempt) in this worker's
``RoomProgress``; every 100 ms the worker refreshes those attempts' answered count and last
activity in one statement and publishes one small ``room:<id>`` event per room that changed
(ARCHITECTURE "The hot path": coalesce, publish after the commit, small signals only).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from examhall.db import Database
from examhall.events import EventBus

log = logging.getLogger("examhall.sittings")

FLUSH_SECONDS: Final = 0.1

_REFRESH: Final = """
UPDATE attempts AS a
SET answered_count = (SELECT count(*) FROM answers s WHERE s.attempt_id = a.id AND s.response <> ''),
    last_activity_at = now()
WHERE a.id = ANY($1::int[])
"""

_ONLINE: Final = "UPDATE attempts SET online = $2, last_activity_at = now() WHERE id = $1"


class RoomProgress:
    """One per worker process."""

    def __init__(self, db: Database, bus: EventBus, interval: float = FLUSH_SECONDS) -> None:
        self.db, self.bus, self.interval = db, bus, interval
        self.pending: dict[int, set[int]] = {}

    def note(self, room_id: int, attempt_id: int) -> None:
        self.pending.setdefault(room_id, set()).add(attempt_id)

    async def flush(self) -> int:
        if not self.pending:
            return 0
        batch, self.pending = self.pending, {}
        ids = sorted({attempt for attempts in batch.values() for attempt in attempts})
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            await conn.execute(_REFRESH, ids)
        for room_id, attempts in batch.items():
            await self.bus.publish(f"room:{room_id}", {"kind": "progress", "attempts": sorted(attempts)})
        return len(ids)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round retries; consoles resync on reconnect anyway
                log.exception("room progress flush failed")

    async def set_online(self, room_id: int, attempt_id: int, online: bool) -> None:
        """The terminal's live channel opened or closed (shown as the seat's connection state)."""
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            await conn.execute(_ONLINE, attempt_id, online)
        await self.bus.publish(f"room:{room_id}", {"kind": "online" if online else "offline", "attempts": [attempt_id]})
