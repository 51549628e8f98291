"""RFM scores: one row per cluster root with its recency, frequency (by channel too) and monetary figures and quintile
scores.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0007_member_scores
Revises: 0006_loyalty
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_member_scores"
down_revision = "0006_loyalty"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_scores",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("store_frequency", sa.Integer(), nullable=False),
        sa.Column("online_frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.BigInteger(), nullable=False),
        sa.Column("recency_score", sa.Integer(), nullable=False),
        sa.Column("frequency_score", sa.Integer(), nullable=False),
        sa.Column("monetary_score", sa.Integer(), nullable=False),
        sa.Column("computed_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_scores_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_scores")),
    )


def downgrade() -> None:
    op.drop_table("member_scores")
