"""Tables of the batches domain.

The foundation defines only the candidate's identity and admission ticket, which candidate
login needs; registration, eligibility, fees and seating extend it (issue "Batch administration").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
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
