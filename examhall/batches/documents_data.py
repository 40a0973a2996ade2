"""What the printed documents of a sitting show, read from the database (R-REG-4).

``documents`` renders (pure); this module gathers its ``SittingInfo`` and ``RoomInfo`` — the
seated candidates with their photos — and hands ``printing`` a renderer to run in a thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank.models import Occupation
from examhall.bank.rules import LEVEL_NAMES_ZH
from examhall.batches import documents
from examhall.batches.models import Batch, Candidate, CandidatePhoto, Room, SeatAssignment
from examhall.batches.printing import Prepare, Progress
from examhall.i18n import site_moment, site_time
from examhall.sittings.models import Sitting

WEEKDAYS: Final = "一二三四五六日"
PROBLEM_TEXT: Final = {
    "PHOTO_UNREADABLE": "照片无法读取，已留空框",
    "TICKET_NOT_ENCODABLE": "准考证号无法生成二维码",
}


@dataclasses.dataclass(frozen=True)
class SeatRow:
    room_id: int
    room: str
    site: str
    seat_no: int
    candidate_id: int
    ticket: str
    name: str
    id_number: str
    gender: str | None


async def seat_rows(session: AsyncSession, sitting_id: int) -> list[SeatRow]:
    rows = await session.execute(
        select(Room.id, Room.name, Room.site, SeatAssignment.seat_no, Candidate)
        .join(SeatAssignment, SeatAssignment.room_id == Room.id)
        .join(Candidate, Candidate.id == SeatAssignment.candidate_id)
        .where(SeatAssignment.sitting_id == sitting_id)
        .order_by(Room.site, Room.name, SeatAssignment.seat_no)
    )
    return [
        SeatRow(rid, name, site, seat_no, c.id, c.ticket_number or "", c.name, c.id_number, c.gender)
        for rid, name, site, seat_no, c in rows
    ]


def chinese_date(moment: datetime) -> str:
    local = site_moment(moment)
    return f"{local.year}年{local.month}月{local.day}日（星期{WEEKDAYS[local.weekday()]}）"


async def sitting_documents(
    session: AsyncSession, sitting_id: int, *, with_photos: bool = True
) -> tuple[documents.SittingInfo, list[documents.RoomInfo]]:
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise documents.NothingToPrint(f"sitting {sitting_id} does not exist")
    batch = await session.get(Batch, sitting.batch_id)
    occupation = await session.get(Occupation, sitting.occupation_id)
    assert batch is not None and occupation is not None
    rows = await seat_rows(session, sitting_id)
    photos: dict[int, bytes] = {}
    if with_photos and rows:
        photos = {
            cid: data
            for cid, data in await session.execute(
                select(CandidatePhoto.candidate_id, CandidatePhoto.data).where(
                    CandidatePhoto.candidate_id.in_([r.candidate_id for r in rows])
                )
            )
        }
    start = site_moment(sitting.starts_at)
    end = site_moment(sitting.starts_at + timedelta(minutes=sitting.duration_minutes))
    info = documents.SittingInfo(
        batch=batch.name,
        title=sitting.title,
        date=chinese_date(sitting.starts_at),
        time=f"{start:%H:%M}–{end:%H:%M}",
        printed_at=site_time(datetime.now(UTC)),
    )
    level = LEVEL_NAMES_ZH.get(sitting.level, str(sitting.level))
    rooms: dict[int, tuple[str, str, list[documents.SeatInfo]]] = {}
    for r in rows:
        seats = rooms.setdefault(r.room_id, (r.room, r.site, []))[2]
        seats.append(
            documents.SeatInfo(
                seat=r.seat_no,
                ticket=r.ticket,
                name=r.name,
                id_number=r.id_number,
                occupation=occupation.name,
                level=level,
                gender=r.gender,
                photo=photos.get(r.candidate_id),
            )
        )
    return info, [documents.RoomInfo(name=name, site=site, seats=seats) for name, site, seats in rooms.values()]


def preparer(kind: str, sitting_id: int) -> Prepare:
    """For ``printing.start``: read the sitting's data, then render ``kind`` in a thread."""
    render = documents.RENDERERS[kind]

    async def prepare(session: AsyncSession) -> Callable[[Progress], tuple[bytes, list[str]]]:
        info, rooms = await sitting_documents(session, sitting_id, with_photos=kind in ("tickets", "sign_in"))
        if not rooms:
            raise documents.NothingToPrint("nobody is seated in this sitting yet")

        def run(progress: Progress) -> tuple[bytes, list[str]]:
            rendered = render(info, rooms, progress)
            problems = [f"{p.ticket} {p.name}: {PROBLEM_TEXT.get(p.kind, p.kind)}" for p in rendered.problems]
            return rendered.pdf, problems

        return run

    return prepare
