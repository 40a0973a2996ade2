"""Pages for the exam office (admins): batches and their workflow, offerings, registration one by
one or from a file (R-REG-1), eligibility review, fees and payments (R-REG-2), xlsx exports.

Thin: parse, call ``service`` / ``registration``, render. Form posts come from htmx and answer with
a notice fragment; on success the page reloads itself (``HX-Refresh``) so lists stay true.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER
from sqlalchemy import select

from examhall.bank.models import Occupation
from examhall.bank.rules import LEVEL_NAMES_EN, LEVEL_NAMES_ZH
from examhall.batches import registration, registration_io
from examhall.batches import rules as batch_rules
from examhall.batches import service as batch_service
from examhall.batches.models import Application, Batch, Candidate, CandidatePhoto, Offering, Payment
from examhall.batches.service import BatchError
from examhall.console.models import Bar
from examhall.deps import DbSession
from examhall.i18n import N_, _, current_locale
from examhall.security.rules import ADMIN
from examhall.security.web import actor_of, requires
from examhall.spreadsheets import xlsx_bytes

PAGE_SIZE: Final = 50
MAX_IMPORT_BYTES: Final = 20 * 1024 * 1024
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_NAMES: Final = {
    "planning": N_("planning"),
    "registration": N_("registration open"),
    "scheduled": N_("scheduled"),
    "in_progress": N_("exams in progress"),
    "scoring": N_("scoring"),
    "published": N_("results published"),
    "archived": N_("archived"),
}
REVIEW_NAMES: Final = {
    "submitted": N_("awaiting review"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "withdrawn": N_("withdrawn"),
}
METHOD_NAMES: Final = {
    "cash": N_("cash"),
    "wechat": N_("WeChat Pay"),
    "alipay": N_("Alipay"),
    "card": N_("bank card"),
    "transfer": N_("bank transfer"),
}


def level_name(level: int) -> str:
    names = LEVEL_NAMES_ZH if current_locale() == "zh_CN" else LEVEL_NAMES_EN
    return names.get(level, str(level))


def refusal_text(exc: BatchError) -> str:
    return _(exc.template, **exc.facts)


def notice(ok: bool, message: str, problems: list[str] | None = None, *, refresh: bool = False) -> Template:
    headers = {"HX-Refresh": "true"} if ok and refresh else {}
    return Template(
        "batches/_notice.html",
        context={"ok": ok, "message": message, "problems": problems or []},
        headers=headers,
    )


def _date(text: str, field: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BatchError(N_("%(field)s: write the date as 2026-12-05."), code="bad_date", field=field) from exc


class BatchForm(msgspec.Struct):
    code: str = ""
    name: str = ""
    registration_closes_on: str = ""
    exam_from: str = ""
    exam_to: str = ""
    notice: str = ""


class StatusForm(msgspec.Struct):
    wanted: str = ""


class OfferingForm(msgspec.Struct):
    occupation_id: str = ""
    level: str = ""
    knowledge_exam: bool = False
    skill_exam: bool = False
    computer_based: bool = False


class RegisterForm(msgspec.Struct):
    name: str = ""
    id_number: str = ""
    offering: str = ""  # "<occupation id>-<level>"
    education: str = ""
    certificates: str = ""
    work_years: str = ""
    phone: str = ""
    employer: str = ""


class ImportForm(msgspec.Struct):
    file: UploadFile
    skip_bad: bool = False


class PhotoForm(msgspec.Struct):
    file: UploadFile


class DecisionForm(msgspec.Struct):
    decision: str = ""
    reason: str = ""


class BulkForm(msgspec.Struct):
    application_ids: list[str] | str = msgspec.field(default_factory=list)


class PaymentForm(msgspec.Struct):
    amount: str = ""
    method: str = ""
    receipt_no: str = ""
    note: str = ""


class ConfirmForm(msgspec.Struct):
    payment_ids: list[str] | str = msgspec.field(default_factory=list)


def _ids(values: list[str] | str) -> list[int]:
    listed = [values] if isinstance(values, str) else values
    return [int(v) for v in listed if v.strip().isdigit()]


def _download(data: bytes, filename: str, media_type: str = XLSX) -> Response[bytes]:
    return Response(data, media_type=media_type, headers={"content-disposition": f'attachment; filename="{filename}"'})


class RegistrationPages(Controller):
    include_in_schema = False
    guards = [requires(ADMIN)]

    async def _batch(self, db_session: DbSession, batch_id: int) -> Batch:
        batch = await db_session.get(Batch, batch_id)
        if batch is None:
            raise NotFoundException("no such batch")
        return batch

    async def _offerings(self, db_session: DbSession, batch_id: int) -> list[tuple[Offering, Occupation]]:
        return [
            (o, occ)
            for o, occ in await db_session.execute(
                select(Offering, Occupation)
                .join(Occupation, Occupation.id == Offering.occupation_id)
                .where(Offering.batch_id == batch_id)
                .order_by(Occupation.name, Offering.level.desc())
            )
        ]

    # --- batches -------------------------------------------------------------------------------

    @get("/batches")
    async def batches(self, db_session: DbSession) -> Template:
        rows = list(await db_session.scalars(select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc())))
        counts = {b.id: await registration.batch_counts(db_session, b.id) for b in rows}
        return Template("batches/index.html", context={"batches": rows, "counts": counts, "status_names": STATUS_NAMES})

    @post("/batches", status_code=HTTP_200_OK)
    async def create(
        self, request: Request[Any, Any, Any], db_session: DbSession, data: URLEncodedBody[BatchForm]
    ) -> Template:
        if not data.code.strip() or not data.name.strip():
            return notice(False, _("Code and name: both are required."))
        try:
            batch = await batch_service.create_batch(db_session, data.code.strip().upper(), data.name.strip())
            await batch_service.update_batch(
                db_session,
                batch.id,
                actor_of(request),
                notice=data.notice,
                registration_closes_on=_date(data.registration_closes_on, _("Registration closes")),
                exam_from=_date(data.exam_from, _("First exam day")),
                exam_to=_date(data.exam_to, _("Last exam day")),
            )
        except BatchError as exc:
            await db_session.rollback()
            return notice(False, refusal_text(exc))
        except ValueError as exc:  # create_batch's plain refusals
            await db_session.rollback()
            return notice(False, str(exc))
        return notice(True, _("Batch %(code)s is created.", code=batch.code), refresh=True)

    @get("/batches/{batch_id:int}")
    async def batch(self, db_session: DbSession, batch_id: FromPath[int]) -> Template:
        batch = await self._batch(db_session, batch_id)
        offerings = await self._offerings(db_session, batch_id)
        prices: dict[int, int | None] = {}
        for offering, occupation in offerings:
            try:
                prices[offering.id] = registration.quote(offering, occupation.fee_category).total
            except (BatchError, ValueError):
                prices[offering.id] = None
        occupations = list(await db_session.scalars(select(Occupation).order_by(Occupation.name)))
        return Template(
            "batches/batch.html",
            context={
                "batch": batch,
                "offerings": offerings,
                "prices": prices,
                "occupations": occupations,
                "counts": await registration.batch_counts(db_session, batch_id),
                "next_statuses": batch_rules.next_statuses(batch.status),
                "status_names": STATUS_NAMES,
                "level_name": level_name,
            },
        )

    @post("/batches/{batch_id:int}/status", status_code=HTTP_200_OK)
    async def status(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[StatusForm],
    ) -> Template:
        try:
            batch = await batch_service.set_status(db_session, batch_id, data.wanted, actor_of(request))
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The batch is now: %(status)s.", status=_(STATUS_NAMES[batch.status])), refresh=True)

    @post("/batches/{batch_id:int}/details", status_code=HTTP_200_OK)
    async def details(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[BatchForm],
    ) -> Template:
        try:
            await batch_service.update_batch(
                db_session,
                batch_id,
                actor_of(request),
                name=data.name or None,
                notice=data.notice,
                registration_closes_on=_date(data.registration_closes_on, _("Registration closes")),
                exam_from=_date(data.exam_from, _("First exam day")),
                exam_to=_date(data.exam_to, _("Last exam day")),
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("Saved."), refresh=True)

    @post("/batches/{batch_id:int}/offerings", status_code=HTTP_200_OK)
    async def add_offering(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[OfferingForm],
    ) -> Template:
        if not data.occupation_id.isdigit() or not data.level.isdigit():
            return notice(False, _("Occupation and level: choose both."))
        try:
            await batch_service.add_offering(
                db_session,
                batch_id,
                int(data.occupation_id),
                int(data.level),
                actor_of(request),
                knowledge_exam=data.knowledge_exam,
                skill_exam=data.skill_exam,
                computer_based=data.computer_based,
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The offering is added."), refresh=True)

    # --- candidates ----------------------------------------------------------------------------

    def _filter(self, q: str, status: str, offering: str, paid: str) -> registration.ListFilter:
        return registration.ListFilter(
            text=q[:64],
            status=status if status in REVIEW_NAMES else "",
            offering=offering,
            paid=paid if paid in ("yes", "no") else "",
        )

    @get("/batches/{batch_id:int}/candidates")
    async def candidates(
        self,
        db_session: DbSession,
        batch_id: FromPath[int],
        q: FromQuery[str] = "",
        status: FromQuery[str] = "",
        offering: FromQuery[str] = "",
        paid: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        batch = await self._batch(db_session, batch_id)
        want = self._filter(q, status, offering, paid)
        rows, total = await registration.list_applications(db_session, batch_id, want, page=page, size=PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        query = {"q": want.text, "status": want.status, "offering": want.offering, "paid": want.paid}
        return Template(
            "batches/candidates.html",
            context={
                "batch": batch,
                "rows": rows,
                "total": total,
                "page": min(max(1, page), pages),
                "pages": pages,
                "want": want,
                "query": urlencode(query),
                "offerings": await self._offerings(db_session, batch_id),
                "review_names": REVIEW_NAMES,
                "level_name": level_name,
            },
        )

    @get("/batches/{batch_id:int}/candidates.xlsx")
    async def candidates_xlsx(
        self,
        db_session: DbSession,
        batch_id: FromPath[int],
        q: FromQuery[str] = "",
        status: FromQuery[str] = "",
        offering: FromQuery[str] = "",
        paid: FromQuery[str] = "",
    ) -> Response[bytes]:
        batch = await self._batch(db_session, batch_id)
        rows = await registration.all_applications(db_session, batch_id, self._filter(q, status, offering, paid))
        data = xlsx_bytes(
            _("Candidates"),
            [_("Name"), _("ID number"), _("Gender"), _("Admission ticket"), _("Occupation"), _("Level"),
             _("Review"), _("Fee (yuan)"), _("Paid (yuan)"), _("Photo")],
            [
                [r.name, r.id_number, r.gender or "", r.ticket or "", r.occupation, level_name(r.level),
                 _(REVIEW_NAMES.get(r.status, r.status)), r.fee_total, r.paid, _("yes") if r.has_photo else _("no")]
                for r in rows
            ],
        )  # fmt: skip
        return _download(data, f"candidates-{batch.code}.xlsx")

    @get("/batches/registration-template.xlsx")
    async def template(self) -> Response[bytes]:
        return _download(registration_io.template_xlsx(), "registration-template.xlsx")

    @post("/batches/{batch_id:int}/candidates", status_code=HTTP_200_OK)
    async def register(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[RegisterForm],
    ) -> Template:
        occupation, _sep, level = data.offering.partition("-")
        if not (occupation.isdigit() and level.isdigit()):
            return notice(False, _("Occupation and level: choose one the batch offers."))
        years = data.work_years.strip()
        if years and not (years.isdigit() and int(years) <= 60):
            return notice(False, _("Work years: a whole number from 0 to 60."))
        education = registration_io.education_of(data.education) if data.education.strip() else None
        reg = registration.Registration(
            name=registration_io.normalise_name(data.name),
            id_number=data.id_number,
            occupation_id=int(occupation),
            level=int(level),
            education=education,
            certificates=data.certificates.strip() or None,
            work_years=int(years) if years else None,
            phone=data.phone.strip() or None,
            employer=data.employer.strip() or None,
        )
        try:
            application = await registration.register(db_session, batch_id, reg, actor_of(request))
        except BatchError as exc:
            if exc.code == "barred":
                await db_session.commit()  # the refusal's audit entry stays (R-INC-2)
            return notice(False, refusal_text(exc))
        return notice(
            True,
            _("%(name)s is registered; fee %(fee)s yuan.", name=reg.name, fee=application.fee_total),
            refresh=True,
        )

    @post("/batches/{batch_id:int}/import", status_code=HTTP_200_OK)
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: MultipartBody[ImportForm],
    ) -> Template:
        content = await data.file.read()
        name = Path(data.file.filename or "upload").name
        if not content or len(content) > MAX_IMPORT_BYTES:
            return notice(False, _("File: empty or larger than 20 MB."))
        try:
            report = await registration.import_registrations(
                db_session, batch_id, content, name, actor_of(request), skip_bad=data.skip_bad
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return Template("batches/_import_report.html", context={"report": report, "file": name})

    @get("/batches/{batch_id:int}/candidates/{candidate_id:int}")
    async def candidate(self, db_session: DbSession, batch_id: FromPath[int], candidate_id: FromPath[int]) -> Template:
        batch = await self._batch(db_session, batch_id)
        person = await db_session.get(Candidate, candidate_id)
        if person is None or person.batch_id != batch.id:
            raise NotFoundException("no such candidate")
        applications = list(
            await db_session.execute(
                select(Application, Occupation.name)
                .join(Occupation, Occupation.id == Application.occupation_id)
                .where(Application.candidate_id == candidate_id)
                .order_by(Application.id)
            )
        )
        ids = [a.id for a, _n in applications]
        payments = list(
            await db_session.scalars(
                select(Payment).where(Payment.application_id.in_(ids)).order_by(Payment.recorded_at, Payment.id)
            )
        )
        paid = await registration.paid_amounts(db_session, ids)
        photo = await db_session.get(CandidatePhoto, candidate_id)
        bars = list(
            await db_session.scalars(
                select(Bar)
                .join(Candidate, Candidate.id == Bar.candidate_id)
                .where(Candidate.id_number == person.id_number, Bar.lifted_by_id.is_(None))
                .order_by(Bar.until_date.desc())
            )
        )
        return Template(
            "batches/candidate.html",
            context={
                "batch": batch,
                "person": person,
                "applications": applications,
                "payments": payments,
                "paid": paid,
                "photo": photo.sha256[:12] if photo else None,
                "bars": bars,
                "review_names": REVIEW_NAMES,
                "methods": METHOD_NAMES,
                "level_name": level_name,
            },
        )

    @get("/batches/{batch_id:int}/candidates/{candidate_id:int}/photo")
    async def photo(
        self, db_session: DbSession, batch_id: FromPath[int], candidate_id: FromPath[int]
    ) -> Response[bytes]:
        photo = await db_session.get(CandidatePhoto, candidate_id)
        if photo is None:
            raise NotFoundException("no photo")
        return Response(photo.data, media_type=photo.content_type)

    @post("/batches/{batch_id:int}/candidates/{candidate_id:int}/photo", status_code=HTTP_200_OK)
    async def upload_photo(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        candidate_id: FromPath[int],
        data: MultipartBody[PhotoForm],
    ) -> Template:
        person = await db_session.get(Candidate, candidate_id)
        if person is None or person.batch_id != batch_id:
            return notice(False, _("This candidate is not in this batch."))
        content = await data.file.read()
        try:
            await registration.set_photo(
                db_session, candidate_id, content, Path(data.file.filename or "photo").name, actor_of(request)
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The photo is saved."), refresh=True)

    async def _application(self, db_session: DbSession, batch_id: int, application_id: int) -> Application:
        application = await db_session.get(Application, application_id)
        if application is None or application.batch_id != batch_id:
            raise NotFoundException("no such application")
        return application

    @post("/batches/{batch_id:int}/applications/{application_id:int}/decide", status_code=HTTP_200_OK)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        application_id: FromPath[int],
        data: URLEncodedBody[DecisionForm],
    ) -> Template:
        await self._application(db_session, batch_id, application_id)
        try:
            application = await registration.decide(
                db_session, application_id, data.decision, data.reason, actor_of(request)
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("Decision saved: %(status)s.", status=_(REVIEW_NAMES[application.status])), refresh=True)

    @post("/batches/{batch_id:int}/applications/{application_id:int}/withdraw", status_code=HTTP_200_OK)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        application_id: FromPath[int],
        data: URLEncodedBody[DecisionForm],
    ) -> Template:
        await self._application(db_session, batch_id, application_id)
        await registration.withdraw(db_session, application_id, data.reason, actor_of(request))
        return notice(True, _("The application is withdrawn."), refresh=True)

    @post("/batches/{batch_id:int}/applications/{application_id:int}/payments", status_code=HTTP_200_OK)
    async def pay(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        application_id: FromPath[int],
        data: URLEncodedBody[PaymentForm],
    ) -> Template:
        await self._application(db_session, batch_id, application_id)
        text = data.amount.strip()
        if not text.lstrip("-").isdigit():
            return notice(False, _("Amount: whole yuan, e.g. 200."))
        try:
            await registration.record_payment(
                db_session,
                application_id,
                amount=int(text),
                method=data.method,
                receipt_no=data.receipt_no,
                note=data.note,
                actor=actor_of(request),
            )
        except BatchError as exc:
            return notice(False, refusal_text(exc))
        return notice(True, _("The payment is recorded."), refresh=True)

    # --- review and fees -------------------------------------------------------------------------

    @get("/batches/{batch_id:int}/review")
    async def review(self, db_session: DbSession, batch_id: FromPath[int]) -> Redirect:
        return Redirect(f"/batches/{batch_id}/candidates?status=submitted", status_code=HTTP_303_SEE_OTHER)

    @post("/batches/{batch_id:int}/review", status_code=HTTP_200_OK)
    async def bulk_approve(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[BulkForm],
    ) -> Template:
        ids = _ids(data.application_ids)
        if not ids:
            return notice(False, _("Tick the applications to approve."))
        try:
            for application_id in ids:
                await self._application(db_session, batch_id, application_id)
                await registration.decide(db_session, application_id, batch_rules.APPROVED, "", actor_of(request))
        except BatchError as exc:
            await db_session.rollback()
            return notice(False, refusal_text(exc))
        return notice(True, _("%(n)s applications approved.", n=len(ids)), refresh=True)

    @get("/batches/{batch_id:int}/fees")
    async def fees(self, db_session: DbSession, batch_id: FromPath[int]) -> Template:
        batch = await self._batch(db_session, batch_id)
        totals = await registration.offering_totals(db_session, batch_id)
        return Template(
            "batches/fees.html",
            context={
                "batch": batch,
                "totals": totals,
                "sum": registration.payment_summary((t["due"], t["paid"]) for t in totals),
                "unconfirmed": await registration.payments_of_batch(db_session, batch_id, unconfirmed_only=True),
                "methods": METHOD_NAMES,
                "level_name": level_name,
            },
        )

    @post("/batches/{batch_id:int}/fees/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        batch_id: FromPath[int],
        data: URLEncodedBody[ConfirmForm],
    ) -> Template:
        ids = _ids(data.payment_ids)
        mine = {p.id for p, _n, _i in await registration.payments_of_batch(db_session, batch_id)}
        if not ids or not set(ids) <= mine:
            return notice(False, _("Tick the payments to confirm."))
        count = await registration.confirm_payments(db_session, ids, actor_of(request))
        return notice(True, _("%(n)s payments confirmed.", n=count), refresh=True)

    @get("/batches/{batch_id:int}/payments.xlsx")
    async def payments_xlsx(self, db_session: DbSession, batch_id: FromPath[int]) -> Response[bytes]:
        batch = await self._batch(db_session, batch_id)
        rows = await registration.payments_of_batch(db_session, batch_id)
        data = xlsx_bytes(
            _("Payments"),
            [_("Receipt number"), _("Name"), _("ID number"), _("Amount (yuan)"), _("Method"), _("Recorded by"),
             _("Recorded at"), _("Confirmed by"), _("Note")],
            [
                [p.receipt_no, name, id_number, p.amount, _(METHOD_NAMES.get(p.method, p.method)), p.recorded_by,
                 p.recorded_at.strftime("%Y-%m-%d %H:%M"), p.confirmed_by or "", p.note or ""]
                for p, name, id_number in rows
            ],
        )  # fmt: skip
        return _download(data, f"payments-{batch.code}.xlsx")

    @get("/batches/{batch_id:int}/fees.xlsx")
    async def fees_xlsx(self, db_session: DbSession, batch_id: FromPath[int]) -> Response[bytes]:
        batch = await self._batch(db_session, batch_id)
        totals = await registration.offering_totals(db_session, batch_id)
        data = xlsx_bytes(
            _("Fees"),
            [_("Occupation"), _("Level"), _("Applications"), _("Due (yuan)"), _("Paid (yuan)"),
             _("Outstanding (yuan)")],
            [[t["occupation"], level_name(t["level"]), t["applications"], t["due"], t["paid"], t["outstanding"]]
             for t in totals],
        )  # fmt: skip
        return _download(data, f"fees-{batch.code}.xlsx")
