"""incident log (考场记录表) and bars

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 18:00:00.000000

The incident log is append-only like the audit log (0001): a trigger refuses UPDATE, DELETE and
TRUNCATE; corrections and chief decisions are new rows referring to the old (R-INC-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("seat_no", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=True),
        sa.Column("serious", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("entered_by", sa.String(length=128), nullable=False),
        sa.Column("chief_decision", sa.Text(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("investigation", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("cancel_subject", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("counts_as_cheating", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("cancel_all_subjects", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("bar_until", sa.Date(), nullable=True),
        sa.CheckConstraint("kind IN ('entry', 'correction', 'decision')", name=op.f("ck_incidents_known_kind")),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_incidents_known_level")),
        sa.CheckConstraint("(corrects_id IS NULL) = (kind = 'entry')", name=op.f("ck_incidents_corrections_refer")),
        sa.CheckConstraint("NOT serious OR level = 4", name=op.f("ck_incidents_serious_is_level_4")),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name=op.f("fk_incidents_attempt_id_attempts")),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], name=op.f("fk_incidents_candidate_id_candidates")),
        sa.ForeignKeyConstraint(["corrects_id"], ["incidents.id"], name=op.f("fk_incidents_corrects_id_incidents")),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_incidents_room_id_rooms")),
        sa.ForeignKeyConstraint(["sitting_id"], ["sittings.id"], name=op.f("fk_incidents_sitting_id_sittings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("corrects_id", name=op.f("uq_incidents_corrects_id")),
        sa.UniqueConstraint("sitting_id", "request_id", name=op.f("uq_incidents_sitting_id_request_id")),
    )
    op.create_index(op.f("ix_incidents_attempt_id"), "incidents", ["attempt_id"], unique=False)
    op.create_index(op.f("ix_incidents_candidate_id"), "incidents", ["candidate_id"], unique=False)
    op.create_index(op.f("ix_incidents_room_id"), "incidents", ["room_id"], unique=False)
    op.create_index(op.f("ix_incidents_sitting_id"), "incidents", ["sitting_id"], unique=False)
    op.create_table(
        "bars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("until_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("until_date >= from_date", name=op.f("ck_bars_ordered_dates")),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], name=op.f("fk_bars_candidate_id_candidates")),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_bars_incident_id_incidents")),
        sa.ForeignKeyConstraint(["lifted_by_id"], ["incidents.id"], name=op.f("fk_bars_lifted_by_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bars")),
    )
    op.create_index(op.f("ix_bars_candidate_id"), "bars", ["candidate_id"], unique=False)
    op.create_index(op.f("ix_bars_incident_id"), "bars", ["incident_id"], unique=False)
    op.execute(
        """
        CREATE FUNCTION incidents_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'incidents is append-only (R-INC-1): % refused; record a correction instead', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER incidents_no_update_delete BEFORE UPDATE OR DELETE ON incidents "
        "FOR EACH ROW EXECUTE FUNCTION incidents_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER incidents_no_truncate BEFORE TRUNCATE ON incidents "
        "FOR EACH STATEMENT EXECUTE FUNCTION incidents_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER incidents_no_truncate ON incidents")
    op.execute("DROP TRIGGER incidents_no_update_delete ON incidents")
    op.execute("DROP FUNCTION incidents_refuse_change()")
    op.drop_index(op.f("ix_bars_incident_id"), table_name="bars")
    op.drop_index(op.f("ix_bars_candidate_id"), table_name="bars")
    op.drop_table("bars")
    op.drop_index(op.f("ix_incidents_sitting_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_room_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_candidate_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_attempt_id"), table_name="incidents")
    op.drop_table("incidents")
