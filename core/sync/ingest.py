"""The ingest pipeline: canonical records into the encrypted store, with exactly-once effect (DESIGN §4).

``StoreSink`` is the ``RecordSink`` the sync engine writes every batch through, inside the transaction that
also commits the stream's cursor. It works at batch grain, in this order: keep the newest version of each
key; refuse what fails validation (quarantined, the rest goes on); merge profiles into members; resolve the
customers other records name (creating placeholder members); write purchases, inquiries, surveys and
consent; last, apply the sources' erasure and data requests (``core.members.source_erasure``), so that
nothing else in the batch writes back what a request erased. Every step is a few bulk selects and one
executemany per statement, never a query per record; an erasure works cluster by cluster.

Placeholder values a source sends for a missing email or phone (``unknown``, ``0000-00-0000``) and the
shop-wide dummies of the identity policy are dropped from the profile, not stored: they are nobody's, and
stored they would put one address on thousands of members. An email or phone that is neither a placeholder
nor valid still quarantines its record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import Connection

from core.crypto.sealing import MemberSealer
from core.errors import InvalidInputError
from core.events import DomainEvent, MemberMerged
from core.identity.claims import OPERATOR_SOURCE, SourceRanking
from core.identity.policy import IdentityPolicy
from core.loyalty import LoyaltyEngine
from core.members.directory import MemberDirectory
from core.members.profile import MemberProfile
from core.members.source_erasure import SourceErasure
from core.records import (
    CanonicalRecord,
    ConsentChange,
    DataRequest,
    ErasureRequest,
    Inquiry,
    Profile,
    Purchase,
    SurveyResponse,
)
from core.store import records as repo
from core.store.records import Key
from core.sync.consent_messages import ConsentMessages
from core.sync.dead_letters import Quarantined
from core.sync.ingest_activity import ActivityWriter
from core.sync.ingest_members import MemberResolver
from core.sync.profile_messages import ProfileMessages
from core.sync.sink import SinkResult

__all__ = ["OPERATOR_SOURCE", "StoreSink"]

Clock = Callable[[], datetime]
_T = TypeVar("_T")
# Profiles of any source may match, and merge, the same members: batches with profiles take this lock too (on
# PostgreSQL), so that two sources' batches never both create a member for one person, or merge one member
# twice. Not a valid connector instance name, so never the lock of a real source.
_IDENTITY_LOCK = "(identity resolution)"
_SKU_MAX = 128  # purchase_lines.sku is String(128); PostgreSQL would fail the whole batch on a longer one
_INT_MAX = 2**31 - 1


class StoreSink:
    """Stores canonical records idempotently; profiles merge per field under ``source_priority``.

    ``source_priority`` lists sources from most to least trusted (unlisted sources rank below every listed
    one, equal among themselves); between equal ranks the newer ``source_updated_at`` wins. ``identity``
    decides which profiles are one member (``core.identity.policy``). With ``loyalty``, the batch's purchases
    earn (or give back) points and move ranks in the same transaction, and clusters the batch merged are
    settled (``core.loyalty``). With ``consent``, the batch's email consent changes are written to the outbox
    for the consent destinations (``core.sync.consent_messages``); with ``profiles``, the changes the batch
    makes to existing members' profiles go to the profile destinations (``core.sync.profile_messages``).
    ``written`` counts members created (placeholders included), changed, merged or erased (whole or the
    source's part), purchases, lines, adjustments, inquiries, messages, survey responses and consent events;
    the source links, field provenance, blind-index rows, review items, audit rows and ledger entries that go
    with them are not counted.
    """

    def __init__(
        self,
        directory: MemberDirectory,
        *,
        source_priority: Sequence[str] = (OPERATOR_SOURCE,),
        identity: IdentityPolicy | None = None,
        loyalty: LoyaltyEngine | None = None,
        consent: ConsentMessages | None = None,
        profiles: ProfileMessages | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.directory = directory
        self.ranking = SourceRanking(tuple(source_priority))
        self.identity = identity or IdentityPolicy()
        self.loyalty = loyalty
        self.consent = consent
        self.profiles = profiles
        self.clock = clock or directory.clock

    def apply(self, conn: Connection, records: Sequence[CanonicalRecord], *, disjoint: bool = False) -> SinkResult:
        """Store one batch in the caller's transaction; returns rows written, records refused, domain events.

        Batches of one source wait for each other (each reads the source links, then creates the missing
        ones), except ``disjoint`` ones that create no member and match no profile: slices of one backfill
        share the source's lock and commit side by side.
        """
        now = self.clock()
        batch = _SortedBatch.of(records, self.identity)
        shared = disjoint and not batch.identity_locks() and not self._creates_customers(conn, batch)
        sources = {record.source for record in batch.accepted} | batch.identity_locks()
        repo.lock_sources(conn, sources, shared=shared)
        members = MemberResolver(self.directory, self.ranking, self.identity, now)
        written, known = members.write_profiles(conn, batch.profiles)
        if self.profiles is not None:
            self.profiles.send(conn, members.profile_changes, now)
        customers, placeholders = members.resolve_customers(conn, batch.customer_keys(), known)
        activity = ActivityWriter(conn, self.directory.sealer, customers, now)
        activity.load_ciphers(batch.members_sealed_for(customers))
        written += placeholders
        written += activity.purchases(batch.purchases)
        written += activity.inquiries(batch.inquiries)
        written += activity.survey_responses(batch.surveys)
        written += activity.consent_changes(batch.consents)
        events: list[DomainEvent] = list(members.events)
        if self.loyalty is not None:
            events.extend(self._apply_loyalty(conn, self.loyalty, members.events, activity, self.directory.sealer))
        written += self._apply_requests(conn, batch, now)
        if self.consent is not None:
            self.consent.send(conn, batch.consents, now)
        return SinkResult(written, tuple(batch.refused), tuple(events))

    @staticmethod
    def _creates_customers(conn: Connection, batch: _SortedBatch) -> bool:
        """Whether the batch names a customer without a source link (a placeholder member would be made)."""
        keys = batch.customer_keys()
        return len(repo.linked_members(conn, keys)) < len(keys)

    def _apply_requests(self, conn: Connection, batch: _SortedBatch, now: datetime) -> int:
        """Erase what the batch's erasure requests name, audit its data requests; returns the clusters changed."""
        if not (batch.erasures or batch.data_requests):
            return 0
        erasure = SourceErasure(self.directory, self.ranking, now)
        outcomes = [erasure.erase_source(conn, r.source) for r in batch.erasures if r.scope == "source"]
        customers = _by_source((r.source, r.external_id) for r in batch.erasures if r.scope == "customer")
        outcomes += [erasure.erase_customers(conn, source, ids) for source, ids in customers.items()]
        asked = _by_source((r.source, (r.external_id, r.request_id)) for r in batch.data_requests)
        for source, requests in asked.items():
            erasure.note_data_requests(conn, source, requests)
        return sum(len(outcome.erased) + len(outcome.shredded) for outcome in outcomes)

    @staticmethod
    def _apply_loyalty(
        conn: Connection, loyalty: LoyaltyEngine, merges: Sequence[MemberMerged], activity: ActivityWriter,
        sealer: MemberSealer,
    ) -> list[DomainEvent]:  # fmt: skip
        """Settle the clusters this batch merged, earn or give back points for its purchases, act on surveys."""
        events: list[DomainEvent] = []
        for merge in merges:
            events += loyalty.recompute_clusters(conn, [merge.survivor_id], cause=f"merge:{merge.merge_id}").events
        events += loyalty.apply_purchases(conn, activity.purchase_ids).events
        events += loyalty.apply_survey_responses(conn, activity.survey_response_ids, sealer).events
        return events


@dataclass
class _SortedBatch:
    """A batch reduced to the newest valid version of each record, sorted by kind."""

    profiles: list[tuple[Profile, MemberProfile]] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    inquiries: list[Inquiry] = field(default_factory=list)
    surveys: list[SurveyResponse] = field(default_factory=list)
    consents: list[ConsentChange] = field(default_factory=list)
    erasures: list[ErasureRequest] = field(default_factory=list)
    data_requests: list[DataRequest] = field(default_factory=list)
    refused: list[Quarantined] = field(default_factory=list)

    @classmethod
    def of(cls, records: Sequence[CanonicalRecord], policy: IdentityPolicy) -> _SortedBatch:
        batch = cls()
        for record in _newest_versions(records):
            try:
                batch._add(record, policy)
            except InvalidInputError as error:
                batch.refused.append(Quarantined.from_record(record, str(error), type(error).__name__))
        return batch

    def _add(self, record: CanonicalRecord, policy: IdentityPolicy) -> None:
        if isinstance(record, Profile):
            self.profiles.append((record, _member_profile(record, policy)))
        elif isinstance(record, Purchase):
            _check_purchase(record)
            self.purchases.append(record)
        elif isinstance(record, Inquiry):
            self.inquiries.append(record)
        elif isinstance(record, SurveyResponse):
            self.surveys.append(record)
        elif isinstance(record, ConsentChange):
            self.consents.append(record)
        elif isinstance(record, ErasureRequest):
            self.erasures.append(record)
        elif isinstance(record, DataRequest):
            self.data_requests.append(record)
        else:
            raise InvalidInputError(f"unsupported record type {type(record).__name__}")

    @property
    def accepted(self) -> list[CanonicalRecord]:
        """Every record that goes on to the store."""
        return [
            *(p for p, _ in self.profiles), *self.purchases, *self.inquiries, *self.surveys, *self.consents,
            *self.erasures, *self.data_requests,
        ]  # fmt: skip

    def identity_locks(self) -> set[str]:
        """The identity-resolution lock if this batch has profiles to match or members to erase."""
        return {_IDENTITY_LOCK} if self.profiles or self.erasures else set()

    def customer_keys(self) -> set[Key]:
        """(source, customer id) of every record that names a customer."""
        keys = {(p.source, p.customer_external_id) for p in self.purchases if p.customer_external_id}
        return keys | {(r.source, r.customer_external_id) for r in self._customer_records()}

    def members_sealed_for(self, customers: dict[Key, UUID]) -> list[UUID]:
        """Members whose data key seals some text of this batch (inquiries and surveys)."""
        sealing: list[Inquiry | SurveyResponse] = [*self.inquiries, *self.surveys]
        return [customers[(r.source, r.customer_external_id)] for r in sealing]

    def _customer_records(self) -> list[Inquiry | SurveyResponse | ConsentChange]:
        return [*self.inquiries, *self.surveys, *self.consents]


def _by_source(pairs: Iterable[tuple[str, _T]]) -> dict[str, list[_T]]:
    grouped: dict[str, list[_T]] = {}
    for source, value in pairs:
        grouped.setdefault(source, []).append(value)
    return grouped


def _newest_versions(records: Sequence[CanonicalRecord]) -> list[CanonicalRecord]:
    """One record per (kind, source, external_id): the newest; of equal versions, the first seen.

    PostgreSQL refuses to touch one row twice in a statement, and an older version must lose anyway.
    """
    newest: dict[tuple[type, str, str], CanonicalRecord] = {}
    for record in records:
        key = (type(record), record.source, record.external_id)
        kept = newest.get(key)
        if kept is None or record.source_updated_at > kept.source_updated_at:
            newest[key] = record
    return list(newest.values())


def _member_profile(record: Profile, policy: IdentityPolicy) -> MemberProfile:
    """The record's personal data in canonical form, placeholders and dummies dropped.

    ``InvalidInputError`` names the bad field, not its value.
    """
    profile = MemberProfile(
        name=record.name,
        kana=record.kana,
        email=record.email if policy.usable_email(record.email) else None,
        phone=record.phone if policy.usable_phone(record.phone) else None,
        postal_code=record.postal_code,
        address=record.address,
        birthday=record.birthday,
    ).validated(require_name=False)
    if profile.phone and policy.blocks_phone(profile.phone):
        return replace(profile, phone=None)
    return profile


def _check_purchase(record: Purchase) -> None:
    """Refuse what the schema cannot hold, so one bad record never fails its whole batch."""
    numbers = [line.line_no for line in record.lines]
    if len(set(numbers)) != len(numbers):
        raise InvalidInputError("purchase has two lines with the same line number")
    if any(line.sku and len(line.sku) > _SKU_MAX for line in record.lines):
        raise InvalidInputError(f"SKU longer than {_SKU_MAX} characters")
    if any(max(line.line_no, line.quantity) > _INT_MAX for line in record.lines):
        raise InvalidInputError("line number or quantity out of range")
