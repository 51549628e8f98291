"""Coupons: templates, number of uses, longer source events; the codes purchases carried and their uses.

``coupons`` gains the template it was issued from and ``max_uses`` (1: single use; existing coupons keep 1),
and ``source_event`` grows to 512 characters (``survey:<source>:<255-character id>:<rule>`` must fit). On
SQLite the table is rebuilt (batch mode), keeping its rows. ``coupon_redemptions`` records every code a
purchase carried and whether it was redeemed, refused or released. A frozen snapshot written out in full; it
does not import ``core.store.models``.

Revision ID: 0008_coupons
Revises: 0007_member_scores
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_coupons"
down_revision = "0007_member_scores"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("coupons") as batch:
        batch.alter_column(
            "source_event", existing_type=sa.String(length=255), type_=sa.String(length=512), existing_nullable=True
        )
        batch.add_column(sa.Column("template_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("max_uses", sa.Integer(), server_default=sa.text("1"), nullable=False))
        batch.create_check_constraint(op.f("ck_coupons_max_uses"), "max_uses >= 1")

    op.create_table(
        "coupon_redemptions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("purchase_id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="presented", nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("redeemed_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("decided_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('presented', 'redeemed', 'refused', 'released')", name=op.f("ck_coupon_redemptions_status")
        ),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_redemptions_coupon_id_coupons")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_coupon_redemptions_member_id_members")),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_coupon_redemptions_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_redemptions")),
        sa.UniqueConstraint("coupon_id", "purchase_id", name=op.f("uq_coupon_redemptions_coupon_id_purchase_id")),
        sa.UniqueConstraint("purchase_id", "code", name=op.f("uq_coupon_redemptions_purchase_id_code")),
    )


def downgrade() -> None:
    op.drop_table("coupon_redemptions")
    with op.batch_alter_table("coupons") as batch:
        batch.drop_constraint(op.f("ck_coupons_max_uses"), type_="check")
        batch.drop_column("max_uses")
        batch.drop_column("template_code")
        batch.alter_column(
            "source_event", existing_type=sa.String(length=512), type_=sa.String(length=255), existing_nullable=True
        )
