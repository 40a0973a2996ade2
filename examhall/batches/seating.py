"""Use cases of scheduling a batch's theory sittings: admission ticket numbers, rooms and seats
(R-REG-3), and the invigilators of each room with their declared conflicts (R-REG-5, R-STAFF-3).

The pure rules are ``allocation`` (who sits where, reproducibly) and ``staffing`` (how many
invigilators a room needs, which assignments a conflict blocks); this module feeds them from the
database and stores what they decide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank.models import Occupation
from examhall.batches import allocation, staffing
from examhall.batches.models import (
    Application,
    Batch,
    Candidate,
    Room,
    RoomStaff,
    SeatAssignment,
    StaffConflict,
)
from examhall.batches.registration import schedulable
from examhall.batches.service import BatchError
from examhall.i18n import N_
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.security.models import Terminal, User
from examhall.security.rules import CHIEF, INVIGILATOR
from examhall.sittings.models import Attempt, Sitting


@dataclasses.dataclass(frozen=True)
class SeatingOutcome:
    placed: int  # candidates with a seat now
    added: int  # seats given in this run
    freed: int  # seats of withdrawn candidates given up
    kept: int  # seats kept from earlier runs (printed tickets stay valid)
    problems: list[str]


async def _sitting(session: AsyncSession, sitting_id: int) -> Sitting:
    sitting = await session.get(Sitting, sitting_id, with_for_update=True)
    if sitting is None:
        raise BatchError(N_("Sitting %(sitting)s does not exist."), code="no_sitting", sitting=sitting_id)
    return sitting


async def enrolled_seats(session: AsyncSession, room_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Seat numbers that have an enrolled terminal, per room (R-REG-3: only those are used)."""
    rows = await session.execute(
        select(Terminal.room_id, Terminal.seat_no)
        .where(Terminal.room_id.in_(room_ids), Terminal.revoked_at.is_(None), Terminal.seat_no.is_not(None))
        .order_by(Terminal.room_id, Terminal.seat_no)
    )
    seats: dict[int, list[int]] = {rid: [] for rid in room_ids}
    for room_id, seat_no in rows:
        if seat_no is not None:
            seats[room_id].append(seat_no)
    return {rid: tuple(nos) for rid, nos in seats.items()}


async def _busy_rooms(session: AsyncSession, sitting: Sitting, room_ids: Sequence[int]) -> list[str]:
    """Rooms already holding candidates of another sitting at an overlapping time."""
    ends = sitting.starts_at + timedelta(minutes=sitting.duration_minutes)
    rows = await session.execute(
        select(Room.name, Sitting.title)
        .join(SeatAssignment, SeatAssignment.room_id == Room.id)
        .join(Sitting, Sitting.id == SeatAssignment.sitting_id)
        .where(
            Room.id.in_(room_ids),
            Sitting.id != sitting.id,
            Sitting.starts_at < ends,
            Sitting.starts_at + func.make_interval(0, 0, 0, 0, 0, Sitting.duration_minutes) > sitting.starts_at,
        )
        .distinct()
    )
    return [f"{room} ({title})" for room, title in rows]


async def allocate(
    session: AsyncSession,
    sitting_id: int,
    room_ids: Sequence[int],
    actor: Actor,
    *,
    mode: str = "sequential",
    seed: int = 0,
) -> SeatingOutcome:
    """Seat the sitting's approved and paid candidates in the chosen rooms (R-REG-3). Seats given
    earlier stay as they are while their candidate is still in; withdrawn candidates' seats are
    freed (unless they already have an attempt); newcomers take free seats. Ticket numbers are
    given to those who have none and never change."""
    sitting = await _sitting(session, sitting_id)
    if sitting.kind != "theory":
        raise BatchError(N_("Only theory sittings are seated from registrations."), code="not_theory")
    if mode not in ("sequential", "random"):
        raise BatchError(N_("Order: sequential or random."), code="bad_mode")
    if not room_ids:
        raise BatchError(N_("Choose at least one room."), code="no_rooms")
    busy = await _busy_rooms(session, sitting, room_ids)
    if busy:
        raise BatchError(
            N_("These rooms hold another sitting at the same time: %(rooms)s."),
            code="rooms_busy",
            rooms=", ".join(busy),
        )
    batch = await session.get(Batch, sitting.batch_id)
    assert batch is not None
    occupation = await session.get(Occupation, sitting.occupation_id)
    assert occupation is not None
    wanted = [
        a
        for a in await schedulable(session, batch.id)
        if a.occupation_id == sitting.occupation_id and a.level == sitting.level
    ]
    candidates = {
        c.id: c
        for c in await session.scalars(select(Candidate).where(Candidate.id.in_([a.candidate_id for a in wanted])))
    }
    rooms = {r.id: r for r in await session.scalars(select(Room).where(Room.id.in_(room_ids)))}
    if len(rooms) != len(set(room_ids)):
        raise BatchError(N_("A chosen room does not exist."), code="no_room")
    seats = await enrolled_seats(session, list(rooms))
    existing = list(await session.scalars(select(SeatAssignment).where(SeatAssignment.sitting_id == sitting.id)))
    started = set(await session.scalars(select(Attempt.candidate_id).where(Attempt.sitting_id == sitting.id)))
    present = {a.candidate_id for a in wanted}
    freed = [s for s in existing if s.candidate_id not in present and s.candidate_id not in started]
    kept = [s for s in existing if s not in freed]
    group = occupation.code or occupation.name
    applicants = [
        allocation.Applicant(
            id=a.candidate_id,
            occupation=group,
            level=a.level,
            order_key=f"{candidates[a.candidate_id].created_at.isoformat()}-{a.id:08d}",
        )
        for a in wanted
    ]
    specs = [
        allocation.RoomSpec(id=r.id, name=r.name, capacity=r.capacity, seats=seats[r.id], spare=r.spare_seats)
        for r in sorted(rooms.values(), key=lambda r: r.name)
    ]
    result = allocation.allocate(
        applicants,
        specs,
        mode=mode,
        seed=seed,
        existing={s.candidate_id: (s.room_id, s.seat_no) for s in kept if s.room_id in rooms},
    )
    for seat in freed:
        await session.delete(seat)
    await session.flush()
    kept_ids = {s.candidate_id for s in kept}
    added = 0
    for placement in result.placements:
        if placement.applicant_id in kept_ids:
            continue
        session.add(
            SeatAssignment(
                sitting_id=sitting.id,
                room_id=placement.room_id,
                seat_no=placement.seat_no,
                candidate_id=placement.applicant_id,
            )
        )
        added += 1
    await session.flush()
    await issue_tickets(session, batch, [placement.applicant_id for placement in result.placements])
    problems = [str(p) for p in result.problems]
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="seats_allocated",
        object_type="sitting",
        object_id=sitting.id,
        detail={"mode": mode, "seed": seed, "rooms": sorted(rooms), "added": added, "freed": len(freed)},
        ip=actor.ip,
    )
    return SeatingOutcome(
        placed=len(result.placements), added=added, freed=len(freed), kept=len(kept), problems=problems
    )


async def issue_tickets(session: AsyncSession, batch: Batch, candidate_ids: Sequence[int]) -> int:
    """Give admission ticket numbers (准考证号) to the batch's candidates who have none, in
    registration order; a number once given never changes or comes back (R-REG-3)."""
    issued = [
        n
        for n in await session.scalars(
            select(Candidate.ticket_number).where(Candidate.batch_id == batch.id, Candidate.ticket_number.is_not(None))
        )
        if n
    ]
    missing = list(
        await session.scalars(
            select(Candidate)
            .where(Candidate.id.in_(candidate_ids), Candidate.ticket_number.is_(None))
            .order_by(Candidate.created_at, Candidate.id)
        )
    )
    numbers = allocation.next_ticket_numbers(batch.code, issued, len(missing))
    for candidate, number in zip(missing, numbers, strict=True):
        candidate.ticket_number = number
    await session.flush()
    return len(missing)


async def sitting_rooms(session: AsyncSession, sitting_id: int) -> list[tuple[Room, int]]:
    """The rooms of a sitting with how many candidates each holds."""
    rows = await session.execute(
        select(Room, func.count(SeatAssignment.id))
        .join(SeatAssignment, SeatAssignment.room_id == Room.id)
        .where(SeatAssignment.sitting_id == sitting_id)
        .group_by(Room.id)
        .order_by(Room.name)
    )
    return [(room, int(n)) for room, n in rows]


# --- Staffing (R-REG-5, R-STAFF-3) ----------------------------------------------------------


async def declare_conflict(
    session: AsyncSession, user_id: int, id_number: str, person_name: str, kind: str, note: str, actor: Actor
) -> StaffConflict:
    """A staff member declares a relative, own student or apprentice (回避)."""
    from examhall.batches.rules import check_id_number, normalise_id_number

    problem = check_id_number(id_number)
    if problem is not None:
        raise BatchError(
            N_("ID number %(number)s: %(problem)s"), code="bad_id", number=id_number, problem=problem.message
        )
    if kind not in staffing.CONFLICT_KINDS:
        raise BatchError(N_("Kind: relative, own student or apprentice."), code="bad_kind")
    number = normalise_id_number(id_number)
    existing = await session.scalar(
        select(StaffConflict).where(StaffConflict.user_id == user_id, StaffConflict.id_number == number)
    )
    if existing is not None:
        return existing
    conflict = StaffConflict(
        user_id=user_id, id_number=number, person_name=person_name.strip(), kind=kind, note=note or None
    )
    session.add(conflict)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="conflict_declared",
        object_type="user",
        object_id=user_id,
        detail={"id_number": number, "kind": kind},
        ip=actor.ip,
    )
    return conflict


async def assign_invigilator(
    session: AsyncSession, sitting_id: int, room_id: int, user_id: int, actor: Actor
) -> RoomStaff:
    """Assign an invigilator to a room of a sitting; a declared conflict with a candidate of the
    room blocks it with the reason (R-STAFF-3), as does a second room at the same time."""
    sitting = await _sitting(session, sitting_id)
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise BatchError(N_("Staff member %(user)s does not exist."), code="no_user", user=user_id)
    if not {r.role for r in user.roles} & {INVIGILATOR, CHIEF}:
        raise BatchError(N_("%(name)s is not an invigilator."), code="not_invigilator", name=user.display_name)
    existing = await session.scalar(
        select(RoomStaff).where(RoomStaff.sitting_id == sitting_id, RoomStaff.user_id == user_id)
    )
    if existing is not None:
        if existing.room_id == room_id:
            return existing
        other = await session.get(Room, existing.room_id)
        raise BatchError(
            N_("%(name)s already invigilates room %(room)s of this sitting."),
            code="already_assigned",
            name=user.display_name,
            room=other.name if other else existing.room_id,
        )
    seated = list(
        await session.execute(
            select(Candidate.name, Candidate.id_number)
            .join(SeatAssignment, SeatAssignment.candidate_id == Candidate.id)
            .where(SeatAssignment.sitting_id == sitting_id, SeatAssignment.room_id == room_id)
        )
    )
    conflicts = [
        staffing.Conflict(staff_id=c.user_id, candidate_id_number=c.id_number, kind=c.kind, note=c.note or "")
        for c in await session.scalars(select(StaffConflict).where(StaffConflict.user_id == user_id))
    ]
    problems = staffing.conflict_problems(user_id, user.display_name, [(n, i) for n, i in seated], conflicts)
    if problems:
        raise BatchError(N_("Not assigned (R-STAFF-3): %(problems)s"), code="conflict", problems="; ".join(problems))
    staff = RoomStaff(sitting_id=sitting.id, room_id=room_id, user_id=user_id, assigned_by=actor.name)
    session.add(staff)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="invigilator_assigned",
        object_type="sitting",
        object_id=sitting_id,
        detail={"room_id": room_id, "user_id": user_id},
        ip=actor.ip,
    )
    return staff


async def unassign_invigilator(session: AsyncSession, sitting_id: int, user_id: int, actor: Actor) -> None:
    result = await session.execute(
        delete(RoomStaff).where(RoomStaff.sitting_id == sitting_id, RoomStaff.user_id == user_id)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        await audit.record(
            session,
            actor=actor.name,
            actor_user_id=actor.user_id,
            action="invigilator_unassigned",
            object_type="sitting",
            object_id=sitting_id,
            detail={"user_id": user_id},
            ip=actor.ip,
        )


@dataclasses.dataclass(frozen=True)
class RoomStaffing:
    room: Room
    candidates: int
    invigilators: list[tuple[int, str]]  # (user id, display name)
    problems: list[str]


async def staffing_of(session: AsyncSession, sitting_id: int) -> list[RoomStaffing]:
    """Each room of the sitting with its invigilators and what is missing (R-REG-5)."""
    assigned: dict[int, list[tuple[int, str]]] = {}
    for room_id, user_id, name in await session.execute(
        select(RoomStaff.room_id, User.id, User.display_name)
        .join(User, User.id == RoomStaff.user_id)
        .where(RoomStaff.sitting_id == sitting_id)
        .order_by(User.display_name)
    ):
        assigned.setdefault(room_id, []).append((user_id, name))
    out = []
    for room, count in await sitting_rooms(session, sitting_id):
        people = assigned.get(room.id, [])
        out.append(
            RoomStaffing(
                room=room,
                candidates=count,
                invigilators=people,
                problems=staffing.staffing_problems(room.name, count, [n for _i, n in people]),
            )
        )
    return out


async def applications_of_sitting(session: AsyncSession, sitting: Sitting) -> list[Application]:
    return list(
        await session.scalars(
            select(Application).where(
                Application.batch_id == sitting.batch_id,
                Application.occupation_id == sitting.occupation_id,
                Application.level == sitting.level,
            )
        )
    )
