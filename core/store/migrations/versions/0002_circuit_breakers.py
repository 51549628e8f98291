"""Circuit breakers: the persisted state of each connector instance's breaker.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0002_circuit_breakers
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_circuit_breakers"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "circuit_breakers",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="closed", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("opened_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("next_probe_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("last_error_class", sa.String(length=128), nullable=True),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("state IN ('closed', 'open', 'half_open')", name=op.f("ck_circuit_breakers_state")),
        sa.PrimaryKeyConstraint("connector", name=op.f("pk_circuit_breakers")),
    )


def downgrade() -> None:
    op.drop_table("circuit_breakers")
