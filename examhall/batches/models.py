"""Tables of the batches domain: batches and what they offer, candidates and their
applications (R-REG-1), eligibility decisions, fees and payments (R-REG-2), rooms, seats
(R-REG-3) and staffing with declared conflicts (R-REG-5, R-STAFF-3)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class Candidate(Base):
    """A candidate (考生) of one batch with their admission ticket (准考证). A person who comes
    again in a later batch is a new row; bars (R-INC-2) follow the ID number across batches."""

    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("batch_id", "id_number", name="uq_candidates_batch_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Null only for candidates made before batches held registrations (tests, mock exams).
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # Resident identity card number (GB 11643), stored upper-case (the check character may be X).
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    gender: Mapped[str | None] = mapped_column(String(1))  # 男 / 女, from the ID number
    education: Mapped[str | None] = mapped_column(String(16))
    certificates: Mapped[str | None] = mapped_column(Text)  # certificates already held
    work_years: Mapped[int | None] = mapped_column(SmallInteger)
    phone: Mapped[str | None] = mapped_column(String(20))
    employer: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CandidatePhoto(Base):
    """A candidate's photo (JPEG or PNG, checked on upload), kept apart from the candidate row
    so lists stay light; it is printed on tickets and shown on the invigilator's seat map."""

    __tablename__ = "candidate_photos"

    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Application(Base):
    """An application (报名) of a candidate for one occupation and level of a batch (R-REG-1):
    reviewed for eligibility (资格审核), priced by the fee schedule (R-REG-2), then scheduled."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("candidate_id", "occupation_id", "level", name="uq_applications_once"),
        CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'withdrawn')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"))
    level: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    # The fee quote at registration (R-REG-2), in whole yuan: {"knowledge": 30, "skill": 190, ...}.
    fee_parts: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict, server_default="{}")
    fee_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Payment(Base):
    """A fee payment recorded by the exam office; finance confirms it before the exam (R-REG-2).
    Never edited: a mistake is reversed by a payment with the negative amount and a reason."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("receipt_no", name="uq_payments_receipt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)  # whole yuan; negative for a reversal
    method: Mapped[str] = mapped_column(String(16))
    receipt_no: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Batch(Base):
    """A certification batch (认定批次). Registration, fees and its workflow come with the
    batch-administration issue; papers and sittings need its identity now."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # planning → registration → scheduled → in_progress → scoring → published → archived
    status: Mapped[str] = mapped_column(String(16), default="planning")
    registration_closes_on: Mapped[date | None] = mapped_column(Date)
    exam_from: Mapped[date | None] = mapped_column(Date)
    exam_to: Mapped[date | None] = mapped_column(Date)
    notice: Mapped[str] = mapped_column(Text, default="", server_default="")  # the published 公告
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Offering(Base):
    """An occupation and level a batch certifies, with the exams it holds (R-REG-2 prices them)."""

    __tablename__ = "offerings"
    __table_args__ = (UniqueConstraint("batch_id", "occupation_id", "level", name="uq_offerings_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"))
    level: Mapped[int] = mapped_column(SmallInteger)
    knowledge_exam: Mapped[bool] = mapped_column(Boolean, default=True)
    skill_exam: Mapped[bool] = mapped_column(Boolean, default=True)
    computer_based: Mapped[bool] = mapped_column(Boolean, default=True)


class Room(Base):
    """A theory exam room (考场) of a site (考点): seats numbered 1…seat_count in rows of ``columns``."""

    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("site", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    seat_count: Mapped[int] = mapped_column(Integer)
    columns: Mapped[int] = mapped_column(Integer, default=6)
    # R-REG-3: at most this many candidates (default 30), and seats kept empty as spares.
    capacity: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    spare_seats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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


class RoomStaff(Base):
    """An invigilator assigned to a room for a sitting (R-REG-5), checked against declared
    conflicts (R-STAFF-3) when assigned."""

    __tablename__ = "room_staff"
    __table_args__ = (UniqueConstraint("sitting_id", "user_id", name="uq_room_staff_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_by: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StaffConflict(Base):
    """A declared conflict of a staff member with a person (回避, R-STAFF-3): a relative, an own
    student or an apprentice, named by ID number so it holds across batches."""

    __tablename__ = "staff_conflicts"
    __table_args__ = (
        CheckConstraint("kind IN ('relative', 'own_student', 'apprentice')", name="known_kind"),
        UniqueConstraint("user_id", "id_number", name="uq_staff_conflicts_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    person_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PrintJob(Base):
    """A batch document being rendered (tickets, desk labels, door lists, sign-in sheets, record
    forms). The worker that renders it writes its progress here, so the page polling it may be
    served by any worker; the finished PDF is kept until it is downloaded or replaced."""

    __tablename__ = "print_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id"))
    kind: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
