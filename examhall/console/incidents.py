"""The incident log of a room (考场记录表, R-INC-1…5) and what its entries do (service layer).

- ``record_incident``: an invigilator records an entry for a seat (or the room). The category's
  consequence (console.violations, R-INC-2) is kept on the entry; a bar (level 3/4) becomes a
  ``bars`` row for the candidate (enforced at registration, R-REG-1). Entries that act on the
  clock do so through the exam-day clock: toilet breaks (the clock keeps running) and illness
  (continue, or withdraw: the attempt closes) (R-CLOCK-8); early forced leave closes the attempt
  with this sitting's score cancelled (R-CLOCK-3). Suspected impersonation: admitted → level 4
  替考 with the impersonator's confirmation; denied → the candidate continues, marked for
  investigation (R-INC-5).
- ``correct_incident`` / ``decide_incident``: a correction (invigilator) or the chief's decision
  is a new entry replacing the old one; the old one's bars are lifted and the new one's imposed.
- ``consequences_for_attempt``: what the entries that count add up to for one attempt (results
  use it); ``active_bars``: the bars of a candidate on a day (registration uses it).

The same request twice (a double click, a retry: same ``request_id``) makes one entry. Every
entry is audited. Violations found after the exam are recorded the same way (R-INC-3); only the
entries that act on the clock need the candidate's exam to be open.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from examhall.batches.models import Candidate, Room, SeatAssignment
from examhall.console import violations as vio
from examhall.console.models import Bar, Incident
from examhall.events import publish_after_commit
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.sittings import clock as clk
from examhall.sittings.examday import RULES, clock_of, events_of, record_event, schedule_of
from examhall.sittings.models import Attempt, Sitting
from examhall.sittings.service import SittingError

# Serialises requests carrying the same request id (two clicks arriving together).
_REQUEST_LOCK = "examhall-incident:{sitting}:{request}"


@dataclasses.dataclass(frozen=True)
class IncidentRequest:
    """An entry as the invigilator asks for it: the seat by ``attempt_id`` or by ``room_id`` and
    ``seat_no``; a room-level note by ``room_id`` alone."""

    category: str
    room_id: int | None = None
    seat_no: int | None = None
    attempt_id: int | None = None
    text: str = ""
    recorded_by: Sequence[str] = ()
    request_id: str | None = None
    serious: bool = False
    admitted: bool | None = None
    impersonator: str = ""
    escorts: Sequence[str] = ()


@dataclasses.dataclass(frozen=True)
class ChangeRequest:
    """A correction, or the chief's decision (``decision`` set), of an entry. Leaving ``category``
    or ``serious`` out keeps those of the entry replaced."""

    text: str = ""
    category: str | None = None
    serious: bool | None = None
    recorded_by: Sequence[str] = ()
    decision: str | None = None
    request_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Recorded:
    incident: Incident
    created: bool  # False: the same request was already recorded


def site_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day at the exam site (a bar counts in the site's days)."""
    return moment.astimezone(zone).date()


def consequence_of_row(row: Incident) -> vio.Consequence:
    return vio.Consequence(
        cancel_subject=row.cancel_subject,
        counts_as_cheating=row.counts_as_cheating,
        cancel_all_subjects_of_sitting=row.cancel_all_subjects,
        bar_from=row.incident_date if row.bar_until is not None else None,
        bar_until=row.bar_until,
        referral=row.serious,
    )


async def _lock_request(session: AsyncSession, sitting_id: int, request_id: str | None) -> Incident | None:
    """Hold the request's lock for this transaction; the entry it already made, if any."""
    if request_id is None:
        return None
    key = _REQUEST_LOCK.format(sitting=sitting_id, request=request_id)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
    return await session.scalar(
        select(Incident).where(Incident.sitting_id == sitting_id, Incident.request_id == request_id)
    )


def _clean_request_id(value: str | None) -> str | None:
    if value is None:
        return None
    clean = value.strip()
    return clean or None


@dataclasses.dataclass
class _Seat:
    room_id: int
    candidate_id: int | None
    seat_no: int | None
    attempt: Attempt | None


async def _locate(session: AsyncSession, sitting_id: int, req: IncidentRequest) -> _Seat:
    """The room, candidate and attempt the entry is about; all of them of this sitting."""
    if req.attempt_id is not None:
        attempt = await session.get(Attempt, req.attempt_id, with_for_update=True)
        if attempt is None or attempt.sitting_id != sitting_id:
            raise SittingError(f"attempt {req.attempt_id} is not in sitting {sitting_id}", "no_attempt")
        if req.room_id is not None and attempt.room_id != req.room_id:
            raise SittingError("this candidate sits in another room", "other_room")
        if req.seat_no is not None and attempt.seat_no != req.seat_no:
            raise SittingError("this attempt belongs to another seat", "other_seat")
        return _Seat(attempt.room_id, attempt.candidate_id, attempt.seat_no, attempt)
    if req.room_id is None:
        raise SittingError("room_id: name the room of the log", "needs_room")
    in_sitting = await session.scalar(
        select(exists().where(SeatAssignment.sitting_id == sitting_id, SeatAssignment.room_id == req.room_id))
    )
    if not in_sitting:
        raise SittingError(f"room {req.room_id} has no seats in sitting {sitting_id}", "no_room")
    if req.seat_no is None:
        return _Seat(req.room_id, None, None, None)
    seat = await session.scalar(
        select(SeatAssignment).where(
            SeatAssignment.sitting_id == sitting_id,
            SeatAssignment.room_id == req.room_id,
            SeatAssignment.seat_no == req.seat_no,
        )
    )
    if seat is None:
        raise SittingError(f"seat {req.seat_no} is empty or not in this room", "no_seat")
    attempt = await session.scalar(
        select(Attempt)
        .where(Attempt.sitting_id == sitting_id, Attempt.candidate_id == seat.candidate_id)
        .with_for_update()
    )
    return _Seat(req.room_id, seat.candidate_id, seat.seat_no, attempt)


def _same_request(existing: Incident, req: IncidentRequest, seat: _Seat) -> bool:
    """A repeated request: same category asked for, about the same seat of the same room."""
    return (
        existing.detail.get("requested", existing.category) == req.category
        and existing.room_id == seat.room_id
        and existing.seat_no == seat.seat_no
        and existing.candidate_id == seat.candidate_id
    )


async def _impose_bar(
    session: AsyncSession, incident: Incident, result: vio.Consequence, category: vio.Category, now: datetime
) -> Bar | None:
    if result.bar_until is None or result.bar_from is None or incident.candidate_id is None:
        return None
    severity = "（情节严重，移送有关部门）" if incident.serious else ""
    bar = Bar(
        candidate_id=incident.candidate_id,
        incident_id=incident.id,
        from_date=result.bar_from,
        until_date=result.bar_until,
        reason=f"{category.clause} {category.label_zh}{severity}",
        created_at=now,
    )
    session.add(bar)
    await session.flush()
    return bar


def _audit_detail(incident: Incident, bar: Bar | None) -> dict[str, Any]:
    return {
        "sitting_id": incident.sitting_id,
        "room_id": incident.room_id,
        "attempt_id": incident.attempt_id,
        "candidate_id": incident.candidate_id,
        "seat_no": incident.seat_no,
        "kind": incident.kind,
        "category": incident.category,
        "level": incident.level,
        "serious": incident.serious,
        "corrects_id": incident.corrects_id,
        "investigation": incident.investigation,
        "cancel_subject": incident.cancel_subject,
        "counts_as_cheating": incident.counts_as_cheating,
        "cancel_all_subjects": incident.cancel_all_subjects,
        "bar_until": incident.bar_until.isoformat() if incident.bar_until else None,
        "bar_id": bar.id if bar else None,
        "request_id": incident.request_id,
    }


def _tell_room(session: AsyncSession, incident: Incident) -> None:
    publish_after_commit(
        session,
        f"room:{incident.room_id}",
        {"kind": "incident", "incident": incident.id, "attempt": incident.attempt_id, "seat": incident.seat_no},
    )


async def _check_clock(session: AsyncSession, cat: vio.Category, attempt: Attempt, now: datetime) -> Sitting:
    """Refuse, before anything is written, what the clock would refuse (R-CLOCK-3/8)."""
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    if cat.code == vio.LEFT_EARLY:
        state = await clock_of(session, attempt, sitting, now)
        if state.may_submit:
            raise SittingError("the candidate may hand in now (R-CLOCK-3): leaving is not early", "may_hand_in")
    if cat.clock_event is not None:
        events = await events_of(session, attempt.id)
        try:
            clk.clock_at(schedule_of(sitting), [*events, clk.AttemptEvent(cat.clock_event, now)], now, RULES)
        except ValueError as exc:
            raise SittingError(str(exc), "clock_refused") from exc
    return sitting


async def _act_on_clock(
    session: AsyncSession,
    cat: vio.Category,
    incident: Incident,
    attempt: Attempt,
    sitting: Sitting,
    actor: Actor,
    now: datetime,
) -> None:
    """Toilet break, illness withdrawal, early forced leave: the clock records it (R-CLOCK-3/8)."""
    if cat.clock_event is None:
        return
    detail: dict[str, Any] = {"incident": incident.id, "category": cat.code}
    if "escorts" in incident.detail:
        detail["escorts"] = list(incident.detail["escorts"])
    ref = f"incident-{incident.id}"
    await record_event(session, attempt, sitting, cat.clock_event, now, actor.name, ref=ref, detail=detail)
    if cat.closes_as is not None:
        attempt.state, attempt.outcome, attempt.closed_at = "closed", cat.closes_as, now
        await session.flush()


async def record_incident(
    session: AsyncSession, zone: ZoneInfo, sitting_id: int, req: IncidentRequest, actor: Actor, now: datetime
) -> Recorded:
    """Record one entry of a room's log and apply its consequence (see the module docstring)."""
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    if req.category not in vio.CATEGORIES:
        raise SittingError(f"unknown category {req.category!r}", "unknown_category")
    request_id = _clean_request_id(req.request_id)
    if request_id is not None and len(request_id) > vio.REQUEST_ID_MAX_CHARS:
        raise SittingError("request_id: up to 64 characters", "bad_request_id")
    existing = await _lock_request(session, sitting_id, request_id)
    seat = await _locate(session, sitting_id, req)
    if existing is not None:
        if _same_request(existing, req, seat):
            return Recorded(existing, created=False)
        raise SittingError("this request id was used for another entry", "request_reused")
    attempt = seat.attempt
    recorders = vio.clean_names(req.recorded_by) or (actor.name,)
    escorts = vio.clean_names(req.escorts)
    draft = vio.Draft(
        category=req.category,
        text=req.text.strip(),
        recorded_by=recorders,
        has_candidate=seat.candidate_id is not None,
        attempt=None if attempt is None else ("closed" if attempt.state == "closed" else "open"),
        serious=req.serious,
        escorts=escorts,
        admitted=req.admitted,
        impersonator=req.impersonator.strip(),
        request_id=request_id,
    )
    problem = vio.entry_problem(draft)
    if problem is not None:
        raise SittingError(f"the entry cannot be recorded: {problem}", problem)
    code, investigation = vio.resolve(req.category, req.admitted)
    cat = vio.CATEGORIES[code]
    sitting_now = None
    if attempt is not None and cat.kind == vio.Kind.ACTION:
        sitting_now = await _check_clock(session, cat, attempt, now)
    day = site_date(now, zone)
    result = vio.consequence_of(code, draft.serious, day)
    detail: dict[str, Any] = {"requested": req.category}
    if escorts:
        detail["escorts"] = list(escorts)
    if req.category == vio.IMPERSONATION_SUSPECTED:
        detail["admitted"] = bool(req.admitted)
        if req.admitted:
            detail["impersonator"] = draft.impersonator  # 由代考者签名确认其代考行为
    incident = Incident(
        sitting_id=sitting_id,
        room_id=seat.room_id,
        attempt_id=attempt.id if attempt else None,
        candidate_id=seat.candidate_id,
        seat_no=seat.seat_no,
        at=now,
        incident_date=day,
        kind=vio.ENTRY,
        category=code,
        level=cat.level,
        serious=draft.serious,
        text=draft.text,
        recorded_by=list(recorders),
        entered_by=actor.name,
        chief_decision=None,
        corrects_id=None,
        investigation=investigation,
        detail=detail,
        request_id=request_id,
        cancel_subject=result.cancel_subject,
        counts_as_cheating=result.counts_as_cheating,
        cancel_all_subjects=result.cancel_all_subjects_of_sitting,
        bar_until=result.bar_until,
    )
    session.add(incident)
    await session.flush()
    if attempt is not None and sitting_now is not None:
        await _act_on_clock(session, cat, incident, attempt, sitting_now, actor, now)
    bar = await _impose_bar(session, incident, result, cat, now)
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="incident_recorded",
        object_type="incident",
        object_id=incident.id,
        detail=_audit_detail(incident, bar),
        ip=actor.ip,
        at=now,
    )
    _tell_room(session, incident)
    return Recorded(incident, created=True)


async def _successor(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.corrects_id == incident_id))


async def latest_of(session: AsyncSession, incident_id: int) -> Incident | None:
    """The entry that counts now in the chain starting at ``incident_id``."""
    current = await session.get(Incident, incident_id)
    while current is not None:
        following = await _successor(session, current.id)
        if following is None:
            return current
        current = following
    return None


async def _replace(
    session: AsyncSession,
    incident_id: int,
    req: ChangeRequest,
    actor: Actor,
    now: datetime,
    *,
    kind: str,
    by_chief: bool,
) -> Recorded:
    old = await session.get(Incident, incident_id, with_for_update=True)
    if old is None:
        raise SittingError(f"incident {incident_id} does not exist", "no_incident")
    request_id = _clean_request_id(req.request_id)
    if request_id is not None and len(request_id) > vio.REQUEST_ID_MAX_CHARS:
        raise SittingError("request_id: up to 64 characters", "bad_request_id")
    existing = await _lock_request(session, old.sitting_id, request_id)
    if existing is not None:
        if existing.corrects_id == old.id and existing.kind == kind:
            return Recorded(existing, created=False)
        raise SittingError("this request id was used for another entry", "request_reused")
    following = await _successor(session, old.id)
    if following is not None:
        latest = await latest_of(session, old.id)
        raise SittingError(
            "this entry was already corrected; correct the latest entry",
            "superseded",
            latest=latest.id if latest else following.id,
        )
    if old.kind == vio.DECISION and not by_chief:
        raise SittingError("only the chief examiner may change the chief's decision", "chief_only")
    code = req.category or old.category
    serious = req.serious if req.serious is not None else (old.serious and code == old.category)
    problem = vio.correction_problem(old.category, code, has_candidate=old.candidate_id is not None, serious=serious)
    if problem is not None:
        raise SittingError(f"the entry cannot be changed: {problem}", problem)
    words = req.text.strip()
    decision = (req.decision or "").strip()
    if kind == vio.DECISION and not decision:
        raise SittingError("decision: write the chief's decision", "needs_decision")
    if kind == vio.CORRECTION and not words:
        raise SittingError("text: say what is corrected", "needs_text")
    if len(words) > vio.TEXT_MAX_CHARS or len(decision) > vio.TEXT_MAX_CHARS:
        raise SittingError("text: up to 2,000 characters", "bad_text")
    recorders = vio.clean_names(req.recorded_by) or (tuple(old.recorded_by) if kind == vio.DECISION else (actor.name,))
    if vio.names_problem(recorders) is not None:
        raise SittingError("recorded_by: name one to six invigilators", "bad_recorders")
    cat = vio.CATEGORIES[code]
    result = vio.consequence_of(code, serious, old.incident_date)
    # The chief's decision closes an investigation; a correction keeps what the category says.
    investigation = (
        False if kind == vio.DECISION else (cat.investigation or (old.investigation and code == old.category))
    )
    detail: dict[str, Any] = {"replaces": old.id}
    for key in ("escorts", "admitted", "impersonator"):
        if key in old.detail:
            detail[key] = old.detail[key]
    new = Incident(
        sitting_id=old.sitting_id,
        room_id=old.room_id,
        attempt_id=old.attempt_id,
        candidate_id=old.candidate_id,
        seat_no=old.seat_no,
        at=now,
        incident_date=old.incident_date,
        kind=kind,
        category=code,
        level=cat.level,
        serious=serious,
        text=words if words else old.text,
        recorded_by=list(recorders),
        entered_by=actor.name,
        chief_decision=decision or None,
        corrects_id=old.id,
        investigation=investigation,
        detail=detail,
        request_id=request_id,
        cancel_subject=result.cancel_subject,
        counts_as_cheating=result.counts_as_cheating,
        cancel_all_subjects=result.cancel_all_subjects_of_sitting,
        bar_until=result.bar_until,
    )
    session.add(new)
    await session.flush()
    # The replaced entry's bars are lifted; the new entry's (if any) imposed.
    await session.execute(
        update(Bar)
        .where(Bar.incident_id == old.id, Bar.lifted_by_id.is_(None))
        .values(lifted_by_id=new.id, lifted_at=now)
    )
    bar = await _impose_bar(session, new, result, cat, now)
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="incident_decided" if kind == vio.DECISION else "incident_corrected",
        object_type="incident",
        object_id=new.id,
        detail=_audit_detail(new, bar),
        ip=actor.ip,
        at=now,
    )
    _tell_room(session, new)
    return Recorded(new, created=True)


async def correct_incident(
    session: AsyncSession, incident_id: int, req: ChangeRequest, actor: Actor, now: datetime, *, by_chief: bool = False
) -> Recorded:
    """A correction: a new entry replacing ``incident_id`` (R-INC-1)."""
    return await _replace(session, incident_id, req, actor, now, kind=vio.CORRECTION, by_chief=by_chief)


async def decide_incident(
    session: AsyncSession, incident_id: int, req: ChangeRequest, actor: Actor, now: datetime
) -> Recorded:
    """The chief's decision on an entry (R-INC-1): a new entry carrying it; it may re-classify the
    case (an investigation's outcome) and rule on seriousness (情节严重, level 4)."""
    return await _replace(session, incident_id, req, actor, now, kind=vio.DECISION, by_chief=True)


# --- reading the log ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogRow:
    incident: Incident
    candidate_name: str | None
    replaced_by: int | None  # the later entry that replaces this one (None: it counts)

    @property
    def counts(self) -> bool:
        return self.replaced_by is None

    @property
    def category(self) -> vio.Category:
        return vio.CATEGORIES[self.incident.category]


async def room_log(session: AsyncSession, sitting_id: int, room_id: int | None = None) -> list[LogRow]:
    """The entries of a sitting (optionally one room), oldest first, with who replaced which."""
    later = aliased(Incident)
    query = (
        select(Incident, Candidate.name, later.id)
        .outerjoin(Candidate, Candidate.id == Incident.candidate_id)
        .outerjoin(later, later.corrects_id == Incident.id)
        .where(Incident.sitting_id == sitting_id)
        .order_by(Incident.at, Incident.id)
    )
    if room_id is not None:
        query = query.where(Incident.room_id == room_id)
    return [LogRow(row, name, replaced) for row, name, replaced in await session.execute(query)]


def _counting() -> Any:
    later = aliased(Incident)
    return ~exists().where(later.corrects_id == Incident.id)


@dataclasses.dataclass(frozen=True)
class AttemptConsequences:
    attempt_id: int
    consequence: vio.Consequence
    incident_ids: tuple[int, ...]  # the entries that count and carry a consequence
    investigation: bool  # a case about this candidate awaits the chief's investigation (R-INC-5)
    left_early: bool

    @property
    def score_cancelled(self) -> bool:
        return self.consequence.cancel_subject


async def consequences_for_attempt(session: AsyncSession, attempt_id: int) -> AttemptConsequences:
    """What the entries that count add up to for one attempt: its own entries, the candidate's
    entries of the same sitting made before check-in, and — 取消当次全部科目成绩 — level-3/4
    entries of the candidate in any sitting of the same batch."""
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None:
        raise SittingError(f"attempt {attempt_id} does not exist", "no_attempt")
    sitting = await session.get(Sitting, attempt.sitting_id)
    assert sitting is not None
    same_batch = select(Sitting.id).where(Sitting.batch_id == sitting.batch_id).scalar_subquery()
    rows = list(
        await session.scalars(
            select(Incident)
            .where(
                _counting(),
                or_(
                    Incident.attempt_id == attempt.id,
                    (Incident.candidate_id == attempt.candidate_id) & (Incident.sitting_id == attempt.sitting_id),
                    (Incident.candidate_id == attempt.candidate_id)
                    & Incident.cancel_all_subjects
                    & Incident.sitting_id.in_(same_batch),
                ),
            )
            .order_by(Incident.id)
        )
    )
    combined = vio.combine(consequence_of_row(r) for r in rows)
    carrying = tuple(r.id for r in rows if not consequence_of_row(r).is_none)
    return AttemptConsequences(
        attempt_id=attempt.id,
        consequence=combined,
        incident_ids=carrying,
        investigation=any(r.investigation for r in rows),
        left_early=any(r.category == vio.LEFT_EARLY for r in rows),
    )


async def active_bars(session: AsyncSession, candidate_id: int, on: date | None = None) -> list[Bar]:
    """The candidate's bars not lifted — those in force on ``on`` when given (R-REG-1)."""
    query = select(Bar).where(Bar.candidate_id == candidate_id, Bar.lifted_by_id.is_(None))
    if on is not None:
        query = query.where(Bar.from_date <= on, Bar.until_date >= on)
    return list(await session.scalars(query.order_by(Bar.until_date.desc(), Bar.id)))


async def all_bars(session: AsyncSession, candidate_id: int) -> list[Bar]:
    return list(await session.scalars(select(Bar).where(Bar.candidate_id == candidate_id).order_by(Bar.id)))


@functools.cache
def _flagged() -> Any:
    """The query behind the flags of a seat map, built once (live consoles read them often)."""
    return select(Incident.attempt_id).where(
        Incident.attempt_id.is_not(None),
        _counting(),
        or_(Incident.level.is_not(None), Incident.investigation, Incident.cancel_subject),
    )


async def open_flags(session: AsyncSession, sitting_id: int, room_id: int) -> dict[int, int]:
    """Per attempt of the room: how many entries that count carry a consequence or await an
    investigation — the flags of the seat map."""
    rows = await session.scalars(_flagged().where(Incident.sitting_id == sitting_id, Incident.room_id == room_id))
    flags: dict[int, int] = {}
    for attempt_id in rows:
        assert attempt_id is not None
        flags[attempt_id] = flags.get(attempt_id, 0) + 1
    return flags


@dataclasses.dataclass(frozen=True)
class RoomSeat:
    seat_no: int
    candidate_id: int
    name: str
    ticket_number: str | None
    attempt_id: int | None
    state: str | None
    outcome: str | None


async def room_seats(session: AsyncSession, sitting_id: int, room_id: int) -> list[RoomSeat]:
    """The seats of a room in a sitting with their candidates and attempts (for forms)."""
    rows = await session.execute(
        select(SeatAssignment.seat_no, Candidate, Attempt)
        .join(Candidate, Candidate.id == SeatAssignment.candidate_id)
        .outerjoin(Attempt, (Attempt.sitting_id == SeatAssignment.sitting_id) & (Attempt.candidate_id == Candidate.id))
        .where(SeatAssignment.sitting_id == sitting_id, SeatAssignment.room_id == room_id)
        .order_by(SeatAssignment.seat_no)
    )
    return [
        RoomSeat(
            seat_no,
            c.id,
            c.name,
            c.ticket_number,
            a.id if a else None,
            a.state if a else None,
            a.outcome if a else None,
        )
        for seat_no, c, a in rows
    ]


async def room_of_sitting(session: AsyncSession, sitting_id: int, room_id: int) -> tuple[Sitting, Room]:
    sitting = await session.get(Sitting, sitting_id)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    room = await session.get(Room, room_id)
    in_sitting = await session.scalar(
        select(exists().where(SeatAssignment.sitting_id == sitting_id, SeatAssignment.room_id == room_id))
    )
    if room is None or not in_sitting:
        raise SittingError(f"room {room_id} has no seats in sitting {sitting_id}", "no_room")
    return sitting, room
