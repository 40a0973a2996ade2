"""The seat terminal's pages (R-SEC-2, R-CLOCK-1…9): enroll the PC, the candidate's login at
their seat, and the exam shell that ``web/static/js/terminal.js`` drives through the JSON API
of ``sittings/routes.py`` (clock, paper, answers, errata, hand-in).

Thin: the login and the seat checks are the API's own (``candidate_login``, ``attempt_context``),
so a page and the API can never disagree about who may sit where. Refusals show the API's
translated message with its status code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_409_CONFLICT

from examhall.deps import DatabaseDep, DbSession, SettingsDep
from examhall.i18n import N_, _
from examhall.security import terminals
from examhall.security.rules import CANDIDATE
from examhall.security.web import client_ip, principal_of, requires, session_cookie
from examhall.sittings import examday, routes

PUBLIC: Final = {"public": True}

# Everything terminal.js says, translated per request and handed over as JSON (no strings in JS).
# ``%(name)s`` placeholders are filled in by the script.
SCRIPT_STRINGS: Final = {
    "question_of": N_("Question %(n)s of %(total)s"),
    "nav_label": N_("Question %(n)s"),
    "nav_answered": N_("answered"),
    "nav_unanswered": N_("not answered"),
    "nav_flagged": N_("flagged for review"),
    "nav_current": N_("current question"),
    "judge_true": N_("True"),
    "judge_false": N_("False"),
    "single_hint": N_("Choose one answer."),
    "multiple_hint": N_("Choose every correct answer (more than one)."),
    "judge_hint": N_("Is the statement true or false?"),
    "keys_choice": N_("Keys: %(letters)s or %(digits)s choose · F flag · ← → previous / next"),
    "keys_choice_m": N_("Keys: %(letters)s or %(digits)s choose · M flag · ← → previous / next"),
    "keys_judge": N_("Keys: T true · F false · M flag · ← → previous / next"),
    "flag": N_("Flag for review"),
    "unflag": N_("Remove flag"),
    "saved": N_("Saved"),
    "saving": N_("Saving…"),
    "not_answered": N_("Not answered yet"),
    "pending_count": N_("%(count)s answers not yet sent"),
    "time_left": N_("Time left"),
    "time_to_start": N_("Starts in"),
    "ends_at": N_("Ends at %(time)s"),
    "starts_at": N_("Starts at %(time)s"),
    "start_deadline": N_("You may start until %(time)s."),
    "waiting_for_start": N_("Please wait. The start button appears when the exam begins."),
    "may_start": N_("You may start now."),
    "warning_text": N_("Less than 15 minutes left. Your paper is handed in automatically at %(time)s."),
    "submit_opens": N_("You may hand in from %(time)s."),
    "submit_paused": N_("You cannot hand in while the exam is paused."),
    "confirm_title": N_("Hand in your paper?"),
    "confirm_all_answered": N_("You have answered every question."),
    "confirm_unanswered": N_("Not answered (%(count)s): %(list)s"),
    "confirm_flagged": N_("Flagged for review (%(count)s): %(list)s"),
    "confirm_final": N_("After handing in you cannot change any answer."),
    "flushing": N_("Sending your last answers…"),
    "still_pending": N_(
        "%(count)s answers have not reached the server yet. Nothing is lost: wait until the connection "
        "is back, then hand in again."
    ),
    "submitting": N_("Handing in…"),
    "network_error": N_("The server cannot be reached. Your answers are kept on this computer; try again."),
    "session_ended": N_("Your login has ended. Log in again: your answers are kept on this computer."),
    "log_in_again": N_("Log in again"),
    "time_up": N_("Your time is up. Your paper is being handed in…"),
    "withdrawn": N_("Your exam has been stopped. Please follow the invigilator's instructions."),
    "rescheduled": N_(
        "This exam has been stopped and will be held again at another time. Your answers are kept. "
        "Please follow the invigilator's instructions."
    ),
    "barred": routes.REFUSALS["barred"][1],
    "closed": routes.REFUSALS["closed"][1],
    "erratum_title": N_("Notice from the chief examiner"),
    "erratum_published": N_("Published at %(time)s"),
    "loading": N_("Loading your paper…"),
    "points_each": N_("Points per question: %(points)s"),
    "phase_not_open": N_("Not open yet"),
    "phase_check_in": N_("Check-in"),
    "phase_waiting": N_("Waiting for the start"),
    "phase_running": N_("In progress"),
    "phase_paused": N_("Paused"),
    "phase_final_minutes": N_("Last 15 minutes"),
    "phase_ended": N_("Time is up"),
    "phase_barred": N_("Too late to start"),
    "phase_withdrawn": N_("Stopped"),
    "phase_submitted": N_("Handed in"),
    "phase_rescheduled": N_("Stopped, to be held again"),
}


class EnrollForm(msgspec.Struct):
    code: str = ""


class CandidateLoginForm(msgspec.Struct):
    ticket_number: str = ""
    id_number: str = ""


def refusal_page(code: str, **facts: Any) -> tuple[int, str]:
    """(status, translated message) of a refusal code of the exam-day API."""
    status, text = routes.REFUSALS.get(code, (HTTP_409_CONFLICT, N_("This cannot be done now.")))
    params = {"opens": "", "seat": "?", "reason": ""} | facts
    return status, _(text, **params)


def script_strings() -> dict[str, str]:
    return {key: _(text) for key, text in SCRIPT_STRINGS.items()}


class TerminalPages(Controller):
    """What a candidate sees at the seat terminal."""

    include_in_schema = False

    @get("/terminal", opt=PUBLIC)
    async def terminal_page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        again: FromQuery[bool] = False,
    ) -> Response[Any]:
        """Enrollment form, unless this PC is already a seat (``?again=1`` re-enrolls it)."""
        terminal = await routes.terminal_of(request, db_session, settings)
        if terminal is not None and not again:
            return Redirect("/candidate/login")
        return Template("terminal/enroll.html", context={"error": None, "code": "", "terminal": terminal})

    @post("/terminal/enroll", opt=PUBLIC)
    async def enroll(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        data: URLEncodedBody[EnrollForm],
    ) -> Response[Any]:
        """R-SEC-2: a one-time code from the exam office turns this PC into "room R, seat N"."""
        try:
            terminal, cookie = await terminals.enroll(
                db_session, settings, data.code, client_ip(request), datetime.now(UTC)
            )
        except terminals.TerminalError as exc:
            status, message = refusal_page(exc.code)
            return Template(
                "terminal/enroll.html",
                context={"error": message, "code": data.code, "terminal": None},
                status_code=status,
            )
        response = Template("terminal/enrolled.html", context={"terminal": terminal})
        response.set_cookie(routes.terminal_cookie(cookie, settings))
        return response

    @get("/candidate/login", opt=PUBLIC)
    async def login_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep
    ) -> Template:
        terminal = await routes.terminal_of(request, db_session, settings)
        return Template("terminal/login.html", context=self._login_context(request, terminal))

    @post("/candidate/login", opt=PUBLIC)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        db: DatabaseDep,
        settings: SettingsDep,
        data: URLEncodedBody[CandidateLoginForm],
    ) -> Response[Any]:
        """Admission ticket + ID number, at the candidate's own seat, once checked in (R-SEC-2, R-CLOCK-1)."""
        now, ip = datetime.now(UTC), client_ip(request)
        seat = await terminals.terminal_row_from_cookie(db, settings, request.cookies.get(terminals.TERMINAL_COOKIE))
        result = await examday.login_at_seat_raw(db, settings, seat, data.ticket_number, data.id_number, ip, now)
        facts: dict[str, Any] = {}
        terminal = None
        if result is None:  # a refusal, or a moved candidate: the full path decides and audits
            terminal = await routes.terminal_of(request, db_session, settings)
            result, facts = await routes.candidate_login(
                db_session, settings, terminal, data.ticket_number, data.id_number, ip, now
            )
        if result.token is None or result.principal is None:
            status, message = refusal_page(result.refused or "bad_ticket", **facts)
            return Template(
                "terminal/login.html",
                context=self._login_context(
                    request, terminal, error=message, code=result.refused, ticket_number=data.ticket_number
                ),
                status_code=status,
            )
        response = Redirect("/candidate/exam", status_code=HTTP_303_SEE_OTHER)
        response.set_cookie(session_cookie(result.token, settings))
        return response

    @staticmethod
    def _login_context(
        request: Request[Any, Any, Any],
        terminal: Any,
        *,
        error: str | None = None,
        code: str | None = None,
        ticket_number: str = "",
    ) -> dict[str, Any]:
        principal = request.scope.get("user")
        return {
            "terminal": terminal,
            "error": error,
            "code": code,
            "ticket_number": ticket_number.strip()[:32],
            "logged_in": principal is not None and principal.is_candidate,
        }

    @get("/candidate/exam", guards=[requires(CANDIDATE)])
    async def exam(self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep) -> Template:
        """The exam shell; terminal.js fills it from /api/v1/attempt and its websocket."""
        now = datetime.now(UTC)
        ctx = await routes.attempt_context(request, db_session, settings, now)
        if isinstance(ctx, Response):
            content = ctx.content if isinstance(ctx.content, dict) else {}
            message = str(content.get("message") or refusal_page("no_sitting")[1])
            return Template(
                "terminal/refused.html",
                context={"message": message, "code": content.get("code")},
                status_code=ctx.status_code or HTTP_409_CONFLICT,
            )
        attempt, sitting = ctx
        terminal = await routes.terminal_of(request, db_session, settings)
        return Template(
            "terminal/exam.html",
            context={
                "name": principal_of(request).display_name,
                "seat": terminal.label if terminal is not None else str(attempt.seat_no),
                "sitting": sitting,
                "attempt": attempt,
                "strings": script_strings(),
                "timezone": settings.timezone,
            },
        )
