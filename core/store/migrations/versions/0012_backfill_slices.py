"""Backfill slices: the plan of a stream's sliced backfill, one row per slice, with its resume cursor.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0012_backfill_slices
Revises: 0011_inquiry_console_copies
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_backfill_slices"
down_revision = "0011_inquiry_console_copies"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backfill_slices",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("slice_no", sa.Integer(), nullable=False),
        sa.Column("slice_count", sa.Integer(), nullable=False),
        sa.Column("descriptor", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("planned_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("connector", "stream", "slice_no", name=op.f("pk_backfill_slices")),
    )


def downgrade() -> None:
    op.drop_table("backfill_slices")
