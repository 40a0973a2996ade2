"""The invigilator's live view of one exam room (考场监控), as a service: one tile per seat.

Every tile is derived, never stored: from the seat assignment, the attempt (the hot path's
cached answered count, last activity and terminal connection) and the exam clock of the
attempt at ``now`` (sittings.clock, R-CLOCK-1…9). The same ``now`` always gives the same map,
so every worker and every reconnecting console agree.

Queries are bounded whatever the size of the room: one for the seats with their candidates
and attempts, one for those attempts' clock events, one for the room's spare terminals.

Lateness (R-CLOCK-2): the room counts down to S + 30 min; from then on a candidate who has not
been checked in, or has not opened the paper, is absent (缺考) — the clock says so at render
time. :func:`mark_absent` additionally records each absence once in the audit chain.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Candidate, CandidatePhoto, Room, SeatAssignment
from examhall.batches.staffing import invigilators_needed
from examhall.console import incidents
from examhall.console.models import ConsolePresence
from examhall.events import publish_after_commit
from examhall.security import audit
from examhall.security.models import AuditEntry, Terminal
from examhall.sittings import clock as clk
from examhall.sittings import examday
from examhall.sittings.models import Attempt, AttemptEvent, Sitting

log = logging.getLogger("examhall.console")

# Tile statuses, in the order the legend lists them. "free" is a spare terminal nobody uses.
STATUSES: Final = (
    "empty",
    "expected",
    "checked_in",
    "working",
    "on_break",
    "paused",
    "final_minutes",
    "time_up",
    "submitted",
    "auto_submitted",
    "absent",
    "withdrawn",
    "rescheduled",
    "free",
)
# Statuses in which the candidate has an open attempt in the room and may be moved (R-CLOCK-7).
MOVABLE: Final = frozenset({"checked_in", "working", "on_break", "paused", "final_minutes"})
ABSENT_ACTION: Final = "candidate_absent"
_ABSENT_LOCK: Final = 0x61627374  # "abst": one mark_absent per sitting at a time, across workers


class RoomNotFound(LookupError):
    """The sitting does not exist, or the room holds no seat of it."""


@dataclasses.dataclass(frozen=True)
class SeatTile:
    """One seat of the room map (or one spare terminal, listed after the seats)."""

    dom_id: str  # "seat-<n>" or "spare-<terminal id>": the element the console swaps
    seat_no: int | None  # None for a spare terminal
    row: int  # 0-based from the front; spares: -1
    column: int
    status: str  # one of STATUSES
    candidate_id: int | None = None
    name: str | None = None
    ticket: str | None = None
    photo: str | None = None  # version (hash prefix) of the candidate's photo, for the image URL
    attempt_id: int | None = None
    started: bool = False
    answered: int = 0
    total: int = 0
    last_activity_at: datetime | None = None
    online: bool = False  # the terminal's live channel is open
    may_submit: bool = False  # R-CLOCK-3: from E − 30 min
    submit_opens_at: datetime | None = None
    end_time: datetime | None = None  # E (None before the start)
    remaining_s: int | None = None  # working time left; before the start: what starting now would give
    running: bool = False  # the paper is open and the clock runs (not paused, not closed)
    # The remaining time counts down to this instant now (E while working; S + D + compensation
    # for a candidate who could still start, after S): the console ticks it between updates.
    counting_to: datetime | None = None
    start_deadline: datetime | None = None  # not started yet: the paper must be opened before this
    late_by_s: int = 0  # R-CLOCK-2: lateness, not compensated
    compensation_s: int = 0  # R-CLOCK-6/7/9: time added for pauses
    on_break: bool = False
    moved_to: str | None = None  # the spare terminal the candidate works at now (R-CLOCK-7)
    terminal_id: int | None = None  # spare tiles: the terminal; seat tiles: the spare moved to
    spare_label: str | None = None
    from_seat: int | None = None  # spare tiles: the seat its candidate came from
    incidents: int = 0  # entries of the room log with a consequence or an investigation (R-INC-1)

    @property
    def is_spare(self) -> bool:
        return self.seat_no is None

    @property
    def may_move(self) -> bool:
        return self.attempt_id is not None and self.status in MOVABLE


@dataclasses.dataclass(frozen=True)
class NotArrived:
    seat_no: int
    name: str
    ticket: str


@dataclasses.dataclass(frozen=True)
class RoomSummary:
    """Counts over the seated candidates of the room (spare tiles are not counted twice).

    ``expected`` = not_arrived + waiting + working + submitted + absent + withdrawn + rescheduled.
    """

    expected: int  # candidates seated in the room
    present: int  # checked in and not absent
    not_arrived: int
    waiting: int  # checked in, paper not opened yet
    working: int  # paper open, not handed in (paused and on a break included)
    submitted: int  # handed in, by themselves or automatically at E
    absent: int  # R-CLOCK-2 缺考
    withdrawn: int
    rescheduled: int
    online: int  # open attempts whose terminal is connected
    invigilators_needed: int  # R-REG-5: at least 2, and at least 1 per 15 candidates


@dataclasses.dataclass(frozen=True)
class Spare:
    terminal_id: int
    label: str
    attempt_id: int | None  # the open attempt working there, if any


@dataclasses.dataclass(frozen=True)
class RoomView:
    sitting: Sitting
    room: Room
    now: datetime
    tiles: list[SeatTile]
    summary: RoomSummary
    not_arrived: list[NotArrived]
    checkin_opens_at: datetime
    start_deadline: datetime  # S + 30 min for the room (R-CLOCK-2)
    spares: list[Spare]
    invigilators: list[str] = dataclasses.field(default_factory=list)  # at the room console now
    snapshot: RoomSnapshot | None = None  # the read behind it, for live consoles

    @property
    def understaffed(self) -> bool:
        """R-REG-5: fewer invigilators at the console than the room needs."""
        return len(self.invigilators) < self.summary.invigilators_needed

    @property
    def seat_tiles(self) -> list[SeatTile]:
        return [t for t in self.tiles if not t.is_spare]

    @property
    def spare_tiles(self) -> list[SeatTile]:
        return [t for t in self.tiles if t.is_spare]

    @property
    def free_spares(self) -> list[Spare]:
        return [s for s in self.spares if s.attempt_id is None]

    @property
    def deadline_passed(self) -> bool:
        return self.now >= self.start_deadline


# --- the room's clock ----------------------------------------------------------------------------


def room_checkin_opens_at(sitting: Sitting) -> datetime:
    """R-CLOCK-1: check-in opens at S − 20 min."""
    return sitting.starts_at - examday.RULES.checkin_opens_before


def room_start_deadline(sitting: Sitting) -> datetime:
    """R-CLOCK-2: nobody is admitted or starts from S + 30 min (pauses move it only for the
    candidates already checked in, which their own tiles show)."""
    return sitting.starts_at + examday.RULES.late_start_limit


def tile_status(attempt: Attempt | None, state: clk.ClockState) -> str:
    """What the invigilator reads on the tile, from the attempt and its clock at ``now``."""
    phase = state.phase
    if attempt is None:
        return "absent" if phase == clk.Phase.BARRED else "expected"
    if attempt.outcome == "barred" or phase == clk.Phase.BARRED:
        return "absent"
    if phase == clk.Phase.SUBMITTED:
        return "auto_submitted" if attempt.outcome == "auto_submitted" else "submitted"
    if phase == clk.Phase.WITHDRAWN:
        return "withdrawn"
    if phase == clk.Phase.RESCHEDULED:
        return "rescheduled"
    if phase == clk.Phase.ENDED:
        return "time_up"  # R-CLOCK-5: the automatic hand-in follows within a second
    if phase == clk.Phase.PAUSED:
        return "paused"
    if phase == clk.Phase.RUNNING:
        return "on_break" if state.on_break else "working"
    if phase == clk.Phase.FINAL_MINUTES:
        return "on_break" if state.on_break else "final_minutes"
    return "checked_in"  # WAITING (and, defensively, anything before the start)


def _seconds(value: timedelta) -> int:
    return max(0, int(value.total_seconds()))


def _fallback_state(attempt: Attempt | None, sitting: Sitting, now: datetime) -> clk.ClockState:
    """A clock for a record the clock refuses (never expected): the map must still render."""
    phase = {
        "checked_in": clk.Phase.WAITING,
        "running": clk.Phase.RUNNING,
        "paused": clk.Phase.PAUSED,
        "closed": clk.Phase.SUBMITTED,
    }.get(attempt.state if attempt else "", clk.Phase.CHECK_IN)
    return clk.ClockState(
        phase=phase,
        end_time=attempt.ends_at if attempt else None,
        remaining=max(timedelta(0), (attempt.ends_at - now)) if attempt and attempt.ends_at else timedelta(0),
        compensation=timedelta(0),
        late_by=timedelta(0),
        may_start=False,
        may_submit=False,
        submit_opens_at=None,
        warning=False,
        auto_submit_due=False,
        outage_elapsed=timedelta(0),
        outage_limit_reached=False,
    )


def _clock(
    schedule: clk.Schedule, sitting: Sitting, attempt: Attempt | None, events: Sequence[clk.AttemptEvent], now: datetime
) -> clk.ClockState:
    try:
        return clk.clock_at(schedule, events, now, examday.RULES)
    except ValueError:
        log.exception("attempt %s: the clock refuses its recorded events", attempt.id if attempt else None)
        return _fallback_state(attempt, sitting, now)


# --- tiles ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Seated:
    seat_no: int
    room_id: int
    seat_assignment_id: int
    candidate_id: int
    name: str
    ticket: str
    attempt: Attempt | None
    photo: str | None = None  # SHA-256 of the candidate's photo, when there is one


async def _seated(
    session: AsyncSession, sitting_id: int, room_id: int | None, attempt_ids: Iterable[int] | None = None
) -> list[_Seated]:
    """The one query for seats, candidates and attempts."""
    query = (
        select(
            SeatAssignment.seat_no,
            SeatAssignment.room_id,
            SeatAssignment.id,
            Candidate.id,
            Candidate.name,
            Candidate.ticket_number,
            Attempt,
            CandidatePhoto.sha256,
        )
        .join(Candidate, Candidate.id == SeatAssignment.candidate_id)
        .outerjoin(CandidatePhoto, CandidatePhoto.candidate_id == Candidate.id)
        .outerjoin(
            Attempt,
            (Attempt.sitting_id == SeatAssignment.sitting_id) & (Attempt.candidate_id == SeatAssignment.candidate_id),
        )
        .where(SeatAssignment.sitting_id == sitting_id)
        .order_by(SeatAssignment.room_id, SeatAssignment.seat_no)
        # A console's session may be reused: always show the attempt as stored now.
        .execution_options(populate_existing=True)
    )
    if room_id is not None:
        query = query.where(SeatAssignment.room_id == room_id)
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(list(attempt_ids)))
    rows = await session.execute(query)
    return [
        _Seated(seat_no, room, sa_id, cid, name, ticket or "", attempt, photo)
        for seat_no, room, sa_id, cid, name, ticket, attempt, photo in rows
    ]


async def _events(session: AsyncSession, attempt_ids: Sequence[int]) -> dict[int, list[clk.AttemptEvent]]:
    """The one query for the clock events of all the attempts shown."""
    found: dict[int, list[clk.AttemptEvent]] = defaultdict(list)
    if not attempt_ids:
        return found
    rows = await session.execute(
        select(AttemptEvent.attempt_id, AttemptEvent.kind, AttemptEvent.at, AttemptEvent.ref)
        .where(AttemptEvent.attempt_id.in_(list(attempt_ids)))
        .order_by(AttemptEvent.at, AttemptEvent.id)
    )
    for attempt_id, kind, at, ref in rows:
        found[attempt_id].append(clk.AttemptEvent(kind=kind, at=at, ref=ref))
    return found


async def _spare_terminals(session: AsyncSession, room_id: int) -> list[Terminal]:
    rows = await session.scalars(
        select(Terminal)
        .where(Terminal.room_id == room_id, Terminal.is_spare, Terminal.revoked_at.is_(None))
        .order_by(Terminal.id)
    )
    return list(rows)


@dataclasses.dataclass(frozen=True)
class Live:
    """Counters of an attempt newer than its last read, as the hot path publishes them with its
    room events (sittings.progress): the answered count, the last activity, the connection."""

    answered: int | None = None
    last_activity_at: datetime | None = None
    online: bool | None = None

    def over(self, newer: Live) -> Live:
        return Live(
            answered=newer.answered if newer.answered is not None else self.answered,
            last_activity_at=newer.last_activity_at or self.last_activity_at,
            online=newer.online if newer.online is not None else self.online,
        )


def _tile(
    room: Room,
    sitting: Sitting,
    schedule: clk.Schedule,
    seated: _Seated,
    events: Sequence[clk.AttemptEvent],
    now: datetime,
    spare_labels: dict[int, str],
    spare: Terminal | None = None,
    live: Live | None = None,
) -> SeatTile:
    attempt = seated.attempt
    state = _clock(schedule, sitting, attempt, events, now)
    status = tile_status(attempt, state)
    closed = status in ("submitted", "auto_submitted", "absent", "withdrawn", "rescheduled")
    if spare is not None:
        dom_id, seat_no, row, column = f"spare-{spare.id}", None, -1, -1
    else:
        dom_id, seat_no = f"seat-{seated.seat_no}", seated.seat_no
        row, column = (seated.seat_no - 1) // room.columns, (seated.seat_no - 1) % room.columns
    moved_to_id = attempt.terminal_id if attempt is not None else None
    running = status in ("working", "on_break", "final_minutes")
    counting_to = state.end_time if running else None
    if status in ("expected", "checked_in") and now >= sitting.starts_at:
        counting_to = now + state.remaining  # R-CLOCK-2: a late start gets only what is left
    return SeatTile(
        dom_id=dom_id,
        seat_no=seat_no,
        row=row,
        column=column,
        status=status,
        candidate_id=seated.candidate_id,
        name=seated.name,
        ticket=seated.ticket,
        photo=seated.photo[:12] if seated.photo else None,
        attempt_id=attempt.id if attempt is not None else None,
        started=attempt is not None and attempt.started_at is not None,
        answered=_pick(live and live.answered, attempt.answered_count if attempt is not None else 0),
        total=attempt.item_count if attempt is not None else 0,
        last_activity_at=(live and live.last_activity_at) or (attempt.last_activity_at if attempt else None),
        online=bool(attempt is not None and _pick(live and live.online, attempt.online) and not closed),
        may_submit=state.may_submit,
        submit_opens_at=state.submit_opens_at if not closed else None,
        end_time=state.end_time,
        remaining_s=None if closed or status == "time_up" else _seconds(state.remaining),
        running=running,
        counting_to=counting_to,
        start_deadline=state.start_deadline if not closed else None,
        late_by_s=_seconds(state.late_by),
        compensation_s=_seconds(state.compensation),
        on_break=state.on_break,
        moved_to=spare_labels.get(moved_to_id) if moved_to_id is not None else None,
        terminal_id=spare.id if spare is not None else moved_to_id,
        spare_label=spare.label if spare is not None else None,
        from_seat=seated.seat_no if spare is not None else None,
    )


def _pick(newer: Any, stored: Any) -> Any:
    return stored if newer is None else newer


def _empty_tile(room: Room, seat_no: int) -> SeatTile:
    return SeatTile(
        dom_id=f"seat-{seat_no}",
        seat_no=seat_no,
        row=(seat_no - 1) // room.columns,
        column=(seat_no - 1) % room.columns,
        status="empty",
    )


def _free_spare_tile(spare: Terminal) -> SeatTile:
    return SeatTile(
        dom_id=f"spare-{spare.id}",
        seat_no=None,
        row=-1,
        column=-1,
        status="free",
        terminal_id=spare.id,
        spare_label=spare.label,
    )


async def _sitting_and_room(session: AsyncSession, sitting_id: int, room_id: int) -> tuple[Sitting, Room]:
    sitting = await session.get(Sitting, sitting_id)
    room = await session.get(Room, room_id)
    if sitting is None or room is None:
        raise RoomNotFound(f"no room {room_id} in sitting {sitting_id}")
    return sitting, room


async def room_in_sitting(session: AsyncSession, sitting_id: int, room_id: int) -> bool:
    """Whether the room holds at least one seat of the sitting (else the console is a 404)."""
    found = await session.scalar(
        select(exists().where(SeatAssignment.sitting_id == sitting_id, SeatAssignment.room_id == room_id))
    )
    return bool(found)


async def rooms_of(session: AsyncSession, sitting_id: int) -> list[tuple[Room, int]]:
    """The rooms of a sitting with their number of seated candidates."""
    rows = await session.execute(
        select(Room, func.count(SeatAssignment.id))
        .join(SeatAssignment, SeatAssignment.room_id == Room.id)
        .where(SeatAssignment.sitting_id == sitting_id)
        .group_by(Room.id)
        .order_by(Room.site, Room.name)
    )
    return [(room, int(n)) for room, n in rows]


async def seat_tiles(
    session: AsyncSession,
    sitting_id: int,
    room_id: int,
    now: datetime,
    attempt_ids: Iterable[int] | None = None,
) -> list[SeatTile]:
    """The room's seat map at ``now``: every seat 1…seat_count (empty ones too) in reading
    order, then the spare terminals. With ``attempt_ids``, only the tiles of those attempts
    (their seat, and the spare terminal they work at) — what a console re-renders on an event."""
    return (await _build(session, sitting_id, room_id, now, attempt_ids))[0]


@dataclasses.dataclass
class RoomSnapshot:
    """What a console read of its room last: enough to draw any of those tiles again at a later
    instant — the clock is a pure function of the events — with newer :class:`Live` counters,
    without the database. Anything else that changes arrives as an event and is read again."""

    sitting: Sitting
    room: Room
    seated: dict[int, _Seated]  # attempt id → seat, candidate and attempt as read
    events: dict[int, list[clk.AttemptEvent]]
    spares: list[Terminal]  # the room's spare terminals (read with the full room only)
    spare_of: dict[int, Terminal]  # attempt id → the spare terminal the candidate works at
    flags: dict[int, int]  # attempt id → open incident flags
    order: list[int]  # attempt ids in reading order of their seats
    unattempted: list[_Seated] = dataclasses.field(default_factory=list)  # seated, not checked in

    @property
    def labels(self) -> dict[int, str]:
        return {t.id: t.label for t in self.spares} | {t.id: t.label for t in self.spare_of.values()}

    def knows(self, attempt_ids: Iterable[int]) -> bool:
        return all(a in self.seated for a in attempt_ids)

    def tiles(self, attempt_ids: Iterable[int], now: datetime, live: Mapping[int, Live]) -> list[SeatTile]:
        """The tiles of these attempts now: their seats, then the spare terminals they work at."""
        wanted = set(attempt_ids)
        schedule = examday.schedule_of(self.sitting)
        labels = self.labels
        chosen = [a for a in self.order if a in wanted]
        tiles = [
            self._flag(
                _tile(
                    self.room,
                    self.sitting,
                    schedule,
                    self.seated[a],
                    self.events.get(a, []),
                    now,
                    labels,
                    live=live.get(a),
                )
            )
            for a in chosen
        ]
        for a in sorted((a for a in chosen if a in self.spare_of), key=lambda a: self.spare_of[a].id):
            tiles.append(
                self._flag(
                    _tile(
                        self.room,
                        self.sitting,
                        schedule,
                        self.seated[a],
                        self.events.get(a, []),
                        now,
                        labels,
                        spare=self.spare_of[a],
                        live=live.get(a),
                    )
                )
            )
        return tiles

    def _flag(self, tile: SeatTile) -> SeatTile:
        if tile.attempt_id in self.flags:
            return dataclasses.replace(tile, incidents=self.flags[tile.attempt_id])
        return tile

    def take_start(
        self, attempt_id: int, at: datetime, ends_at: datetime | None, state: str, live: Live | None = None
    ) -> bool:
        """Take a start the event told of (the paper opened at ``at``) without reading the
        attempt again, with the counters published since its last read (``live``); False when
        this snapshot cannot (the attempt unknown or started already), and it is then read."""
        seated = self.seated.get(attempt_id)
        attempt = seated.attempt if seated is not None else None
        if attempt is None or attempt.started_at is not None:
            return False
        attempt.started_at, attempt.ends_at, attempt.state = at, ends_at, state
        attempt.last_activity_at = max(at, live.last_activity_at) if live and live.last_activity_at else at
        if live is not None and live.answered is not None:
            attempt.answered_count = live.answered
        if live is not None and live.online is not None:
            attempt.online = live.online
        self.events[attempt_id] = [*self.events.get(attempt_id, []), clk.AttemptEvent(clk.EventKind.STARTED, at)]
        return True

    def merge(self, newer: RoomSnapshot, attempt_ids: Iterable[int]) -> None:
        """Take what ``newer`` (a read of some attempts) says of ``attempt_ids``."""
        self.sitting, self.room, self.flags = newer.sitting, newer.room, newer.flags
        for a in attempt_ids:
            if a in newer.seated:
                self.seated[a] = newer.seated[a]
                self.events[a] = newer.events.get(a, [])
                if a in newer.spare_of:
                    self.spare_of[a] = newer.spare_of[a]
                else:
                    self.spare_of.pop(a, None)
        self.order = sorted(self.seated, key=lambda a: (self.seated[a].room_id, self.seated[a].seat_no))
        now_seated = {(s.room_id, s.seat_no) for s in self.seated.values()}
        self.unattempted = [s for s in self.unattempted if (s.room_id, s.seat_no) not in now_seated]


async def read_room(
    session: AsyncSession,
    sitting_id: int,
    room_id: int,
    attempt_ids: Iterable[int] | None = None,
    *,
    known: RoomSnapshot | None = None,
) -> RoomSnapshot:
    """The database read behind the seat map (all seats, or those of ``attempt_ids``); the
    sitting and the room are taken from ``known`` (a console's last full read) when given."""
    if known is not None:
        sitting, room = known.sitting, known.room
    else:
        sitting, room = await _sitting_and_room(session, sitting_id, room_id)
    wanted = None if attempt_ids is None else sorted(set(attempt_ids))
    seated = await _seated(session, sitting_id, room_id, wanted) if wanted is None or wanted else []
    attempts = [s.attempt for s in seated if s.attempt is not None]
    events = await _events(session, [a.id for a in attempts])
    moved = any(a.terminal_id is not None for a in attempts)
    spares = await _spare_terminals(session, room_id) if wanted is None or moved else []
    by_id = {t.id: t for t in spares}
    spare_of: dict[int, Terminal] = {}
    for a in attempts:
        if a.terminal_id is not None and a.state != "closed" and a.terminal_id in by_id:
            spare_of[a.id] = by_id[a.terminal_id]
    snapshot = RoomSnapshot(
        sitting=sitting,
        room=room,
        seated={s.attempt.id: s for s in seated if s.attempt is not None},
        events=dict(events),
        spares=spares,
        spare_of=spare_of,
        flags=await incidents.open_flags(session, sitting_id, room_id) if wanted is None or wanted else {},
        order=[s.attempt.id for s in seated if s.attempt is not None],
        unattempted=[s for s in seated if s.attempt is None],
    )
    return snapshot


def _compose(snapshot: RoomSnapshot, now: datetime, full: bool) -> tuple[list[SeatTile], list[Spare]]:
    sitting, room = snapshot.sitting, snapshot.room
    schedule = examday.schedule_of(sitting)
    labels = {t.id: t.label for t in snapshot.spares}
    seated = sorted(
        [snapshot.seated[a] for a in snapshot.order] + snapshot.unattempted, key=lambda s: (s.room_id, s.seat_no)
    )
    occupant = {t.id: snapshot.seated[a] for a, t in snapshot.spare_of.items()}
    tiles: list[SeatTile] = []
    if full:
        by_seat = {s.seat_no: s for s in seated}
        for seat_no in sorted(set(range(1, room.seat_count + 1)) | set(by_seat)):
            here = by_seat.get(seat_no)
            if here is None:
                tiles.append(_empty_tile(room, seat_no))
            else:
                own = snapshot.events.get(here.attempt.id, []) if here.attempt is not None else []
                tiles.append(_tile(room, sitting, schedule, here, own, now, labels))
    else:
        for s in seated:
            assert s.attempt is not None
            tiles.append(_tile(room, sitting, schedule, s, snapshot.events.get(s.attempt.id, []), now, labels))
    for spare in snapshot.spares:
        holder = occupant.get(spare.id)
        if holder is not None and holder.attempt is not None:
            own = snapshot.events.get(holder.attempt.id, [])
            tiles.append(_tile(room, sitting, schedule, holder, own, now, labels, spare=spare))
        elif full:
            tiles.append(_free_spare_tile(spare))
    flags = snapshot.flags
    if flags:
        tiles = [dataclasses.replace(t, incidents=flags[t.attempt_id]) if t.attempt_id in flags else t for t in tiles]
    held = {terminal_id: s.attempt.id for terminal_id, s in occupant.items() if s.attempt is not None}
    return tiles, [Spare(t.id, t.label, held.get(t.id)) for t in snapshot.spares]


def seat_tiles_of(snapshot: RoomSnapshot, now: datetime) -> list[SeatTile]:
    """The tiles of a read of some attempts (:func:`read_room` with ``attempt_ids``)."""
    return _compose(snapshot, now, full=False)[0]


async def _build(
    session: AsyncSession,
    sitting_id: int,
    room_id: int,
    now: datetime,
    attempt_ids: Iterable[int] | None,
) -> tuple[list[SeatTile], list[Spare]]:
    snapshot = await read_room(session, sitting_id, room_id, attempt_ids)
    return _compose(snapshot, now, attempt_ids is None)


def room_summary(tiles: Iterable[SeatTile]) -> RoomSummary:
    """Counts of the seated candidates (spare tiles and empty seats are not counted)."""
    counts: dict[str, int] = defaultdict(int)
    expected = waiting = working = online = 0
    for tile in tiles:
        if tile.is_spare or tile.status == "empty":
            continue
        expected += 1
        counts[tile.status] += 1
        if tile.status in ("checked_in", "paused") and not tile.started:
            waiting += 1
        elif tile.status in ("working", "on_break", "paused", "final_minutes", "time_up"):
            working += 1
        if tile.online:
            online += 1
    not_arrived, absent = counts["expected"], counts["absent"]
    return RoomSummary(
        expected=expected,
        present=expected - not_arrived - absent,
        not_arrived=not_arrived,
        waiting=waiting,
        working=working,
        submitted=counts["submitted"] + counts["auto_submitted"],
        absent=absent,
        withdrawn=counts["withdrawn"],
        rescheduled=counts["rescheduled"],
        online=online,
        invigilators_needed=invigilators_needed(expected),
    )


def not_arrived(tiles: Iterable[SeatTile]) -> list[NotArrived]:
    """Seated candidates not checked in yet, while they may still come (before S + 30 min)."""
    return [
        NotArrived(t.seat_no, t.name or "", t.ticket or "")
        for t in tiles
        if t.status == "expected" and t.seat_no is not None
    ]


async def room_view(session: AsyncSession, sitting_id: int, room_id: int, now: datetime) -> RoomView:
    """Everything the room console shows at ``now``; RoomNotFound when the room is not the sitting's."""
    if not await room_in_sitting(session, sitting_id, room_id):
        raise RoomNotFound(f"room {room_id} holds no seat of sitting {sitting_id}")
    snapshot = await read_room(session, sitting_id, room_id)  # RoomNotFound without the sitting
    return view_of(snapshot, now, await invigilators_present(session, sitting_id, room_id, now))


def view_of(snapshot: RoomSnapshot, now: datetime, invigilators: list[str]) -> RoomView:
    """The console's view of a full read of the room (:func:`read_room`, maybe merged since)."""
    tiles, spares = _compose(snapshot, now, full=True)
    return RoomView(
        sitting=snapshot.sitting,
        room=snapshot.room,
        now=now,
        tiles=tiles,
        summary=room_summary(tiles),
        not_arrived=not_arrived(tiles),
        checkin_opens_at=room_checkin_opens_at(snapshot.sitting),
        start_deadline=room_start_deadline(snapshot.sitting),
        spares=spares,
        invigilators=invigilators,
        snapshot=snapshot,
    )


PRESENCE_FRESH: Final = timedelta(seconds=70)  # > two keep-alives: a dead worker's rows fade out


async def invigilators_present(session: AsyncSession, sitting_id: int, room_id: int, now: datetime) -> list[str]:
    """The invigilators with this room's console open now (R-REG-5), by name."""
    rows = await session.scalars(
        select(ConsolePresence.name)
        .where(
            ConsolePresence.sitting_id == sitting_id,
            ConsolePresence.room_id == room_id,
            ConsolePresence.seen_at > now - PRESENCE_FRESH,
        )
        .distinct()
        .order_by(ConsolePresence.name)
    )
    return list(rows)


async def console_opened(
    session: AsyncSession, sitting_id: int, room_id: int, user_id: int, name: str, now: datetime
) -> int:
    row = ConsolePresence(
        sitting_id=sitting_id, room_id=room_id, user_id=user_id, name=name, connected_at=now, seen_at=now
    )
    session.add(row)
    await session.flush()
    publish_after_commit(session, f"room:{room_id}", {"kind": "presence"})
    return row.id


async def console_seen(session: AsyncSession, presence_id: int, now: datetime) -> None:
    await session.execute(update(ConsolePresence).where(ConsolePresence.id == presence_id).values(seen_at=now))


async def console_closed(session: AsyncSession, presence_id: int, room_id: int) -> None:
    await session.execute(delete(ConsolePresence).where(ConsolePresence.id == presence_id))
    publish_after_commit(session, f"room:{room_id}", {"kind": "presence"})


def next_change(view_tiles: Iterable[SeatTile], sitting: Sitting, now: datetime) -> datetime | None:
    """The next instant at which a tile changes by the clock alone (no event announces it):
    S − 20 min, S + 30 min (absent), E − 30 min (may hand in), E − 15 min (final minutes), E."""
    warning = examday.RULES.final_warning_before_end
    moments = [room_checkin_opens_at(sitting), sitting.starts_at, room_start_deadline(sitting)]
    for tile in view_tiles:
        if tile.start_deadline is not None and not tile.started:
            moments.append(tile.start_deadline)
        if tile.running and tile.end_time is not None:
            moments.append(tile.end_time)
            moments.append(tile.end_time - warning)
            if tile.submit_opens_at is not None:
                moments.append(tile.submit_opens_at)
    later = [m for m in moments if m > now]
    return min(later) if later else None


# --- lateness: absent at S + 30 min (R-CLOCK-2) --------------------------------------------------


async def mark_absent(session: AsyncSession, sitting_id: int, now: datetime, actor: str = "system") -> list[int]:
    """Record, once, every seated candidate of the sitting whom the clock bars at ``now``: not
    checked in, or checked in but the paper not opened, by S + 30 min (+ their pauses).

    The record is one ``candidate_absent`` entry per seat assignment in the audit chain
    (R-SEC-3); running it again, from any worker and at the same time, records nothing twice
    (a transaction-level advisory lock per sitting, and the entries already written are
    skipped). The tiles show "absent" from the clock whether or not this has run. Returns the
    seat-assignment ids recorded now.
    """
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None or now < room_start_deadline(sitting):
        return []
    await session.execute(text("SELECT pg_advisory_xact_lock(:k, :s)"), {"k": _ABSENT_LOCK, "s": sitting_id})
    seated = await _seated(session, sitting_id, None)
    unstarted = [s for s in seated if s.attempt is None or s.attempt.started_at is None]
    if not unstarted:
        return []
    events = await _events(session, [s.attempt.id for s in unstarted if s.attempt is not None])
    schedule = examday.schedule_of(sitting)
    barred = [
        s
        for s in unstarted
        if tile_status(
            s.attempt, _clock(schedule, sitting, s.attempt, events.get(s.attempt.id, []) if s.attempt else [], now)
        )
        == "absent"
    ]
    if not barred:
        return []
    done = set(
        await session.scalars(
            select(AuditEntry.object_id).where(
                AuditEntry.action == ABSENT_ACTION,
                AuditEntry.object_type == "seat_assignment",
                AuditEntry.object_id.in_([str(s.seat_assignment_id) for s in barred]),
            )
        )
    )
    recorded: list[int] = []
    rooms: dict[int, list[int]] = defaultdict(list)
    for s in barred:
        if str(s.seat_assignment_id) in done:
            continue
        await audit.record(
            session,
            actor=actor,
            action=ABSENT_ACTION,
            object_type="seat_assignment",
            object_id=s.seat_assignment_id,
            detail={
                "sitting_id": sitting_id,
                "candidate_id": s.candidate_id,
                "room_id": s.room_id,
                "seat": s.seat_no,
                "checked_in": s.attempt is not None,
                "attempt_id": s.attempt.id if s.attempt is not None else None,
            },
            at=now,
        )
        recorded.append(s.seat_assignment_id)
        rooms[s.room_id].append(s.attempt.id if s.attempt is not None else 0)
    for room_id, attempts in rooms.items():
        publish_after_commit(
            session, f"room:{room_id}", {"kind": "absent", "attempts": sorted(a for a in attempts if a)}
        )
    return recorded
