"""Member status pushes: the digest of the loyalty status each destination was last told, per cluster root.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0010_member_status_pushes
Revises: 0009_console_access
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_member_status_pushes"
down_revision = "0009_console_access"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_status_pushes",
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("pushed_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_status_pushes_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("destination", "member_id", name=op.f("pk_member_status_pushes")),
    )


def downgrade() -> None:
    op.drop_table("member_status_pushes")
