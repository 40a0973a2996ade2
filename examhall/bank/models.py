"""Tables of the question bank (题库): occupations, bank versions, knowledge points, items."""

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
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import func

from examhall.db import Base


class Occupation(Base):
    """An occupation (职业/工种), e.g. 化工总控工."""

    __tablename__ = "occupations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(128), default="")
    # Fee category A–D of the provincial schedule (R-REG-2); set by the exam office.
    fee_category: Mapped[str | None] = mapped_column(String(1))


class BankVersion(Base):
    """A bank version (题库版本) per national occupational standard (R-BANK-2)."""

    __tablename__ = "bank_versions"
    __table_args__ = (
        UniqueConstraint("occupation_id", "version"),
        CheckConstraint("status IN ('draft', 'trial', 'live', 'retired')", name="known_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occupation_id: Mapped[int] = mapped_column(ForeignKey("occupations.id"))
    version: Mapped[str] = mapped_column(String(32))
    standard_title: Mapped[str] = mapped_column(String(200))
    standard_code: Mapped[str] = mapped_column(String(64), default="")
    standard_year: Mapped[int] = mapped_column(SmallInteger)
    levels: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    occupation: Mapped[Occupation] = relationship(lazy="selectin")


class KnowledgePoint(Base):
    """A node of the knowledge-point tree (细目表) of one bank version."""

    __tablename__ = "knowledge_points"
    __table_args__ = (UniqueConstraint("bank_version_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_versions.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_points.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Item(Base):
    """An item's identity (its id in the bank); its content lives in revisions (R-BANK-2)."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("bank_version_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_versions.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(SmallInteger)
    knowledge_point_id: Mapped[int] = mapped_column(ForeignKey("knowledge_points.id"), index=True)
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("item_revisions.id", use_alter=True, name="fk_items_current_revision")
    )
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    knowledge_point: Mapped[KnowledgePoint] = relationship(lazy="joined")
    current: Mapped[ItemRevision | None] = relationship(
        foreign_keys=[current_revision_id], lazy="joined", post_update=True
    )


class ItemRevision(Base):
    """The content of an item. Never changed once used in a paper: an edit makes a new revision."""

    __tablename__ = "item_revisions"
    __table_args__ = (
        UniqueConstraint("item_id", "revision"),
        CheckConstraint("type IN ('single', 'multiple', 'judge')", name="known_type"),
        CheckConstraint("difficulty BETWEEN 1 AND 3", name="difficulty_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    difficulty: Mapped[int] = mapped_column(SmallInteger)
    points: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    stem: Mapped[str] = mapped_column(Text)
    # [[letter, text], …] in letter order; empty for true/false items.
    options: Mapped[list[list[str]]] = mapped_column(JSONB)
    key: Mapped[str] = mapped_column(String(8))
    explanation: Mapped[str] = mapped_column(Text, default="")
    images: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    fingerprint: Mapped[str] = mapped_column(Text, index=True)
    used_in_paper: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(128), default="")


class BankUsage(Base):
    """The bank usage register (题库使用记录表, R-BANK-4): who read, exported, assembled,
    unsealed, archived or destroyed what, and when. Mirrored in the audit chain."""

    __tablename__ = "bank_usage"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    bank_version_id: Mapped[int | None] = mapped_column(ForeignKey("bank_versions.id", ondelete="SET NULL"))
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sittings.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
