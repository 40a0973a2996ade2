"""JSON API for scheduling a batch: seats (R-REG-3), invigilators and conflicts (R-REG-5, R-STAFF-3)
and print jobs (R-REG-4) — the same use cases as ``schedule_pages``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from examhall.batches import documents, documents_data, printing, seating
from examhall.batches.models import PrintJob
from examhall.batches.service import BatchError
from examhall.deps import DatabaseDep, DbSession
from examhall.i18n import _
from examhall.security.rules import ADMIN
from examhall.security.web import actor_of, requires
from examhall.sittings.models import Sitting


class AllocateJson(msgspec.Struct):
    room_ids: list[int]
    mode: str = "sequential"
    seed: int = 0


class AssignJson(msgspec.Struct):
    room_id: int
    user_id: int


class ConflictJson(msgspec.Struct):
    user_id: int
    id_number: str
    person_name: str
    kind: str
    note: str = ""


class PrintJson(msgspec.Struct):
    kind: str
    sitting_id: int


def refused(exc: BatchError) -> Response[Any]:
    return Response(
        {"error": HTTP_409_CONFLICT, "code": exc.code, "message": _(exc.template, **exc.facts)},
        status_code=HTTP_409_CONFLICT,
    )


def not_found(what: str) -> Response[Any]:
    return Response({"error": HTTP_404_NOT_FOUND, "code": "not_found", "message": what}, status_code=HTTP_404_NOT_FOUND)


class ScheduleApi(Controller):
    path = "/api/v1"
    tags = ["batches: scheduling"]
    guards = [requires(ADMIN)]

    @post("/sittings/{sitting_id:int}/allocate", status_code=HTTP_200_OK)
    async def allocate(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[AllocateJson],
    ) -> Response[Any]:
        """Seat the sitting's approved and paid candidates (R-REG-3); earlier seats are kept."""
        try:
            outcome = await seating.allocate(
                db_session, sitting_id, data.room_ids, actor_of(request), mode=data.mode, seed=data.seed
            )
        except BatchError as exc:
            return refused(exc)
        return Response(
            {
                "placed": outcome.placed,
                "added": outcome.added,
                "kept": outcome.kept,
                "freed": outcome.freed,
                "problems": outcome.problems,
            }
        )

    @get("/sittings/{sitting_id:int}/seats")
    async def seats(self, db_session: DbSession, sitting_id: FromPath[int]) -> Response[Any]:
        rows = await documents_data.seat_rows(db_session, sitting_id)
        return Response(
            [
                {"room": r.room, "room_id": r.room_id, "seat_no": r.seat_no, "ticket": r.ticket, "name": r.name}
                for r in rows
            ]
        )

    @get("/sittings/{sitting_id:int}/staffing")
    async def staffing(self, db_session: DbSession, sitting_id: FromPath[int]) -> Response[Any]:
        rooms = await seating.staffing_of(db_session, sitting_id)
        return Response(
            [
                {
                    "room_id": r.room.id,
                    "room": r.room.name,
                    "candidates": r.candidates,
                    "invigilators": [{"user_id": uid, "name": name} for uid, name in r.invigilators],
                    "problems": r.problems,
                }
                for r in rooms
            ]
        )

    @post("/sittings/{sitting_id:int}/invigilators", status_code=HTTP_200_OK)
    async def assign(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[AssignJson],
    ) -> Response[Any]:
        """Assign an invigilator to a room (R-REG-5); a declared conflict blocks it (R-STAFF-3)."""
        try:
            staff = await seating.assign_invigilator(
                db_session, sitting_id, data.room_id, data.user_id, actor_of(request)
            )
        except BatchError as exc:
            return refused(exc)
        return Response({"id": staff.id, "room_id": staff.room_id, "user_id": staff.user_id})

    @delete("/sittings/{sitting_id:int}/invigilators/{user_id:int}", status_code=HTTP_200_OK)
    async def unassign(
        self, request: Request[Any, Any, Any], db_session: DbSession, sitting_id: FromPath[int], user_id: FromPath[int]
    ) -> Response[Any]:
        await seating.unassign_invigilator(db_session, sitting_id, user_id, actor_of(request))
        return Response({"removed": user_id})

    @post("/staff/conflicts", status_code=HTTP_200_OK)
    async def conflict(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: JSONBody[ConflictJson]
    ) -> Response[Any]:
        try:
            found = await seating.declare_conflict(
                db_session, data.user_id, data.id_number, data.person_name, data.kind, data.note, actor_of(request)
            )
        except BatchError as exc:
            return refused(exc)
        return Response({"id": found.id, "kind": found.kind})

    @post("/batches/{batch_id:int}/print", status_code=HTTP_200_OK)
    async def print_document(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        db: DatabaseDep,
        batch_id: FromPath[int],
        data: JSONBody[PrintJson],
    ) -> Response[Any]:
        """Start rendering a document (tickets, desk_labels, door_lists, sign_in, record_forms)."""
        sitting = await db_session.get(Sitting, data.sitting_id)
        if sitting is None or sitting.batch_id != batch_id:
            return not_found("no such sitting in this batch")
        if data.kind not in documents.RENDERERS:
            return refused(BatchError("Document: choose one.", code="bad_kind"))
        job = await printing.create_job(db_session, batch_id, data.kind, sitting.id, actor_of(request))
        await db_session.commit()
        printing.start(db, job.id, documents_data.preparer(data.kind, sitting.id))
        return Response({"job_id": job.id})

    @get("/print-jobs/{job_id:int}")
    async def print_job(self, db_session: DbSession, job_id: FromPath[int]) -> Response[Any]:
        job = await db_session.get(PrintJob, job_id)
        if job is None:
            return not_found("no such print job")
        state = printing.job_state(job, datetime.now(UTC))
        return Response(
            {
                "job_id": job.id,
                "state": state,
                "done": job.done,
                "total": job.total,
                "problems": job.problems,
                "error": job.error,
                "pdf": f"/batches/print-jobs/{job.id}/document.pdf" if state == "done" else None,
            }
        )
