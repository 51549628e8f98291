"""Loyalty engine: lots and their consumption, what each ledger entry was computed from, longer source events.

``point_ledger`` gains the purchase, rank and campaigns an entry was computed from and the points a reversal
could not take back; ``source_event`` grows to 512 characters (a source name and a 255-character external id
must fit); two indexes serve the expiry job and the release of pending points. ``point_lot_consumptions``
records which lots each negative entry used up. On SQLite the ledger table is rebuilt (batch mode), keeping
its rows. A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0006_loyalty
Revises: 0005_timeline_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_loyalty"
down_revision = "0005_timeline_indexes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("point_ledger") as batch:
        batch.alter_column(
            "source_event", existing_type=sa.String(length=255), type_=sa.String(length=512), existing_nullable=False
        )
        batch.add_column(sa.Column("purchase_id", BIG_ID, nullable=True))
        batch.add_column(sa.Column("rank_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("campaign_codes", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("unrecovered_points", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_point_ledger_purchase_id_purchases"), "purchases", ["purchase_id"], ["id"])
        batch.create_index("ix_point_ledger_expires_at", ["expires_at"], unique=False)
        batch.create_index("ix_point_ledger_status_available_at", ["status", "available_at"], unique=False)

    op.create_table(
        "point_lot_consumptions",
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("lot_id", BIG_ID, nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["point_ledger.id"], name=op.f("fk_point_lot_consumptions_entry_id_point_ledger")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["point_ledger.id"], name=op.f("fk_point_lot_consumptions_lot_id_point_ledger")
        ),
        sa.PrimaryKeyConstraint("entry_id", "lot_id", name=op.f("pk_point_lot_consumptions")),
    )
    op.create_index(op.f("ix_point_lot_consumptions_lot_id"), "point_lot_consumptions", ["lot_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_point_lot_consumptions_lot_id"), table_name="point_lot_consumptions")
    op.drop_table("point_lot_consumptions")
    with op.batch_alter_table("point_ledger") as batch:
        batch.drop_index("ix_point_ledger_status_available_at")
        batch.drop_index("ix_point_ledger_expires_at")
        batch.drop_constraint(op.f("fk_point_ledger_purchase_id_purchases"), type_="foreignkey")
        batch.drop_column("unrecovered_points")
        batch.drop_column("campaign_codes")
        batch.drop_column("rank_code")
        batch.drop_column("purchase_id")
        batch.alter_column(
            "source_event", existing_type=sa.String(length=512), type_=sa.String(length=255), existing_nullable=False
        )
