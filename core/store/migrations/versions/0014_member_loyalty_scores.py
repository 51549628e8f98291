"""Member loyalty scores: a cluster root's 0–100 score and its parts, rewritten by the nightly job.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0014_member_loyalty_scores
Revises: 0013_report_cache
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_member_loyalty_scores"
down_revision = "0013_report_cache"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_loyalty_scores",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.Column("computed_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_loyalty_scores_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_loyalty_scores")),
    )
    op.create_index(op.f("ix_member_loyalty_scores_score"), "member_loyalty_scores", ["score"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_member_loyalty_scores_score"), table_name="member_loyalty_scores")
    op.drop_table("member_loyalty_scores")
