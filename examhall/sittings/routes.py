"""Exam day JSON API under /api/v1: terminal enrollment, candidate login, the attempt (clock,
paper, answers, submission, errata) and its live websocket; check-in and enrollment codes for
staff. The terminal pages (sittings/pages.py) and the load benchmark use exactly these.

Errors are JSON ``{"error": status, "code": ..., "message": ...}``; ``code`` is stable, the
message is translated. Time is the server's: every clock carries ``server_now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, Response, WebSocket, get, post, put, websocket
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_423_LOCKED,
)
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.config import Settings
from examhall.db import Database
from examhall.deps import DatabaseDep, DbSession, PartsDep, ProgressDep, SettingsDep
from examhall.events import Resync
from examhall.i18n import N_, _, site_time
from examhall.papers.service import PaperError
from examhall.security import service as security_service
from examhall.security import terminals
from examhall.security.models import Terminal
from examhall.security.rules import ADMIN, CANDIDATE, CHIEF, INVIGILATOR
from examhall.security.web import actor_of, client_ip, principal_of, requires, session_cookie
from examhall.sittings import answers, examday, outages
from examhall.sittings.models import Attempt, Sitting
from examhall.sittings.progress import RoomProgress
from examhall.sittings.service import SittingError
from examhall.websocket import POLICY_VIOLATION, same_origin

log = logging.getLogger("examhall.sittings")
PUBLIC = {"public": True}
# The terminal counts down on its own monotonic clock from the last state message, and every
# change (pause, extra time, hand-in, erratum) is pushed at once; the tick re-anchors that
# countdown, carries what the clock alone changes (S + 30 min) and shows the socket is alive
# (terminal.js drops a socket silent for 25 s). 2,000 terminals: 200 ticks a second.
TICK_SECONDS = 10.0
# The terminal's channel reads its attempt on connect, on every event of the attempt or the
# sitting, on "sync", and at least this often; the ticks in between need no database.
RELOAD_SECONDS = 60.0
# The automatic hand-in (examday.auto_submit_loop, every worker) closes attempts at E; a channel
# that still sees its attempt running this long after E hands it in itself.
AUTO_SUBMIT_GRACE = timedelta(seconds=5)

# Refusal code → (HTTP status, message). One table for the API and the terminal pages.
REFUSALS: dict[str, tuple[int, str]] = {
    "bad_ticket": (HTTP_403_FORBIDDEN, N_("Admission ticket number and ID number do not match. Check both.")),
    "not_a_terminal": (
        HTTP_403_FORBIDDEN,
        N_("This computer is not an enrolled exam terminal. Candidates log in only at their seat."),
    ),
    "not_checked_in": (
        HTTP_403_FORBIDDEN,
        N_("You have not been checked in yet. Show your ID card and admission ticket to an invigilator."),
    ),
    "no_sitting": (HTTP_403_FORBIDDEN, N_("You have no exam today at this site.")),
    "closed": (HTTP_409_CONFLICT, N_("Your exam has ended. Your answers were handed in.")),
    "wrong_seat": (HTTP_403_FORBIDDEN, N_("This is not your seat. Please go to seat %(seat)s.")),
    "too_early": (HTTP_409_CONFLICT, N_("You may hand in from %(opens)s (30 minutes before your end time).")),
    "checkin_not_open": (HTTP_409_CONFLICT, N_("Check-in opens 20 minutes before the start.")),
    "paused": (HTTP_409_CONFLICT, N_("The exam is paused. Please wait; your time is stopped.")),
    "not_yet": (HTTP_409_CONFLICT, N_("The exam has not started yet.")),
    "barred": (HTTP_409_CONFLICT, N_("More than 30 minutes have passed since the start: you can no longer start.")),
    "cannot_start": (HTTP_409_CONFLICT, N_("The paper cannot be opened now.")),
    "sealed": (HTTP_423_LOCKED, N_("The papers are still sealed. Please wait for the chief examiner.")),
    "not_started": (HTTP_409_CONFLICT, N_("Open the paper first.")),
    "not_due": (HTTP_409_CONFLICT, N_("The end time has not been reached.")),
    "no_erratum": (HTTP_404_NOT_FOUND, N_("There is no such notice.")),
    "not_seated": (HTTP_404_NOT_FOUND, N_("This candidate has no seat in this sitting.")),
    "no_candidate": (HTTP_404_NOT_FOUND, N_("No candidate with this admission ticket or ID number.")),
    "no_paper": (HTTP_409_CONFLICT, N_("No paper was assembled for this candidate. Tell the chief examiner.")),
    "no_room": (HTTP_404_NOT_FOUND, N_("This room does not exist.")),
    "no_seat": (HTTP_400_BAD_REQUEST, N_("This room has no such seat.")),
    "bad_code": (
        HTTP_403_FORBIDDEN,
        N_("This enrollment code is unknown, already used or expired. Ask the exam office for a new one."),
    ),
    "clock_refused": (HTTP_409_CONFLICT, N_("This cannot be done at this time: %(reason)s")),
    "bad_text": (HTTP_400_BAD_REQUEST, N_("Write the correction (up to 2,000 characters).")),
    "no_attempt": (HTTP_404_NOT_FOUND, N_("This candidate has not been checked in.")),
    "not_spare": (HTTP_400_BAD_REQUEST, N_("Choose an enrolled spare terminal.")),
    "other_room": (HTTP_400_BAD_REQUEST, N_("The spare terminal is in another room.")),
    "spare_taken": (HTTP_409_CONFLICT, N_("Another candidate works at that spare terminal.")),
    "bad_scope": (HTTP_400_BAD_REQUEST, N_("Say what the outage affects: one seat, one room or the whole sitting.")),
    "bad_cause": (HTTP_400_BAD_REQUEST, N_("Choose the cause: power, network, system, paper or other.")),
    "not_open": (HTTP_409_CONFLICT, N_("This candidate's exam is not open.")),
    "sitting_over": (HTTP_409_CONFLICT, N_("This sitting is already over.")),
    "no_outage": (HTTP_404_NOT_FOUND, N_("This outage does not exist.")),
    "bad_policy": (HTTP_400_BAD_REQUEST, N_("A voided item is scored for nobody or for everybody.")),
    "not_in_papers": (HTTP_404_NOT_FOUND, N_("No paper of this sitting contains that item.")),
    "outage_over": (HTTP_409_CONFLICT, N_("This outage has already ended; its candidates continued.")),
    "limit_not_reached": (
        HTTP_409_CONFLICT,
        N_("The affected part can be stopped only once the outage has lasted 50 minutes."),
    ),
}
# Refusals of single answers (sittings.answers and sittings.scoring codes).
ANSWER_REFUSALS: dict[str, str] = {
    "no_such_question": N_("This question is not in your paper."),
    "bad_seq": N_("The answer could not be saved: the page is out of date. Reload the page."),
    "stale": N_("A newer answer to this question was already saved."),
    "closed": N_("Your exam has ended; answers are no longer accepted."),
    "ended": N_("Your end time has passed; answers are no longer accepted."),
    "paused": N_("The exam is paused; your answer will be sent again when it continues."),
    "not_started": N_("Open the paper first."),
    "not_an_option": N_("This option does not exist in this question."),
    "one_option_only": N_("Choose exactly one option for a single-choice question."),
    "judge_true_false": N_("Answer true or false."),
    "repeated_option": N_("An option was given twice."),
    "too_long": N_("The answer is too long."),
}


def refusal(code: str, **facts: Any) -> Response[Any]:
    status, text = REFUSALS.get(code, (HTTP_409_CONFLICT, N_("This cannot be done now.")))
    params = {k: (site_time(v) if isinstance(v, datetime) else v) for k, v in facts.items()}
    if code == "too_early":
        params.setdefault("opens", "")
    if code == "wrong_seat":
        params.setdefault("seat", "?")
    if code == "clock_refused":
        params.setdefault("reason", "")
    return Response({"error": status, "code": code, "message": _(text, **params)}, status_code=status)


def answer_message(code: str | None) -> str:
    return _(ANSWER_REFUSALS.get(code or "", N_("The answer could not be saved.")))


def now_utc() -> datetime:
    return datetime.now(UTC)


def terminal_cookie(value: str, settings: Settings) -> Cookie:
    return Cookie(
        key=terminals.TERMINAL_COOKIE,
        value=value,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=terminals.TERMINAL_COOKIE_DAYS * 86400,
    )


async def terminal_of(
    connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession, settings: Settings
) -> Terminal | None:
    return await terminals.terminal_from_cookie(session, settings, connection.cookies.get(terminals.TERMINAL_COOKIE))


def terminal_out(terminal: Terminal | terminals.TerminalRow) -> dict[str, Any]:
    return {
        "id": terminal.id,
        "room_id": terminal.room_id,
        "seat_no": terminal.seat_no,
        "is_spare": terminal.is_spare,
        "label": terminal.label,
    }


async def candidate_login(
    session: AsyncSession,
    settings: Settings,
    terminal: Terminal | None,
    ticket_number: str,
    id_number: str,
    ip: str | None,
    now: datetime,
) -> tuple[security_service.LoginResult, dict[str, Any]]:
    """Ticket + ID at the enrolled seat, once checked in (R-SEC-2, R-CLOCK-1); shared with the page."""
    facts: dict[str, Any] = {}
    admitted: list[Attempt] = []

    async def admit(candidate: Any) -> str | None:
        attempt, code, more = await examday.admit_at_terminal(session, candidate, terminal, now)
        facts.update(more)
        if code is None and attempt is not None:
            admitted.append(attempt)
        return code

    result = await security_service.login_candidate(session, settings, ticket_number, id_number, ip, admit=admit)
    if result.token is not None and admitted and terminal is not None:
        await examday.after_login(session, admitted[0], terminal, now)
    return result, facts


async def seat_attempt(
    connection: ASGIConnection[Any, Any, Any, Any], db: Database, settings: Settings, now: datetime
) -> examday.AttemptRow | None:
    """The calling candidate's attempt when they are at the terminal they must use, read on the
    raw pool (every request of every terminal in the start storm); None when the request is to be
    refused — :func:`attempt_context` then says why."""
    principal = principal_of(connection)
    parsed = terminals.parse_cookie(settings, connection.cookies.get(terminals.TERMINAL_COOKIE))
    if principal.candidate_id is None or parsed is None:
        return None
    attempt, row = await examday.seat_attempt_row(db, principal.candidate_id, parsed[0], now)
    terminal = terminals.terminal_row_of(row, parsed[1], prefix="t_")
    if attempt is None or terminal is None or not examday.seat_matches(attempt, terminal):
        return None
    return attempt


async def attempt_context(
    connection: ASGIConnection[Any, Any, Any, Any], session: AsyncSession, settings: Settings, now: datetime
) -> tuple[Attempt, Sitting] | Response[Any]:
    """The calling candidate's attempt — only from the terminal they must use (R-SEC-2, R-CLOCK-7)."""
    principal = principal_of(connection)
    if principal.candidate_id is None:
        return refusal("no_sitting")
    found = await examday.open_attempt_and_sitting(session, principal.candidate_id, now)
    if found is None:
        return refusal("not_checked_in")
    attempt, sitting = found
    terminal = await terminal_of(connection, session, settings)
    if terminal is None:
        return refusal("not_a_terminal")
    if not examday.seat_matches(attempt, terminal):
        return refusal("wrong_seat", seat=await examday.seat_label(session, attempt))
    return attempt, sitting


async def attempt_json(
    session: AsyncSession, attempt: Attempt, sitting: Sitting, now: datetime, name: str
) -> dict[str, Any]:
    return (await examday.attempt_view(session, attempt, sitting)).as_json(now, name)


async def paper_out(db: Database, settings: Settings, attempt_id: int, paper_id: int) -> dict[str, Any]:
    """The candidate's paper without keys, with every acknowledged answer and the last sequence
    number (the terminal continues after it)."""
    paper = await examday.candidate_paper_raw(db, settings, paper_id)
    saved = await examday.saved_answers_raw(db, attempt_id)
    return {
        **paper.for_candidate(),
        "answers": {
            str(pos): {"response": response, "flagged": flagged, "seq": seq} for pos, response, flagged, seq in saved
        },
        "last_seq": max((seq for *_rest, seq in saved), default=0),
    }


class EnrollJson(msgspec.Struct):
    code: str


class CandidateLoginJson(msgspec.Struct):
    ticket_number: str
    id_number: str


class AnswerJson(msgspec.Struct):
    response: str
    seq: int
    flagged: bool = False


class SubmitJson(msgspec.Struct):
    confirm: bool = False


class CheckInJson(msgspec.Struct):
    ticket_or_id: str


class CodeJson(msgspec.Struct):
    room_id: int
    seat_no: int | None = None


class ErratumJson(msgspec.Struct):
    text: str


class MoveJson(msgspec.Struct):
    terminal_id: int


class OutageJson(msgspec.Struct):
    scope: str
    cause: str
    room_id: int | None = None
    attempt_id: int | None = None
    note: str = ""


class StopJson(msgspec.Struct):
    reason: str


class VoidJson(msgspec.Struct):
    revision_id: int
    policy: str


def outage_out(view: outages.OutageView) -> dict[str, Any]:
    o = view.outage
    return {
        "id": o.id,
        "scope": o.scope,
        "room_id": o.room_id,
        "attempt_id": o.attempt_id,
        "cause": o.cause,
        "note": o.note,
        "started_at": o.started_at.isoformat(),
        "ended_at": o.ended_at.isoformat() if o.ended_at else None,
        "outcome": o.outcome,
        "affected": len(o.affected),
        "elapsed_s": round(view.elapsed.total_seconds(), 3),
        "limit_s": view.limit.total_seconds(),
        "limit_reached": view.limit_reached,
    }


def _save_out(result: answers.SaveResult) -> dict[str, Any]:
    if result.ok:
        return {
            "t": "ack",
            "ok": True,
            "position": result.position,
            "seq": result.seq,
            "response": result.response,
            "flagged": result.flagged,
            "saved_at": result.saved_at.isoformat() if result.saved_at else None,
        }
    return {
        "t": "refused",
        "ok": False,
        "position": result.position,
        "seq": result.seq,
        "code": result.code,
        "message": answer_message(result.code),
    }


class TerminalApi(Controller):
    """What an exam-room terminal does (the candidate's side)."""

    path = "/api/v1"
    tags = ["exam day: terminal"]

    @post("/terminal/enroll", opt=PUBLIC, status_code=HTTP_200_OK)
    async def enroll(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, data: JSONBody[EnrollJson]
    ) -> Response[Any]:
        """Enroll this PC as a seat terminal with a one-time code (R-SEC-2); sets the terminal cookie."""
        try:
            terminal, cookie = await terminals.enroll(db_session, settings, data.code, client_ip(request), now_utc())
        except terminals.TerminalError as exc:
            return refusal(exc.code)
        response: Response[Any] = Response({"terminal": terminal_out(terminal)})
        response.set_cookie(terminal_cookie(cookie, settings))
        return response

    @get("/terminal", opt=PUBLIC)
    async def whoami_terminal(self, request: Request[Any, Any, Any], parts: PartsDep) -> dict[str, Any]:
        """Which seat this PC is, or null."""
        terminal = await terminals.terminal_row_from_cookie(
            parts.db, parts.settings, request.cookies.get(terminals.TERMINAL_COOKIE)
        )
        return {"terminal": terminal_out(terminal) if terminal else None, "server_now": now_utc().isoformat()}

    @post("/candidate/login", opt=PUBLIC, status_code=HTTP_200_OK)
    async def login(
        self, request: Request[Any, Any, Any], parts: PartsDep, data: JSONBody[CandidateLoginJson]
    ) -> Response[Any]:
        """Admission ticket number + ID number, at the enrolled seat, after check-in."""
        db, settings = parts.db, parts.settings
        now, ip = now_utc(), client_ip(request)
        seat = await terminals.terminal_row_from_cookie(db, settings, request.cookies.get(terminals.TERMINAL_COOKIE))
        fast = await examday.login_at_seat_raw(db, settings, seat, data.ticket_number, data.id_number, ip, now)
        facts: dict[str, Any] = {}
        if fast is not None:
            result = fast
        else:  # a refusal, or a candidate moved to a spare terminal: the full path decides and audits
            async with db.session() as db_session:
                terminal = await terminal_of(request, db_session, settings)
                result, facts = await candidate_login(
                    db_session, settings, terminal, data.ticket_number, data.id_number, ip, now
                )
        if result.token is None or result.principal is None:
            return refusal(result.refused or "bad_ticket", **facts)
        response: Response[Any] = Response({"candidate": {"name": result.principal.display_name}})
        response.set_cookie(session_cookie(result.token, settings))
        return response

    @get("/attempt", guards=[requires(CANDIDATE)])
    async def attempt(self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep) -> Any:
        """The attempt now: clock (server time), errata, receipt once submitted."""
        now = now_utc()
        ctx = await attempt_context(request, db_session, settings, now)
        if isinstance(ctx, Response):
            return ctx
        attempt, sitting = ctx
        if attempt.state == "running" and attempt.ends_at is not None and attempt.ends_at <= now:
            await examday.submit_attempt(db_session, settings, attempt.id, how="auto", now=now, by="system")
        return await attempt_json(db_session, attempt, sitting, now, principal_of(request).display_name)

    @post("/attempt/start", guards=[requires(CANDIDATE)], status_code=HTTP_200_OK)
    async def start(self, request: Request[Any, Any, Any], parts: PartsDep) -> Any:
        """Open the paper: from S, until S + 30 min (R-CLOCK-2), once unsealed."""
        db, settings = parts.db, parts.settings
        now = now_utc()
        row = await seat_attempt(request, db, settings, now)
        if row is not None:
            try:
                await examday.start_attempt_row(db, settings, row, now)
            except SittingError as exc:
                return refusal(exc.code, **exc.facts)
            view = await examday.live_view(db, row.id)
            assert view is not None
            state = view.as_json(now, principal_of(request).display_name)
        else:
            async with db.session() as db_session:
                ctx = await attempt_context(request, db_session, settings, now)
                if isinstance(ctx, Response):
                    return ctx
                attempt, sitting = ctx
                try:
                    await examday.start_attempt(db_session, settings, attempt, now)
                except SittingError as exc:
                    return refusal(exc.code, **exc.facts)
                state = await attempt_json(db_session, attempt, sitting, now, principal_of(request).display_name)
        if state["started_at"] is not None and state["state"] != "closed":
            # The paper comes with the answer to "open": one request less per candidate in the
            # start storm (GET /attempt/paper stays for reloads and moves).
            state["paper"] = await paper_out(db, settings, state["attempt_id"], state["paper_id"])
        return state

    @get("/attempt/paper", guards=[requires(CANDIDATE)])
    async def paper(self, request: Request[Any, Any, Any], parts: PartsDep) -> Any:
        """The candidate's own paper without keys, with every acknowledged answer (resume after reload or move)."""
        db, settings = parts.db, parts.settings
        now = now_utc()
        attempt: examday.AttemptRow | Attempt | None = await seat_attempt(request, db, settings, now)
        if attempt is None:
            async with db.session() as db_session:
                ctx = await attempt_context(request, db_session, settings, now)
            if isinstance(ctx, Response):
                return ctx
            attempt = ctx[0]
        if attempt.started_at is None:
            return refusal("not_started")
        if attempt.state == "closed":
            return refusal("closed")
        return await paper_out(db, settings, attempt.id, attempt.paper_id)

    @put("/attempt/answers/{position:int}", guards=[requires(CANDIDATE)], status_code=HTTP_200_OK)
    async def save(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        db: DatabaseDep,
        progress: ProgressDep,
        position: FromPath[int],
        data: JSONBody[AnswerJson],
    ) -> Response[Any]:
        """Save one answer; 200 only after the commit. ``seq`` must grow with every change."""
        now = now_utc()
        ctx = await attempt_context(request, db_session, settings, now)
        if isinstance(ctx, Response):
            return ctx
        attempt, _sitting = ctx
        paper = await examday.candidate_paper(db_session, settings, attempt.paper_id)
        result = await answers.save_answer(db, attempt.id, paper, position, data.response, data.flagged, data.seq, now)
        if result.ok:
            progress.note(attempt.room_id, attempt.id)
        status = HTTP_200_OK if result.ok else HTTP_409_CONFLICT
        if not result.ok and result.code in ANSWER_REFUSALS and result.code not in answers.MESSAGES:
            status = HTTP_422_UNPROCESSABLE_ENTITY
        return Response(_save_out(result), status_code=status)

    @post("/attempt/submit", guards=[requires(CANDIDATE)], status_code=HTTP_200_OK)
    async def submit(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, data: JSONBody[SubmitJson]
    ) -> Response[Any]:
        """Hand in (from E − 30 min, R-CLOCK-3); returns the receipt code (R-SCORE-7), never the score."""
        if not data.confirm:
            return Response(
                {"error": 400, "code": "confirm", "message": _("Confirm that you want to hand in.")},
                status_code=HTTP_400_BAD_REQUEST,
            )
        now = now_utc()
        ctx = await attempt_context(request, db_session, settings, now)
        if isinstance(ctx, Response):
            return ctx
        attempt, _sitting = ctx
        try:
            submission = await examday.submit_attempt(
                db_session, settings, attempt.id, how="candidate", now=now, by=principal_of(request).actor
            )
        except SittingError as exc:
            opens = exc.facts.get("opens_at")
            return refusal(exc.code, **({"opens": opens} if exc.code == "too_early" and opens else {}))
        return Response(
            {
                "receipt_code": submission.receipt_code,
                "submitted_at": (submission.attempt.closed_at or now).isoformat(),
                "outcome": submission.attempt.outcome,
            }
        )

    @post("/attempt/errata/{erratum_id:int}/ack", guards=[requires(CANDIDATE)], status_code=HTTP_200_OK)
    async def acknowledge(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, erratum_id: FromPath[int]
    ) -> Any:
        """The candidate confirms they read a correction notice (R-INC-4)."""
        now = now_utc()
        ctx = await attempt_context(request, db_session, settings, now)
        if isinstance(ctx, Response):
            return ctx
        try:
            await examday.acknowledge_erratum(db_session, ctx[0], erratum_id, now)
        except SittingError as exc:
            return refusal(exc.code)
        return {"ok": True}

    @websocket("/attempt/ws", guards=[requires(CANDIDATE)])
    async def live(self, socket: WebSocket[Any, Any, Any], parts: PartsDep) -> None:
        """The terminal's live channel: clock every few seconds and on every event, errata, forced
        submission; answers may be saved over it (``{"t": "save", ...}`` → ``ack``/``refused``)."""
        if not same_origin(socket):
            await socket.close(code=POLICY_VIOLATION, reason="cross-origin")
            return
        try:
            await self._live(socket, parts.db, parts.bus, parts.settings, parts.progress)
        except Exception:
            # Litestar closes the socket with 4500 and logs nothing outside debug mode.
            log.exception("terminal websocket failed")
            raise

    async def _live(
        self,
        socket: WebSocket[Any, Any, Any],
        db: Any,
        bus: Any,
        settings: Settings,
        progress: RoomProgress,
    ) -> None:
        now = now_utc()
        row = await seat_attempt(socket, db, settings, now)
        if row is None:
            await socket.close(code=POLICY_VIOLATION, reason="not at your seat")
            return
        attempt_id, sitting_id, room_id = row.id, row.sitting_id, row.room_id
        name = principal_of(socket).display_name
        await socket.accept()
        channel = AttemptChannel(socket, db, settings, attempt_id, sitting_id, name, progress, room_id)
        progress.set_online(room_id, attempt_id, True)
        try:
            await channel.run(bus)
        finally:
            progress.set_online(room_id, attempt_id, False)


class AttemptChannel:
    """One terminal's websocket: sends state, receives saves."""

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        db: Any,
        settings: Settings,
        attempt_id: int,
        sitting_id: int,
        name: str,
        progress: RoomProgress,
        room_id: int,
    ) -> None:
        self.socket, self.db, self.settings = socket, db, settings
        self.progress, self.room_id = progress, room_id
        self.attempt_id, self.sitting_id, self.name = attempt_id, sitting_id, name
        self.paper: examday.CandidatePaper | None = None
        self.send_lock = asyncio.Lock()
        self.view: examday.AttemptView | None = None
        self.loaded_at = 0.0

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.socket.send_text(json.dumps(message, ensure_ascii=False))

    async def reload(self) -> examday.AttemptView:
        """Read the attempt again (one statement). Should the automatic hand-in be late, the
        channel hands the attempt in itself (R-CLOCK-5)."""
        view = await examday.live_view(self.db, self.attempt_id)
        if view is None:
            raise WebSocketDisconnect(detail="the attempt no longer exists")
        now = now_utc()
        if view.state == "running" and view.ends_at is not None and view.ends_at + AUTO_SUBMIT_GRACE <= now:
            try:
                async with self.db.session() as session:
                    await examday.submit_attempt(
                        session, self.settings, view.attempt_id, how="auto", now=now, by="system"
                    )
            except SittingError:
                pass  # handed in meanwhile, or E moved (a pause): the view read next says so
            view = await examday.live_view(self.db, self.attempt_id) or view
        if self.paper is not None and self.paper.paper_id != view.paper_id:
            self.paper = None  # R-CLOCK-9: the paper was replaced
        self.view, self.loaded_at = view, time.monotonic()
        return view

    async def send_state(self, reload: bool = True) -> None:
        """The state message. ``reload=False`` (the tick) computes the clock from the events
        read last, without the database, unless that read is old or E has passed."""
        now = now_utc()
        view = self.view
        if (
            reload
            or view is None
            or time.monotonic() - self.loaded_at >= RELOAD_SECONDS
            or (view.state == "running" and view.ends_at is not None and view.ends_at + AUTO_SUBMIT_GRACE <= now)
        ):
            view = await self.reload()
            now = now_utc()
        await self.send({"t": "state", **view.as_json(now, self.name)})

    async def refuse(self, message: dict[str, Any], code: str, now: datetime) -> None:
        """A save refused before it reaches the writer: logged (R-SEC-5) and answered."""
        position, seq = message.get("position"), message.get("seq")
        await answers.log_refusal(self.db, self.attempt_id, position, message.get("response", ""), seq, code, now)
        await self.send(
            {
                "t": "refused",
                "ok": False,
                "position": position,
                "seq": seq,
                "code": code,
                "message": answer_message(code),
            }
        )

    async def save(self, message: dict[str, Any]) -> None:
        now = now_utc()
        position, seq = message.get("position"), message.get("seq")
        if not isinstance(position, int) or isinstance(position, bool):
            await self.refuse(message, "no_such_question", now)
            return
        if self.paper is None:
            started, paper_id = await examday.started_paper(self.db, self.attempt_id)
            if not started:
                await self.refuse(message, "not_started", now)
                return
            self.paper = await examday.candidate_paper_raw(self.db, self.settings, paper_id)
        result = await answers.save_answer(
            self.db,
            self.attempt_id,
            self.paper,
            position,
            str(message.get("response", ""))[:64],
            bool(message.get("flagged", False)),
            seq if isinstance(seq, int) and not isinstance(seq, bool) else -1,
            now,
        )
        if result.ok:
            self.progress.note(self.room_id, self.attempt_id)
        await self.send(_save_out(result))

    async def receive_loop(self) -> None:
        while True:
            text = await self.socket.receive_data(mode="text")
            try:
                message = json.loads(text) if text else {}
            except ValueError:
                message = {}
            kind = message.get("t") if isinstance(message, dict) else None
            if kind == "save":
                await self.save(message)
            elif kind == "sync":
                await self.send_state()
            elif kind == "ping":
                await self.send({"t": "pong", "server_now": now_utc().isoformat()})

    async def run(self, bus: Any) -> None:
        async with bus.subscribe(f"attempt:{self.attempt_id}", f"sitting:{self.sitting_id}") as subscription:
            receiver = asyncio.create_task(self.receive_loop())
            getter: asyncio.Task[Any] | None = None
            try:
                await self.send_state()
                while True:
                    if getter is None:
                        getter = asyncio.create_task(subscription.get())
                    done, _pending = await asyncio.wait(
                        {getter, receiver}, timeout=TICK_SECONDS, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiver in done:
                        receiver.result()  # re-raises a disconnect
                        return
                    if getter in done:
                        item = getter.result()
                        getter = None
                        if isinstance(item, Resync) or item is not None:
                            await self.send_state()
                    else:
                        await self.send_state(reload=False)  # the tick: resynchronise the countdown
            except (WebSocketDisconnect, RuntimeError):
                return
            finally:
                for task in (getter, receiver):
                    if task is not None and not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                            await task


class ExamDayStaffApi(Controller):
    """Staff side of exam day that the terminal needs: enrollment codes, check-in, errata."""

    path = "/api/v1"
    tags = ["exam day: staff"]

    @post("/terminals/codes", guards=[requires(ADMIN)], status_code=HTTP_200_OK)
    async def issue_code(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: JSONBody[CodeJson]
    ) -> Response[Any]:
        """A one-time enrollment code for a seat (or a spare terminal when ``seat_no`` is null)."""
        try:
            code = await terminals.issue_code(db_session, data.room_id, data.seat_no, actor_of(request), now_utc())
        except terminals.TerminalError as exc:
            return refusal(exc.code)
        return Response({"code": code, "room_id": data.room_id, "seat_no": data.seat_no})

    @post("/sittings/{sitting_id:int}/checkin", guards=[requires(INVIGILATOR)], status_code=HTTP_200_OK)
    async def check_in(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[CheckInJson],
    ) -> Response[Any]:
        """Check a candidate in by ticket number (or its QR code) or ID number (R-CLOCK-1)."""
        candidate = await examday.find_candidate(db_session, data.ticket_or_id, sitting_id)
        if candidate is None:
            return refusal("no_candidate")
        try:
            attempt = await examday.check_in(db_session, sitting_id, candidate.id, actor_of(request), now_utc())
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        return Response(
            {"attempt_id": attempt.id, "candidate": candidate.name, "seat_no": attempt.seat_no, "state": attempt.state}
        )

    @post("/attempts/{attempt_id:int}/move", guards=[requires(INVIGILATOR)], status_code=HTTP_200_OK)
    async def move(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        attempt_id: FromPath[int],
        data: JSONBody[MoveJson],
    ) -> Response[Any]:
        """Move a candidate to a spare terminal of the room (R-CLOCK-7): their clock stops until
        they log in there, and the time lost is added to their end time."""
        try:
            attempt = await examday.move_to_spare(
                db_session, attempt_id, data.terminal_id, actor_of(request), now_utc()
            )
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        return Response({"attempt_id": attempt.id, "terminal_id": attempt.terminal_id, "state": attempt.state})

    @post("/sittings/{sitting_id:int}/outages", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def declare_outage(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[OutageJson],
    ) -> Response[Any]:
        """Declare an outage (R-CLOCK-6) or a paper replacement (cause "paper", R-CLOCK-9) for a
        seat (``attempt_id``), a room (``room_id``) or the whole sitting: the clocks stop now."""
        now = now_utc()
        try:
            outage = await outages.declare_outage(
                db_session,
                sitting_id,
                scope=data.scope,
                cause=data.cause,
                room_id=data.room_id,
                attempt_id=data.attempt_id,
                note=data.note,
                actor=actor_of(request),
                now=now,
            )
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        views = await outages.outages_of(db_session, sitting_id, now)
        return Response(outage_out(next(v for v in views if v.outage.id == outage.id)))

    @get("/sittings/{sitting_id:int}/outages", guards=[requires(INVIGILATOR)])
    async def list_outages(self, db_session: DbSession, sitting_id: FromPath[int]) -> dict[str, Any]:
        """Every outage of the sitting with the time toward the 50-minute limit (R-CLOCK-6)."""
        now = now_utc()
        views = await outages.outages_of(db_session, sitting_id, now)
        return {"server_now": now.isoformat(), "outages": [outage_out(v) for v in views]}

    @post("/outages/{outage_id:int}/end", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def end_outage(
        self, request: Request[Any, Any, Any], db_session: DbSession, outage_id: FromPath[int]
    ) -> Response[Any]:
        """The outage is resolved: clocks run again, each affected E extended by the time lost."""
        now = now_utc()
        try:
            outage = await outages.end_outage(db_session, outage_id, actor_of(request), now)
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        views = await outages.outages_of(db_session, outage.sitting_id, now)
        return Response(outage_out(next(v for v in views if v.outage.id == outage.id)))

    @post("/outages/{outage_id:int}/stop", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def stop_part(
        self, request: Request[Any, Any, Any], db_session: DbSession, outage_id: FromPath[int]
    ) -> Response[Any]:
        """After 50 minutes (R-CLOCK-6): stop the affected part; its candidates are to be rescheduled."""
        now = now_utc()
        try:
            outage = await outages.stop_affected_part(db_session, outage_id, actor_of(request), now)
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        views = await outages.outages_of(db_session, outage.sitting_id, now)
        return Response(outage_out(next(v for v in views if v.outage.id == outage.id)))

    @post("/sittings/{sitting_id:int}/stop", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def stop_sitting(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[StopJson],
    ) -> Response[Any]:
        """A major incident stops the sitting (R-INC-6): every candidate is to be rescheduled."""
        try:
            stopped = await outages.stop_sitting(db_session, sitting_id, data.reason, actor_of(request), now_utc())
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        return Response({"sitting_id": sitting_id, "rescheduled": stopped})

    @post("/sittings/{sitting_id:int}/voided-items", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def void_item(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: JSONBody[VoidJson],
    ) -> Response[Any]:
        """Void a faulty item for the sitting (R-INC-4): scored for nobody or for everybody;
        attempts already scored are scored again."""
        try:
            rescored = await examday.void_item(
                db_session, settings, sitting_id, data.revision_id, data.policy, actor_of(request), now_utc()
            )
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        return Response({"revision_id": data.revision_id, "policy": data.policy, "rescored": rescored})

    @post("/attempts/{attempt_id:int}/replace-paper", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def replace_paper(
        self, request: Request[Any, Any, Any], db_session: DbSession, settings: SettingsDep, attempt_id: FromPath[int]
    ) -> Response[Any]:
        """R-CLOCK-9: give the candidate a fresh paper (declare a seat outage with cause "paper"
        before, end it after: the time is compensated)."""
        try:
            attempt = await outages.replace_paper(db_session, settings, attempt_id, actor_of(request), now_utc())
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        except PaperError as exc:
            return refusal("sealed" if exc.code == "sealed" else "no_paper")
        return Response({"attempt_id": attempt.id, "paper_id": attempt.paper_id, "item_count": attempt.item_count})

    @post(
        "/sittings/{sitting_id:int}/rooms/{room_id:int}/replace-papers",
        guards=[requires(CHIEF)],
        status_code=HTTP_200_OK,
    )
    async def replace_room_papers(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
    ) -> Response[Any]:
        """R-CLOCK-9 for a room: every started candidate of the room gets a fresh paper; the room's
        open outage with cause "paper" ends, so the time in between is added."""
        try:
            count, outage = await outages.replace_room_papers(
                db_session, settings, sitting_id, room_id, actor_of(request), now_utc()
            )
        except SittingError as exc:
            return refusal(exc.code, reason=str(exc))
        except PaperError as exc:
            return refusal("sealed" if exc.code == "sealed" else "no_paper")
        return Response({"replaced": count, "outage_ended": outage.id if outage is not None else None})

    @post("/sittings/{sitting_id:int}/errata", guards=[requires(CHIEF)], status_code=HTTP_200_OK)
    async def erratum(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        data: JSONBody[ErratumJson],
    ) -> Response[Any]:
        """Broadcast a correction to every terminal of the sitting (R-INC-4)."""
        try:
            erratum = await examday.publish_erratum(db_session, sitting_id, data.text, actor_of(request), now_utc())
        except SittingError as exc:
            return refusal(exc.code)
        return Response({"id": erratum.id})
