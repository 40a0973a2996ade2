"""Use cases of the consoles. For now: staff notices broadcast to every staff screen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from examhall.console.models import StaffNotice
from examhall.console.rules import notice_problem
from examhall.events import publish_after_commit
from examhall.security.service import Principal

STAFF_TOPIC = "staff"


class NoticeRefused(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def post_notice(session: AsyncSession, author: Principal, text: str) -> StaffNotice:
    """Store a notice and, after the commit, push it to every staff screen in every worker."""
    problem = notice_problem(text)
    if problem is not None:
        raise NoticeRefused(problem)
    notice = StaffNotice(author_user_id=author.user_id, author_name=author.display_name, text=text.strip())
    session.add(notice)
    await session.flush()
    await session.refresh(notice, ["at"])
    publish_after_commit(
        session,
        STAFF_TOPIC,
        {
            "notice_id": notice.id,
            "author": notice.author_name,
            "text": notice.text,
            "at": notice.at.isoformat(),
        },
    )
    return notice


async def recent_notices(session: AsyncSession, limit: int = 10) -> list[StaffNotice]:
    rows = await session.scalars(select(StaffNotice).order_by(StaffNotice.id.desc()).limit(limit))
    return list(rows)
