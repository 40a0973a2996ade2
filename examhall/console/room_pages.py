"""The invigilator's live room console (考场监控): the seat map page, its websocket, check-in
and moves from the console, and the same view as JSON under /api/v1.

The page connects with the htmx ws extension; the server first sends the full state (every
tile, the header and the lists, each an out-of-band swap by id), then for each ``room:<id>``
event only the tiles of the attempts it names, and the full state again on a Resync, on a
reconnect, and whenever the clock alone changes a tile (S + 30 min, E − 30, E − 15, E).
ARCHITECTURE "The hot path": events are small signals; the tiles are read back in a
bounded number of queries (console.room).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.exceptions import NotFoundException, WebSocketDisconnect
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT
from sqlalchemy import select

from examhall.batches.models import Candidate, CandidatePhoto, Room, SeatAssignment
from examhall.console import room as rooms
from examhall.db import Database
from examhall.deps import BusDep, DatabaseDep, DbSession, SettingsDep
from examhall.events import Event, Resync, Subscription
from examhall.i18n import N_, _, site_time
from examhall.security.rules import INVIGILATOR
from examhall.security.web import actor_of, principal_of, requires
from examhall.sittings import clock as clk
from examhall.sittings import examday
from examhall.sittings.models import Attempt, Sitting
from examhall.sittings.routes import REFUSALS
from examhall.sittings.service import SittingError
from examhall.websocket import KEEPALIVE_SECONDS, POLICY_VIOLATION, same_origin

log = logging.getLogger("examhall.console")

PAGE_PATH: Final = "/console/sittings/{sitting_id:int}/rooms/{room_id:int}"
WS_PATH: Final = "/ws/console/sittings/{sitting_id:int}/rooms/{room_id:int}"
API_PATH: Final = "/api/v1/console/sittings/{sitting_id:int}/rooms/{room_id:int}"

# What each tile status reads as (the colour repeats it; never colour alone).
STATUS_LABELS: Final[dict[str, str]] = {
    "empty": N_("No candidate"),
    "expected": N_("Expected"),
    "checked_in": N_("Checked in, waiting"),
    "working": N_("Working"),
    "on_break": N_("On a break"),
    "paused": N_("Paused"),
    "final_minutes": N_("Final minutes"),
    "time_up": N_("Time up, handing in"),
    "submitted": N_("Handed in"),
    "auto_submitted": N_("Handed in automatically"),
    "absent": N_("Absent"),
    "withdrawn": N_("Withdrawn"),
    "rescheduled": N_("To be rescheduled"),
    "free": N_("Free spare terminal"),
}

# Check-in refusals as the invigilator reads them (the candidate-facing REFUSALS say "you").
CHECKIN_REFUSALS: Final[dict[str, str]] = {
    "checkin_not_open": N_("Check-in opens at %(time)s, 20 minutes before the start."),
    "barred": N_("Check-in closed at %(time)s, 30 minutes after the start: the candidate is absent."),
    "other_room": N_("%(name)s is seated in %(room)s, seat %(seat)s — not in this room."),
    "already": N_("%(name)s was already checked in — seat %(seat)s."),
    "empty": N_("Scan the admission ticket's QR code or type the ticket or ID number."),
}
MOVE_MESSAGES: Final[dict[str, str]] = {
    "moved": N_("%(name)s moved to %(label)s. Their clock stops until they log in there; the lost time is added."),
    "not_here": N_("This candidate is not in this room."),
    "no_spare": N_("This room has no free spare terminal."),
}

# Event kinds of the hot path: only the named tiles change, never the counts.
_PROGRESS_KINDS: Final = frozenset({"progress", "online", "offline"})
# Kinds after which the whole room is sent again (spare terminals and lists change).
_FULL_KINDS: Final = frozenset({clk.EventKind.MOVED.value, "absent"})
# Events redraw the tiles they name from a read of those attempts; the whole room is read again
# at least this often (and on a Resync, a reconnect, and whenever the clock alone changes a tile).
FULL_READ_SECONDS: Final = 60.0
# A frame that reads the database (a start, a pause, a hand-in: the header's counts change) is
# drawn at once after two quiet seconds, else two seconds after the last one, with every such
# event of the wait in it. In the start storm a room's thirty starts then cost a few reads
# instead of thirty. Answer progress and connections (counters carried by the event) are drawn
# at once all the same.
READ_FRAME_SECONDS: Final = 2.0


def needs_read(items: Iterable[Event | Resync]) -> bool:
    """Whether drawing these events reads the database (anything but answer progress and
    connections that carry their counters)."""
    for item in items:
        if isinstance(item, Resync):
            return True
        kind = str(item.data.get("kind", ""))
        if kind not in _PROGRESS_KINDS or not isinstance(item.data.get("attempts"), list):
            return True
        if kind == "progress" and not isinstance(item.data.get("answered"), list):
            return True
    return False


class CheckInForm(msgspec.Struct):
    ticket_or_id: str = ""


class MoveForm(msgspec.Struct):
    attempt_id: int = 0
    terminal_id: int = 0


def now_utc() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def console_path(sitting_id: int, room_id: int) -> str:
    return f"/console/sittings/{sitting_id}/rooms/{room_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def tile_json(tile: rooms.SeatTile) -> dict[str, Any]:
    return {
        "id": tile.dom_id,
        "seat_no": tile.seat_no,
        "row": tile.row,
        "column": tile.column,
        "spare": tile.is_spare,
        "terminal_id": tile.terminal_id,
        "spare_label": tile.spare_label,
        "from_seat": tile.from_seat,
        "status": tile.status,
        "status_text": _(STATUS_LABELS[tile.status]),
        "incidents": tile.incidents,
        "candidate": None
        if tile.candidate_id is None
        else {"id": tile.candidate_id, "name": tile.name, "ticket": tile.ticket},
        "attempt_id": tile.attempt_id,
        "started": tile.started,
        "answered": tile.answered,
        "total": tile.total,
        "last_activity_at": _iso(tile.last_activity_at),
        "online": tile.online,
        "may_submit": tile.may_submit,
        "submit_opens_at": _iso(tile.submit_opens_at),
        "end_time": _iso(tile.end_time),
        "remaining_s": tile.remaining_s,
        "counting_to": _iso(tile.counting_to),
        "start_deadline": _iso(tile.start_deadline),
        "late_by_s": tile.late_by_s,
        "compensation_s": tile.compensation_s,
        "on_break": tile.on_break,
        "moved_to": tile.moved_to,
    }


def view_json(view: rooms.RoomView) -> dict[str, Any]:
    summary = view.summary
    return {
        "sitting": {
            "id": view.sitting.id,
            "title": view.sitting.title,
            "starts_at": view.sitting.starts_at.isoformat(),
            "duration_minutes": view.sitting.duration_minutes,
        },
        "room": {
            "id": view.room.id,
            "site": view.room.site,
            "name": view.room.name,
            "seat_count": view.room.seat_count,
            "columns": view.room.columns,
        },
        "server_now": view.now.isoformat(),
        "checkin_opens_at": view.checkin_opens_at.isoformat(),
        "start_deadline": view.start_deadline.isoformat(),
        "start_deadline_passed": view.deadline_passed,
        "summary": {
            "expected": summary.expected,
            "present": summary.present,
            "not_arrived": summary.not_arrived,
            "waiting": summary.waiting,
            "working": summary.working,
            "submitted": summary.submitted,
            "absent": summary.absent,
            "withdrawn": summary.withdrawn,
            "rescheduled": summary.rescheduled,
            "online": summary.online,
            "invigilators_needed": summary.invigilators_needed,
        },
        "not_arrived": [{"seat_no": n.seat_no, "name": n.name, "ticket": n.ticket} for n in view.not_arrived],
        "free_spares": [{"terminal_id": s.terminal_id, "label": s.label} for s in view.free_spares],
        "tiles": [tile_json(t) for t in view.tiles],
        "invigilators": view.invigilators,
        "understaffed": view.understaffed,
    }


def _context(view: rooms.RoomView, **more: Any) -> dict[str, Any]:
    return {
        "view": view,
        "sitting": view.sitting,
        "room": view.room,
        "labels": STATUS_LABELS,
        "base": console_path(view.sitting.id, view.room.id),
        **more,
    }


def _refusal(code: str, **facts: Any) -> str:
    _status, text = REFUSALS.get(code, (HTTP_409_CONFLICT, N_("This cannot be done now.")))
    return _(text, **({"opens": "", "seat": "?", "reason": ""} | facts)) if "%(" in text else _(text)


def _not_found() -> Template:
    return Template(
        "error.html",
        context={"status": 404, "message": _(REFUSALS["no_room"][1])},
        status_code=HTTP_404_NOT_FOUND,
    )


def _message(text: str, ok: bool, status_code: int = HTTP_200_OK) -> Template:
    return Template("console/room_message.html", context={"message": text, "ok": ok}, status_code=status_code)


class RoomConsole(Controller):
    """The live console of one room for its invigilators (a chief counts as one)."""

    tags = ["console: room"]
    guards = [requires(INVIGILATOR)]

    @get("/console/candidates/{candidate_id:int}/photo", include_in_schema=False)
    async def photo(self, db_session: DbSession, candidate_id: FromPath[int]) -> Response[bytes]:
        """The candidate's photo, for comparing face and ID at check-in and on the seat map."""
        photo = await db_session.get(CandidatePhoto, candidate_id)
        if photo is None:
            raise NotFoundException("no photo")
        return Response(photo.data, media_type=photo.content_type)

    @get("/console/sittings/{sitting_id:int}/rooms", include_in_schema=False)
    async def rooms_page(self, db_session: DbSession, sitting_id: FromPath[int]) -> Template:
        """The rooms of a sitting, each a link to its console."""
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None:
            return _not_found()
        listing = await rooms.rooms_of(db_session, sitting_id)
        return Template("console/rooms.html", context={"sitting": sitting, "listing": listing})

    @get(PAGE_PATH, include_in_schema=False)
    async def page(
        self, db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int], room_id: FromPath[int]
    ) -> Template:
        """The seat map; the websocket fills it in and keeps it live."""
        try:
            view = await rooms.room_view(db_session, sitting_id, room_id, now_utc())
        except rooms.RoomNotFound:
            return _not_found()
        return Template("console/room.html", context=_context(view, site_tz=settings.timezone, oob=False))

    @post(PAGE_PATH + "/checkin", include_in_schema=False, status_code=HTTP_200_OK)
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
        data: URLEncodedBody[CheckInForm],
    ) -> Template:
        """R-CLOCK-1: check a candidate of this room in (the USB scanner types the ticket's QR
        content and Enter into the focused field). The tile changes through the websocket."""
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None or not await rooms.room_in_sitting(db_session, sitting_id, room_id):
            return _message(_(REFUSALS["no_room"][1]), False, HTTP_404_NOT_FOUND)
        if not data.ticket_or_id.strip():
            return _message(_(CHECKIN_REFUSALS["empty"]), False, HTTP_400_BAD_REQUEST)
        candidate = await examday.find_candidate(db_session, data.ticket_or_id, sitting_id)
        if candidate is None:
            return _message(_refusal("no_candidate"), False, HTTP_400_BAD_REQUEST)
        seat = await db_session.scalar(
            select(SeatAssignment).where(
                SeatAssignment.sitting_id == sitting_id, SeatAssignment.candidate_id == candidate.id
            )
        )
        if seat is None:
            return _message(_refusal("not_seated"), False, HTTP_400_BAD_REQUEST)
        if seat.room_id != room_id:
            other = await db_session.get(Room, seat.room_id)
            text = _(
                CHECKIN_REFUSALS["other_room"],
                name=candidate.name,
                room=other.name if other else "?",
                seat=seat.seat_no,
            )
            return _message(text, False, HTTP_409_CONFLICT)
        already = await db_session.scalar(
            select(Attempt.id).where(Attempt.sitting_id == sitting_id, Attempt.candidate_id == candidate.id)
        )
        if already is not None:
            return _message(_(CHECKIN_REFUSALS["already"], name=candidate.name, seat=seat.seat_no), True)
        try:
            attempt = await examday.check_in(db_session, sitting_id, candidate.id, actor_of(request), now_utc())
        except SittingError as exc:
            if exc.code == "checkin_not_open":
                text = _(
                    CHECKIN_REFUSALS["checkin_not_open"], time=site_time(rooms.room_checkin_opens_at(sitting), "%H:%M")
                )
            elif exc.code == "barred":
                text = _(CHECKIN_REFUSALS["barred"], time=site_time(rooms.room_start_deadline(sitting), "%H:%M"))
            else:
                text = _refusal(exc.code, reason=str(exc))
            return _message(text, False, HTTP_409_CONFLICT)
        return _message(_("%(name)s checked in — seat %(seat)s.", name=candidate.name, seat=attempt.seat_no), True)

    @get(PAGE_PATH + "/move", include_in_schema=False)
    async def move_panel(
        self, db_session: DbSession, sitting_id: FromPath[int], room_id: FromPath[int], attempt_id: FromQuery[int]
    ) -> Template:
        """R-CLOCK-7: the form to move one candidate to a free spare terminal of the room. It
        opens beside the map, so live tile updates never close the list while choosing."""
        try:
            view = await rooms.room_view(db_session, sitting_id, room_id, now_utc())
        except rooms.RoomNotFound:
            return _message(_(REFUSALS["no_room"][1]), False, HTTP_404_NOT_FOUND)
        tile = next((t for t in view.seat_tiles if t.attempt_id == attempt_id), None)
        if tile is None:
            return _message(_(MOVE_MESSAGES["not_here"]), False, HTTP_409_CONFLICT)
        return Template("console/room_move.html", context=_context(view, tile=tile, oob=False))

    @post(PAGE_PATH + "/move", include_in_schema=False, status_code=HTTP_200_OK)
    async def move(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
        data: URLEncodedBody[MoveForm],
    ) -> Template:
        attempt = await db_session.get(Attempt, data.attempt_id)
        if attempt is None or attempt.sitting_id != sitting_id or attempt.room_id != room_id:
            return _message(_(MOVE_MESSAGES["not_here"]), False, HTTP_409_CONFLICT)
        if not data.terminal_id:
            return _message(_(MOVE_MESSAGES["no_spare"]), False, HTTP_400_BAD_REQUEST)
        try:
            moved = await examday.move_to_spare(db_session, attempt.id, data.terminal_id, actor_of(request), now_utc())
        except SittingError as exc:
            return _message(_refusal(exc.code, reason=str(exc)), False, HTTP_409_CONFLICT)
        label = await examday.seat_label(db_session, moved)
        candidate = await db_session.get(Candidate, moved.candidate_id)
        return _message(
            _(MOVE_MESSAGES["moved"], name=candidate.name if candidate else "?", label=label),
            True,
        )

    @get(API_PATH, include_in_schema=True)
    async def room_api(self, db_session: DbSession, sitting_id: FromPath[int], room_id: FromPath[int]) -> Response[Any]:
        """The room's seat map and counts now, as the console shows them (tiles in reading order,
        then the spare terminals)."""
        try:
            view = await rooms.room_view(db_session, sitting_id, room_id, now_utc())
        except rooms.RoomNotFound:
            return Response(
                {"error": 404, "code": "no_room", "message": _(REFUSALS["no_room"][1])}, status_code=HTTP_404_NOT_FOUND
            )
        return Response(view_json(view))

    @websocket(WS_PATH)
    async def live(
        self,
        socket: WebSocket[Any, Any, Any],
        db: DatabaseDep,
        bus: BusDep,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
    ) -> None:
        """The seat map, live: full state first, then one tile per change (htmx ws, oob swaps)."""
        if not same_origin(socket):
            await socket.close(code=POLICY_VIOLATION, reason="cross-origin")
            return
        async with db.session() as session:
            known = await session.get(Sitting, sitting_id) is not None and await rooms.room_in_sitting(
                session, sitting_id, room_id
            )
        if not known:
            await socket.close(code=POLICY_VIOLATION, reason="no such room in this sitting")
            return
        await socket.accept()
        engine = socket.app.template_engine
        assert engine is not None
        principal = principal_of(socket)
        async with bus.subscribe(f"room:{room_id}") as subscription:
            # R-REG-5: this invigilator counts as watching the room while the console is open.
            async with db.session() as session:
                presence = await rooms.console_opened(
                    session, sitting_id, room_id, principal.user_id or 0, principal.display_name, now_utc()
                )
            try:
                await RoomStream(socket, db, engine, sitting_id, room_id, presence).run(subscription)
            finally:
                with contextlib.suppress(Exception):
                    async with db.session() as session:
                        await rooms.console_closed(session, presence, room_id)


class RoomStream:
    """One console's websocket: renders tiles for the events of its room."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        db: Database,
        engine: Any,
        sitting_id: int,
        room_id: int,
        presence: int,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.socket, self.db, self.engine = socket, db, engine
        self.sitting_id, self.room_id, self.presence = sitting_id, room_id, presence
        self.keepalive = keepalive
        self.next_change: datetime | None = None
        self.deadline: datetime | None = None  # S + 30 min (R-CLOCK-2), known after the first state
        self.base = console_path(sitting_id, room_id)
        # The room as last read, and the counters the hot path published since (progress events):
        # answer counts and connections redraw from these without the database.
        self.snapshot: rooms.RoomSnapshot | None = None
        self.live: dict[int, rooms.Live] = {}
        self.invigilators: list[str] = []
        self.read_at = 0.0  # monotonic time of the last full read
        self.read_frame_at = 0.0  # monotonic time of the last frame that read the database

    def _render(self, name: str, **context: Any) -> str:
        return str(self.engine.get_template(name).render(labels=STATUS_LABELS, base=self.base, **context))

    async def mark_absent(self, now: datetime) -> None:
        """R-CLOCK-2: from S + 30 min, record the absent candidates (idempotent, any worker)."""
        try:
            async with self.db.session() as session:
                await rooms.mark_absent(session, self.sitting_id, now)
        except Exception:  # the tiles show "absent" from the clock anyway; the next change retries
            log.exception("recording the absent candidates of sitting %s failed", self.sitting_id)

    async def full_state(self) -> str:
        now = now_utc()
        if self.deadline is not None and now >= self.deadline:
            await self.mark_absent(now)
        async with self.db.session() as session:
            view = await rooms.room_view(session, self.sitting_id, self.room_id, now)
        self.snapshot, self.live, self.invigilators = view.snapshot, {}, view.invigilators
        self.read_at = time.monotonic()
        self.next_change = rooms.next_change(view.tiles, view.sitting, now)
        if self.deadline is None:
            self.deadline = view.start_deadline
            if now >= self.deadline:
                await self.mark_absent(now)
        return self._render("console/room_state.html", view=view, sitting=view.sitting, room=view.room, oob=True)

    async def tiles(
        self, attempt_ids: Iterable[int], with_header: bool, presence: bool = False, read: Iterable[int] | None = None
    ) -> str | None:
        """The tiles of these attempts, those of ``read`` (default: all) read again; with the
        counts and lists when a clock event changed them (the rest of the room as read before:
        only these attempts changed)."""
        ids = set(attempt_ids)
        again = ids if read is None else set(read)
        if self.snapshot is None:
            return await self.full_state()
        now = now_utc()
        chosen: list[rooms.SeatTile] = []
        fresh: rooms.RoomSnapshot | None = None
        if again or presence:
            async with self.db.session() as session:
                if again:
                    fresh = await rooms.read_room(session, self.sitting_id, self.room_id, again, known=self.snapshot)
                if presence:
                    self.invigilators = await rooms.invigilators_present(session, self.sitting_id, self.room_id, now)
        if fresh is not None:
            if not with_header:
                chosen = rooms.seat_tiles_of(fresh, now)
            self.snapshot.merge(fresh, again)
            for a in again:
                self.live.pop(a, None)
        if with_header:
            view = rooms.view_of(self.snapshot, now, self.invigilators)
            self.next_change = rooms.next_change(view.tiles, view.sitting, now)
            chosen = [t for t in view.tiles if t.attempt_id in ids or t.is_spare]
            lively = {a for a in ids if a in self.live}  # counters published since: drawn as live tiles are
            if lively:
                newer = {(t.attempt_id, t.is_spare): t for t in self.snapshot.tiles(lively, now, self.live)}
                chosen = [newer.get((t.attempt_id, t.is_spare), t) for t in chosen]
            return self._render(
                "console/room_state.html", view=view, sitting=view.sitting, room=view.room, tiles=chosen, oob=True
            )
        if not chosen:
            return None
        return self._render(
            "console/_seats.html", tiles=chosen, sitting=self.snapshot.sitting, room=self.snapshot.room, oob=True
        )

    def live_tiles(self, ids: set[int]) -> str | None:
        """The tiles of these attempts from the room as read last and the counters since."""
        assert self.snapshot is not None
        chosen = self.snapshot.tiles(ids, now_utc(), self.live)
        if not chosen:
            return None
        return self._render(
            "console/_seats.html", tiles=chosen, sitting=self.snapshot.sitting, room=self.snapshot.room, oob=True
        )

    def note_live(self, data: dict[str, Any]) -> bool:
        """Take the counters a progress or connection event carries; False if it carries none."""
        named = data.get("attempts")
        if not isinstance(named, list):
            return False
        kind = data.get("kind")
        at = _parse_time(data.get("at"))
        answered = data.get("answered")
        if kind == "progress":
            if not isinstance(answered, list) or len(answered) != len(named):
                return False
            updates = [rooms.Live(answered=int(n), last_activity_at=at) for n in answered]
        else:
            updates = [rooms.Live(last_activity_at=at, online=kind == "online") for _ in named]
        for attempt_id, update in zip(named, updates, strict=True):
            if isinstance(attempt_id, int):
                self.live[attempt_id] = self.live.get(attempt_id, rooms.Live()).over(update)
        return True

    def take_start(self, data: dict[str, Any]) -> bool:
        """A start whose event carries what it changed, taken into the snapshot (no read)."""
        attempt_id, at, state = data.get("attempt"), _parse_time(data.get("at")), data.get("state")
        ends_at = _parse_time(data.get("ends_at")) if data.get("ends_at") is not None else None
        if self.snapshot is None or not isinstance(attempt_id, int) or at is None or not isinstance(state, str):
            return False
        if not self.snapshot.take_start(attempt_id, at, ends_at, state, self.live.get(attempt_id)):
            return False
        self.live.pop(attempt_id, None)  # now in the snapshot
        return True

    async def render(self, items: list[Event | Resync]) -> str | None:
        """Coalesce what arrived together into one frame."""
        ids: set[int] = set()
        read: set[int] = set()  # attempts to read again (the others changed as their events said)
        header = presence = False
        counted = True  # every event carried its counters: no database read needed
        for item in items:
            if isinstance(item, Resync):
                return await self.full_state()
            kind = str(item.data.get("kind", ""))
            if kind in _FULL_KINDS:
                return await self.full_state()
            named = item.data.get("attempts")
            if isinstance(named, list):
                ids.update(int(a) for a in named if isinstance(a, int))
            single = item.data.get("attempt")
            if isinstance(single, int):
                ids.add(single)
            if kind not in _PROGRESS_KINDS:
                header = True
                presence = presence or kind == "presence"
                if isinstance(single, int) and not (kind == clk.EventKind.STARTED.value and self.take_start(item.data)):
                    read.add(single)
                if isinstance(named, list):
                    read.update(int(a) for a in named if isinstance(a, int))
            elif not self.note_live(item.data):
                counted = False
        if not ids and not header:
            return None
        if time.monotonic() - self.read_at >= FULL_READ_SECONDS:
            return await self.full_state()  # now and then the whole room, whatever happened
        if not header and counted and self.snapshot is not None and self.snapshot.knows(ids):
            return self.live_tiles(ids)
        if not counted or self.snapshot is None or not self.snapshot.knows(ids):
            read = ids
        return await self.tiles(ids, header, presence, read=read)

    async def run(self, subscription: Subscription) -> None:
        async def drain() -> None:
            # Incoming frames (htmx sends none) are ignored; the loop ends when the client goes.
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await self.socket.receive_data(mode="text")

        await self.socket.send_text(await self.full_state())
        receiver = asyncio.create_task(drain())
        getter: asyncio.Task[Event | Resync] | None = None
        deferred: list[Event | Resync] = []  # events waiting for the next frame that reads
        try:
            while True:
                if getter is None:
                    getter = asyncio.create_task(subscription.get())
                timeout = self.keepalive
                if self.next_change is not None:
                    due = (self.next_change - now_utc()).total_seconds() + 0.05
                    timeout = max(0.05, min(timeout, due))
                if deferred:
                    timeout = max(0.0, min(timeout, self.read_frame_at + READ_FRAME_SECONDS - time.monotonic()))
                done, _pending = await asyncio.wait(
                    {getter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    return
                items: list[Event | Resync] = []
                if getter in done:
                    arrived = [getter.result()]
                    getter = None
                    while not subscription.queue.empty():
                        arrived.append(subscription.queue.get_nowait())
                    for item in arrived:  # counted progress is drawn now, the rest with the next read
                        (deferred if needs_read([item]) else items).append(item)
                if deferred and time.monotonic() >= self.read_frame_at + READ_FRAME_SECONDS:
                    items, deferred = deferred + items, []
                    self.read_frame_at = time.monotonic()
                if items:
                    frame = await self.render(items)
                    if frame:
                        await self.socket.send_text(frame)
                if getter is not None and getter not in done and not deferred and not items:
                    if self.next_change is not None and now_utc() >= self.next_change:
                        await self.socket.send_text(await self.full_state())  # the clock changed a tile
                    else:
                        await self.socket.send_text("")  # keep-alive through proxies; htmx ignores it
                        async with self.db.session() as session:
                            await rooms.console_seen(session, self.presence, now_utc())
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            for task in (getter, receiver):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
