"""Live progress of the seats for the invigilators' consoles, kept off the answer hot path.

A save does not publish anything itself: it notes (room, attempt) in this worker's
``RoomProgress``; every 100 ms the worker refreshes those attempts' answered count and last
activity in one statement and publishes, in one more, one small ``room:<id>`` event per room
that changed (ARCHITECTURE "The hot path": coalesce, publish after the commit, small signals
only). The events carry the new counters — ``answered`` aligned with ``attempts``, and ``at`` —
so that a console redraws those tiles without reading the database (console.room.Live).
Terminals' websockets opening and closing (the seat's connection state) are noted and sent the
same way: in the start storm two thousand sockets open within seconds, and one statement and one
event per room every 100 ms replace a write and an event for each.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from examhall.db import Database
from examhall.events import EventBus

log = logging.getLogger("examhall.sittings")

FLUSH_SECONDS: Final = 0.1

# Rows locked in id order, as every multi-row lock on attempts is taken (no deadlock between two
# workers' refreshes); saves lock their attempts FOR KEY SHARE, which this update does not wait for.
_REFRESH: Final = """
WITH l AS (SELECT id FROM attempts WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE)
UPDATE attempts AS a
SET answered_count = (SELECT count(*) FROM answers s WHERE s.attempt_id = a.id AND s.response <> ''),
    last_activity_at = now()
FROM l
WHERE a.id = l.id
RETURNING a.id, a.answered_count, a.last_activity_at
"""

_ONLINE: Final = """
WITH c AS (SELECT * FROM unnest($1::int[], $2::bool[]) AS c(id, online)),
l AS (SELECT id FROM attempts WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE)
UPDATE attempts AS a SET online = c.online, last_activity_at = now()
FROM c JOIN l ON l.id = c.id
WHERE a.id = c.id
RETURNING a.id, a.last_activity_at
"""


class RoomProgress:
    """One per worker process."""

    def __init__(self, db: Database, bus: EventBus, interval: float = FLUSH_SECONDS) -> None:
        self.db, self.bus, self.interval = db, bus, interval
        self.pending: dict[int, set[int]] = {}
        self.connections: dict[int, tuple[int, bool]] = {}  # attempt → (room, online): the latest

    def note(self, room_id: int, attempt_id: int) -> None:
        self.pending.setdefault(room_id, set()).add(attempt_id)

    def set_online(self, room_id: int, attempt_id: int, online: bool) -> None:
        """The terminal's live channel opened or closed (shown as the seat's connection state)."""
        self.connections[attempt_id] = (room_id, online)

    async def flush(self) -> int:
        if not self.pending and not self.connections:
            return 0
        batch, self.pending = self.pending, {}
        seen, self.connections = self.connections, {}
        ids = sorted({attempt for attempts in batch.values() for attempt in attempts})
        connected = sorted(seen)
        pool = await self.db.raw_pool()
        async with pool.acquire() as conn:
            rows = {r["id"]: r for r in await conn.fetch(_REFRESH, ids)} if ids else {}
            sightings = (
                {
                    r["id"]: r["last_activity_at"]
                    for r in await conn.fetch(_ONLINE, connected, [seen[a][1] for a in connected])
                }
                if connected
                else {}
            )
        events: list[tuple[str, dict[str, Any]]] = []
        by_room: dict[tuple[int, bool], list[int]] = {}
        for attempt_id in connected:
            if attempt_id in sightings:
                by_room.setdefault(seen[attempt_id], []).append(attempt_id)
        for (room_id, online), named in sorted(by_room.items()):
            at = max(sightings[a] for a in named)
            events.append(
                (
                    f"room:{room_id}",
                    {"kind": "online" if online else "offline", "attempts": named, "at": at.isoformat()},
                )
            )
        for room_id, attempts in sorted(batch.items()):
            shown = [a for a in sorted(attempts) if a in rows]
            if not shown:
                continue
            at = max(rows[a]["last_activity_at"] for a in shown)
            events.append(
                (
                    f"room:{room_id}",
                    {
                        "kind": "progress",
                        "attempts": shown,
                        "answered": [rows[a]["answered_count"] for a in shown],
                        "at": at.isoformat(),
                    },
                )
            )
        await self.bus.publish_many(events)
        return len(ids) + len(connected)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round retries; consoles resync on reconnect anyway
                log.exception("room progress flush failed")
