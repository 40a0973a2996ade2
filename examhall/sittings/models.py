"""Tables of exam day: the sitting (场次), each candidate's attempt with its clock events, the
answers, refused answers, and errata (R-CLOCK, R-SCORE-1/7, R-INC-4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class Sitting(Base):
    """A theory sitting (理论知识考试场次) of one batch, occupation and level — or a mock exam
    (模拟考核) that proves a bank version before real use (R-BANK-3), or a scheduled skill
    assessment (技能操作) or comprehensive review (综合评审) whose scores assessors enter."""

    __tablename__ = "sittings"
    __table_args__ = (
        CheckConstraint("kind IN ('theory', 'mock', 'skill', 'review')", name="known_kind"),
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
    # R-INC-4: items voided by the chief, by item revision id: "nobody" (scored for nobody,
    # out of the maximum) or "everybody" (full points to all).
    voided_items: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Attempt.state: the hot path's cached view of the clock (the clock itself is the authority,
# computed from the events): answers are accepted only while 'running' and before ends_at.
ATTEMPT_STATES = ("checked_in", "running", "paused", "closed")
# Attempt.outcome once closed: how it ended.
OUTCOMES = ("submitted", "auto_submitted", "withdrawn", "rescheduled", "barred")


class Attempt(Base):
    """One candidate's attempt at one sitting, created when an invigilator checks them in."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("sitting_id", "candidate_id"),
        CheckConstraint("state IN ('checked_in', 'running', 'paused', 'closed')", name="known_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id"))
    # The seat the candidate works at now: their assigned seat, or the spare terminal they
    # were moved to (R-CLOCK-7). Only that terminal may carry their session.
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    seat_no: Mapped[int] = mapped_column(Integer)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    state: Mapped[str] = mapped_column(String(16), default="checked_in")
    outcome: Mapped[str | None] = mapped_column(String(16))
    # E as it stands after the last recorded event (None before the start; far future while paused).
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_count: Mapped[int] = mapped_column(Integer, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The terminal's live channel (websocket) is open now: shown on the invigilator's seat map.
    online: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Scoring at submission (R-SCORE-1); never shown to the candidate (R-SCORE-4).
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    max_score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The receipt (R-SCORE-7): Ed25519 signature over the answers' digest, and its short code.
    answers_digest: Mapped[str | None] = mapped_column(String(64))
    receipt_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    receipt_code: Mapped[str | None] = mapped_column(String(19), index=True)


class AttemptEvent(Base):
    """What happened to an attempt, in server time — the input of the exam clock (sittings.clock)."""

    __tablename__ = "attempt_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ref: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    recorded_by: Mapped[str] = mapped_column(String(128))


class Answer(Base):
    """The latest acknowledged answer to one question of an attempt.

    ``seq`` is the terminal's own counter for the attempt: a save with a lower or equal
    ``seq`` than the stored one is a replay or arrived out of order and changes nothing.
    """

    __tablename__ = "answers"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    response: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RejectedAnswer(Base):
    """A save that arrived when it could not be accepted (after the close, while paused …); kept
    for the invigilators and for complaints, never counted."""

    __tablename__ = "rejected_answers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    position: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Erratum(Base):
    """A correction broadcast by the chief to every candidate of a sitting (R-INC-4)."""

    __tablename__ = "errata"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(128))


class ErratumAck(Base):
    __tablename__ = "erratum_acks"

    erratum_id: Mapped[int] = mapped_column(ForeignKey("errata.id"), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True)
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


OUTAGE_SCOPES = ("seat", "room", "sitting")
OUTAGE_CAUSES = ("power", "network", "system", "paper", "other")


class Outage(Base):
    """An outage declared by the chief (R-CLOCK-6), or a paper replacement (R-CLOCK-9, cause
    "paper"): the clocks of the affected candidates stop from ``started_at`` to ``ended_at``.
    Each affected attempt gets a paused/resumed event pair with ref ``outage-<id>``."""

    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint("scope IN ('seat', 'room', 'sitting')", name="known_scope"),
        CheckConstraint("cause IN ('power', 'network', 'system', 'paper', 'other')", name="known_cause"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"))
    cause: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str] = mapped_column(String(128))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(128))
    # "resumed" (ended under the limit, time compensated) or "stopped" (the part was stopped and
    # its candidates are to be rescheduled, R-CLOCK-6).
    outcome: Mapped[str | None] = mapped_column(String(16))
    affected: Mapped[list[int]] = mapped_column(JSONB, default=list)
