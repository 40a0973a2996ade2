"""The chief examiner's console for one sitting (主考): room summaries, papers (unseal), outages
with the timer toward the 50-minute limit (R-CLOCK-6), errata (R-INC-4) and stopping the
sitting (R-INC-6). Every action here is also in /api/v1 (sittings/routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import select

from examhall.batches.models import Room, SeatAssignment
from examhall.console import incidents
from examhall.deps import DbSession, SettingsDep
from examhall.i18n import N_, _
from examhall.papers import service as papers_service
from examhall.papers.service import PaperError
from examhall.security.rules import CHIEF
from examhall.security.web import actor_of, requires
from examhall.sittings import examday, outages
from examhall.sittings.models import Attempt, Sitting
from examhall.sittings.routes import REFUSALS
from examhall.sittings.service import SittingError

CAUSES = {
    "power": N_("power failure"),
    "network": N_("network failure"),
    "system": N_("system fault"),
    "paper": N_("wrong or defective paper"),
    "other": N_("other"),
}
SCOPES = {"sitting": N_("the whole sitting"), "room": N_("one room"), "seat": N_("one seat")}


class OutageForm(msgspec.Struct):
    scope: str = "room"
    cause: str = "power"
    room_id: str = ""
    seat: str = ""  # "room_id:seat_no" for one seat
    note: str = ""


class TextForm(msgspec.Struct):
    text: str = ""


class SeatForm(msgspec.Struct):
    seat: str = ""  # the attempt id of the seat
    room_id: str = ""  # or a whole room


class VoidForm(msgspec.Struct):
    revision_id: str = ""
    policy: str = "nobody"


def _message(exc: SittingError) -> str:
    _status, text = REFUSALS.get(exc.code, (409, N_("This cannot be done now.")))
    return _(text, reason=str(exc), opens="", seat="?")


class ChiefConsole(Controller):
    path = "/console/sittings"
    include_in_schema = False
    guards = [requires(CHIEF)]

    async def _context(
        self, db_session: DbSession, settings: SettingsDep, sitting: Sitting, message: str | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        paper_set = await papers_service.paper_set_for(db_session, sitting.id)
        rooms = await examday.sitting_overview(db_session, sitting.id)
        open_incidents = {
            r.room_id: sum((await incidents.open_flags(db_session, sitting.id, r.room_id)).values()) for r in rooms
        }
        seats = await db_session.execute(
            select(Room.id, Room.name, SeatAssignment.seat_no, Attempt.id)
            .join(SeatAssignment, SeatAssignment.room_id == Room.id)
            .join(
                Attempt,
                (Attempt.sitting_id == SeatAssignment.sitting_id)
                & (Attempt.candidate_id == SeatAssignment.candidate_id),
            )
            .where(SeatAssignment.sitting_id == sitting.id, Attempt.state != "closed")
            .order_by(Room.name, SeatAssignment.seat_no)
        )
        return {
            "sitting": sitting,
            "paper_set": paper_set,
            "rooms": rooms,
            "open_incidents": open_incidents,
            "open_seats": list(seats),
            "outages": await outages.outages_of(db_session, sitting.id, now),
            "causes": CAUSES,
            "scopes": SCOPES,
            "now": now,
            "message": message,
            "limit_minutes": int(examday.RULES.outage_limit.total_seconds() // 60),
        }

    async def _sitting(self, db_session: DbSession, sitting_id: int) -> Sitting:
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None:
            raise NotFoundException("no such sitting")  # the app's handler shows the 404 page
        return sitting

    @get("/{sitting_id:int}/chief")
    async def page(self, db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]) -> Template:
        sitting = await self._sitting(db_session, sitting_id)
        return Template("console/chief.html", context=await self._context(db_session, settings, sitting))

    @get("/{sitting_id:int}/chief/live")
    async def live(self, db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int]) -> Template:
        """The rooms and outages panel, refreshed every few seconds by htmx."""
        sitting = await self._sitting(db_session, sitting_id)
        return Template("console/_chief_live.html", context=await self._context(db_session, settings, sitting))

    @post("/{sitting_id:int}/chief/outages", status_code=HTTP_200_OK)
    async def declare(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: URLEncodedBody[OutageForm],
    ) -> Template:
        sitting = await self._sitting(db_session, sitting_id)
        room_id: int | None = int(data.room_id) if data.room_id.isdigit() else None
        attempt_id: int | None = None
        message = None
        if data.scope == "seat":
            attempt_id = int(data.seat) if data.seat.isdigit() else None
        try:
            await outages.declare_outage(
                db_session,
                sitting.id,
                scope=data.scope,
                cause=data.cause,
                room_id=room_id if data.scope == "room" else None,
                attempt_id=attempt_id,
                note=data.note,
                actor=actor_of(request),
                now=datetime.now(UTC),
            )
        except SittingError as exc:
            message = _message(exc)
        return Template("console/_chief_live.html", context=await self._context(db_session, settings, sitting, message))

    @post("/{sitting_id:int}/chief/outages/{outage_id:int}/{action:str}", status_code=HTTP_200_OK)
    async def outage_action(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        outage_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        sitting = await self._sitting(db_session, sitting_id)
        message = None
        try:
            if action == "end":
                await outages.end_outage(db_session, outage_id, actor_of(request), datetime.now(UTC))
            elif action == "stop":
                await outages.stop_affected_part(db_session, outage_id, actor_of(request), datetime.now(UTC))
            else:
                message = _("This cannot be done now.")
        except SittingError as exc:
            message = _message(exc)
        return Template("console/_chief_live.html", context=await self._context(db_session, settings, sitting, message))

    @post("/{sitting_id:int}/chief/errata", status_code=HTTP_200_OK)
    async def erratum(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: URLEncodedBody[TextForm],
    ) -> Template:
        try:
            await examday.publish_erratum(db_session, sitting_id, data.text, actor_of(request), datetime.now(UTC))
        except SittingError as exc:
            return Template("console/_notice.html", context={"ok": False, "message": _message(exc)})
        return Template(
            "console/_notice.html", context={"ok": True, "message": _("The notice was sent to every terminal.")}
        )

    @post("/{sitting_id:int}/chief/void", status_code=HTTP_200_OK)
    async def void(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: URLEncodedBody[VoidForm],
    ) -> Template:
        if not data.revision_id.strip().isdigit():
            return Template("console/_notice.html", context={"ok": False, "message": _("Item id: write the number.")})
        try:
            rescored = await examday.void_item(
                db_session,
                settings,
                sitting_id,
                int(data.revision_id),
                data.policy,
                actor_of(request),
                datetime.now(UTC),
            )
        except SittingError as exc:
            return Template("console/_notice.html", context={"ok": False, "message": _message(exc)})
        return Template(
            "console/_notice.html",
            context={
                "ok": True,
                "message": _("The item is voided; %(n)s handed-in papers were scored again.", n=rescored),
            },
        )

    @post("/{sitting_id:int}/chief/replace-paper", status_code=HTTP_200_OK)
    async def replace_paper(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: URLEncodedBody[SeatForm],
    ) -> Template:
        """R-CLOCK-9: a fresh paper for one candidate; the seat's "paper" outage is ended with it."""
        sitting = await self._sitting(db_session, sitting_id)
        if data.room_id.isdigit():
            return await self._replace_room(request, db_session, settings, sitting, int(data.room_id))
        attempt = await db_session.get(Attempt, int(data.seat)) if data.seat.isdigit() else None
        if attempt is None or attempt.sitting_id != sitting.id:
            refused = _("Choose a seat of this sitting.")
            return Template("console/_notice.html", context={"ok": False, "message": refused})
        try:
            attempt, outage = await outages.replace_paper_and_resume(
                db_session, settings, int(data.seat), actor_of(request), datetime.now(UTC)
            )
        except SittingError as exc:
            return Template("console/_notice.html", context={"ok": False, "message": _message(exc)})
        except PaperError:
            return Template(
                "console/_notice.html",
                context={"ok": False, "message": _("No replacement paper can be made: are the papers unsealed?")},
            )
        text = (
            _("The candidate has a new paper of %(n)s questions; the lost time is added.", n=attempt.item_count)
            if outage is not None
            else _("The candidate has a new paper of %(n)s questions.", n=attempt.item_count)
        )
        return Template("console/_notice.html", context={"ok": True, "message": text})

    async def _replace_room(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting: Sitting,
        room_id: int,
    ) -> Template:
        if room_id not in {r.room_id for r in await examday.sitting_overview(db_session, sitting.id)}:
            refused = _("Choose a room of this sitting.")
            return Template("console/_notice.html", context={"ok": False, "message": refused})
        try:
            count, outage = await outages.replace_room_papers(
                db_session, settings, sitting.id, room_id, actor_of(request), datetime.now(UTC)
            )
        except SittingError as exc:
            return Template("console/_notice.html", context={"ok": False, "message": _message(exc)})
        except PaperError:
            refused = _("No replacement paper can be made: are the papers unsealed?")
            return Template("console/_notice.html", context={"ok": False, "message": refused})
        text = _("%(n)s candidates of the room have a new paper.", n=count)
        if outage is not None:
            text += " " + _("The room's outage is ended; the lost time is added.")
        return Template("console/_notice.html", context={"ok": True, "message": text})

    @post("/{sitting_id:int}/chief/stop", status_code=HTTP_200_OK)
    async def stop(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: URLEncodedBody[TextForm],
    ) -> Template:
        sitting = await self._sitting(db_session, sitting_id)
        message = None
        try:
            count = await outages.stop_sitting(db_session, sitting.id, data.text, actor_of(request), datetime.now(UTC))
            message = _("The sitting is stopped; %(n)s candidates are to be rescheduled.", n=count)
        except SittingError as exc:
            message = _message(exc)
        return Template("console/_chief_live.html", context=await self._context(db_session, settings, sitting, message))
