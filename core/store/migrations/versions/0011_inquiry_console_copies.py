"""Inquiries: a helpdesk's copy of a console inquiry names it (``console_inquiry``), so one conversation shows once.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0011_inquiry_console_copies
Revises: 0010_member_status_pushes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_inquiry_console_copies"
down_revision = "0010_member_status_pushes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.add_column(sa.Column("console_inquiry", sa.String(length=255), nullable=True))
        batch.create_index(op.f("ix_inquiries_console_inquiry"), ["console_inquiry"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_index(op.f("ix_inquiries_console_inquiry"))
        batch.drop_column("console_inquiry")
