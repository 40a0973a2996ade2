"""Tables of exam day. For now the sitting (场次) itself; attempts and answers come with the
exam-day issue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class Sitting(Base):
    """A theory sitting (理论知识考试场次) of one batch, occupation and level — or a mock exam
    (模拟考核) that proves a bank version before real use (R-BANK-3)."""

    __tablename__ = "sittings"
    __table_args__ = (
        CheckConstraint("kind IN ('theory', 'mock')", name="known_kind"),
        CheckConstraint("duration_minutes BETWEEN 10 AND 600", name="sane_duration"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"))
    level: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(16), default="theory")
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # scheduled → completed (mock exams: completed without error, R-BANK-3); the exam-day
    # issue adds the live states.
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
