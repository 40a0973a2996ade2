"""Which console frames read the database and are therefore drawn at most every
READ_FRAME_SECONDS (console.room_pages.needs_read): answer progress and connections that carry
their counters are drawn at once from memory; starts, pauses, hand-ins and resyncs read."""

from __future__ import annotations

from typing import Any

from examhall.console.room_pages import needs_read
from examhall.events import Event, Resync


def event(**data: Any) -> Event:
    return Event(topic="room:1", seq=1, data=data)


PROGRESS = event(kind="progress", attempts=[1, 2], answered=[3, 4], at="2026-12-05T01:00:00+00:00")
ONLINE = event(kind="online", attempts=[1], at="2026-12-05T01:00:00+00:00")
OFFLINE = event(kind="offline", attempts=[2], at="2026-12-05T01:00:00+00:00")


def test_counted_progress_and_connections_are_drawn_without_the_database() -> None:
    assert needs_read([PROGRESS]) is False
    assert needs_read([PROGRESS, ONLINE, OFFLINE]) is False
    assert needs_read([]) is False


def test_a_start_a_pause_or_a_hand_in_reads_the_database() -> None:
    for kind in ("started", "paused", "resumed", "submitted", "moved", "absent", "presence"):
        assert needs_read([event(kind=kind, attempt=7, seat=3)]) is True, kind
        assert needs_read([PROGRESS, event(kind=kind, attempt=7)]) is True, kind


def test_a_resync_reads_the_database() -> None:
    assert needs_read([PROGRESS, Resync("subscriber fell behind")]) is True


def test_progress_without_its_counters_reads_the_database() -> None:
    assert needs_read([event(kind="progress", attempts=[1])]) is True
    assert needs_read([event(kind="online")]) is True
