"""Domain events: what observers (``memberhub_domain_event`` hook implementations) are told after a commit.

Each event is a frozen dataclass with a ``name``; it names members by id and never carries personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event; ``name`` is the stable identifier observers switch on."""

    name: ClassVar[str] = "domain_event"
    occurred_at: datetime


Publish = Callable[[Iterable["DomainEvent"]], None]
"""Hands committed events to their observers (the hub passes ``core.plugins.manager.publish_events``)."""


def no_observers(events: Iterable[DomainEvent]) -> None:
    """A ``Publish`` for code run without plugins (tools, tests of one part): nobody listens."""


@dataclass(frozen=True)
class MemberMerged(DomainEvent):
    """``merged_id`` was merged into ``survivor_id`` (``kind``: manual, automatic or review)."""

    name: ClassVar[str] = "member_merged"
    merge_id: int
    survivor_id: UUID
    merged_id: UUID
    kind: str


@dataclass(frozen=True)
class MemberUnmerged(DomainEvent):
    """A merge was undone: ``merged_id`` is a member of its own again, apart from ``survivor_id``."""

    name: ClassVar[str] = "member_unmerged"
    merge_id: int
    survivor_id: UUID
    merged_id: UUID


@dataclass(frozen=True)
class PointsChanged(DomainEvent):
    """The points of the cluster whose root is ``member_id`` moved by ``delta`` through entries of ``kind``.

    One event per cluster and entry kind for each loyalty call (a batch of purchases, a redemption, a job).
    """

    name: ClassVar[str] = "points_changed"
    member_id: UUID
    kind: str
    delta: int


@dataclass(frozen=True)
class RankChanged(DomainEvent):
    """The cluster whose root is ``member_id`` moved from ``from_rank`` to ``to_rank`` (rank codes)."""

    name: ClassVar[str] = "rank_changed"
    member_id: UUID
    from_rank: str | None
    to_rank: str
    reason: str


@dataclass(frozen=True)
class SegmentChanged(DomainEvent):
    """The cluster whose root is ``member_id`` joined and left segments (codes); ``segments``: all it is in now.

    One event per cluster whose membership changed in a run of the segments job.
    """

    name: ClassVar[str] = "segment_changed"
    member_id: UUID
    joined: tuple[str, ...]
    left: tuple[str, ...]
    segments: tuple[str, ...]
