"""Invigilator and admin pages of exam day that the terminals need now: check-in (R-CLOCK-1)
and terminal enrollment codes (R-SEC-2). The live console (seat map, incidents, outages)
grows from here with the console issue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_404_NOT_FOUND
from sqlalchemy import select

from examhall.batches.models import Room
from examhall.deps import DbSession
from examhall.i18n import N_, _
from examhall.security import terminals
from examhall.security.rules import ADMIN, INVIGILATOR
from examhall.security.web import actor_of, requires
from examhall.sittings import examday
from examhall.sittings import service as sittings_service
from examhall.sittings.models import Sitting
from examhall.sittings.routes import REFUSALS

# How a seat reads on the check-in list.
SEAT_STATES = {
    None: N_("expected"),
    "checked_in": N_("checked in"),
    "running": N_("working"),
    "paused": N_("paused"),
    "closed": N_("finished"),
}


# Why the server refused a save, as the invigilator reads it.
REFUSED_REASONS = {
    "closed": N_("after the hand-in"),
    "ended": N_("after the end time"),
    "paused": N_("during a pause"),
    "not_started": N_("before the start"),
    "stale": N_("older than the saved answer"),
    "no_such_question": N_("not a question of the paper"),
    "bad_seq": N_("no valid sequence number"),
    "not_an_option": N_("not an option"),
    "one_option_only": N_("several options for a single choice"),
    "judge_true_false": N_("not true or false"),
    "repeated_option": N_("an option twice"),
    "too_long": N_("too long"),
}


class CheckInForm(msgspec.Struct):
    ticket_or_id: str = ""


class CodeForm(msgspec.Struct):
    room_id: int = 0
    seat_no: str = ""


def _refusal_text(code: str, **facts: Any) -> str:
    _status, text = REFUSALS.get(code, (409, N_("This cannot be done now.")))
    params = {"opens": "", "seat": "?", "reason": ""} | facts
    return _(text, **params)


class ExamDayPages(Controller):
    include_in_schema = False

    @get("/sittings", guards=[requires(INVIGILATOR, ADMIN)])
    async def sittings(self, db_session: DbSession) -> Template:
        rows = await sittings_service.list_sittings(db_session)
        return Template("console/sittings.html", context={"sittings": [s for s in rows if s.kind == "theory"]})

    @get("/sittings/{sitting_id:int}/checkin", guards=[requires(INVIGILATOR)])
    async def checkin_page(self, db_session: DbSession, sitting_id: FromPath[int]) -> Template:
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None:
            return Template(
                "error.html", context={"status": 404, "message": _("This sitting does not exist.")}, status_code=404
            )
        roster = await examday.room_roster(db_session, sitting_id)
        refused = await examday.refused_saves(db_session, sitting_id)
        return Template(
            "console/checkin.html",
            context={
                "sitting": sitting,
                "roster": roster,
                "states": SEAT_STATES,
                "message": None,
                "ok": False,
                "refused": refused,
                "reasons": REFUSED_REASONS,
            },
        )

    @post("/sittings/{sitting_id:int}/checkin", guards=[requires(INVIGILATOR)])
    async def checkin(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: URLEncodedBody[CheckInForm],
    ) -> Template:
        """Check one candidate in; the USB scanner types the ticket's QR content into the field."""
        sitting = await db_session.get(Sitting, sitting_id)
        if sitting is None:
            return Template(
                "console/_roster.html",
                context={"message": _("This sitting does not exist.")},
                status_code=HTTP_404_NOT_FOUND,
            )
        candidate = await examday.find_candidate(db_session, data.ticket_or_id, sitting_id)
        ok, message = False, ""
        if candidate is None:
            message = _refusal_text("no_candidate")
        else:
            try:
                attempt = await examday.check_in(
                    db_session, sitting_id, candidate.id, actor_of(request), datetime.now(UTC)
                )
            except sittings_service.SittingError as exc:
                message = _refusal_text(exc.code, reason=str(exc))
            else:
                ok = True
                message = _("%(name)s checked in — seat %(seat)s.", name=candidate.name, seat=attempt.seat_no)
        roster = await examday.room_roster(db_session, sitting_id)
        return Template(
            "console/_roster.html",
            context={"sitting": sitting, "roster": roster, "states": SEAT_STATES, "message": message, "ok": ok},
        )

    @get("/terminals", guards=[requires(ADMIN)])
    async def terminals_page(self, db_session: DbSession) -> Template:
        rooms = list(await db_session.scalars(select(Room).order_by(Room.site, Room.name)))
        listing = [(room, await terminals.room_terminals(db_session, room.id)) for room in rooms]
        return Template("console/terminals.html", context={"listing": listing, "code": None, "error": None})

    @post("/terminals/codes", guards=[requires(ADMIN)])
    async def issue_code(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: URLEncodedBody[CodeForm]
    ) -> Template:
        seat_text = data.seat_no.strip()
        code = error = None
        if seat_text and not seat_text.isdigit():
            error = _("Seat number: write a number, or leave it empty for a spare terminal.")
        else:
            try:
                code = await terminals.issue_code(
                    db_session,
                    data.room_id,
                    int(seat_text) if seat_text else None,
                    actor_of(request),
                    datetime.now(UTC),
                )
            except terminals.TerminalError as exc:
                error = _refusal_text(exc.code)
        room = await db_session.get(Room, data.room_id)
        return Template(
            "console/_code.html",
            context={"code": code, "error": error, "room": room, "seat_no": seat_text},
            status_code=200 if code else 400,
        )
