"""Initial schema: members, their blind indexes, purchases, inquiries, loyalty, sync and audit tables.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# Parents before children; downgrade drops them in reverse.
TABLES = (
    "members",
    "member_search_index",
    "source_links",
    "purchases",
    "purchase_lines",
    "purchase_adjustments",
    "inquiries",
    "inquiry_messages",
    "survey_responses",
    "point_ledger",
    "rank_history",
    "coupons",
    "sync_state",
    "sync_runs",
    "dead_letters",
    "outbox",
    "audit_log",
    "console_users",
    "system_keys",
    "hub_meta",
)


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("dek_version", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("kek_version", sa.SmallInteger(), nullable=True),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=True),
        sa.Column("member_number_ct", sa.LargeBinary(), nullable=True),
        sa.Column("name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("kana_ct", sa.LargeBinary(), nullable=True),
        sa.Column("email_ct", sa.LargeBinary(), nullable=True),
        sa.Column("phone_ct", sa.LargeBinary(), nullable=True),
        sa.Column("address_ct", sa.LargeBinary(), nullable=True),
        sa.Column("birthday_ct", sa.LargeBinary(), nullable=True),
        sa.Column("notes_ct", sa.LargeBinary(), nullable=True),
        sa.Column("rank_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("erased_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('active', 'erased', 'merged')", name=op.f("ck_members_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_index(op.f("ix_members_kek_version"), "members", ["kek_version"], unique=False)

    op.create_table(
        "member_search_index",
        sa.Column("index_name", sa.String(length=24), nullable=False),
        sa.Column("key_version", sa.SmallInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_search_index_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "index_name", "key_version", "digest", "member_id", name=op.f("pk_member_search_index")
        ),
    )
    op.create_index(op.f("ix_member_search_index_member_id"), "member_search_index", ["member_id"], unique=False)

    op.create_table(
        "source_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_source_links_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_links")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_source_links_source_external_id")),
    )
    op.create_index(op.f("ix_source_links_member_id"), "source_links", ["member_id"], unique=False)

    op.create_table(
        "purchases",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("store_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="JPY", nullable=False),
        sa.Column("total_amount", sa.Integer(), nullable=False),
        sa.Column("tax_amount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("discount_amount", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("purchased_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("channel IN ('store', 'online')", name=op.f("ck_purchases_channel")),
        sa.CheckConstraint(
            "status IN ('completed', 'partially_refunded', 'refunded', 'cancelled')",
            name=op.f("ck_purchases_status"),
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_purchases_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_purchases_source_external_id")),
    )
    op.create_index("ix_purchases_member_id_purchased_at", "purchases", ["member_id", "purchased_at"], unique=False)

    op.create_table(
        "purchase_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("purchase_id", BIG_ID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=True),
        sa.Column("product_name", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("refunded_quantity", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_purchase_lines_purchase_id_purchases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_lines")),
        sa.UniqueConstraint("purchase_id", "line_no", name=op.f("uq_purchase_lines_purchase_id_line_no")),
    )

    op.create_table(
        "purchase_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("kind IN ('refund', 'cancel')", name=op.f("ck_purchase_adjustments_kind")),
        sa.ForeignKeyConstraint(
            ["purchase_id"], ["purchases.id"], name=op.f("fk_purchase_adjustments_purchase_id_purchases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_adjustments")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_purchase_adjustments_source_external_id")),
    )
    op.create_index(op.f("ix_purchase_adjustments_purchase_id"), "purchase_adjustments", ["purchase_id"], unique=False)

    op.create_table(
        "inquiries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject_ct", sa.LargeBinary(), nullable=True),
        sa.Column("opened_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("closed_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("channel IN ('phone', 'email', 'chat', 'web')", name=op.f("ck_inquiries_channel")),
        sa.CheckConstraint("status IN ('open', 'pending', 'solved', 'closed')", name=op.f("ck_inquiries_status")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_inquiries_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiries")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_inquiries_source_external_id")),
    )
    op.create_index("ix_inquiries_member_id_opened_at", "inquiries", ["member_id", "opened_at"], unique=False)

    op.create_table(
        "inquiry_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("author_kind", sa.String(length=16), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "author_kind IN ('member', 'agent', 'system')", name=op.f("ck_inquiry_messages_author_kind")
        ),
        sa.ForeignKeyConstraint(
            ["inquiry_id"],
            ["inquiries.id"],
            name=op.f("fk_inquiry_messages_inquiry_id_inquiries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiry_messages")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_inquiry_messages_source_external_id")),
    )
    op.create_index(op.f("ix_inquiry_messages_inquiry_id"), "inquiry_messages", ["inquiry_id"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("survey_code", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answers", JSON_DOCUMENT, nullable=True),
        sa.Column("free_text_ct", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("source_updated_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_survey_responses_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_survey_responses_source_external_id")),
    )
    op.create_index(op.f("ix_survey_responses_member_id"), "survey_responses", ["member_id"], unique=False)

    op.create_table(
        "point_ledger",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_event", sa.String(length=255), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=True),
        sa.Column("occurred_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("available_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'reverse')", name=op.f("ck_point_ledger_kind")
        ),
        sa.CheckConstraint("status IN ('pending', 'available')", name=op.f("ck_point_ledger_status")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_point_ledger_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_ledger")),
        sa.UniqueConstraint("source_event", name=op.f("uq_point_ledger_source_event")),
    )
    op.create_index("ix_point_ledger_member_id_occurred_at", "point_ledger", ["member_id", "occurred_at"], unique=False)

    op.create_table(
        "rank_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("from_rank", sa.String(length=32), nullable=True),
        sa.Column("to_rank", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("rule_version", sa.String(length=32), nullable=True),
        sa.Column("changed_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_rank_history_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rank_history")),
    )
    op.create_index(op.f("ix_rank_history_member_id"), "rank_history", ["member_id"], unique=False)

    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("issued_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("used_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("source_event", sa.String(length=255), nullable=True),
        sa.CheckConstraint("value_type IN ('percent', 'amount')", name=op.f("ck_coupons_value_type")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_coupons_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
        sa.UniqueConstraint("source_event", name=op.f("uq_coupons_source_event")),
    )
    op.create_index(op.f("ix_coupons_member_id"), "coupons", ["member_id"], unique=False)

    op.create_table(
        "sync_state",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("connector", "stream", name=op.f("pk_sync_state")),
    )

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=16), server_default="incremental", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("records_read", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("records_written", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("records_quarantined", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("cursor_before", sa.Text(), nullable=True),
        sa.Column("cursor_after", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'partial')", name=op.f("ck_sync_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        "ix_sync_runs_connector_stream_started_at",
        "sync_runs",
        ["connector", "stream", "started_at"],
        unique=False,
    )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=False),
        sa.Column("payload_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("replayed_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'replayed', 'discarded')", name=op.f("ck_dead_letters_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        "ix_dead_letters_connector_stream_status",
        "dead_letters",
        ["connector", "stream", "status"],
        unique=False,
    )

    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payload_ct", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("delivered_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("ck_outbox_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index(
        "ix_outbox_destination_status_next_attempt_at",
        "outbox",
        ["destination", "status", "next_attempt_at"],
        unique=False,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("occurred_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.String(length=255), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", JSON_DOCUMENT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_member_id"), "audit_log", ["member_id"], unique=False)

    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), server_default="ja", nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("disabled_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_users")),
        sa.UniqueConstraint("username", name=op.f("uq_console_users_username")),
    )

    op.create_table(
        "system_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kek_version", sa.SmallInteger(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_system_keys")),
    )

    op.create_table(
        "hub_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_meta")),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
