from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from core.crypto.envelope import FieldCipher
from core.errors import DecryptionError, MemberErasedError
from core.members.audit import Actor, record_member_access
from core.members.profile import MemberProfile
from core.store.models import AuditEvent, MemberSearchIndex, Purchase
from core.store.models import Member as MemberRow

KEIKO = MemberProfile(name="鈴木 恵子", kana="スズキ ケイコ", email="keiko@example.jp", phone="080-2222-3333")


def _buy(conn, member_id, external_id, amount):
    now = datetime.now(UTC)
    conn.execute(
        insert(Purchase).values(
            member_id=member_id,
            source="pos",
            external_id=external_id,
            channel="store",
            status="completed",
            currency="JPY",
            total_amount=amount,
            purchased_at=now,
            source_updated_at=now,
            created_at=now,
        )
    )


def test_erased_member_cannot_be_read_or_found_and_purchases_stay_anonymous(kit, directory):
    keiko = directory.add(KEIKO)
    other = directory.add(MemberProfile(name="田中 一郎", phone="080-4444-5555"))
    with kit.engine.begin() as conn:
        _buy(conn, keiko.id, "R-1", 5_400)
        old_email_ct = conn.scalar(select(MemberRow.email_ct).where(MemberRow.id == keiko.id))
    record_member_access(kit.engine, Actor("op", "operator"), "open", keiko.id, purpose="call")

    directory.erase(keiko.id)

    assert directory.get(keiko.id).profile is None
    assert directory.find("keiko@example.jp") == []
    assert directory.find("080-2222-3333") == []
    assert [m.id for m in directory.find("080-4444-5555")] == [other.id]
    with pytest.raises(MemberErasedError):
        directory.require_active(keiko.id)
    with kit.engine.connect() as conn:
        row = conn.execute(select(MemberRow).where(MemberRow.id == keiko.id)).one()
        assert row.wrapped_dek is None and row.email_ct is None and row.status == "erased"
        assert conn.scalar(select(func.count()).where(MemberSearchIndex.member_id == keiko.id)) == 0
        assert conn.scalar(select(Purchase.total_amount).where(Purchase.external_id == "R-1")) == 5_400
        assert conn.scalar(select(func.count()).where(AuditEvent.member_id == keiko.id)) == 1
    ring = kit.provider.load()
    for kek in ring.keks.values():  # no key the hub holds opens the old ciphertext
        with pytest.raises(DecryptionError):
            FieldCipher(kek).decrypt(old_email_ct, table="members", column="email_ct", owner_id=str(keiko.id))


def test_erasure_is_reapplied_after_restoring_an_older_backup(kit, directory, db_url, tmp_path):
    keiko = directory.add(KEIKO)
    backup = _backup(kit.engine, db_url, tmp_path)
    directory.erase(keiko.id)
    _restore(kit.engine, db_url, backup)

    restored = kit.directory()
    assert restored.get(keiko.id).profile == KEIKO.validated()  # the backup brought the member back…
    assert restored.apply_erasure_ledger() == 1  # …until the ledger is re-applied, as opening a hub does
    assert restored.get(keiko.id).profile is None
    assert restored.find("keiko@example.jp") == []
    assert restored.apply_erasure_ledger() == 0


def _backup(engine, db_url: str, tmp_path: Path) -> Path:
    engine.dispose()
    backup = tmp_path / "backup"
    if engine.dialect.name == "sqlite":
        shutil.copy(make_url(db_url).database, backup)
    else:
        subprocess.run(["pg_dump", "--format=custom", "--file", str(backup), _libpq(db_url)], check=True, timeout=60)
    return backup


def _restore(engine, db_url: str, backup: Path) -> None:
    engine.dispose()
    if engine.dialect.name == "sqlite":
        shutil.copy(backup, make_url(db_url).database)
    else:
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--dbname", _libpq(db_url), str(backup)],
            check=True,
            timeout=60,
        )


def _libpq(db_url: str) -> str:
    url = make_url(db_url)
    return f"postgresql://{url.username}@{url.host}:{url.port or 5432}/{url.database}"
