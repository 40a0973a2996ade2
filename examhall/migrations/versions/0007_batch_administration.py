"""batch administration: offerings, applications, payments, photos, room staff, conflicts (R-REG)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 19:32:40.341183
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("sitting_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_print_jobs_batch_id_batches")),
        sa.ForeignKeyConstraint(["sitting_id"], ["sittings.id"], name=op.f("fk_print_jobs_sitting_id_sittings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
    )
    op.create_index(op.f("ix_print_jobs_batch_id"), "print_jobs", ["batch_id"], unique=False)
    op.create_table(
        "offerings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("occupation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("knowledge_exam", sa.Boolean(), nullable=False),
        sa.Column("skill_exam", sa.Boolean(), nullable=False),
        sa.Column("computer_based", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_offerings_batch_id_batches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["occupation_id"], ["occupations.id"], name=op.f("fk_offerings_occupation_id_occupations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offerings")),
        sa.UniqueConstraint("batch_id", "occupation_id", "level", name="uq_offerings_once"),
    )
    op.create_index(op.f("ix_offerings_batch_id"), "offerings", ["batch_id"], unique=False)
    op.create_table(
        "staff_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("person_name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("declared_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('relative', 'own_student', 'apprentice')", name=op.f("ck_staff_conflicts_known_kind")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_conflicts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_conflicts")),
        sa.UniqueConstraint("user_id", "id_number", name="uq_staff_conflicts_once"),
    )
    op.create_index(op.f("ix_staff_conflicts_id_number"), "staff_conflicts", ["id_number"], unique=False)
    op.create_index(op.f("ix_staff_conflicts_user_id"), "staff_conflicts", ["user_id"], unique=False)
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("occupation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fee_parts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("fee_total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'rejected', 'withdrawn')", name=op.f("ck_applications_known_status")
        ),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_applications_batch_id_batches")),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_applications_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["occupation_id"], ["occupations.id"], name=op.f("fk_applications_occupation_id_occupations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("candidate_id", "occupation_id", "level", name="uq_applications_once"),
    )
    op.create_index(op.f("ix_applications_batch_id"), "applications", ["batch_id"], unique=False)
    op.create_index(op.f("ix_applications_candidate_id"), "applications", ["candidate_id"], unique=False)
    op.create_table(
        "candidate_photos",
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_candidate_photos_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("candidate_id", name=op.f("pk_candidate_photos")),
    )
    op.create_table(
        "room_staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sitting_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_room_staff_room_id_rooms")),
        sa.ForeignKeyConstraint(
            ["sitting_id"], ["sittings.id"], name=op.f("fk_room_staff_sitting_id_sittings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_room_staff_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_staff")),
        sa.UniqueConstraint("sitting_id", "user_id", name="uq_room_staff_once"),
    )
    op.create_index(op.f("ix_room_staff_sitting_id"), "room_staff", ["sitting_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("receipt_no", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("confirmed_by", sa.String(length=128), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["applications.id"], name=op.f("fk_payments_application_id_applications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("receipt_no", name="uq_payments_receipt"),
    )
    op.create_index(op.f("ix_payments_application_id"), "payments", ["application_id"], unique=False)
    op.add_column("batches", sa.Column("registration_closes_on", sa.Date(), nullable=True))
    op.add_column("batches", sa.Column("exam_from", sa.Date(), nullable=True))
    op.add_column("batches", sa.Column("exam_to", sa.Date(), nullable=True))
    op.add_column("batches", sa.Column("notice", sa.Text(), server_default="", nullable=False))
    op.add_column("candidates", sa.Column("batch_id", sa.Integer(), nullable=True))
    op.add_column("candidates", sa.Column("gender", sa.String(length=1), nullable=True))
    op.add_column("candidates", sa.Column("education", sa.String(length=16), nullable=True))
    op.add_column("candidates", sa.Column("certificates", sa.Text(), nullable=True))
    op.add_column("candidates", sa.Column("work_years", sa.SmallInteger(), nullable=True))
    op.add_column("candidates", sa.Column("phone", sa.String(length=20), nullable=True))
    op.add_column("candidates", sa.Column("employer", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_candidates_batch_id"), "candidates", ["batch_id"], unique=False)
    op.create_unique_constraint("uq_candidates_batch_person", "candidates", ["batch_id", "id_number"])
    op.create_foreign_key(op.f("fk_candidates_batch_id_batches"), "candidates", "batches", ["batch_id"], ["id"])
    op.add_column("rooms", sa.Column("capacity", sa.Integer(), server_default="30", nullable=False))
    op.add_column("rooms", sa.Column("spare_seats", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_index(op.f("ix_print_jobs_batch_id"), table_name="print_jobs")
    op.drop_table("print_jobs")

    op.drop_column("rooms", "spare_seats")
    op.drop_column("rooms", "capacity")
    op.drop_constraint(op.f("fk_candidates_batch_id_batches"), "candidates", type_="foreignkey")
    op.drop_constraint("uq_candidates_batch_person", "candidates", type_="unique")
    op.drop_index(op.f("ix_candidates_batch_id"), table_name="candidates")
    op.drop_column("candidates", "employer")
    op.drop_column("candidates", "phone")
    op.drop_column("candidates", "work_years")
    op.drop_column("candidates", "certificates")
    op.drop_column("candidates", "education")
    op.drop_column("candidates", "gender")
    op.drop_column("candidates", "batch_id")
    op.drop_column("batches", "notice")
    op.drop_column("batches", "exam_to")
    op.drop_column("batches", "exam_from")
    op.drop_column("batches", "registration_closes_on")
    op.drop_index(op.f("ix_payments_application_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_room_staff_sitting_id"), table_name="room_staff")
    op.drop_table("room_staff")
    op.drop_table("candidate_photos")
    op.drop_index(op.f("ix_applications_candidate_id"), table_name="applications")
    op.drop_index(op.f("ix_applications_batch_id"), table_name="applications")
    op.drop_table("applications")
    op.drop_index(op.f("ix_staff_conflicts_user_id"), table_name="staff_conflicts")
    op.drop_index(op.f("ix_staff_conflicts_id_number"), table_name="staff_conflicts")
    op.drop_table("staff_conflicts")
    op.drop_index(op.f("ix_offerings_batch_id"), table_name="offerings")
    op.drop_table("offerings")
