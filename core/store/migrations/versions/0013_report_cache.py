"""Report cache: each analytics report's rows per period and parameter set, recomputed by a scheduled job.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0013_report_cache
Revises: 0012_backfill_slices
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_report_cache"
down_revision = "0012_backfill_slices"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_cache",
        sa.Column("report", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("params", sa.String(length=256), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("computed_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("report", "period", "params", name=op.f("pk_report_cache")),
    )


def downgrade() -> None:
    op.drop_table("report_cache")
