"""Which members a batch's profiles belong to: strong matches join clusters, weak evidence goes to review.

Pure decisions, no SQL: the caller looks the batch's identifiers up (blind indexes, at batch grain) and
hands over what it found. Profiles are placed one after the other; a profile joins every cluster it strongly
matches (transitively, so several clusters may become one), and its values become visible to the profiles
placed after it. Each edge of "shares a strong identifier" is therefore seen whichever of its two ends comes
first, and the clusters a batch leaves behind are the connected components of those edges: they do not depend
on the order records arrive in, nor on how they are split into batches. (What can depend on the order is
evidence that changes as records arrive: a phone shared under conflicting names, a value over its limit.
Those never merge; they queue review items.)

Strong evidence (joins automatically):
- email: the same normalised address, and the record says it is verified or its source is trusted;
- phone: the same E.164 number, and compatible names: a normalised name or kana in common, or one side with
  neither (a placeholder member has none).

Weak evidence (a review item, never a merge): the same name or kana and birthday; the same phone with other
names; the same unverified email; a value already held by more clusters than its limit; a vetoed pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import count
from typing import Any
from uuid import UUID

from core.identity.policy import Identifier, IdentityPolicy
from core.members.profile import MemberProfile
from core.normalize import normalize_kana, normalize_name

Key = tuple[str, str]
WEAK_INDEXES = ("name_birthday", "kana_birthday")
_MAX_REVIEWS_PER_VALUE = 3  # a value shared by many clusters asks about a few, not about every pair
_NO_NUMBER = "0"  # index_values() wants a member number; a record has none, and only identifiers are read


class ReviewKind(StrEnum):
    """Why a pair of members went to the review queue (``review_items.kind``)."""

    SAME_NAME_BIRTHDAY = "same_name_birthday"
    PHONE_NAME_DIFFERS = "phone_name_differs"
    UNVERIFIED_EMAIL = "unverified_email"
    OVER_LIMIT = "identifier_over_limit"
    VETOED = "vetoed_pair"


@dataclass(frozen=True)
class Names:
    """Normalised names and kana readings, compared to decide whether a shared phone is one person's."""

    names: frozenset[str] = frozenset()
    kanas: frozenset[str] = frozenset()

    @classmethod
    def of(cls, profile: MemberProfile) -> Names:
        """The normalised name and kana of a stored profile."""
        return cls(
            _set(normalize_name(profile.name) if profile.name else None),
            _set(normalize_kana(profile.kana) if profile.kana else None),
        )

    def compatible(self, other: Names) -> bool:
        """A name or a kana in common, or one side without any (nothing speaks against the match)."""
        return bool(self.names & other.names or self.kanas & other.kanas) or self.is_empty() or other.is_empty()

    def is_empty(self) -> bool:
        """Neither a name nor a kana."""
        return not (self.names or self.kanas)

    def __or__(self, other: Names) -> Names:
        return Names(self.names | other.names, self.kanas | other.kanas)


@dataclass(frozen=True)
class Arrival:
    """One profile to place: its key, the cluster its source link names (if any) and its identifiers.

    ``values`` holds normalised identifier values by blind-index name (``email``, ``phone``,
    ``name_birthday``, ``kana_birthday``); a value absent from the record, or blocked, is left out.
    """

    key: Key
    root: UUID | None
    values: Mapping[str, str]
    names: Names
    email_verified: bool

    @classmethod
    def of(cls, key: Key, root: UUID | None, valid: MemberProfile, *, email_verified: bool) -> Arrival:
        """A validated profile's identifiers, normalised exactly as its blind indexes store them."""
        indexed = valid.index_values(_NO_NUMBER)
        values = {index: indexed[index] for index in ("email", "phone", *WEAK_INDEXES)}
        names = Names(_set(indexed["name"]), _set(indexed["kana"]))
        present = {index: value for index, value in values.items() if value is not None}
        return cls(key, root, present, names, email_verified)


@dataclass(eq=False)
class Cluster:
    """A cluster as the batch leaves it: the stored roots it joins and the batch's profiles that go to it.

    ``member_id`` is the surviving root (the oldest) or, for a cluster the batch creates, set by the caller
    once the new member is inserted.
    """

    roots: set[UUID]
    names: Names
    seq: int
    arrivals: list[Arrival] = field(default_factory=list)
    joined_by: dict[UUID, Identifier] = field(default_factory=dict)
    member_id: UUID | None = None
    _parent: Cluster | None = field(default=None, repr=False)

    @property
    def survivor(self) -> UUID:
        """The oldest stored root, into which the others are merged (only for a cluster with stored roots)."""
        return min(self.roots)

    def merges(self) -> list[tuple[UUID, Identifier]]:
        """The stored roots to merge into the survivor, oldest first, each with the identifier that joined it."""
        return [(root, self.joined_by[root]) for root in sorted(self.roots)[1:]]

    def _order(self) -> tuple[int, UUID | int]:
        return (0, min(self.roots)) if self.roots else (1, self.seq)


@dataclass(frozen=True)
class Evidence:
    """A reason to ask a supervisor whether two clusters are one person."""

    member: Cluster
    candidate: Cluster
    kind: ReviewKind
    identifier: str
    key: Key

    def review_row(self, now: datetime) -> dict[str, Any]:
        """The review item: the newer of the two members first, as the queue keys pairs."""
        member, candidate = self.member.member_id, self.candidate.member_id
        assert member is not None and candidate is not None, "members are inserted before the queue is written"
        source, external_id = self.key
        return {
            "member_id": max(member, candidate),
            "candidate_id": min(member, candidate),
            "kind": self.kind.value,
            "identifier": self.identifier,
            "source": source,
            "external_id": external_id,
            "created_at": now,
        }


class BatchMatcher:
    """Places one batch's profiles into clusters.

    ``clusters`` gives the names of every active stored root the batch touches; ``holders`` the stored roots
    holding each (index, value) the batch looked up; ``vetoes`` the root pairs a person said are two people.
    """

    def __init__(
        self,
        policy: IdentityPolicy,
        clusters: Mapping[UUID, Names],
        holders: Mapping[tuple[str, str], Iterable[UUID]],
        vetoes: Iterable[tuple[UUID, UUID]] = (),
    ) -> None:
        self.policy = policy
        self._seq = count()
        self._stored = {
            root: Cluster({root}, names, next(self._seq), member_id=root) for root, names in clusters.items()
        }
        self._holders: dict[tuple[str, str], list[Cluster]] = defaultdict(list)
        for wanted, roots in holders.items():
            self._holders[wanted] = [self._stored[root] for root in sorted(set(roots)) if root in self._stored]
        self._vetoes = {frozenset(pair) for pair in vetoes}
        self._placed: list[Cluster] = []
        self._evidence: list[Evidence] = []

    def place(self, arrival: Arrival) -> None:
        """Put one profile into a cluster, joining every cluster it strongly matches."""
        cluster = _find(self._stored[arrival.root]) if arrival.root in self._stored else self._new_cluster()
        cluster.arrivals.append(arrival)
        cluster.names = cluster.names | arrival.names
        self._placed.append(cluster)
        for identifier in self.policy.match_on:
            value = arrival.values.get(identifier)
            if value is not None:
                self._match(arrival, cluster, identifier, value)
                self._holders[(identifier, value)].append(cluster)
        for index in WEAK_INDEXES:
            value = arrival.values.get(index)
            if value is not None:
                others = self._others(cluster, (index, value))[:_MAX_REVIEWS_PER_VALUE]
                self._note(arrival, cluster, others, ReviewKind.SAME_NAME_BIRTHDAY, index)
                self._holders[(index, value)].append(cluster)

    def clusters(self) -> list[Cluster]:
        """Every cluster that received a profile, in the order first placed."""
        return list({id(root): root for root in map(_find, self._placed)}.values())

    def evidence(self) -> list[Evidence]:
        """Weak evidence between clusters that stayed apart; one item per pair, the first found."""
        found: dict[frozenset[int], Evidence] = {}
        for item in self._evidence:
            member, candidate = _find(item.member), _find(item.candidate)
            pair = frozenset((id(member), id(candidate)))
            if member is not candidate and pair not in found:
                found[pair] = Evidence(member, candidate, item.kind, item.identifier, item.key)
        return list(found.values())

    def _match(self, arrival: Arrival, cluster: Cluster, identifier: Identifier, value: str) -> None:
        others = self._others(cluster, (identifier, value))
        if len(others) > self.policy.limit(identifier):
            self._note(arrival, cluster, others[:_MAX_REVIEWS_PER_VALUE], ReviewKind.OVER_LIMIT, identifier)
            return
        for other in others:
            here, there = _find(cluster), _find(other)
            if here is there:
                continue
            weakness = self._weakness(arrival, identifier, here, there)
            if weakness is None:
                _join(here, there, identifier)
            else:
                self._note(arrival, here, [there], weakness, identifier)

    def _weakness(self, arrival: Arrival, identifier: Identifier, here: Cluster, there: Cluster) -> ReviewKind | None:
        """Why this match may not join the two clusters on its own, or ``None`` when it is strong."""
        if identifier == "email" and not (arrival.email_verified or self.policy.trusts_email_from(arrival.key[0])):
            return ReviewKind.UNVERIFIED_EMAIL
        if identifier == "phone" and not here.names.compatible(there.names):
            return ReviewKind.PHONE_NAME_DIFFERS
        if any(frozenset((a, b)) in self._vetoes for a in here.roots for b in there.roots):
            return ReviewKind.VETOED
        return None

    def _others(self, cluster: Cluster, wanted: tuple[str, str]) -> list[Cluster]:
        """The clusters other than ``cluster`` holding a value, oldest first."""
        holders = self._holders.get(wanted)
        if not holders:
            return []
        here = _find(cluster)
        found = {id(root): root for root in map(_find, holders) if root is not here}
        return sorted(found.values(), key=Cluster._order)

    def _note(
        self, arrival: Arrival, cluster: Cluster, others: Sequence[Cluster], kind: ReviewKind, identifier: str
    ) -> None:
        for other in others:
            self._evidence.append(Evidence(cluster, other, kind, identifier, arrival.key))

    def _new_cluster(self) -> Cluster:
        return Cluster(set(), Names(), next(self._seq))


def _set(value: str | None) -> frozenset[str]:
    return frozenset() if value is None else frozenset((value,))


def _find(cluster: Cluster) -> Cluster:
    root = cluster
    while root._parent is not None:
        root = root._parent
    while cluster._parent is not None:  # path compression
        cluster._parent, cluster = root, cluster._parent
    return root


def _join(here: Cluster, there: Cluster, identifier: Identifier) -> None:
    """Make ``there`` part of ``here``; stored roots meeting for the first time remember the identifier."""
    joined_by = {**there.joined_by, **here.joined_by}
    if here.roots and there.roots:
        for root in here.roots | there.roots:
            joined_by.setdefault(root, identifier)
    here.joined_by = joined_by
    here.roots |= there.roots
    here.names = here.names | there.names
    here.arrivals.extend(there.arrivals)
    here.seq = min(here.seq, there.seq)
    here.member_id = min(here.roots) if here.roots else None
    there._parent = here
    there.arrivals = []
