"""The incident log (考场记录表, R-INC-1…5, R-CLOCK-3/8): JSON API under /api/v1 (``IncidentApi``)
and the room's log page with its printable record form (``IncidentPages``).

Refusals are JSON ``{"error": status, "code": ..., "message": ...}``; ``code`` is stable, the
message translated. The pages and the API go through the same service (console.incidents).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)

from examhall.config import Settings
from examhall.console import incidents
from examhall.console import violations as vio
from examhall.console.models import Bar, Incident
from examhall.console.record_form import FormRow, RecordForm, render_record_form
from examhall.deps import DbSession, SettingsDep
from examhall.i18n import N_, _, site_time
from examhall.security.rules import ADMIN, CHIEF, INVIGILATOR, may
from examhall.security.web import actor_of, principal_of, requires
from examhall.sittings.models import Sitting
from examhall.sittings.service import SittingError

# Refusal code → (HTTP status, message): one table for the API and the pages.
INCIDENT_REFUSALS: dict[str, tuple[int, str]] = {
    "no_sitting": (HTTP_404_NOT_FOUND, N_("This sitting does not exist.")),
    "no_room": (HTTP_404_NOT_FOUND, N_("This room has no seats in this sitting.")),
    "needs_room": (HTTP_400_BAD_REQUEST, N_("Name the room of the log.")),
    "no_seat": (HTTP_404_NOT_FOUND, N_("This seat is empty or not in this room.")),
    "no_attempt": (HTTP_404_NOT_FOUND, N_("This candidate has no exam in this sitting.")),
    "other_room": (HTTP_409_CONFLICT, N_("This candidate sits in another room.")),
    "other_seat": (HTTP_409_CONFLICT, N_("This exam belongs to another seat.")),
    "unknown_category": (HTTP_400_BAD_REQUEST, N_("Choose a category from the list.")),
    "bad_request_id": (HTTP_400_BAD_REQUEST, N_("The request id is too long (at most 64 characters).")),
    "needs_candidate": (HTTP_400_BAD_REQUEST, N_("Choose the seat of the candidate concerned.")),
    "not_checked_in": (HTTP_409_CONFLICT, N_("This candidate has not been checked in.")),
    "attempt_closed": (HTTP_409_CONFLICT, N_("This candidate's exam has already ended.")),
    "serious_level_4_only": (HTTP_400_BAD_REQUEST, N_("Only a level-4 violation can be marked serious.")),
    "bad_text": (HTTP_400_BAD_REQUEST, N_("The description is too long (at most 2,000 characters).")),
    "needs_text": (HTTP_400_BAD_REQUEST, N_("Describe what happened.")),
    "bad_recorders": (HTTP_400_BAD_REQUEST, N_("Name one to six invigilators who recorded the entry.")),
    "needs_escorts": (HTTP_400_BAD_REQUEST, N_("Name the two escorts of the toilet break.")),
    "needs_admitted": (HTTP_400_BAD_REQUEST, N_("Say whether the candidate admitted the impersonation.")),
    "needs_confirmation": (
        HTTP_400_BAD_REQUEST,
        N_("Write the name of the impersonator, who confirms the admission by signing."),
    ),
    "may_hand_in": (HTTP_409_CONFLICT, N_("The candidate may hand in now: this is not an early leave.")),
    "clock_refused": (HTTP_409_CONFLICT, N_("This cannot be done at this time: %(reason)s")),
    "request_reused": (HTTP_409_CONFLICT, N_("This request id was already used for another entry.")),
    "no_incident": (HTTP_404_NOT_FOUND, N_("This entry does not exist.")),
    "superseded": (
        HTTP_409_CONFLICT,
        N_("This entry was already corrected; correct the latest entry (no. %(latest)s)."),
    ),
    "cannot_recategorise": (
        HTTP_409_CONFLICT,
        N_("A toilet break, illness or early leave keeps its category; correct only its description."),
    ),
    "chief_only": (HTTP_403_FORBIDDEN, N_("Only the chief examiner may change the chief's decision.")),
    "needs_decision": (HTTP_400_BAD_REQUEST, N_("Write the decision.")),
    "forbidden_role": (HTTP_403_FORBIDDEN, N_("You do not have permission to do this.")),
    "login_required": (HTTP_401_UNAUTHORIZED, N_("Please log in first.")),
    "invalid": (HTTP_400_BAD_REQUEST, N_("Some fields are missing or invalid.")),
}

KIND_NAMES = {vio.ENTRY: N_("entry"), vio.CORRECTION: N_("correction"), vio.DECISION: N_("chief's decision")}
KIND_NAMES_ZH = {vio.ENTRY: "", vio.CORRECTION: "更正", vio.DECISION: "主考决定"}
OTHER_ENTRIES = N_("Other entries (no violation)")


def refusal_message(code: str, **facts: Any) -> tuple[int, str]:
    status, text = INCIDENT_REFUSALS.get(code, (HTTP_409_CONFLICT, N_("This cannot be done now.")))
    params = {"reason": "", "latest": "?"} | {k: v for k, v in facts.items() if v is not None}
    return status, _(text, **params)


def refusal(code: str, **facts: Any) -> Response[Any]:
    status, message = refusal_message(code, **facts)
    return Response({"error": status, "code": code, "message": message}, status_code=status)


def _from_error(exc: SittingError) -> Response[Any]:
    return refusal(exc.code, reason=str(exc), **exc.facts)


def _guard_refused(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, NotAuthorizedException):
        return refusal("login_required")
    if isinstance(exc, ValidationException):
        status, message = refusal_message("invalid")
        body: dict[str, Any] = {"error": status, "code": "invalid", "message": message}
        if exc.extra:
            body["fields"] = exc.extra
        return Response(body, status_code=status)
    return refusal("forbidden_role")


def now_utc() -> datetime:
    return datetime.now(UTC)


def zone_of(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def consequence_out(result: vio.Consequence) -> dict[str, Any]:
    return {
        "cancel_subject": result.cancel_subject,
        "counts_as_cheating": result.counts_as_cheating,
        "cancel_all_subjects_of_sitting": result.cancel_all_subjects_of_sitting,
        "bar_from": result.bar_from.isoformat() if result.bar_from else None,
        "bar_until": result.bar_until.isoformat() if result.bar_until else None,
        "referral": result.referral,
    }


def incident_out(row: Incident, candidate_name: str | None = None, replaced_by: int | None = None) -> dict[str, Any]:
    cat = vio.CATEGORIES[row.category]
    return {
        "id": row.id,
        "sitting_id": row.sitting_id,
        "room_id": row.room_id,
        "attempt_id": row.attempt_id,
        "candidate_id": row.candidate_id,
        "candidate": candidate_name,
        "seat_no": row.seat_no,
        "at": row.at.isoformat(),
        "incident_date": row.incident_date.isoformat(),
        "kind": row.kind,
        "category": row.category,
        "category_label": _(cat.label_en),
        "category_zh": cat.label_zh,
        "clause": cat.clause,
        "level": row.level,
        "serious": row.serious,
        "text": row.text,
        "recorded_by": list(row.recorded_by),
        "entered_by": row.entered_by,
        "chief_decision": row.chief_decision,
        "corrects_id": row.corrects_id,
        "replaced_by": replaced_by,
        "counts": replaced_by is None,
        "investigation": row.investigation,
        "detail": dict(row.detail),
        "request_id": row.request_id,
        "consequence": consequence_out(incidents.consequence_of_row(row)),
    }


def bar_out(bar: Bar) -> dict[str, Any]:
    return {
        "id": bar.id,
        "candidate_id": bar.candidate_id,
        "incident_id": bar.incident_id,
        "from_date": bar.from_date.isoformat(),
        "until_date": bar.until_date.isoformat(),
        "reason": bar.reason,
        "lifted_by_id": bar.lifted_by_id,
        "active": bar.lifted_by_id is None,
    }


def category_out(cat: vio.Category) -> dict[str, Any]:
    return {
        "code": cat.code,
        "label": _(cat.label_en),
        "label_zh": cat.label_zh,
        "label_en": cat.label_en,
        "kind": str(cat.kind),
        "level": cat.level,
        "clause": cat.clause,
        "needs": str(cat.needs),
        "needs_text": cat.needs_text,
        "investigation": cat.investigation,
        "closes_attempt_as": cat.closes_as,
    }


class IncidentJson(msgspec.Struct):
    category: str
    room_id: int | None = None
    seat_no: int | None = None
    attempt_id: int | None = None
    text: str = ""
    recorded_by: list[str] = []
    request_id: str | None = None
    serious: bool = False
    admitted: bool | None = None
    impersonator: str = ""
    escorts: list[str] = []


class CorrectionJson(msgspec.Struct):
    text: str = ""
    category: str | None = None
    serious: bool | None = None
    recorded_by: list[str] = []
    request_id: str | None = None


class DecisionJson(msgspec.Struct):
    decision: str = ""
    category: str | None = None
    serious: bool | None = None
    request_id: str | None = None


class IncidentApi(Controller):
    """The incident log in /api/v1: invigilators record and correct, the chief decides."""

    path = "/api/v1"
    tags = ["exam day: incidents"]
    exception_handlers = {
        PermissionDeniedException: _guard_refused,
        NotAuthorizedException: _guard_refused,
        ValidationException: _guard_refused,
    }

    @get("/incident-categories", guards=[requires(INVIGILATOR, ADMIN)])
    async def categories(self) -> dict[str, Any]:
        """The categories of the log with their level (R-INC-2) and what each needs."""
        return {
            "levels": {str(level): _(name) for level, name in vio.LEVEL_NAMES.items()},
            "categories": [category_out(c) for c in vio.CATEGORIES.values()],
        }

    @post("/sittings/{sitting_id:int}/incidents", guards=[requires(INVIGILATOR)], status_code=HTTP_201_CREATED)
    async def record(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        data: JSONBody[IncidentJson],
    ) -> Response[Any]:
        """Record an entry for a seat (``attempt_id``, or ``room_id`` + ``seat_no``) or for the room
        (``room_id`` alone); its consequence is applied at once. The same ``request_id`` again
        returns the entry already made (200)."""
        req = incidents.IncidentRequest(
            category=data.category,
            room_id=data.room_id,
            seat_no=data.seat_no,
            attempt_id=data.attempt_id,
            text=data.text,
            recorded_by=data.recorded_by,
            request_id=data.request_id,
            serious=data.serious,
            admitted=data.admitted,
            impersonator=data.impersonator,
            escorts=data.escorts,
        )
        try:
            done = await incidents.record_incident(
                db_session, zone_of(settings), sitting_id, req, actor_of(request), now_utc()
            )
        except SittingError as exc:
            return _from_error(exc)
        body = incident_out(done.incident) | {"created": done.created}
        return Response(body, status_code=HTTP_201_CREATED if done.created else HTTP_200_OK)

    @get("/sittings/{sitting_id:int}/incidents", guards=[requires(INVIGILATOR)])
    async def listing(
        self, db_session: DbSession, sitting_id: FromPath[int], room_id: FromQuery[int | None] = None
    ) -> Response[Any]:
        """The log of the sitting (or of one room), oldest first; ``counts`` is false for an entry
        a later correction or decision replaced."""
        try:
            if room_id is not None:
                await incidents.room_of_sitting(db_session, sitting_id, room_id)
            elif await db_session.get(Sitting, sitting_id) is None:
                return refusal("no_sitting")
        except SittingError as exc:
            return _from_error(exc)
        rows = await incidents.room_log(db_session, sitting_id, room_id)
        return Response(
            {
                "sitting_id": sitting_id,
                "room_id": room_id,
                "incidents": [incident_out(r.incident, r.candidate_name, r.replaced_by) for r in rows],
            }
        )

    @post("/incidents/{incident_id:int}/correct", guards=[requires(INVIGILATOR)], status_code=HTTP_201_CREATED)
    async def correct(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        incident_id: FromPath[int],
        data: JSONBody[CorrectionJson],
    ) -> Response[Any]:
        """A correction: a new entry replacing this one (entries are never changed, R-INC-1)."""
        req = incidents.ChangeRequest(
            text=data.text,
            category=data.category,
            serious=data.serious,
            recorded_by=data.recorded_by,
            request_id=data.request_id,
        )
        by_chief = may(principal_of(request).roles, (CHIEF,))
        try:
            done = await incidents.correct_incident(
                db_session, incident_id, req, actor_of(request), now_utc(), by_chief=by_chief
            )
        except SittingError as exc:
            return _from_error(exc)
        body = incident_out(done.incident) | {"created": done.created}
        return Response(body, status_code=HTTP_201_CREATED if done.created else HTTP_200_OK)

    @post("/incidents/{incident_id:int}/decision", guards=[requires(CHIEF)], status_code=HTTP_201_CREATED)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        incident_id: FromPath[int],
        data: JSONBody[DecisionJson],
    ) -> Response[Any]:
        """The chief's decision on an entry, as a new entry; it may re-classify the case (e.g. after
        an investigation of suspected impersonation) and rule a level-4 case serious (5 years)."""
        req = incidents.ChangeRequest(
            decision=data.decision, category=data.category, serious=data.serious, request_id=data.request_id
        )
        try:
            done = await incidents.decide_incident(db_session, incident_id, req, actor_of(request), now_utc())
        except SittingError as exc:
            return _from_error(exc)
        body = incident_out(done.incident) | {"created": done.created}
        return Response(body, status_code=HTTP_201_CREATED if done.created else HTTP_200_OK)

    @get("/attempts/{attempt_id:int}/consequences", guards=[requires(INVIGILATOR)])
    async def consequences(self, db_session: DbSession, attempt_id: FromPath[int]) -> Response[Any]:
        """What the entries that count add up to for one attempt (used by results)."""
        try:
            found = await incidents.consequences_for_attempt(db_session, attempt_id)
        except SittingError as exc:
            return _from_error(exc)
        return Response(
            {
                "attempt_id": found.attempt_id,
                "consequence": consequence_out(found.consequence),
                "incident_ids": list(found.incident_ids),
                "investigation": found.investigation,
                "left_early": found.left_early,
                "score_cancelled": found.score_cancelled,
            }
        )

    @get("/candidates/{candidate_id:int}/bars", guards=[requires(CHIEF, ADMIN)])
    async def bars(self, db_session: DbSession, settings: SettingsDep, candidate_id: FromPath[int]) -> dict[str, Any]:
        """Every bar of a candidate (lifted ones too) and whether one is in force today (R-REG-1)."""
        today = incidents.site_date(now_utc(), zone_of(settings))
        rows = await incidents.all_bars(db_session, candidate_id)
        in_force = await incidents.active_bars(db_session, candidate_id, today)
        return {
            "candidate_id": candidate_id,
            "barred_today": bool(in_force),
            "bars": [bar_out(b) for b in rows],
        }


# --- pages ---------------------------------------------------------------------------------------


class EntryForm(msgspec.Struct):
    category: str = ""
    seat_no: str = ""
    text: str = ""
    recorded_by: str = ""
    escorts: str = ""
    serious: str = ""
    admitted: str = ""
    impersonator: str = ""
    request_id: str = ""


class CorrectionForm(msgspec.Struct):
    text: str = ""
    category: str = ""
    serious: str = ""
    recorded_by: str = ""
    request_id: str = ""


class DecisionForm(msgspec.Struct):
    decision: str = ""
    category: str = ""
    serious: str = ""
    request_id: str = ""


def _checked(value: str) -> bool:
    return value.strip().lower() in ("on", "1", "true", "yes")


def category_groups() -> list[tuple[str, list[vio.Category]]]:
    """The form's select: violations by level (R-INC-2), then the other entries."""
    groups = [(vio.LEVEL_NAMES[level], list(vio.violations_of_level(level))) for level in vio.LEVELS]
    return [*groups, (OTHER_ENTRIES, list(vio.LOG_ENTRIES))]


def _time_range(starts_at: datetime, minutes: int) -> str:
    return f"{site_time(starts_at, '%H:%M')}–{site_time(starts_at + timedelta(minutes=minutes), '%H:%M')}"


class IncidentPages(Controller):
    """The room's incident log page and its printable record form (考场记录表)."""

    path = "/console/sittings"
    include_in_schema = False
    guards = [requires(INVIGILATOR)]

    async def _page(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: int,
        room_id: int,
        *,
        message: str | None = None,
        ok: bool = False,
        status_code: int = HTTP_200_OK,
        form: EntryForm | None = None,
    ) -> Template:
        try:
            sitting, room = await incidents.room_of_sitting(db_session, sitting_id, room_id)
        except SittingError as exc:
            status, text = refusal_message(exc.code)
            return Template("error.html", context={"status": status, "message": text}, status_code=status)
        principal = principal_of(request)
        rows = await incidents.room_log(db_session, sitting_id, room_id)
        seats = await incidents.room_seats(db_session, sitting_id, room_id)
        keep = form if form is not None and not ok else EntryForm(recorded_by=principal.display_name)
        return Template(
            "console/incidents.html",
            context={
                "sitting": sitting,
                "room": room,
                "rows": rows,
                "seats": seats,
                "groups": category_groups(),
                "categories": vio.CATEGORIES,
                "kinds": KIND_NAMES,
                "message": message,
                "ok": ok,
                "form": keep,
                "request_id": secrets.token_hex(12),
                "is_chief": may(principal.roles, (CHIEF,)),
                "me": principal.display_name,
                "escorts_needed": vio.TOILET_ESCORTS,
            },
            status_code=status_code,
        )

    @get("/{sitting_id:int}/rooms/{room_id:int}/incidents")
    async def page(
        self, request: Request[Any, Any, Any], db_session: DbSession, sitting_id: FromPath[int], room_id: FromPath[int]
    ) -> Template:
        return await self._page(request, db_session, sitting_id, room_id)

    @post("/{sitting_id:int}/rooms/{room_id:int}/incidents", status_code=HTTP_200_OK)
    async def record(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        settings: SettingsDep,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
        data: URLEncodedBody[EntryForm],
    ) -> Template:
        seat_text = data.seat_no.strip()
        if seat_text and not seat_text.isdigit():
            return await self._page(
                request,
                db_session,
                sitting_id,
                room_id,
                message=refusal_message("no_seat")[1],
                status_code=HTTP_400_BAD_REQUEST,
                form=data,
            )
        admitted = {"yes": True, "no": False}.get(data.admitted.strip())
        req = incidents.IncidentRequest(
            category=data.category.strip(),
            room_id=room_id,
            seat_no=int(seat_text) if seat_text else None,
            text=data.text,
            recorded_by=vio.split_names(data.recorded_by),
            request_id=data.request_id or None,
            serious=_checked(data.serious),
            admitted=admitted,
            impersonator=data.impersonator,
            escorts=vio.split_names(data.escorts),
        )
        try:
            done = await incidents.record_incident(
                db_session, zone_of(settings), sitting_id, req, actor_of(request), now_utc()
            )
        except SittingError as exc:
            status, text = refusal_message(exc.code, reason=str(exc), **exc.facts)
            return await self._page(
                request, db_session, sitting_id, room_id, message=text, status_code=status, form=data
            )
        message = _("Entry no. %(id)s recorded.", id=done.incident.id)
        return await self._page(request, db_session, sitting_id, room_id, message=message, ok=True)

    @post("/{sitting_id:int}/rooms/{room_id:int}/incidents/{incident_id:int}/correct", status_code=HTTP_200_OK)
    async def correct(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
        incident_id: FromPath[int],
        data: URLEncodedBody[CorrectionForm],
    ) -> Template:
        return await self._change(
            request,
            db_session,
            sitting_id,
            room_id,
            incident_id,
            incidents.ChangeRequest(
                text=data.text,
                category=data.category.strip() or None,
                serious=_checked(data.serious),
                recorded_by=vio.split_names(data.recorded_by),
                request_id=data.request_id or None,
            ),
            decide=False,
        )

    @post(
        "/{sitting_id:int}/rooms/{room_id:int}/incidents/{incident_id:int}/decision",
        guards=[requires(CHIEF)],
        status_code=HTTP_200_OK,
    )
    async def decide(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: FromPath[int],
        room_id: FromPath[int],
        incident_id: FromPath[int],
        data: URLEncodedBody[DecisionForm],
    ) -> Template:
        return await self._change(
            request,
            db_session,
            sitting_id,
            room_id,
            incident_id,
            incidents.ChangeRequest(
                decision=data.decision,
                category=data.category.strip() or None,
                serious=_checked(data.serious),
                request_id=data.request_id or None,
            ),
            decide=True,
        )

    async def _change(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        sitting_id: int,
        room_id: int,
        incident_id: int,
        req: incidents.ChangeRequest,
        *,
        decide: bool,
    ) -> Template:
        old = await db_session.get(Incident, incident_id)
        if old is None or old.sitting_id != sitting_id or old.room_id != room_id:
            status, text = refusal_message("no_incident")
            return await self._page(request, db_session, sitting_id, room_id, message=text, status_code=status)
        try:
            if decide:
                done = await incidents.decide_incident(db_session, incident_id, req, actor_of(request), now_utc())
            else:
                by_chief = may(principal_of(request).roles, (CHIEF,))
                done = await incidents.correct_incident(
                    db_session, incident_id, req, actor_of(request), now_utc(), by_chief=by_chief
                )
        except SittingError as exc:
            status, text = refusal_message(exc.code, reason=str(exc), **exc.facts)
            return await self._page(request, db_session, sitting_id, room_id, message=text, status_code=status)
        message = _("Entry no. %(id)s recorded; it replaces no. %(old)s.", id=done.incident.id, old=incident_id)
        return await self._page(request, db_session, sitting_id, room_id, message=message, ok=True)

    @get("/{sitting_id:int}/rooms/{room_id:int}/record.pdf")
    async def record_pdf(
        self, db_session: DbSession, settings: SettingsDep, sitting_id: FromPath[int], room_id: FromPath[int]
    ) -> Response[Any]:
        """The room record form (考场记录表) as a PDF: the entries, then blank rows and signatures."""
        try:
            sitting, room = await incidents.room_of_sitting(db_session, sitting_id, room_id)
        except SittingError as exc:
            status, text = refusal_message(exc.code)
            return Template("error.html", context={"status": status, "message": text}, status_code=status)
        rows = await incidents.room_log(db_session, sitting_id, room_id)
        seats = await incidents.room_seats(db_session, sitting_id, room_id)
        form = RecordForm(
            site=room.site or settings.site_name,
            sitting=sitting.title,
            room=room.name,
            date=site_time(sitting.starts_at, "%Y-%m-%d"),
            time=_time_range(sitting.starts_at, sitting.duration_minutes),
            seated=len(seats),
            present=sum(1 for s in seats if s.attempt_id is not None),
            rows=[form_row(r) for r in rows],
            printed_at=site_time(now_utc(), "%Y-%m-%d %H:%M"),
        )
        content = render_record_form(form)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "content-disposition": f'inline; filename="record-{sitting_id}-{room_id}.pdf"',
                "cache-control": "no-store",
            },
        )


def form_row(row: incidents.LogRow) -> FormRow:
    """One entry as the record form prints it, in Chinese."""
    entry = row.incident
    cat = row.category
    label = cat.label_zh
    if entry.level is not None:
        label = f"{cat.clause} {label}（{vio.LEVEL_NAMES_ZH[entry.level]}"
        label += "，情节严重）" if entry.serious else "）"
    text = entry.text
    prefix = KIND_NAMES_ZH[entry.kind]
    if entry.corrects_id is not None:
        text = f"【{prefix}第{entry.corrects_id}号】{text}"
    escorts = entry.detail.get("escorts")
    if escorts:
        text += f"（陪同：{'、'.join(escorts)}）"
    if entry.detail.get("impersonator"):
        text += f"（代考者确认：{entry.detail['impersonator']}）"
    if entry.investigation:
        text += "（待考后调查）"
    if row.replaced_by is not None:
        text += f"（已由第{row.replaced_by}号更正）"
    return FormRow(
        number=str(entry.id),
        time=site_time(entry.at, "%H:%M"),
        seat=str(entry.seat_no) if entry.seat_no is not None else "",
        candidate=row.candidate_name or "",
        category=label,
        text=text,
        recorded_by="、".join(entry.recorded_by),
        decision=entry.chief_decision or "",
    )
