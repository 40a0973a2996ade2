"""Tables of the security domain: accounts, roles, web sessions and the audit chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import func

from examhall.db import Base
from examhall.security.rules import ROLES

ROLE_CHECK = "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")"


class User(Base):
    """A staff account (考务人员、监考员、主考 …). Candidates have no account: see batches.Candidate."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="known_role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship(back_populates="roles")


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (candidate_id IS NULL)", name="one_principal"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    # Roles as granted at login; a role change ends the user's sessions (service.set_roles).
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    display_name: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    absolute_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log (R-SEC-3).

    ``id`` is assigned as previous id + 1 under the head row's lock, so ids have no gaps and
    a deleted row shows as a gap as well as a broken link. UPDATE, DELETE and TRUNCATE are
    refused by triggers (migration 0001).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last entry's id and hash, so that removing entries from the end is detected too."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class Terminal(Base):
    """An enrolled exam-room PC (R-SEC-2): "room R, seat N", or a spare terminal of room R.

    The PC holds a long-lived cookie ``<id>.<secret>`` signed with the site's secret key; only the
    SHA-256 of the secret is stored, and revoking the row ends that PC's enrollment.
    """

    __tablename__ = "terminals"
    __table_args__ = (
        CheckConstraint("(seat_no IS NULL) = is_spare", name="seat_or_spare"),
        # One enrolled PC per seat at a time (migration 0003 creates it).
        Index(
            "uq_terminals_active_seat",
            "room_id",
            "seat_no",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND seat_no IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    seat_no: Mapped[int | None] = mapped_column(Integer)
    is_spare: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    enrolled_ip: Mapped[str | None] = mapped_column(String(64))
    code_issued_by: Mapped[str] = mapped_column(String(128))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EnrollmentCode(Base):
    """A one-time enrollment code issued by an admin for one seat (or a spare) of a room (R-SEC-2)."""

    __tablename__ = "enrollment_codes"
    __table_args__ = (CheckConstraint("(seat_no IS NULL) = is_spare", name="seat_or_spare"),)

    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    seat_no: Mapped[int | None] = mapped_column(Integer)
    is_spare: Mapped[bool] = mapped_column(default=False)
    issued_by: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
