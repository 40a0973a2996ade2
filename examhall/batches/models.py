"""Tables of the batches domain.

The foundation defines only the candidate's identity and admission ticket, which candidate
login needs; registration, eligibility, fees and seating extend it (issue "Batch administration").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class Candidate(Base):
    """A candidate (考生) with their admission ticket (准考证)."""

    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # Resident identity card number (GB 11643), stored upper-case (the check character may be X).
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Batch(Base):
    """A certification batch (认定批次). Registration, fees and its workflow come with the
    batch-administration issue; papers and sittings need its identity now."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="planning")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Room(Base):
    """A theory exam room (考场) of a site (考点): seats numbered 1…seat_count in rows of ``columns``."""

    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    seat_count: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer, default=6)


class SeatAssignment(Base):
    """A candidate's seat (桌号) in a room for one sitting."""

    __tablename__ = "seat_assignments"
    __table_args__ = (
        UniqueConstraint("sitting_id", "candidate_id"),
        UniqueConstraint("sitting_id", "room_id", "seat_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    seat_no: Mapped[int] = mapped_column(Integer)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"))
