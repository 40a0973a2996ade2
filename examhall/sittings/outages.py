"""Outages (R-CLOCK-6), paper replacements (R-CLOCK-9) and stopping a sitting (R-INC-6) — the
chief's side. The time arithmetic is the clock's (``sittings.clock``): an outage only records a
paused/resumed event pair, with ref ``outage-<id>``, on every affected attempt, and each
candidate's E moves by exactly the time they lost.

Declaring the same outage twice (two clicks) returns the open one; ending an ended outage is a
no-op; a part can be stopped only once the 50-minute limit is reached (R-CLOCK-6), and its
candidates are then "to be rescheduled" (另行安排考试): attempts kept, never scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.config import Settings
from examhall.events import publish_after_commit
from examhall.papers import service as papers_service
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.sittings import clock as clk
from examhall.sittings import examday
from examhall.sittings.examday import RULES, record_event
from examhall.sittings.models import OUTAGE_CAUSES, OUTAGE_SCOPES, Answer, Attempt, Outage, Sitting
from examhall.sittings.service import SittingError


def outage_ref(outage_id: int) -> str:
    return f"outage-{outage_id}"


async def _sitting(session: AsyncSession, sitting_id: int) -> Sitting:
    sitting = await session.get(Sitting, sitting_id, with_for_update=True)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist", "no_sitting")
    if sitting.status in ("completed", "stopped"):
        raise SittingError(f"the sitting is {sitting.status}", "sitting_over")
    return sitting


async def _affected(
    session: AsyncSession, sitting_id: int, scope: str, room_id: int | None, attempt_id: int | None
) -> list[Attempt]:
    query = select(Attempt).where(Attempt.sitting_id == sitting_id, Attempt.state != "closed").order_by(Attempt.id)
    if scope == "room":
        query = query.where(Attempt.room_id == room_id)
    elif scope == "seat":
        query = query.where(Attempt.id == attempt_id)
    return list(await session.scalars(query.with_for_update()))


async def declare_outage(
    session: AsyncSession,
    sitting_id: int,
    *,
    scope: str,
    cause: str,
    actor: Actor,
    now: datetime,
    room_id: int | None = None,
    attempt_id: int | None = None,
    note: str = "",
) -> Outage:
    """Stop the clocks of a seat, a room or the whole sitting now (R-CLOCK-6/9)."""
    if scope not in OUTAGE_SCOPES:
        raise SittingError("scope: one seat, one room or the whole sitting", "bad_scope")
    if cause not in OUTAGE_CAUSES:
        raise SittingError("cause: power, network, system, paper or other", "bad_cause")
    if scope == "room" and room_id is None:
        raise SittingError("room_id: name the room", "bad_scope")
    if scope == "seat" and attempt_id is None:
        raise SittingError("attempt_id: name the candidate's attempt", "bad_scope")
    if len(note) > 2000:
        raise SittingError("note: up to 2,000 characters", "bad_text")
    await _sitting(session, sitting_id)
    same = await session.scalar(
        select(Outage).where(
            Outage.sitting_id == sitting_id,
            Outage.ended_at.is_(None),
            Outage.scope == scope,
            Outage.room_id.is_(None) if room_id is None else Outage.room_id == room_id,
            Outage.attempt_id.is_(None) if attempt_id is None else Outage.attempt_id == attempt_id,
        )
    )
    if same is not None:
        return same  # two chiefs (or two clicks) declaring the same outage
    affected = await _affected(session, sitting_id, scope, room_id, attempt_id)
    if scope == "seat" and not affected:
        raise SittingError("this candidate's attempt is not open", "not_open")
    if scope == "seat" and room_id is None:
        room_id = affected[0].room_id
    outage = Outage(
        sitting_id=sitting_id,
        scope=scope,
        room_id=room_id,
        attempt_id=attempt_id,
        cause=cause,
        note=note.strip(),
        started_at=now,
        started_by=actor.name,
        affected=[a.id for a in affected],
    )
    session.add(outage)
    await session.flush()
    sitting = await session.get(Sitting, sitting_id)
    assert sitting is not None
    for attempt in affected:
        await record_event(session, attempt, sitting, clk.EventKind.PAUSED, now, actor.name, ref=outage_ref(outage.id))
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="outage_declared",
        object_type="sitting",
        object_id=sitting_id,
        detail={"outage_id": outage.id, "scope": scope, "room_id": room_id, "cause": cause, "affected": len(affected)},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"sitting:{sitting_id}", {"kind": "outage", "id": outage.id})
    return outage


async def _open_outage(session: AsyncSession, outage_id: int) -> tuple[Outage, Sitting]:
    outage = await session.get(Outage, outage_id, with_for_update=True)
    if outage is None:
        raise SittingError(f"outage {outage_id} does not exist", "no_outage")
    sitting = await session.get(Sitting, outage.sitting_id)
    assert sitting is not None
    return outage, sitting


async def end_outage(session: AsyncSession, outage_id: int, actor: Actor, now: datetime) -> Outage:
    """The chief declares the outage resolved: the clocks run again; each affected candidate's E
    has moved by the time they lost (R-CLOCK-6). Ending it again changes nothing."""
    outage, sitting = await _open_outage(session, outage_id)
    if outage.ended_at is not None:
        return outage
    ref = outage_ref(outage.id)
    for attempt in await session.scalars(
        select(Attempt).where(Attempt.id.in_(outage.affected)).order_by(Attempt.id).with_for_update()
    ):
        # Also on an attempt closed meanwhile (withdrawn): the pause ends, for the record.
        await record_event(session, attempt, sitting, clk.EventKind.RESUMED, now, actor.name, ref=ref)
    outage.ended_at, outage.ended_by, outage.outcome = now, actor.name, "resumed"
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="outage_ended",
        object_type="sitting",
        object_id=outage.sitting_id,
        detail={"outage_id": outage.id, "lasted": str(now - outage.started_at)},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"sitting:{outage.sitting_id}", {"kind": "outage", "id": outage.id})
    return outage


async def _reschedule(
    session: AsyncSession, attempts: Sequence[Attempt], sitting: Sitting, by: str, now: datetime
) -> int:
    count = 0
    for attempt in attempts:
        if attempt.state == "closed":
            continue
        await record_event(session, attempt, sitting, clk.EventKind.RESCHEDULED, now, by)
        attempt.state, attempt.outcome, attempt.closed_at = "closed", "rescheduled", now
        count += 1
    return count


async def stop_affected_part(session: AsyncSession, outage_id: int, actor: Actor, now: datetime) -> Outage:
    """R-CLOCK-6: the outage reached the limit; the affected part is stopped and its candidates
    are to be rescheduled (attempts kept, not scored)."""
    outage, sitting = await _open_outage(session, outage_id)
    if outage.outcome == "stopped":
        return outage
    if outage.ended_at is not None:
        raise SittingError("this outage has already ended and its candidates continued", "outage_over")
    _elapsed, reached = clk.outage_status(clk.Outage(str(outage.id), outage.started_at), now, RULES)
    if not reached:
        minutes = int(RULES.outage_limit / timedelta(minutes=1))
        raise SittingError(f"the part can be stopped once the outage has lasted {minutes} minutes", "limit_not_reached")
    attempts = list(
        await session.scalars(
            select(Attempt).where(Attempt.id.in_(outage.affected)).order_by(Attempt.id).with_for_update()
        )
    )
    stopped = await _reschedule(session, attempts, sitting, actor.name, now)
    outage.ended_at, outage.ended_by, outage.outcome = now, actor.name, "stopped"
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="outage_part_stopped",
        object_type="sitting",
        object_id=outage.sitting_id,
        detail={"outage_id": outage.id, "rescheduled": stopped},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"sitting:{outage.sitting_id}", {"kind": "outage", "id": outage.id})
    return outage


async def stop_sitting(session: AsyncSession, sitting_id: int, reason: str, actor: Actor, now: datetime) -> int:
    """R-INC-6: a major incident stops the whole sitting; all its candidates are rescheduled."""
    if not reason.strip():
        raise SittingError("reason: say why the sitting is stopped", "bad_text")
    sitting = await _sitting(session, sitting_id)
    attempts = list(
        await session.scalars(
            select(Attempt).where(Attempt.sitting_id == sitting_id).order_by(Attempt.id).with_for_update()
        )
    )
    stopped = await _reschedule(session, attempts, sitting, actor.name, now)
    for outage in await session.scalars(
        select(Outage).where(Outage.sitting_id == sitting_id, Outage.ended_at.is_(None))
    ):
        outage.ended_at, outage.ended_by, outage.outcome = now, actor.name, "stopped"
    sitting.status, sitting.completed_at = "stopped", now
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="sitting_stopped",
        object_type="sitting",
        object_id=sitting_id,
        detail={"reason": reason.strip()[:500], "rescheduled": stopped},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"sitting:{sitting_id}", {"kind": "stopped"})
    return stopped


@dataclasses.dataclass(frozen=True)
class OutageView:
    outage: Outage
    elapsed: timedelta
    limit_reached: bool
    limit: timedelta


async def outages_of(session: AsyncSession, sitting_id: int, now: datetime) -> list[OutageView]:
    """Every outage of the sitting, open ones first, with the time toward the 50-minute limit."""
    rows = await session.scalars(
        select(Outage).where(Outage.sitting_id == sitting_id).order_by(Outage.ended_at.is_not(None), Outage.id.desc())
    )
    views = []
    for outage in rows:
        elapsed, reached = clk.outage_status(clk.Outage(str(outage.id), outage.started_at, outage.ended_at), now, RULES)
        views.append(OutageView(outage, elapsed, reached and outage.ended_at is None, RULES.outage_limit))
    return views


async def replace_paper(
    session: AsyncSession, settings: Settings, attempt_id: int, actor: Actor, now: datetime
) -> Attempt:
    """R-CLOCK-9: the candidate gets a fresh paper from the same blueprint. Declare a seat outage
    with cause "paper" first and end it once the candidate works again: that time is added.
    Answers to the old paper are kept in the refused-answers log (reason "paper_replaced")."""
    attempt = await session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise SittingError(f"attempt {attempt_id} does not exist", "no_attempt")
    if attempt.state == "closed":
        raise SittingError("this candidate's attempt is not open", "not_open")
    paper = await papers_service.assemble_replacement(
        session, settings, attempt.sitting_id, attempt.candidate_id, actor
    )
    old = await examday.saved_answers(session, attempt.id)
    for answer in old.values():
        await examday.reject(session, attempt.id, answer.position, answer.response, answer.seq, "paper_replaced", now)
    await session.execute(delete(Answer).where(Answer.attempt_id == attempt.id))
    previous = attempt.paper_id
    attempt.paper_id, attempt.item_count, attempt.answered_count = paper.id, paper.item_count, 0
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="paper_replaced",
        object_type="attempt",
        object_id=attempt.id,
        detail={"old_paper": previous, "new_paper": paper.id, "answers_set_aside": len(old)},
        ip=actor.ip,
        at=now,
    )
    publish_after_commit(session, f"attempt:{attempt.id}", {"kind": "paper_replaced"})
    publish_after_commit(session, f"room:{attempt.room_id}", {"attempt": attempt.id, "kind": "paper_replaced"})
    return attempt


async def replace_paper_and_resume(
    session: AsyncSession, settings: Settings, attempt_id: int, actor: Actor, now: datetime
) -> tuple[Attempt, Outage | None]:
    """The chief console's one action for R-CLOCK-9: replace the paper, then end the seat outage
    with cause "paper" declared when the candidate reported the fault, so the candidate gets back
    exactly the time between report and resumption. Without such an outage the paper is still
    replaced (nothing to compensate)."""
    attempt = await replace_paper(session, settings, attempt_id, actor, now)
    outage = await session.scalar(
        select(Outage).where(Outage.attempt_id == attempt_id, Outage.cause == "paper", Outage.ended_at.is_(None))
    )
    if outage is not None:
        outage = await end_outage(session, outage.id, actor, now)
    return attempt, outage


async def replace_room_papers(
    session: AsyncSession, settings: Settings, sitting_id: int, room_id: int, actor: Actor, now: datetime
) -> tuple[int, Outage | None]:
    """R-CLOCK-9 for a whole room (a mis-packed form): every candidate of the room who has a paper
    gets a fresh one from the same blueprint; the room's open "paper" outage ends with it, so the
    time in between is added. Candidates not started yet get their paper when they start."""
    await _sitting(session, sitting_id)
    attempts = await session.scalars(
        select(Attempt.id)
        .where(
            Attempt.sitting_id == sitting_id,
            Attempt.room_id == room_id,
            Attempt.state != "closed",
            Attempt.paper_id.is_not(None),
        )
        .order_by(Attempt.id)
    )
    replaced = 0
    for attempt_id in list(attempts):
        await replace_paper(session, settings, attempt_id, actor, now)
        replaced += 1
    outage = await session.scalar(
        select(Outage).where(
            Outage.sitting_id == sitting_id,
            Outage.scope == "room",
            Outage.room_id == room_id,
            Outage.cause == "paper",
            Outage.ended_at.is_(None),
        )
    )
    if outage is not None:
        outage = await end_outage(session, outage.id, actor, now)
    return replaced, outage
