"""Use cases of registration (R-REG-1), eligibility review and fees (R-REG-2).

A candidate row belongs to one batch (a person coming again later is a new row); an application
is that candidate's request for one occupation and level the batch offers. Registration checks
the ID number (GB 11643), the batch's offerings, duplicates within the batch and bars from
earlier violations (R-INC-2 levels 3–4, by ID number across batches); it prices the application
from the provincial schedule. Imports are all-or-nothing unless the caller skips bad rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank.models import Occupation
from examhall.batches import fees, registration_io
from examhall.batches import rules as batch_rules
from examhall.batches.models import Application, Batch, Candidate, CandidatePhoto, Offering, Payment
from examhall.batches.service import BatchError
from examhall.console.models import Bar
from examhall.i18n import N_
from examhall.security import audit
from examhall.security.audit import Actor

_SCHEDULE: fees.FeeSchedule | None = None


def fee_schedule() -> fees.FeeSchedule:
    """The shipped provincial schedule (R-REG-2), read once per process."""
    global _SCHEDULE
    if _SCHEDULE is None:
        _SCHEDULE = fees.load_schedule()
    return _SCHEDULE


@dataclasses.dataclass(frozen=True)
class Registration:
    """What the exam office types or imports for one application."""

    name: str
    id_number: str
    occupation_id: int
    level: int
    gender: str | None = None
    education: str | None = None
    certificates: str | None = None
    work_years: int | None = None
    phone: str | None = None
    employer: str | None = None


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """The outcome of an import: rows saved, and each refused row with its reason."""

    imported: int
    errors: list[registration_io.RowError]
    skipped: int
    saved: bool


async def _batch_for_registration(session: AsyncSession, batch_id: int) -> Batch:
    batch = await session.get(Batch, batch_id)
    if batch is None:
        raise BatchError(N_("Batch %(batch)s does not exist."), code="no_batch", batch=batch_id)
    if not batch_rules.registration_open(batch.status):
        raise BatchError(
            N_("Registration of batch %(batch)s is closed (status: %(status)s)."),
            code="registration_closed",
            batch=batch.code,
            status=batch.status,
        )
    return batch


def bar_day(batch: Batch, today: date | None = None) -> date:
    """The day a bar must not cover for the candidate to register: the batch's first exam day,
    or today when the batch has no dates yet."""
    return batch.exam_from or today or datetime.now(UTC).date()


async def bars_by_id_number(session: AsyncSession, id_numbers: Iterable[str], on: date) -> dict[str, Bar]:
    """Bars in force on ``on`` for these ID numbers, from violations in any batch (R-INC-2, R-REG-1)."""
    wanted = sorted(set(id_numbers))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Candidate.id_number, Bar)
        .join(Bar, Bar.candidate_id == Candidate.id)
        .where(
            Candidate.id_number.in_(wanted),
            Bar.lifted_by_id.is_(None),
            Bar.from_date <= on,
            Bar.until_date >= on,
        )
        .order_by(Bar.until_date)
    )
    return {number: bar for number, bar in rows}  # the latest end date wins


def bar_refusal(name: str, bar: Bar) -> BatchError:
    return BatchError(
        N_("%(name)s may not sit exams until %(until)s (violation: %(reason)s) — R-INC-2."),
        code="barred",
        name=name,
        until=bar.until_date.isoformat(),
        reason=bar.reason,
    )


async def _offerings(session: AsyncSession, batch_id: int) -> dict[tuple[int, int], Offering]:
    rows = await session.scalars(select(Offering).where(Offering.batch_id == batch_id))
    return {(o.occupation_id, o.level): o for o in rows}


async def _categories(session: AsyncSession) -> dict[int, str | None]:
    rows = await session.execute(select(Occupation.id, Occupation.fee_category))
    return {oid: cat for oid, cat in rows}


def quote(offering: Offering, category: str | None) -> fees.FeeQuote:
    """The fee of one application (R-REG-2); an occupation without a category cannot be priced."""
    if category is None:
        raise BatchError(
            N_("The occupation has no fee category (A–D) yet; set it before registering candidates."),
            code="no_fee_category",
        )
    return fees.fee_for(
        fee_schedule(),
        category,
        offering.level,
        knowledge=offering.knowledge_exam,
        skill=offering.skill_exam,
        computer_based=offering.computer_based,
    )


def _check_identity(reg: Registration) -> str:
    problem = batch_rules.check_id_number(reg.id_number)
    if problem is not None:
        raise BatchError(
            N_("ID number %(number)s: %(problem)s"), code="bad_id", number=reg.id_number, problem=problem.message
        )
    if not reg.name.strip():
        raise BatchError(N_("Name: the candidate's name is missing."), code="no_name")
    return batch_rules.normalise_id_number(reg.id_number)


async def register(session: AsyncSession, batch_id: int, reg: Registration, actor: Actor) -> Application:
    """Register one application (R-REG-1); refusals raise ``BatchError`` and change nothing."""
    batch = await _batch_for_registration(session, batch_id)
    number = _check_identity(reg)
    offering = (await _offerings(session, batch_id)).get((reg.occupation_id, reg.level))
    if offering is None:
        raise BatchError(
            N_("This batch does not offer that occupation and level."),
            code="not_offered",
        )
    bar = (await bars_by_id_number(session, [number], bar_day(batch))).get(number)
    if bar is not None:
        await audit.record(
            session,
            actor=actor.name,
            actor_user_id=actor.user_id,
            action="registration_refused_barred",
            object_type="batch",
            object_id=batch_id,
            detail={"id_number": number, "bar_id": bar.id, "until": bar.until_date.isoformat()},
            ip=actor.ip,
        )
        raise bar_refusal(reg.name, bar)
    candidate = await session.scalar(
        select(Candidate).where(Candidate.batch_id == batch_id, Candidate.id_number == number)
    )
    if candidate is not None:
        if candidate.name != reg.name.strip():
            raise BatchError(
                N_("ID number %(number)s is already registered in this batch under the name %(other)s."),
                code="duplicate_person",
                number=number,
                other=candidate.name,
            )
        twice = await session.scalar(
            select(Application.id).where(
                Application.candidate_id == candidate.id,
                Application.occupation_id == reg.occupation_id,
                Application.level == reg.level,
            )
        )
        if twice is not None:
            raise BatchError(
                N_("%(name)s (%(number)s) has already applied for this occupation and level in this batch."),
                code="duplicate",
                name=candidate.name,
                number=number,
            )
    category = (await _categories(session)).get(reg.occupation_id)
    price = quote(offering, category)
    if candidate is None:
        candidate = _new_candidate(batch_id, number, reg)
        session.add(candidate)
        await session.flush()
    application = _new_application(batch_id, candidate.id, reg, price)
    session.add(application)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="candidate_registered",
        object_type="application",
        object_id=application.id,
        detail={"batch": batch.code, "id_number": number, "occupation_id": reg.occupation_id, "level": reg.level},
        ip=actor.ip,
    )
    return application


def _new_candidate(batch_id: int, number: str, reg: Registration) -> Candidate:
    return Candidate(
        batch_id=batch_id,
        name=reg.name.strip(),
        id_number=number,
        gender=reg.gender or registration_io.gender_of(number),
        education=reg.education,
        certificates=reg.certificates,
        work_years=reg.work_years,
        phone=reg.phone,
        employer=reg.employer,
    )


def _new_application(batch_id: int, candidate_id: int, reg: Registration, price: fees.FeeQuote) -> Application:
    return Application(
        batch_id=batch_id,
        candidate_id=candidate_id,
        occupation_id=reg.occupation_id,
        level=reg.level,
        status=batch_rules.SUBMITTED,
        fee_parts=price.parts(),
        fee_total=price.total,
    )


async def occupation_names(session: AsyncSession) -> dict[str, str]:
    """Occupation name or code → code (or name when it has no code), for reading import files."""
    known: dict[str, str] = {}
    for occupation in await session.scalars(select(Occupation)):
        key = occupation.code or occupation.name
        known[occupation.name] = key
        if occupation.code:
            known[occupation.code] = key
    return known


async def import_registrations(
    session: AsyncSession,
    batch_id: int,
    data: bytes,
    filename: str,
    actor: Actor,
    *,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a registration file (R-REG-1): every row checked first — file format, ID numbers,
    duplicates in the file and in the batch, offerings, bars — and nothing saved when any row is
    bad unless ``skip_bad``; then the good rows are saved in one transaction."""
    batch = await _batch_for_registration(session, batch_id)
    read = registration_io.read_registrations(
        data, filename, known_occupations=await occupation_names(session), exam_date=batch.exam_from, progress=progress
    )
    errors = list(read.errors)
    if read.fatal:
        return ImportReport(imported=0, errors=errors, skipped=0, saved=False)
    occupations = {(o.code or o.name): o for o in await session.scalars(select(Occupation))}
    offerings = await _offerings(session, batch_id)
    numbers = [row.id_number for row in read.rows]
    existing = {
        (c.id_number): c
        for c in await session.scalars(
            select(Candidate).where(Candidate.batch_id == batch_id, Candidate.id_number.in_(numbers))
        )
    }
    applied = {
        (cid, occ, level)
        for cid, occ, level in await session.execute(
            select(Application.candidate_id, Application.occupation_id, Application.level).where(
                Application.batch_id == batch_id
            )
        )
    }
    bars = await bars_by_id_number(session, numbers, bar_day(batch))
    good: list[tuple[registration_io.RegistrationRow, Offering, fees.FeeQuote]] = []
    for row in read.rows:
        problem, field = _row_problem(row, occupations, offerings, existing, applied, bars)
        if problem is None:
            occupation = occupations[row.occupation]
            offering = offerings[(occupation.id, row.level)]
            try:
                good.append((row, offering, quote(offering, occupation.fee_category)))
            except BatchError as refusal:
                problem, field = str(refusal), "occupation"
        if problem is not None:
            errors.append(registration_io.RowError(row=row.row, field=field, message=problem))
    bad_rows = {e.row for e in errors}
    if errors and not skip_bad:
        return ImportReport(imported=0, errors=errors, skipped=0, saved=False)
    saved = 0
    by_number = dict(existing)
    for row, offering, price in good:
        if row.row in bad_rows:
            continue
        candidate = by_number.get(row.id_number)
        reg = _registration_of(row, offering)
        if candidate is None:
            candidate = _new_candidate(batch_id, row.id_number, reg)
            session.add(candidate)
            await session.flush()
            by_number[row.id_number] = candidate
        session.add(_new_application(batch_id, candidate.id, reg, price))
        saved += 1
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="registrations_imported",
        object_type="batch",
        object_id=batch_id,
        detail={"file": filename, "imported": saved, "skipped_rows": sorted(bad_rows)},
        ip=actor.ip,
    )
    return ImportReport(imported=saved, errors=errors, skipped=len(bad_rows), saved=True)


def _registration_of(row: registration_io.RegistrationRow, offering: Offering) -> Registration:
    return Registration(
        name=row.name,
        id_number=row.id_number,
        occupation_id=offering.occupation_id,
        level=row.level,
        gender=row.gender,
        education=row.education,
        certificates=row.certificates,
        work_years=row.work_years,
        phone=row.phone,
        employer=row.employer,
    )


def _row_problem(
    row: registration_io.RegistrationRow,
    occupations: Mapping[str, Occupation],
    offerings: Mapping[tuple[int, int], Offering],
    existing: Mapping[str, Candidate],
    applied: set[tuple[int, int, int]],
    bars: Mapping[str, Bar],
) -> tuple[str | None, str]:
    occupation = occupations.get(row.occupation)
    if occupation is None or (occupation.id, row.level) not in offerings:
        return f"this batch does not offer {row.occupation} at level {row.level}", "occupation"
    bar = bars.get(row.id_number)
    if bar is not None:
        return str(bar_refusal(row.name, bar)), "id_number"
    candidate = existing.get(row.id_number)
    if candidate is not None:
        if candidate.name != row.name:
            return f"ID number already registered in this batch under the name {candidate.name}", "id_number"
        if (candidate.id, occupation.id, row.level) in applied:
            return "already registered for this occupation and level in this batch", "id_number"
    return None, ""


async def set_photo(session: AsyncSession, candidate_id: int, data: bytes, filename: str, actor: Actor) -> None:
    """Store a candidate's photo after checking it is a real JPEG/PNG of sensible size."""
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None:
        raise BatchError(N_("Candidate %(candidate)s does not exist."), code="no_candidate", candidate=candidate_id)
    problem = registration_io.photo_problem(data, filename)
    if problem is not None:
        raise BatchError(N_("Photo %(file)s: %(problem)s"), code="bad_photo", file=filename, problem=problem)
    content_type = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    digest = hashlib.sha256(data).hexdigest()
    photo = await session.get(CandidatePhoto, candidate_id)
    if photo is None:
        session.add(CandidatePhoto(candidate_id=candidate_id, content_type=content_type, data=data, sha256=digest))
    else:
        photo.content_type, photo.data, photo.sha256 = content_type, data, digest
        photo.uploaded_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="candidate_photo_set",
        object_type="candidate",
        object_id=candidate_id,
        detail={"sha256": digest, "bytes": len(data)},
        ip=actor.ip,
    )


async def photos_of(session: AsyncSession, candidate_ids: Sequence[int]) -> dict[int, bytes]:
    if not candidate_ids:
        return {}
    rows = await session.execute(
        select(CandidatePhoto.candidate_id, CandidatePhoto.data).where(CandidatePhoto.candidate_id.in_(candidate_ids))
    )
    return {cid: data for cid, data in rows}


# --- Eligibility review (资格审核) ---------------------------------------------------------


async def decide(session: AsyncSession, application_id: int, decision: str, reason: str, actor: Actor) -> Application:
    """A reviewer approves or rejects an application with a reason; audited (R-REG-1)."""
    application = await session.get(Application, application_id, with_for_update=True)
    if application is None:
        raise BatchError(
            N_("Application %(application)s does not exist."), code="no_application", application=application_id
        )
    await _batch_for_registration(session, application.batch_id)
    problem = batch_rules.decision_problem(application.status, decision, reason)
    if problem is not None:
        raise BatchError(N_("Review refused: %(problem)s"), code="bad_decision", problem=problem)
    if application.status == decision:
        return application
    application.status = decision
    application.reason = reason.strip() or None
    application.decided_by = actor.name
    application.decided_at = datetime.now(UTC)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action=f"application_{decision}",
        object_type="application",
        object_id=application.id,
        detail={"reason": application.reason},
        ip=actor.ip,
    )
    return application


async def withdraw(session: AsyncSession, application_id: int, reason: str, actor: Actor) -> Application:
    """A candidate withdraws (late withdrawals free their seat at the next allocation)."""
    application = await session.get(Application, application_id, with_for_update=True)
    if application is None:
        raise BatchError(
            N_("Application %(application)s does not exist."), code="no_application", application=application_id
        )
    if application.status != batch_rules.WITHDRAWN:
        application.status = batch_rules.WITHDRAWN
        application.reason = reason.strip() or None
        application.decided_by = actor.name
        application.decided_at = datetime.now(UTC)
        await session.flush()
        await audit.record(
            session,
            actor=actor.name,
            actor_user_id=actor.user_id,
            action="application_withdrawn",
            object_type="application",
            object_id=application.id,
            detail={"reason": application.reason},
            ip=actor.ip,
        )
    return application


# --- Fees and payments (R-REG-2) ------------------------------------------------------------


async def paid_amounts(session: AsyncSession, application_ids: Sequence[int]) -> dict[int, int]:
    if not application_ids:
        return {}
    rows = await session.execute(
        select(Payment.application_id, func.sum(Payment.amount))
        .where(Payment.application_id.in_(application_ids))
        .group_by(Payment.application_id)
    )
    return {aid: int(total or 0) for aid, total in rows}


async def record_payment(
    session: AsyncSession,
    application_id: int,
    *,
    amount: int,
    method: str,
    receipt_no: str,
    actor: Actor,
    note: str = "",
) -> Payment:
    """Record a payment; fees are paid in full at registration, so the amount must equal what is
    still owed (a reversal is a negative amount with a note). Audited."""
    application = await session.get(Application, application_id, with_for_update=True)
    if application is None:
        raise BatchError(
            N_("Application %(application)s does not exist."), code="no_application", application=application_id
        )
    if method not in batch_rules.PAYMENT_METHODS:
        raise BatchError(
            N_("Method: choose one of %(methods)s."), code="bad_method", methods=", ".join(batch_rules.PAYMENT_METHODS)
        )
    receipt_no = receipt_no.strip()
    if not receipt_no:
        raise BatchError(N_("Receipt number: it is required."), code="no_receipt")
    if await session.scalar(select(Payment.id).where(Payment.receipt_no == receipt_no)) is not None:
        raise BatchError(
            N_("Receipt number %(receipt)s is already recorded."), code="duplicate_receipt", receipt=receipt_no
        )
    paid = (await paid_amounts(session, [application_id])).get(application_id, 0)
    if amount < 0:
        if not note.strip():
            raise BatchError(N_("Note: say why the payment is reversed."), code="reversal_needs_note")
        if -amount > paid:
            raise BatchError(
                N_("A reversal of %(amount)s yuan is more than the %(paid)s yuan paid."),
                code="reversal_too_large",
                amount=-amount,
                paid=paid,
            )
    else:
        problem = fees.payment_problem(fees.outstanding(application.fee_total, [paid]), amount)
        if problem is not None:
            raise BatchError(N_("Amount: %(problem)s"), code="wrong_amount", problem=problem)
    payment = Payment(
        application_id=application_id,
        amount=amount,
        method=method,
        receipt_no=receipt_no,
        note=note.strip() or None,
        recorded_by=actor.name,
    )
    session.add(payment)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="payment_recorded",
        object_type="application",
        object_id=application_id,
        detail={"amount": amount, "method": method, "receipt_no": receipt_no},
        ip=actor.ip,
    )
    return payment


async def confirm_payments(session: AsyncSession, payment_ids: Sequence[int], actor: Actor) -> int:
    """Finance confirms recorded payments before the exam (R-REG-2); confirming twice is a no-op."""
    count = 0
    for payment in await session.scalars(
        select(Payment).where(Payment.id.in_(payment_ids), Payment.confirmed_at.is_(None)).with_for_update()
    ):
        payment.confirmed_by = actor.name
        payment.confirmed_at = datetime.now(UTC)
        count += 1
    if count:
        await session.flush()
        await audit.record(
            session,
            actor=actor.name,
            actor_user_id=actor.user_id,
            action="payments_confirmed",
            object_type="payments",
            detail={"payment_ids": sorted(int(i) for i in payment_ids), "confirmed": count},
            ip=actor.ip,
        )
    return count


async def schedulable(session: AsyncSession, batch_id: int) -> list[Application]:
    """Applications that may get a seat: approved and paid in full (R-REG-1, R-REG-2)."""
    approved = list(
        await session.scalars(
            select(Application)
            .where(Application.batch_id == batch_id, Application.status == batch_rules.APPROVED)
            .order_by(Application.id)
        )
    )
    paid = await paid_amounts(session, [a.id for a in approved])
    return [a for a in approved if paid.get(a.id, 0) >= a.fee_total]


def payment_summary(rows: Iterable[tuple[int, int]]) -> dict[str, Any]:
    """Totals for the accounts from (fee_total, paid) pairs."""
    due = paid = 0
    count = 0
    for fee_total, amount in rows:
        due += fee_total
        paid += amount
        count += 1
    return {"applications": count, "due": due, "paid": paid, "outstanding": due - paid}


# --- Lists for the pages and exports ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ListFilter:
    """What the candidate list shows; every field is kept in the page's URL."""

    text: str = ""  # name, ID number or ticket number (part of it)
    status: str = ""  # submitted, approved, rejected, withdrawn
    offering: str = ""  # "<occupation id>-<level>"
    paid: str = ""  # "yes" (paid in full) or "no"


@dataclasses.dataclass(frozen=True)
class ListRow:
    application_id: int
    candidate_id: int
    name: str
    id_number: str
    ticket: str | None
    gender: str | None
    occupation: str
    level: int
    status: str
    fee_total: int
    paid: int
    has_photo: bool


def _list_query(batch_id: int, want: ListFilter) -> Any:
    paid = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
    )
    has_photo = select(CandidatePhoto.candidate_id).where(CandidatePhoto.candidate_id == Candidate.id).exists()
    query = (
        select(
            Application.id,
            Candidate.id,
            Candidate.name,
            Candidate.id_number,
            Candidate.ticket_number,
            Candidate.gender,
            Occupation.name,
            Application.level,
            Application.status,
            Application.fee_total,
            paid.label("paid"),
            has_photo.label("has_photo"),
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Occupation, Occupation.id == Application.occupation_id)
        .where(Application.batch_id == batch_id)
    )
    text = want.text.strip()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(
            Candidate.name.ilike(like) | Candidate.id_number.ilike(like) | Candidate.ticket_number.ilike(like)
        )
    if want.status:
        query = query.where(Application.status == want.status)
    occupation, _sep, level = want.offering.partition("-")
    if occupation.isdigit() and level.isdigit():
        query = query.where(Application.occupation_id == int(occupation), Application.level == int(level))
    if want.paid == "yes":
        query = query.where(paid >= Application.fee_total)
    elif want.paid == "no":
        query = query.where(paid < Application.fee_total)
    return query


async def list_applications(
    session: AsyncSession, batch_id: int, want: ListFilter, *, page: int = 1, size: int = 50
) -> tuple[list[ListRow], int]:
    """One page of the filtered list and the total count (both one query each)."""
    query = _list_query(batch_id, want)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Application.id).limit(size).offset(max(0, page - 1) * size))
    return [ListRow(*row) for row in rows], int(total)


async def all_applications(session: AsyncSession, batch_id: int, want: ListFilter) -> list[ListRow]:
    rows = await session.execute(_list_query(batch_id, want).order_by(Application.id))
    return [ListRow(*row) for row in rows]


async def batch_counts(session: AsyncSession, batch_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Application.status, func.count()).where(Application.batch_id == batch_id).group_by(Application.status)
    )
    counts = {status: int(n) for status, n in rows}
    approved = await session.scalars(
        select(Application).where(Application.batch_id == batch_id, Application.status == batch_rules.APPROVED)
    )
    approved_list = list(approved)
    paid = await paid_amounts(session, [a.id for a in approved_list])
    counts["paid_in_full"] = sum(1 for a in approved_list if paid.get(a.id, 0) >= a.fee_total)
    counts["unpaid"] = len(approved_list) - counts["paid_in_full"]
    counts["all"] = sum(counts.get(s, 0) for s in ("submitted", "approved", "rejected", "withdrawn"))
    return counts


async def offering_totals(session: AsyncSession, batch_id: int) -> list[dict[str, Any]]:
    """Due, paid and outstanding per occupation and level, for the accounts (R-REG-2)."""
    paid = (
        select(Payment.application_id, func.sum(Payment.amount).label("paid"))
        .group_by(Payment.application_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Occupation.name,
            Application.level,
            func.count(Application.id),
            func.sum(Application.fee_total),
            func.coalesce(func.sum(paid.c.paid), 0),
        )
        .join(Occupation, Occupation.id == Application.occupation_id)
        .outerjoin(paid, paid.c.application_id == Application.id)
        # Rejected and withdrawn applications owe nothing (a payment made is refunded by a reversal).
        .where(
            Application.batch_id == batch_id,
            Application.status.in_([batch_rules.SUBMITTED, batch_rules.APPROVED]),
        )
        .group_by(Occupation.name, Application.level)
        .order_by(Occupation.name, Application.level.desc())
    )
    return [
        {"occupation": occ, "level": level, "applications": int(n), "due": int(due or 0), "paid": int(got or 0)}
        | {"outstanding": int(due or 0) - int(got or 0)}
        for occ, level, n, due, got in rows
    ]


async def payments_of_batch(session: AsyncSession, batch_id: int, *, unconfirmed_only: bool = False) -> list[Any]:
    query = (
        select(Payment, Candidate.name, Candidate.id_number)
        .join(Application, Application.id == Payment.application_id)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(Application.batch_id == batch_id)
        .order_by(Payment.recorded_at, Payment.id)
    )
    if unconfirmed_only:
        query = query.where(Payment.confirmed_at.is_(None))
    return list(await session.execute(query))
