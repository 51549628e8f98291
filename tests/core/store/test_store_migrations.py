"""Alembic migrations build the models' schema on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select, text

from core.errors import NotInitialisedError
from core.ids import new_id
from core.store import (
    Base,
    Member,
    MemberSearchIndex,
    database_revision,
    head_revision,
    require_current_schema,
    upgrade_database,
)
from core.store.database import SCHEMA_HEAD, _alembic_config, _migration_transaction

VERSIONS = Path(__file__).parents[3] / "core" / "store" / "migrations" / "versions"


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine) -> None:
    assert upgrade_database(empty_engine) == head_revision()

    assert database_revision(empty_engine) == head_revision()
    assert set(inspect(empty_engine).get_table_names()) == {*Base.metadata.tables, "alembic_version"}


def test_upgrade_of_a_current_database_changes_nothing(engine: Engine) -> None:
    before = database_revision(engine)

    assert upgrade_database(engine) == before
    assert database_revision(engine) == before


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_removes_every_table(engine: Engine) -> None:
    config = _alembic_config()
    with _migration_transaction(engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")

    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert database_revision(engine) is None


def test_require_current_schema_refuses_an_empty_database(empty_engine: Engine) -> None:
    with pytest.raises(NotInitialisedError, match="no schema yet"):
        require_current_schema(empty_engine)


def test_require_current_schema_accepts_a_migrated_database(engine: Engine) -> None:
    require_current_schema(engine)


def test_require_current_schema_refuses_a_revision_from_a_newer_hub(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))

    with pytest.raises(NotInitialisedError, match=r"9999_future.*upgrade MemberHub"):
        require_current_schema(engine)


def test_the_known_head_is_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD, "a new migration updates core.store.database.SCHEMA_HEAD"


def test_require_current_schema_names_an_older_revision_to_upgrade_from(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0013_report_cache'"))

    with pytest.raises(NotInitialisedError, match=rf"0013_report_cache but .* needs {SCHEMA_HEAD}.*hub db upgrade"):
        require_current_schema(engine)


def test_opening_a_current_hub_does_not_load_alembic() -> None:
    import subprocess
    import sys

    probe = "import sys, hub.runtime; print(any(name.startswith('alembic') for name in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"


def test_migrations_do_not_import_the_models() -> None:
    for script in VERSIONS.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+core\b", script.read_text(), re.MULTILINE), script.name


def test_sqlite_table_rebuild_in_a_migration_keeps_child_rows(sqlite_engine: Engine) -> None:
    member_id = new_id()
    with sqlite_engine.begin() as conn:
        conn.execute(insert(Member).values(id=member_id))
        index_row = {"index_name": "email", "key_version": 1, "digest": b"\x01" * 16, "member_id": member_id}
        conn.execute(insert(MemberSearchIndex).values(index_row))

    with _migration_transaction(sqlite_engine) as conn:
        operations = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
        with operations.batch_alter_table("members", recreate="always"):
            pass

    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(MemberSearchIndex)) == 1
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
