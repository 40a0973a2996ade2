"""Use cases of batches. For now: creating a batch, rooms and a sitting's seat plan; the
batch-administration issue adds registration, eligibility, fees, allocation and printing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank.models import Occupation
from examhall.batches import rules
from examhall.batches.models import Batch, Offering, Room, SeatAssignment
from examhall.i18n import N_
from examhall.security import audit
from examhall.security.audit import Actor


class BatchError(ValueError):
    """A batch operation that cannot be done. ``template`` is the message with %(name)s
    placeholders (marked for translation), ``facts`` fill them; ``str()`` is the English text and
    pages translate the template. ``code`` names the refusal for the API."""

    def __init__(self, template: str, code: str = "refused", **facts: Any) -> None:
        self.template = template
        self.code = code
        self.facts = facts
        super().__init__(template % facts if facts else template)


async def create_batch(session: AsyncSession, code: str, name: str) -> Batch:
    if await session.scalar(select(Batch).where(Batch.code == code)) is not None:
        raise BatchError(f"code: a batch {code!r} already exists")
    batch = Batch(code=code, name=name)
    session.add(batch)
    await session.flush()
    return batch


async def create_room(session: AsyncSession, site: str, name: str, seat_count: int, columns: int = 6) -> Room:
    if not 1 <= seat_count <= 200:
        raise BatchError("seat_count: between 1 and 200 seats")
    if not 1 <= columns <= seat_count:
        raise BatchError("columns: between 1 and the number of seats")
    room = Room(site=site, name=name, seat_count=seat_count, columns=columns)
    session.add(room)
    await session.flush()
    return room


async def seat_candidates(
    session: AsyncSession, sitting_id: int, room: Room, candidate_ids: Sequence[int], first_seat: int = 1
) -> list[SeatAssignment]:
    """Put candidates on consecutive seats of a room for a sitting (R-REG-3 allocation comes later)."""
    if first_seat - 1 + len(candidate_ids) > room.seat_count:
        raise BatchError(f"room {room.name} has {room.seat_count} seats; {len(candidate_ids)} candidates do not fit")
    seats = [
        SeatAssignment(sitting_id=sitting_id, room_id=room.id, seat_no=first_seat + i, candidate_id=cid)
        for i, cid in enumerate(candidate_ids)
    ]
    session.add_all(seats)
    await session.flush()
    return seats


def seat_position(room: Room, seat_no: int) -> tuple[int, int]:
    """(row, column) of a seat: seats are numbered row by row from the front."""
    return ((seat_no - 1) // room.columns, (seat_no - 1) % room.columns)


async def seat_plan(session: AsyncSession, sitting_id: int) -> list[tuple[SeatAssignment, Room]]:
    rows = await session.execute(
        select(SeatAssignment, Room)
        .join(Room, Room.id == SeatAssignment.room_id)
        .where(SeatAssignment.sitting_id == sitting_id)
        .order_by(Room.id, SeatAssignment.seat_no)
    )
    return [(seat, room) for seat, room in rows]


# --- Batches, offerings and the workflow ---------------------------------------------------


async def get_batch(session: AsyncSession, batch_id: int) -> Batch:
    batch = await session.get(Batch, batch_id)
    if batch is None:
        raise BatchError(N_("Batch %(batch)s does not exist."), code="no_batch", batch=batch_id)
    return batch


async def update_batch(
    session: AsyncSession,
    batch_id: int,
    actor: Actor,
    *,
    name: str | None = None,
    notice: str | None = None,
    registration_closes_on: date | None = None,
    exam_from: date | None = None,
    exam_to: date | None = None,
) -> Batch:
    batch = await get_batch(session, batch_id)
    if exam_from and exam_to and exam_to < exam_from:
        raise BatchError(N_("Exam days: the last day is before the first."), code="bad_dates")
    if registration_closes_on and exam_from and registration_closes_on > exam_from:
        raise BatchError(N_("Registration must close before the first exam day."), code="bad_dates")
    if name is not None:
        if not name.strip():
            raise BatchError(N_("Name: the batch needs a name."), code="no_name")
        batch.name = name.strip()
    if notice is not None:
        batch.notice = notice.strip()
    batch.registration_closes_on = registration_closes_on or batch.registration_closes_on
    batch.exam_from = exam_from or batch.exam_from
    batch.exam_to = exam_to or batch.exam_to
    await session.flush()
    await _audit(session, actor, "batch_updated", "batch", batch.id, {"name": batch.name})
    return batch


async def set_status(session: AsyncSession, batch_id: int, wanted: str, actor: Actor) -> Batch:
    """Move a batch along its workflow (planning → registration → scheduled → …)."""
    batch = await session.get(Batch, batch_id, with_for_update=True)
    if batch is None:
        raise BatchError(N_("Batch %(batch)s does not exist."), code="no_batch", batch=batch_id)
    if batch.status == wanted:
        return batch  # two clicks at once
    problem = rules.status_problem(batch.status, wanted)
    if problem is not None:
        raise BatchError(N_("Status: %(problem)s."), code="bad_status", problem=problem)
    before = batch.status
    batch.status = wanted
    await session.flush()
    await _audit(session, actor, "batch_status", "batch", batch.id, {"from": before, "to": wanted})
    return batch


async def add_offering(
    session: AsyncSession,
    batch_id: int,
    occupation_id: int,
    level: int,
    actor: Actor,
    *,
    knowledge_exam: bool = True,
    skill_exam: bool = True,
    computer_based: bool = True,
) -> Offering:
    await get_batch(session, batch_id)
    if level not in (1, 2, 3, 4, 5):
        raise BatchError(N_("Level: 1 to 5."), code="bad_level")
    if not (knowledge_exam or skill_exam):
        raise BatchError(N_("An offering holds a knowledge exam, a skill exam or both."), code="no_exam")
    if await session.get(Occupation, occupation_id) is None:
        raise BatchError(
            N_("Occupation %(occupation)s does not exist."), code="no_occupation", occupation=occupation_id
        )
    existing = await session.scalar(
        select(Offering).where(
            Offering.batch_id == batch_id, Offering.occupation_id == occupation_id, Offering.level == level
        )
    )
    if existing is not None:
        return existing
    offering = Offering(
        batch_id=batch_id,
        occupation_id=occupation_id,
        level=level,
        knowledge_exam=knowledge_exam,
        skill_exam=skill_exam,
        computer_based=computer_based,
    )
    session.add(offering)
    await session.flush()
    await _audit(session, actor, "offering_added", "batch", batch_id, {"occupation_id": occupation_id, "level": level})
    return offering


async def _audit(
    session: AsyncSession, actor: Actor, action: str, object_type: str, object_id: int | None, detail: dict[str, Any]
) -> None:
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        ip=actor.ip,
    )
