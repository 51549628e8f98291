"""Identity: merged members, the merge log, the review queue of possible duplicates, segment membership.

A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0004_identity
Revises: 0003_ingest
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_identity"
down_revision = "0003_ingest"
branch_labels = None
depends_on = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline REFERENCES clause; a named constraint would rebuild the table.
        op.execute("ALTER TABLE members ADD COLUMN merged_into CHAR(32) REFERENCES members (id)")
    else:
        op.add_column("members", sa.Column("merged_into", sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f("fk_members_merged_into_members"), "members", "members", ["merged_into"], ["id"])
    op.create_index(op.f("ix_members_merged_into"), "members", ["merged_into"], unique=False)

    op.create_table(
        "member_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("merged_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("identifier", sa.String(length=24), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("snapshot", JSON_DOCUMENT, nullable=False),
        sa.Column("merged_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("undone_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("undone_by", sa.String(length=128), nullable=True),
        sa.Column("undo_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("kind IN ('manual', 'automatic', 'review')", name=op.f("ck_member_merges_kind")),
        sa.ForeignKeyConstraint(["merged_id"], ["members.id"], name=op.f("fk_member_merges_merged_id_members")),
        sa.ForeignKeyConstraint(["survivor_id"], ["members.id"], name=op.f("fk_member_merges_survivor_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_merges")),
    )
    op.create_index(op.f("ix_member_merges_merged_id"), "member_merges", ["merged_id"], unique=False)
    op.create_index(op.f("ix_member_merges_survivor_id"), "member_merges", ["survivor_id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("identifier", sa.String(length=24), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("decided_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'rejected', 'obsolete')", name=op.f("ck_review_items_status")
        ),
        sa.ForeignKeyConstraint(["candidate_id"], ["members.id"], name=op.f("fk_review_items_candidate_id_members")),
        sa.ForeignKeyConstraint(
            ["merge_id"], ["member_merges.id"], name=op.f("fk_review_items_merge_id_member_merges")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_review_items_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("member_id", "candidate_id", name=op.f("uq_review_items_member_id_candidate_id")),
    )
    op.create_index(op.f("ix_review_items_candidate_id"), "review_items", ["candidate_id"], unique=False)
    op.create_index("ix_review_items_status_created_at", "review_items", ["status", "created_at"], unique=False)

    op.create_table(
        "member_segments",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("segment_code", sa.String(length=64), nullable=False),
        sa.Column("since", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_segments_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", "segment_code", name=op.f("pk_member_segments")),
    )
    op.create_index(op.f("ix_member_segments_segment_code"), "member_segments", ["segment_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_member_segments_segment_code"), table_name="member_segments")
    op.drop_table("member_segments")
    op.drop_index("ix_review_items_status_created_at", table_name="review_items")
    op.drop_index(op.f("ix_review_items_candidate_id"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_member_merges_survivor_id"), table_name="member_merges")
    op.drop_index(op.f("ix_member_merges_merged_id"), table_name="member_merges")
    op.drop_table("member_merges")
    op.drop_index(op.f("ix_members_merged_into"), table_name="members")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_column("members", "merged_into")  # SQLite 3.35+ drops a column without a table rebuild
    else:
        op.drop_constraint(op.f("fk_members_merged_into_members"), "members", type_="foreignkey")
        op.drop_column("members", "merged_into")
