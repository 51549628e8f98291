"""The four ways of storing members that store_bench.py compares, each run in its own process.

Every variant receives the same demo profiles and returns the seconds it spent storing them (work done
before the clock starts — generating ids, member numbers, canonical values — is listed in its docstring).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import psycopg
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy_utils import StringEncryptedType  # type: ignore[import-untyped]
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine  # type: ignore[import-untyped]

from core.crypto import INDEX_NAMES, KeyRing
from core.crypto.sealing import MemberSealer
from core.ids import new_id
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.numbers import new_member_number
from core.members.profile import MemberProfile
from core.store.database import create_hub_engine, upgrade_database

BATCH = 1_000
LOOKUPS = 1_000
Result = dict[str, Any]
FREEZE_PREPARED = True  # store_bench.py --no-freeze turns it off


def start_clock() -> float:
    """Move everything prepared so far out of the cyclic GC's reach, then read the clock.

    Otherwise each full collection walks the whole pre-generated data set and bills whichever variant
    happens to trigger it; a real import streams its batches instead.
    """
    if FREEZE_PREPARED:
        gc.collect()
        gc.freeze()
    return time.perf_counter()


# ── drivers ──────────────────────────────────────────────────────────────────────────────────────────


class Driver:
    """A bare DBAPI connection set up like the hub's engine (WAL, synchronous=NORMAL, foreign keys on)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.conn: Any
        if self.sqlite:
            self.conn = sqlite3.connect(str(parsed.database), isolation_level=None)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(conninfo)

    def uuid(self, value: uuid.UUID) -> object:
        """The stored form SQLAlchemy's ``Uuid`` uses: 32 hex digits on SQLite, native on PostgreSQL."""
        return value.hex if self.sqlite else value

    def timestamp(self, value: datetime) -> object:
        """The stored form of ``UTCDateTime``: naive UTC text on SQLite, ``timestamptz`` on PostgreSQL."""
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def day(self, value: date | None) -> object:
        return value.isoformat() if self.sqlite and value else value

    def execute(self, sql: str) -> None:
        if self.sqlite:
            self.conn.execute(sql)
        else:
            with self.conn.transaction():
                self.conn.execute(sql)

    def insert(self, statements: Sequence[tuple[str, Sequence[tuple[object, ...]]]]) -> None:
        """Run each (INSERT with ``?`` placeholders, rows) with executemany, all in one transaction."""
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
            for sql, rows in statements:
                self.conn.executemany(sql, rows)
            self.conn.execute("COMMIT")
            return
        with self.conn.transaction(), self.conn.cursor() as cursor:
            for sql, rows in statements:
                cursor.executemany(sql.replace("?", "%s"), rows)

    def close(self) -> None:
        self.conn.close()


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _canonical(profiles: Sequence[MemberProfile]) -> list[MemberProfile]:
    return [profile.validated() for profile in profiles]


# ── (a) plaintext, driver executemany ────────────────────────────────────────────────────────────────

_PLAIN_COLUMNS = (
    "id", "status", "member_number", "name", "kana", "email", "phone", "postal_code", "address",
    "birthday", "notes", "created_at", "updated_at",
)  # fmt: skip
_PLAIN_DDL = """
CREATE TABLE plain_members (
    id {uuid} PRIMARY KEY, status VARCHAR(16) NOT NULL, member_number VARCHAR(14) NOT NULL UNIQUE,
    name TEXT NOT NULL, kana TEXT, email TEXT, phone TEXT, postal_code TEXT, address TEXT, birthday DATE,
    notes TEXT, created_at {timestamp} NOT NULL, updated_at {timestamp} NOT NULL
)"""
# What a plaintext table needs for the lookups the hub's five blind indexes serve.
_PLAIN_INDEXES = ("email", "phone", "name", "kana")


def raw_plaintext(url: str, profiles: Sequence[MemberProfile]) -> Result:
    """(a) Canonical plaintext rows into an equivalent plain table: the floor any store pays.

    Before the clock: validation, ids and member numbers. Timed: executemany and commit per batch.
    """
    driver = Driver(url)
    types = (
        {"uuid": "CHAR(32)", "timestamp": "DATETIME"} if driver.sqlite else {"uuid": "UUID", "timestamp": "TIMESTAMPTZ"}
    )
    driver.execute(_PLAIN_DDL.format(**types))
    for column in _PLAIN_INDEXES:
        driver.execute(f"CREATE INDEX ix_plain_members_{column} ON plain_members ({column})")
    now = driver.timestamp(datetime.now(UTC))
    rows = [
        (driver.uuid(new_id()), "active", new_member_number(), p.name, p.kana, p.email, p.phone,
         p.postal_code, p.address, driver.day(p.birthday), p.notes, now, now)
        for p in _canonical(profiles)
    ]  # fmt: skip
    sql = _insert_sql("plain_members", _PLAIN_COLUMNS)
    started = start_clock()
    for batch in _batches(rows):
        driver.insert([(sql, batch)])
    seconds = time.perf_counter() - started
    driver.close()
    return {"seconds": seconds}


# ── (a′) the limit: (a) plus the bare crypto the design needs ───────────────────────────────────────

_MEMBER_COLUMNS = ("id", "status", "dek_version", "kek_version", "wrapped_dek", "member_number_ct", "name_ct",
                   "kana_ct", "email_ct", "phone_ct", "address_ct", "birthday_ct", "notes_ct",
                   "created_at", "updated_at")  # fmt: skip
_INDEX_COLUMNS = ("index_name", "key_version", "digest", "member_id")
_HEADER = b"\x01\x00\x01"  # FieldCipher's format byte and DEK version 1


def crypto_limit(url: str, profiles: Sequence[MemberProfile]) -> Result:
    """(a′) The hub's tables written with only the primitive calls its design needs, then executemany.

    Per member: a 32-byte data key, one AES key wrap, one ``AESGCM`` object, one AES-GCM encryption (random
    nonce, bound associated data) per non-empty field and one pre-keyed HMAC-SHA256 per blind-index value.
    Before the clock: validation, normalisation, member numbers, ids, UTF-8 encoding of the plaintext.
    """
    engine = create_hub_engine(url)
    upgrade_database(engine)
    engine.dispose()
    driver = Driver(url)
    members = [_limit_inputs(driver, profile) for profile in _canonical(profiles)]
    kek = KeyRing.generate().kek(1)
    macs = {name: hmac.new(os.urandom(32), digestmod=hashlib.sha256) for name in INDEX_NAMES}
    now = driver.timestamp(datetime.now(UTC))
    member_sql, index_sql = (
        _insert_sql("members", _MEMBER_COLUMNS),
        _insert_sql("member_search_index", _INDEX_COLUMNS),
    )
    crypto = 0.0
    started = start_clock()
    for batch in _batches(members):
        member_rows, index_rows = [], []
        crypto_started = time.perf_counter()
        for stored_id, owner, fields, index_values in batch:
            dek = os.urandom(32)
            wrapped = aes_key_wrap(kek, dek)
            aead = AESGCM(dek)
            sealed: list[bytes | None] = []
            for aad_prefix, data in fields:
                if data is None:
                    sealed.append(None)
                    continue
                nonce = os.urandom(12)
                sealed.append(_HEADER + nonce + aead.encrypt(nonce, data, aad_prefix + owner + b"|1"))
            member_rows.append((stored_id, "active", 1, 1, wrapped, *sealed, now, now))
            for name, value in index_values:
                mac = macs[name].copy()
                mac.update(value)
                index_rows.append((name, 1, mac.digest(), stored_id))
        crypto += time.perf_counter() - crypto_started
        driver.insert([(member_sql, member_rows), (index_sql, index_rows)])
    seconds = time.perf_counter() - started
    driver.close()
    return {"seconds": seconds, "crypto_seconds": crypto}


def _limit_inputs(driver: Driver, profile: MemberProfile) -> tuple[object, bytes, list[Any], list[Any]]:
    """Stored id, owner for the associated data, (AAD prefix, plaintext) per column, (index, value) pairs."""
    member_id, number = new_id(), new_member_number()
    fields = [
        (f"memberhub|1|members|{field}_ct|".encode(), None if value is None else value.encode())
        for field, value in profile.sealable_fields(number).items()
    ]
    index_values = [(name, value.encode()) for name, value in profile.index_values(number).items() if value]
    return driver.uuid(member_id), str(member_id).encode(), fields, index_values


# ── (b) the common alternative: ORM with sqlalchemy-utils encrypted columns ──────────────────────────

_ORM_KEY = os.urandom(32).hex()


def _encrypted(type_: type[sa.types.TypeEngine[Any]]) -> StringEncryptedType:
    return StringEncryptedType(type_, _ORM_KEY, AesGcmEngine)


class _OrmBase(DeclarativeBase):
    pass


class OrmMember(_OrmBase):
    """A member as a typical SQLAlchemy application would encrypt it: one encrypted column per PII field."""

    __tablename__ = "orm_members"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    member_number = mapped_column(_encrypted(sa.Unicode))
    name = mapped_column(_encrypted(sa.Unicode))
    kana = mapped_column(_encrypted(sa.Unicode))
    email = mapped_column(_encrypted(sa.Unicode))
    phone = mapped_column(_encrypted(sa.Unicode))
    postal_code = mapped_column(_encrypted(sa.Unicode))
    address = mapped_column(_encrypted(sa.Unicode))
    birthday = mapped_column(_encrypted(sa.Date))
    notes = mapped_column(_encrypted(sa.Unicode))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=lambda: datetime.now(UTC))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=lambda: datetime.now(UTC))


def orm_string_encrypted(url: str, profiles: Sequence[MemberProfile]) -> Result:
    """(b) ``session.add_all`` plus ``commit`` per batch, each PII field a ``StringEncryptedType``.

    ``Unicode`` underneath, except ``Date`` for the birthday (``Unicode`` would store ``repr(date)``).
    Before the clock: validation and member numbers. Timed: building the ORM objects, encryption, flush and
    commit. It does less than (c): no validation, no blind indexes (its fields cannot be searched), no
    uniqueness check, and its table has no secondary index to maintain.
    """
    engine = create_hub_engine(url)  # the same SQLite pragmas and PostgreSQL driver as the hub
    _OrmBase.metadata.create_all(engine)
    fields = [
        {"member_number": new_member_number(), "name": p.name, "kana": p.kana, "email": p.email,
         "phone": p.phone, "postal_code": p.postal_code, "address": p.address, "birthday": p.birthday,
         "notes": p.notes}
        for p in _canonical(profiles)
    ]  # fmt: skip
    started = start_clock()
    with Session(engine) as session:
        for batch in _batches(fields):
            session.add_all([OrmMember(**values) for values in batch])
            session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds}


# ── (c) MemberHub ────────────────────────────────────────────────────────────────────────────────────


def member_directory(url: str, profiles: Sequence[MemberProfile]) -> Result:
    """(c) ``MemberDirectory.add_many`` per batch: validation, phone normalisation, sealing, blind indexes,
    the member-number uniqueness check and the insert — nothing done before the clock.

    Then times ``find`` by phone for random existing members in mixed notations, and what one
    ``phonenumbers`` parse of a number not seen before costs (normalisation is memoised per notation).
    """
    engine = create_hub_engine(url)
    upgrade_database(engine)
    ledger = ErasureLedger(Path(tempfile.gettempdir()) / "memberhub-bench-ledger.jsonl")  # only erase writes it
    directory = MemberDirectory(engine, MemberSealer(KeyRing.generate()), ledger)
    ids = []
    started = start_clock()
    for batch in _batches(profiles):
        ids.extend(directory.add_many(batch))
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        **_lookups(directory, profiles, ids),
        "phone_parse_us": _phone_parse_us(profiles),
    }
    engine.dispose()
    return result


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
_NOTATIONS: tuple[Callable[[str], str], ...] = (
    lambda d: f"{d[:3]}-{d[3:7]}-{d[7:]}",  # 090-1234-5678
    lambda d: d,  # 09012345678
    lambda d: f"+81 {d[1:3]} {d[3:7]} {d[7:]}",  # +81 90 1234 5678
    lambda d: f"+81{d[1:]}",  # +819012345678
    lambda d: f"{d[:3]}-{d[3:7]}-{d[7:]}".translate(_FULL_WIDTH),  # ０９０－１２３４－５６７８
    lambda d: f"({d[:3]}) {d[3:7]}-{d[7:]}",  # (090) 1234-5678
)


def _lookups(directory: MemberDirectory, profiles: Sequence[MemberProfile], ids: Sequence[uuid.UUID]) -> Result:
    rng = random.Random(7)  # sampling, not secrets
    picks = rng.sample(range(len(profiles)), min(LOOKUPS, len(profiles)))
    latencies, found = [], 0
    for n, pick in enumerate(picks):
        digits = "".join(ch for ch in profiles[pick].phone or "" if ch.isdigit())
        query = _NOTATIONS[n % len(_NOTATIONS)](digits)
        started = time.perf_counter()
        members = directory.find(query)
        latencies.append(time.perf_counter() - started)
        found += ids[pick] in {member.id for member in members}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "lookup_p50_ms": cuts[49] * 1e3,
        "lookup_p99_ms": cuts[98] * 1e3,
        "lookups": len(picks),
        "found": found,
    }


def _phone_parse_us(profiles: Sequence[MemberProfile]) -> float:
    """What normalising an unseen number costs: parse, validate and format, as ``normalize_phone`` does."""
    phones = [p.phone for p in profiles[:5_000] if p.phone]
    started = time.perf_counter()
    for phone in phones:
        number = phonenumbers.parse(phone, "JP")
        phonenumbers.is_valid_number(number)
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return (time.perf_counter() - started) / len(phones) * 1e6


VARIANTS: dict[str, Callable[[str, Sequence[MemberProfile]], Result]] = {
    "a": raw_plaintext,
    "a′": crypto_limit,
    "b": orm_string_encrypted,
    "c": member_directory,
}
