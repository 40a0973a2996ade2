"""skill assessments and comprehensive reviews as sittings (issue 6, batch model)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_sittings_known_kind"), "sittings", type_="check")
    op.create_check_constraint(
        op.f("ck_sittings_known_kind"), "sittings", "kind IN ('theory', 'mock', 'skill', 'review')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_sittings_known_kind"), "sittings", type_="check")
    op.create_check_constraint(op.f("ck_sittings_known_kind"), "sittings", "kind IN ('theory', 'mock')")
