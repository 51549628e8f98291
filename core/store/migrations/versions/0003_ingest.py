"""Ingest: per-field provenance of member profiles, consent events and seen webhook deliveries.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0003_ingest
Revises: 0002_circuit_breakers
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ingest"
down_revision = "0002_circuit_breakers"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_field_sources",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_field_sources_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", "field", name=op.f("pk_member_field_sources")),
    )

    op.create_table(
        "consent_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms', 'post')", name=op.f("ck_consent_events_channel")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_consent_events_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_consent_events_source_external_id")),
    )
    op.create_index(
        "ix_consent_events_member_id_channel_changed_at",
        "consent_events",
        ["member_id", "channel", "changed_at"],
        unique=False,
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("connector", "delivery_id", name=op.f("uq_webhook_deliveries_connector_delivery_id")),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_consent_events_member_id_channel_changed_at", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_table("member_field_sources")
