"""Timeline indexes: each kind of a member's history read newest first by one index seek.

Three single-column ``member_id`` indexes give way to ``(member_id, <time>)`` ones that serve the same
lookups. A frozen snapshot written out in full; it does not import ``core.store.models``.

Revision ID: 0005_timeline_indexes
Revises: 0004_identity
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005_timeline_indexes"
down_revision = "0004_identity"
branch_labels = None
depends_on = None

# (index, table, columns) of the composite indexes this revision adds
_ADDED = (
    ("ix_rank_history_member_id_changed_at", "rank_history", ["member_id", "changed_at"]),
    ("ix_survey_responses_member_id_answered_at", "survey_responses", ["member_id", "answered_at"]),
    ("ix_coupons_member_id_issued_at", "coupons", ["member_id", "issued_at"]),
    ("ix_coupons_member_id_used_at", "coupons", ["member_id", "used_at"]),
    ("ix_consent_events_member_id_changed_at", "consent_events", ["member_id", "changed_at"]),
)
# the single-column indexes they replace
_REPLACED = (
    ("ix_rank_history_member_id", "rank_history"),
    ("ix_survey_responses_member_id", "survey_responses"),
    ("ix_coupons_member_id", "coupons"),
)


def upgrade() -> None:
    for name, table, columns in _ADDED:
        op.create_index(name, table, columns, unique=False)
    for name, table in _REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table in _REPLACED:
        op.create_index(name, table, ["member_id"], unique=False)
    for name, table, _ in _ADDED:
        op.drop_index(name, table_name=table)
