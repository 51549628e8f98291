"""Roles, scopes and the principal a request acts as.

A console user has every scope of their role; an API token has a role *and* an explicit list of scopes, so an
integration that only replays dead letters cannot read members even if its role would allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.members.audit import Actor


class Role(StrEnum):
    """Console roles, each allowed everything the one before it is."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def level(self) -> int:
        """Order of the roles: operator < supervisor < admin."""
        return _LEVELS[self]


_LEVELS = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Scope(StrEnum):
    """What an API route does, so a token can be limited to part of what its role allows."""

    MEMBERS_READ = "members:read"  # search, summary, timeline (personal data)
    INQUIRIES_WRITE = "inquiries:write"  # log and update inquiries
    LOYALTY_WRITE = "loyalty:write"  # points adjustments, coupons
    IDENTITY_WRITE = "identity:write"  # merges, unmerges, the review queue
    SYNC_READ = "sync:read"  # sync runs, breakers, outbox backlog
    SYNC_WRITE = "sync:write"  # dead letters (payloads hold personal data) and their replay
    METRICS = "metrics"  # GET /metrics: counts, states and times per connector (no personal data)
    ANALYTICS = "analytics:read"  # loyalty analytics reports: aggregates per rank, channel, store (no personal data)
    ADMIN = "admin"  # users, tokens, audit export


_OPERATOR = frozenset({Scope.MEMBERS_READ, Scope.INQUIRIES_WRITE})
_SUPERVISOR = _OPERATOR | {
    Scope.LOYALTY_WRITE, Scope.IDENTITY_WRITE, Scope.SYNC_READ, Scope.SYNC_WRITE, Scope.METRICS, Scope.ANALYTICS,
}  # fmt: skip
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.OPERATOR: _OPERATOR,
    Role.SUPERVISOR: _SUPERVISOR,
    Role.ADMIN: frozenset(Scope),
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in console user or an API token, with its role and scopes."""

    name: str
    role: Role
    scopes: frozenset[Scope]
    kind: str = "user"  # "user" or "token"
    user_id: int | None = None
    locale: str = "ja"

    def allows(self, role: Role, scope: Scope) -> bool:
        """Whether this principal's role reaches ``role`` and its scopes include ``scope``."""
        return self.role.level >= role.level and scope in self.scopes

    @property
    def actor(self) -> Actor:
        """The principal as the audit log records it."""
        return Actor(self.name if self.kind == "user" else f"token:{self.name}", self.role.value)
