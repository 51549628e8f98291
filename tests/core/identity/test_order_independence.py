"""Whatever order records arrive in, however they are batched and however often repeated: the same members.

A pool of people, each with one email, one phone, one name (kanji and kana) and a birthday, is known to a few
sources; each source record carries some of the person's identifiers (a newer version may add more), and
purchases name source customers (some of whom never send a profile). Delivered in a random order, some
records twice, in random batches, they must end in the same clusters of source links, with the same
decrypted root profiles, as delivered once in order — and those clusters are exactly the groups of records
connected by a shared email or phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from core.crypto.key_providers import KeyFileProvider
from core.crypto.keyring import KeyRing
from core.crypto.sealing import MemberSealer
from core.members.directory import MemberDirectory
from core.members.erasure import ErasureLedger
from core.members.keys import load_verified_ring
from core.members.profile import MemberProfile
from core.records import CanonicalRecord, Profile, Purchase
from core.store import identity as identity_repo
from core.store import models
from core.store.database import create_hub_engine, upgrade_database
from core.sync.ingest import StoreSink

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=JST)
SOURCES = ("app", "pos", "shop")
KEPT_TABLES = {"system_keys", "hub_meta", "audit_log"}  # the key check serves every example; audit is append-only


@dataclass(frozen=True)
class Person:
    email: str
    phone: str
    name: str
    kana: str
    birthday: date


PEOPLE = (
    Person("hanako@example.jp", "090-1111-2222", "山田 花子", "ヤマダ ハナコ", date(1990, 4, 1)),
    Person("ichiro@example.jp", "080-3333-4444", "髙橋 一郎", "タカハシ イチロウ", date(1985, 7, 7)),
    Person("jiro@example.jp", "03-5555-6666", "鈴木 次郎", "スズキ ジロウ", date(1979, 1, 15)),
    # a namesake of the first: same name, kana and birthday, nothing else in common (a review item, never a merge)
    Person("yamada.h@example.jp", "070-7777-8888", "山田 花子", "やまだ はなこ", date(1990, 4, 1)),
)
# What one source record of a person carries; most hold one strong identifier, so that joining them takes a
# third record (or a placeholder's profile) bringing both: the merges whose order matters.
CARRIED = (
    {"email"},
    {"phone"},
    {"email", "names"},
    {"phone", "names"},
    {"phone", "names", "birthday"},
    {"email", "phone"},
    {"email", "phone", "names", "birthday"},
    {"names", "birthday"},
    set(),
)


# ── generated deliveries ───────────────────────────────────────────────────────────────────────────


@st.composite
def customer_profiles(draw: st.DrawFn) -> list[Profile]:
    """Source records of a few of the pool's people, each with some of its person's identifiers.

    Some records come in a second, newer version that carries more of them (an email or phone added later);
    whichever version arrives first, the newer one decides, so it keeps everything the older one said.
    """
    people = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2, unique=True))
    records = []
    for n in range(draw(st.integers(min_value=2, max_value=8))):
        person, source = draw(st.sampled_from(people)), draw(st.sampled_from(SOURCES))
        carried = draw(st.sampled_from(CARRIED))
        minute = draw(st.integers(min_value=0, max_value=2))  # equal times: the claim tie-break decides
        records.append(source_record(person, source, f"c{n}", carried, minute))
        if draw(st.booleans()):
            added = draw(st.sampled_from(CARRIED))
            records.append(source_record(person, source, f"c{n}", carried | added, minute + 3))
    return records


def source_record(person: Person, source: str, external_id: str, carried: set[str], minute: int) -> Profile:
    fields: dict[str, Any] = {"address": f"{source} 住所 {external_id}-{minute}"}
    if "email" in carried:
        fields.update(email=person.email, email_verified=True)
    if "phone" in carried:
        fields["phone"] = person.phone
    if "names" in carried:
        fields.update(name=person.name, kana=person.kana)
    if "birthday" in carried:
        fields["birthday"] = person.birthday
    at = T0 + timedelta(minutes=minute)
    return Profile(source=source, external_id=external_id, source_updated_at=at, **fields)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[CanonicalRecord], list[list[CanonicalRecord]]]:
    """Records in their order, and the same records shuffled, some repeated, split into batches."""
    profiles = draw(customer_profiles())
    customers = sorted({(p.source, p.external_id) for p in profiles}) + [(source, "ghost") for source in SOURCES]
    named = draw(st.lists(st.sampled_from(customers), max_size=6))
    purchases = [purchase(source, f"o{n}", customer) for n, (source, customer) in enumerate(named)]
    in_order = draw(st.permutations([*profiles, *purchases]))
    repeated = draw(st.lists(st.sampled_from(in_order), max_size=4))
    shuffled = draw(st.permutations([*in_order, *repeated]))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(1, len(shuffled) - 1)))))
    bounds = [0, *cuts, len(shuffled)]
    return in_order, [shuffled[a:b] for a, b in pairwise(bounds) if shuffled[a:b]]


def purchase(source: str, external_id: str, customer: str) -> Purchase:
    return Purchase(
        source=source,
        external_id=external_id,
        source_updated_at=T0,
        customer_external_id=customer,
        channel="store",
        total_amount=2200,
        purchased_at=T0,
    )


# ── the store, reused by every example ─────────────────────────────────────────────────────────────


@dataclass
class Store:
    engine: Engine
    sink: StoreSink

    def deliver(self, batches: list[list[CanonicalRecord]]) -> None:
        for batch in batches:
            with self.engine.begin() as conn:
                result = self.sink.apply(conn, batch)
            assert result.refused == ()

    def outcome(self) -> dict[frozenset[tuple[str, str]], MemberProfile | None]:
        """Each cluster of source links, with the decrypted profile of its root."""
        link = models.SourceLink
        with self.engine.connect() as conn:
            links = conn.execute(select(link.source, link.external_id, link.member_id)).all()
            root_of = identity_repo.roots(conn, {row.member_id for row in links})
        clusters: dict[Any, set[tuple[str, str]]] = {}
        for source, external_id, member_id in links:
            clusters.setdefault(root_of[member_id], set()).add((source, external_id))
        directory = self.sink.directory
        return {frozenset(keys): directory.get(root).profile for root, keys in clusters.items()}

    def wipe(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(models.Member.__table__.update().values(merged_into=None))
            for table in reversed(models.Base.metadata.sorted_tables):
                if table.name not in KEPT_TABLES:
                    conn.execute(delete(table))


def open_store(url: str, tmp_path: Path) -> Iterator[Store]:
    engine = create_hub_engine(url)
    upgrade_database(engine)
    provider = KeyFileProvider(tmp_path / "keys" / "keyring.json")
    provider.create(KeyRing.generate())
    ring = load_verified_ring(engine, provider)
    directory = MemberDirectory(engine, MemberSealer(ring), ErasureLedger(tmp_path / "keys" / "ledger.jsonl"))
    yield Store(engine, StoreSink(directory))
    engine.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(sqlite_url, tmp_path)


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(pg_url, tmp_path)


def connected_by_email_or_phone(records: list[CanonicalRecord]) -> set[frozenset[tuple[str, str]]]:
    """The clusters identity resolution should find: source links joined by a shared email or phone."""
    group = {}  # key → representative key (a tiny union-find)

    def find(key: tuple[str, str]) -> tuple[str, str]:
        while group[key] != key:
            key = group[key]
        return key

    holders: dict[tuple[str, str], tuple[str, str]] = {}
    for record in records:
        key = (record.source, record.customer_external_id if isinstance(record, Purchase) else record.external_id)
        if key[1] is None:
            continue
        group.setdefault(key, key)
        if isinstance(record, Profile):
            for value in (("email", record.email), ("phone", record.phone)):
                if value[1] is not None:
                    group[find(key)] = find(holders.setdefault(value, key))
    clusters: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for key in group:
        clusters.setdefault(find(key), set()).add(key)
    return {frozenset(keys) for keys in clusters.values()}


def check_order_independence(store: Store, in_order: list[CanonicalRecord], batches: list[list[Any]]) -> None:
    store.wipe()
    store.deliver([[record] for record in in_order])
    expected = store.outcome()
    store.wipe()
    store.deliver(batches)

    assert set(expected) == connected_by_email_or_phone(in_order)
    assert store.outcome() == expected


# ── the property ───────────────────────────────────────────────────────────────────────────────────

FIXTURE_PER_TEST = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=250, deadline=None, suppress_health_check=FIXTURE_PER_TEST)
@given(delivery=deliveries())
def test_any_order_batching_and_repetition_ends_in_the_same_members_on_sqlite(sqlite_store, delivery):
    check_order_independence(sqlite_store, *delivery)


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_PER_TEST)
@given(delivery=deliveries())
def test_any_order_batching_and_repetition_ends_in_the_same_members_on_postgresql(pg_store, delivery):
    check_order_independence(pg_store, *delivery)
