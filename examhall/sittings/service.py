"""Use cases of sittings: scheduling, completing a mock exam (R-BANK-3), and exam day —
check-in, candidate login at the enrolled seat, the clock of each attempt, the candidate's
paper, submission with scoring and the signed receipt, errata (R-CLOCK, R-SCORE-1/7, R-INC-4).

The clock (``sittings.clock``) is the authority on time; ``Attempt.state`` and ``ends_at`` are
its cached view for the answer hot path (``sittings.answers``), refreshed at every event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.bank.models import Occupation
from examhall.bank.service import register_use
from examhall.papers.models import PaperSet
from examhall.security import audit
from examhall.security.audit import Actor
from examhall.sittings.models import Sitting

# theory and mock exams are sat on the computer; skill assessments (技能操作) and comprehensive
# reviews (综合评审) are scheduled here and scored by assessors.
SITTING_KINDS = ("theory", "mock", "skill", "review")
COMPUTER_KINDS = ("theory", "mock")


class SittingError(ValueError):
    """A sitting operation that cannot be done; ``code`` names the refusal for pages and the API,
    the message says why in plain words (English; pages translate by code)."""

    def __init__(self, message: str, code: str = "refused", **facts: Any) -> None:
        super().__init__(message)
        self.code = code
        self.facts = facts


async def schedule_sitting(
    session: AsyncSession,
    *,
    batch_id: int,
    occupation_id: int,
    level: int,
    kind: str,
    title: str,
    starts_at: datetime,
    duration_minutes: int,
    actor: Actor,
) -> Sitting:
    if kind not in SITTING_KINDS:
        raise SittingError("kind: a theory exam, a mock exam, a skill assessment or a comprehensive review")
    if starts_at.tzinfo is None:
        raise SittingError("starts_at: give the start with its time zone")
    if not 10 <= duration_minutes <= 600:
        raise SittingError("duration_minutes: between 10 and 600 minutes")
    if await session.get(Occupation, occupation_id) is None:
        raise SittingError(f"occupation {occupation_id} does not exist")
    sitting = Sitting(
        batch_id=batch_id,
        occupation_id=occupation_id,
        level=level,
        kind=kind,
        title=title,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
    )
    session.add(sitting)
    await session.flush()
    await audit.record(
        session,
        actor=actor.name,
        actor_user_id=actor.user_id,
        action="sitting_scheduled",
        object_type="sitting",
        object_id=sitting.id,
        detail={"kind": kind, "starts_at": starts_at.isoformat(), "level": level},
        ip=actor.ip,
    )
    return sitting


async def complete_mock(session: AsyncSession, sitting_id: int, actor: Actor, now: datetime | None = None) -> Sitting:
    """The chief confirms a mock exam ran without error; its bank version may then go to trial (R-BANK-3)."""
    sitting = await session.get(Sitting, sitting_id, with_for_update=True)
    if sitting is None:
        raise SittingError(f"sitting {sitting_id} does not exist")
    if sitting.kind != "mock":
        raise SittingError("only a mock exam (模拟考核) is completed this way")
    if sitting.status == "completed":
        return sitting
    paper_set = await session.scalar(select(PaperSet).where(PaperSet.sitting_id == sitting.id))
    if paper_set is None:
        raise SittingError("R-BANK-3: the mock exam has no assembled papers yet")
    moment = now or datetime.now(UTC)
    if moment < sitting.starts_at:
        raise SittingError("the mock exam has not started yet")
    sitting.status, sitting.completed_at = "completed", moment
    await session.flush()
    await register_use(
        session, actor, "status", paper_set.bank_version_id, sitting_id=sitting.id, detail={"mock_completed": True}
    )
    return sitting


async def list_sittings(session: AsyncSession, kinds: tuple[str, ...] = SITTING_KINDS) -> list[Sitting]:
    return list(
        await session.scalars(select(Sitting).where(Sitting.kind.in_(kinds)).order_by(Sitting.starts_at.desc()))
    )
