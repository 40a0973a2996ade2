"""Use cases of batches. For now: creating a batch, rooms and a sitting's seat plan; the
batch-administration issue adds registration, eligibility, fees, allocation and printing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.batches.models import Batch, Room, SeatAssignment


class BatchError(ValueError):
    """A batch operation that cannot be done; the message says why."""


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
