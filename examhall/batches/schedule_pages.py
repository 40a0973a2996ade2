"""Pages for scheduling a batch (admins): theory sittings, rooms, seat allocation (R-REG-3),
invigilators with their conflicts (R-REG-5, R-STAFF-3) and the printed documents (R-REG-4).

Thin: parse, call ``seating`` / ``printing``, render. Refusals come back as a 200 fragment with
``role="alert"`` for htmx (which swaps only 2xx), naming the field.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import select

from examhall.bank.models import Occupation
from examhall.batches import documents_data, printing, seating
from examhall.batches import service as batch_service
from examhall.batches.models import Batch, Offering, PrintJob, Room, StaffConflict
from examhall.batches.service import BatchError
from examhall.deps import DatabaseDep, DbSession, SettingsDep
from examhall.i18n import N_, _, site_time
from examhall.security.models import User, UserRole
from examhall.security.rules import ADMIN, CHIEF, INVIGILATOR
from examhall.security.web import actor_of, requires
from examhall.sittings import service as sittings_service
from examhall.sittings.models import Sitting
from examhall.sittings.service import SittingError
from examhall.spreadsheets import xlsx_bytes

DOCUMENTS: Final = {
    "tickets": N_("Admission tickets"),
    "desk_labels": N_("Desk labels"),
    "door_lists": N_("Room door lists"),
    "sign_in": N_("Sign-in sheets"),
    "record_forms": N_("Blank room record forms"),
}
SITTING_KINDS: Final = {
    "theory": N_("theory exam on computer"),
    "skill": N_("skill assessment"),
    "review": N_("comprehensive review"),
}
CONFLICT_KINDS: Final = {"relative": N_("relative"), "own_student": N_("own student"), "apprentice": N_("apprentice")}


class SittingForm(msgspec.Struct):
    offering_id: str = ""
    kind: str = "theory"
    day: str = ""  # YYYY-MM-DD
    start: str = ""  # HH:MM
    duration: str = "90"


class RoomForm(msgspec.Struct):
    site: str = ""
    name: str = ""
    seat_count: str = "30"
    columns: str = "6"
    capacity: str = "30"
    spare_seats: str = "2"


class AllocateForm(msgspec.Struct):
    room_ids: list[str] | str = msgspec.field(default_factory=list)  # one ticked box comes as a str
    mode: str = "sequential"
    seed: str = "0"


class AssignForm(msgspec.Struct):
    room_id: str = ""
    user_id: str = ""


class ConflictForm(msgspec.Struct):
    user_id: str = ""
    id_number: str = ""
    person_name: str = ""
    kind: str = "relative"
    note: str = ""


class PrintForm(msgspec.Struct):
    kind: str = ""
    sitting_id: str = ""


def refusal_text(exc: BatchError | SittingError) -> str:
    if isinstance(exc, BatchError):
        return _(exc.template, **exc.facts)
    return str(exc)


def notice(ok: bool, message: str, problems: list[str] | None = None, *, refresh: bool = False) -> Template:
    return Template(
        "batches/_notice.html",
        context={"ok": ok, "message": message, "problems": problems or []},
        headers={"HX-Refresh": "true"} if ok and refresh else {},
    )


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


class SchedulePages(Controller):
    include_in_schema = False
    guards = [requires(ADMIN)]

    async def _batch(self, db_session: DbSession, batch_id: int) -> Batch:
        batch = await db_session.get(Batch, batch_id)
        if batch is None:
            raise NotFoundException("no such batch")
        return batch

    async def _sitting(self, db_session: DbSession, batch: Batch, sitting_id: int) -> Sitting:
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None or sitting.batch_id != batch.id:
            raise NotFoundException("no such sitting")
        return sitting

    @get("/batches/{batch_id:int}/schedule")
    async def schedule(self, db_session: DbSession, batch_id: FromPath[int]) -> Template:
        batch = await self._batch(db_session, batch_id)
        return Template("batches/schedule.html", context=await self._context(db_session, batch))

    async def _context(self, db_session: DbSession, batch: Batch) -> dict[str, Any]:
        offerings = list(
            await db_session.execute(
                select(Offering, Occupation)
                .join(Occupation, Occupation.id == Offering.occupation_id)
                .where(Offering.batch_id == batch.id)
                .order_by(Occupation.name, Offering.level.desc())
            )
        )
        sittings = list(
            await db_session.scalars(
                select(Sitting)
                .where(Sitting.batch_id == batch.id, Sitting.kind.in_(list(SITTING_KINDS)))
                .order_by(Sitting.starts_at)
            )
        )
        rooms = list(await db_session.scalars(select(Room).order_by(Room.site, Room.name)))
        enrolled = await seating.enrolled_seats(db_session, [r.id for r in rooms])
        seated = {s.id: await seating.sitting_rooms(db_session, s.id) for s in sittings}
        return {
            "batch": batch,
            "offerings": offerings,
            "sittings": sittings,
            "rooms": rooms,
            "enrolled": enrolled,
            "seated": seated,
            "documents": DOCUMENTS,
            "sitting_kinds": SITTING_KINDS,
        }

    @post("/batches/{batch_id:int}/sittings", status_code=HTTP_200_OK)
    async def add_sitting(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        batch_id: FromPath[int],
        data: URLEncodedBody[SittingForm],
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        offering = await db_session.get(Offering, _int(data.offering_id) or 0)
        if offering is None or offering.batch_id != batch.id:
            return notice(False, _("Occupation and level: choose one the batch offers."))
        try:
            day = datetime.strptime(data.day.strip(), "%Y-%m-%d").date()
            start = time.fromisoformat(data.start.strip())
        except ValueError:
            return notice(False, _("Date and start time: write them as 2026-12-05 and 09:00."))
        if data.kind not in SITTING_KINDS:
            return notice(False, _("Kind: a theory exam, a skill assessment or a comprehensive review."))
        duration = _int(data.duration)
        if duration is None:
            return notice(False, _("Duration: minutes, a whole number."))
        occupation = await db_session.get(Occupation, offering.occupation_id)
        assert occupation is not None
        try:
            await sittings_service.schedule_sitting(
                db_session,
                batch_id=batch.id,
                occupation_id=offering.occupation_id,
                level=offering.level,
                kind=data.kind,
                title=f"{occupation.name} {_('level %(n)s', n=offering.level)} · {_(SITTING_KINDS[data.kind])}",
                starts_at=datetime.combine(day, start, ZoneInfo(settings.timezone)),
                duration_minutes=duration,
                actor=actor_of(request),
            )
        except SittingError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The sitting is scheduled."), refresh=True)

    @post("/rooms", status_code=HTTP_200_OK)
    async def add_room(self, db_session: DbSession, data: URLEncodedBody[RoomForm]) -> Template:
        numbers = {k: _int(getattr(data, k)) for k in ("seat_count", "columns", "capacity", "spare_seats")}
        missing = [k for k, v in numbers.items() if v is None]
        if missing or not data.site.strip() or not data.name.strip():
            return notice(False, _("Room: site, name and the numbers are required (whole numbers)."))
        exists = await db_session.scalar(
            select(Room).where(Room.site == data.site.strip(), Room.name == data.name.strip())
        )
        if exists is not None:
            return notice(False, _("Room %(name)s already exists at this site.", name=data.name.strip()))
        try:
            room = await batch_service.create_room(
                db_session, data.site.strip(), data.name.strip(), numbers["seat_count"] or 0, numbers["columns"] or 0
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        capacity, spares = numbers["capacity"] or 0, numbers["spare_seats"] or 0
        if not 1 <= capacity <= room.seat_count or spares >= room.seat_count:
            return notice(False, _("Capacity: between 1 and the number of seats; spares fewer than the seats."))
        room.capacity, room.spare_seats = capacity, spares
        return notice(
            True, _("Room %(name)s is added. Enroll a terminal at each seat before seating candidates.", name=room.name)
        )

    @post("/batches/{batch_id:int}/sittings/{sitting_id:int}/allocate", status_code=HTTP_200_OK)
    async def allocate(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        sitting_id: FromPath[int],
        data: URLEncodedBody[AllocateForm],
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        sitting = await self._sitting(db_session, batch, sitting_id)
        ticked = [data.room_ids] if isinstance(data.room_ids, str) else data.room_ids
        room_ids = [int(r) for r in ticked if r.isdigit()]
        seed = _int(data.seed)
        if seed is None:
            return notice(False, _("Seed: a whole number (the same seed gives the same order again)."))
        try:
            outcome = await seating.allocate(
                db_session, sitting.id, room_ids, actor_of(request), mode=data.mode, seed=seed
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(
            not outcome.problems,
            _(
                "%(placed)s candidates have a seat: %(added)s new, %(kept)s kept as printed, %(freed)s freed.",
                placed=outcome.placed,
                added=outcome.added,
                kept=outcome.kept,
                freed=outcome.freed,
            ),
            outcome.problems,
        )

    @get("/batches/{batch_id:int}/sittings/{sitting_id:int}/seating.xlsx")
    async def seating_xlsx(
        self, db_session: DbSession, batch_id: FromPath[int], sitting_id: FromPath[int]
    ) -> Response[bytes]:
        batch = await self._batch(db_session, batch_id)
        sitting = await self._sitting(db_session, batch, sitting_id)
        rows = await documents_data.seat_rows(db_session, sitting.id)
        data = xlsx_bytes(
            _("Seating"),
            [_("Room"), _("Seat"), _("Admission ticket"), _("Name"), _("ID number"), _("Gender")],
            [[r.room, r.seat_no, r.ticket, r.name, r.id_number, r.gender or ""] for r in rows],
        )
        return _download(data, f"seating-{sitting.id}.xlsx", XLSX)

    # --- staffing -----------------------------------------------------------------------------

    @get("/batches/{batch_id:int}/sittings/{sitting_id:int}/staffing")
    async def staffing_page(
        self, db_session: DbSession, batch_id: FromPath[int], sitting_id: FromPath[int]
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        sitting = await self._sitting(db_session, batch, sitting_id)
        return Template("batches/staffing.html", context=await self._staffing_context(db_session, batch, sitting))

    async def _staffing_context(self, db_session: DbSession, batch: Batch, sitting: Sitting) -> dict[str, Any]:
        people = list(
            await db_session.scalars(
                select(User)
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role.in_([INVIGILATOR, CHIEF]), User.is_active.is_(True))
                .order_by(User.display_name)
                .distinct()
            )
        )
        conflicts = list(
            await db_session.execute(
                select(StaffConflict, User.display_name)
                .join(User, User.id == StaffConflict.user_id)
                .order_by(User.display_name, StaffConflict.id)
            )
        )
        return {
            "batch": batch,
            "sitting": sitting,
            "rooms": await seating.staffing_of(db_session, sitting.id),
            "people": people,
            "conflicts": conflicts,
            "kinds": CONFLICT_KINDS,
            "message": None,
            "ok": True,
        }

    @post("/batches/{batch_id:int}/sittings/{sitting_id:int}/staffing", status_code=HTTP_200_OK)
    async def assign(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        sitting_id: FromPath[int],
        data: URLEncodedBody[AssignForm],
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        sitting = await self._sitting(db_session, batch, sitting_id)
        room_id, user_id = _int(data.room_id), _int(data.user_id)
        message, ok = _("The invigilator is assigned."), True
        if room_id is None or user_id is None:
            message, ok = _("Choose a room and an invigilator."), False
        else:
            try:
                await seating.assign_invigilator(db_session, sitting.id, room_id, user_id, actor_of(request))
            except BatchError as exc:
                message, ok = refusal_text(exc), False
        context = await self._staffing_context(db_session, batch, sitting)
        return Template("batches/_staffing_rooms.html", context=context | {"ok": ok, "message": message})

    @post("/batches/{batch_id:int}/sittings/{sitting_id:int}/staffing/{user_id:int}/remove", status_code=HTTP_200_OK)
    async def unassign(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        sitting_id: FromPath[int],
        user_id: FromPath[int],
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        sitting = await self._sitting(db_session, batch, sitting_id)
        await seating.unassign_invigilator(db_session, sitting.id, user_id, actor_of(request))
        context = await self._staffing_context(db_session, batch, sitting)
        return Template("batches/_staffing_rooms.html", context=context | {"ok": True, "message": _("Removed.")})

    @post("/staff/conflicts", status_code=HTTP_200_OK)
    async def declare_conflict(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: URLEncodedBody[ConflictForm]
    ) -> Template:
        user_id = _int(data.user_id)
        if user_id is None or await db_session.get(User, user_id) is None:
            return notice(False, _("Staff member: choose one."))
        if not data.person_name.strip():
            return notice(False, _("Name: whom is the conflict with?"))
        try:
            await seating.declare_conflict(
                db_session, user_id, data.id_number, data.person_name, data.kind, data.note, actor_of(request)
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The conflict is recorded; assignments to rooms holding this person are blocked."))

    # --- printing -----------------------------------------------------------------------------

    @post("/batches/{batch_id:int}/print", status_code=HTTP_200_OK)
    async def print_document(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        db: DatabaseDep,
        batch_id: FromPath[int],
        data: URLEncodedBody[PrintForm],
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        if data.kind not in DOCUMENTS:
            return notice(False, _("Document: choose one."))
        sitting = await self._sitting(db_session, batch, _int(data.sitting_id) or 0)
        job = await printing.create_job(db_session, batch.id, data.kind, sitting.id, actor_of(request))
        await db_session.commit()  # the job's row must exist before its worker writes progress
        printing.start(db, job.id, documents_data.preparer(data.kind, sitting.id))
        return Template("batches/_print_job.html", context={"job": job, "state": "running", "documents": DOCUMENTS})

    @get("/batches/print-jobs/{job_id:int}")
    async def print_job(self, db_session: DbSession, job_id: FromPath[int]) -> Template:
        job = await db_session.get(PrintJob, job_id)
        if job is None:
            raise NotFoundException("no such print job")
        await db_session.refresh(job)
        state = printing.job_state(job, datetime.now(ZoneInfo("UTC")))
        return Template("batches/_print_job.html", context={"job": job, "state": state, "documents": DOCUMENTS})

    @get("/batches/print-jobs/{job_id:int}/document.pdf")
    async def print_file(self, db_session: DbSession, job_id: FromPath[int]) -> Response[bytes]:
        job = await db_session.get(PrintJob, job_id)
        if job is None or job.pdf is None:
            raise NotFoundException("no such document")
        return _download(job.pdf, f"{job.kind}-{job.sitting_id}.pdf", "application/pdf")


XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(data: bytes, filename: str, media_type: str) -> Response[bytes]:
    return Response(data, media_type=media_type, headers={"content-disposition": f'attachment; filename="{filename}"'})


__all__ = ["SchedulePages", "site_time"]
