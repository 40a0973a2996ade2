"""Tables of paper assembly (组卷): blueprints, sealed paper sets and papers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import func

from examhall.db import Base


class Blueprint(Base):
    """A blueprint (组卷计划/结构表): per knowledge point × type how many items and points (R-PAPER-1)."""

    __tablename__ = "blueprints"
    __table_args__ = (UniqueConstraint("bank_version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_versions.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(200))
    # The canonical blueprint document (format examhall-blueprint/1, see question_bank/README.md).
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128), default="")


class PaperSet(Base):
    """The papers assembled for one sitting — bound to it for good (R-PAPER-4) and sealed (R-PAPER-5).

    ``wrapped_key`` is the set's SecretBox key, itself encrypted with the site's sealing key,
    which lives in the data folder (or EXAMHALL_SEALING_KEY), never in the database.
    """

    __tablename__ = "paper_sets"
    __table_args__ = (CheckConstraint("mode IN ('single', 'forms', 'per_candidate')", name="known_mode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sittings.id"), unique=True)
    blueprint_id: Mapped[int] = mapped_column(ForeignKey("blueprints.id"))
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_versions.id"))
    mode: Mapped[str] = mapped_column(String(16))
    forms_count: Mapped[int] = mapped_column(SmallInteger, default=1)
    # Sealed too: the random seed (which, with the bank, would reproduce the papers) and the
    # blueprint as used — opened only after unsealing, for the record and for re-assembly checks.
    manifest: Mapped[bytes] = mapped_column(LargeBinary)
    shuffle_items: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Exposure report of per-candidate assembly (max/mean uses per item); not secret.
    exposure: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128), default="")
    unsealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsealed_by: Mapped[str | None] = mapped_column(String(128))


class Paper(Base):
    """One paper: a form (A, B …) or one candidate's own paper; its content is sealed."""

    __tablename__ = "papers"
    __table_args__ = (UniqueConstraint("paper_set_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_set_id: Mapped[int] = mapped_column(ForeignKey("paper_sets.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)
    item_count: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
