"""Tables of the console domain (invigilator and chief consoles): staff notices, the incident
log (考场记录表) and the bars it imposes (R-INC-1/2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class StaffNotice(Base):
    """A notice (通知) the chief or the exam office sends to every staff screen at once."""

    __tablename__ = "staff_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(String(500))


class Incident(Base):
    """One entry of a room's incident log (考场记录表, R-INC-1): append-only — a trigger refuses
    UPDATE, DELETE and TRUNCATE (migration 0005). A correction, and a chief's decision, are new
    entries referring to the one they replace (``corrects_id``); an entry replaced by a later one no
    longer counts. The consequence of the category (R-INC-2, console.violations) is kept on the row."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("kind IN ('entry', 'correction', 'decision')", name="known_kind"),
        CheckConstraint("level BETWEEN 1 AND 4", name="known_level"),
        CheckConstraint("(corrects_id IS NULL) = (kind = 'entry')", name="corrections_refer"),
        CheckConstraint("NOT serious OR level = 4", name="serious_is_level_4"),
        # One successor per entry: two people correcting the same entry cannot fork the log.
        UniqueConstraint("corrects_id"),
        # The same request (a double click, a retry) makes one entry.
        UniqueConstraint("sitting_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)
    seat_no: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The day the violation counts from (bars); a correction keeps the date of the entry it corrects.
    incident_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default="entry")
    category: Mapped[str] = mapped_column(String(32))
    level: Mapped[int | None] = mapped_column(SmallInteger)
    serious: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    text: Mapped[str] = mapped_column(Text, default="")
    # The invigilators who recorded it (names), and who typed it in.
    recorded_by: Mapped[list[str]] = mapped_column(JSONB, default=list)
    entered_by: Mapped[str] = mapped_column(String(128))
    chief_decision: Mapped[str | None] = mapped_column(Text)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    investigation: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Escorts, the impersonator's confirmation, the requested category, the clock event …
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    request_id: Mapped[str | None] = mapped_column(String(64))
    # The consequence (R-INC-2, R-CLOCK-3).
    cancel_subject: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    counts_as_cheating: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    cancel_all_subjects: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    bar_until: Mapped[date | None] = mapped_column(Date)


class Bar(Base):
    """A candidate may not sit any exam from ``from_date`` to ``until_date`` (inclusive) because
    of a level-3/4 violation (R-INC-2); registration refuses them (R-REG-1). A bar whose incident
    is corrected or decided otherwise is lifted (``lifted_by_id``), never deleted."""

    __tablename__ = "bars"
    __table_args__ = (CheckConstraint("until_date >= from_date", name="ordered_dates"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    from_date: Mapped[date] = mapped_column(Date)
    until_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsolePresence(Base):
    """An invigilator's open room console (R-REG-5: the console warns when fewer than the room
    needs are watching). A row per open websocket, refreshed by its keep-alive; rows not seen
    for a while (a worker that died) no longer count."""

    __tablename__ = "console_presence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
