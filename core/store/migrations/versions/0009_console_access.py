"""Console access: sessions, API tokens, failed sign-ins; an append-only audit log.

``console_users`` gains ``password_changed_at``; ``console_sessions`` and ``api_tokens`` keep only SHA-256
digests of the secrets handed out; ``login_attempts`` counts failed sign-ins per user name and client (both as
digests). The audit log gets an index for "member openings by one operator in the last hour" and triggers that
refuse UPDATE and DELETE on it, on SQLite and PostgreSQL. A frozen snapshot written out in full; it does not
import ``core.store.models``.

Revision ID: 0009_console_access
Revises: 0008_coupons
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_console_access"
down_revision = "0008_coupons"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIMESTAMP = sa.DateTime(timezone=True)

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    with op.batch_alter_table("console_users") as batch:
        batch.add_column(sa.Column("password_changed_at", UTC_TIMESTAMP, nullable=True))

    op.create_table(
        "console_sessions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("ended_at", UTC_TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_users.id"], name=op.f("fk_console_sessions_user_id_console_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_console_sessions_token_digest")),
    )
    op.create_index("ix_console_sessions_user_id_ended_at", "console_sessions", ["user_id", "ended_at"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("last_used_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("revoked_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_api_tokens_token_digest")),
    )

    op.create_table(
        "login_attempts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("username_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("attempted_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_username_digest_attempted_at", "login_attempts", ["username_digest", "attempted_at"]
    )
    op.create_index("ix_login_attempts_client_digest_attempted_at", "login_attempts", ["client_digest", "attempted_at"])
    op.create_index("ix_audit_log_actor_action_occurred_at", "audit_log", ["actor", "action", "occurred_at"])

    for statement in POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    op.drop_index("ix_audit_log_actor_action_occurred_at", table_name="audit_log")
    op.drop_table("login_attempts")
    op.drop_table("api_tokens")
    op.drop_index("ix_console_sessions_user_id_ended_at", table_name="console_sessions")
    op.drop_table("console_sessions")
    with op.batch_alter_table("console_users") as batch:
        batch.drop_column("password_changed_at")
