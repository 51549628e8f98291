"""What every request handler of the web app shares, built once per app from an open hub."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Path, Request
from sqlalchemy import Connection

from core.access import ApiTokens, ConsoleUsers, OpeningLimit, Sessions
from core.members.inquiries import InquiryLog
from core.members.summary import MemberSummaries
from core.members.timeline import MemberTimeline
from core.sync.webhooks import WebhookIntake
from hub.runtime import Hub

RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
"""A database row id in a path: positive and within a 64-bit integer, so it can always be bound."""


@dataclass
class WebState:
    """The hub and the services built on it that the API and the console call."""

    hub: Hub
    secure_cookies: bool = True

    def transaction(self) -> AbstractContextManager[Connection]:
        """One transaction for what a request reads and the audit row that records it, committed as the block ends.

        One connection per request instead of one per step; the answer goes out only after the commit.
        """
        return self.hub.engine.begin()

    @cached_property
    def users(self) -> ConsoleUsers:
        """Console accounts and sign-in."""
        return ConsoleUsers(self.hub.engine, clock=self.hub.members.clock)

    @cached_property
    def sessions(self) -> Sessions:
        """Console sessions."""
        return Sessions(self.hub.engine, clock=self.hub.members.clock)

    @cached_property
    def tokens(self) -> ApiTokens:
        """API tokens of integrations."""
        return ApiTokens(self.hub.engine, clock=self.hub.members.clock)

    @cached_property
    def opening_limit(self) -> OpeningLimit:
        """Member openings per operator per hour."""
        per_hour = self.hub.config.console.openings_per_hour
        return OpeningLimit(self.hub.engine, per_hour, clock=self.hub.members.clock)

    @cached_property
    def summaries(self) -> MemberSummaries:
        """Member summaries (rank, points, spend …)."""
        return MemberSummaries(self.hub.members)

    @cached_property
    def timeline(self) -> MemberTimeline:
        """Unified member timelines."""
        return MemberTimeline(self.hub.engine, self.hub.members.sealer)

    @cached_property
    def inquiries(self) -> InquiryLog:
        """Inquiries logged by operators, sent on to the helpdesk destinations."""
        destinations = self.hub.config.console.inquiry_destinations
        return InquiryLog(
            self.hub.engine, self.hub.members.sealer, self.hub.outbox, destinations, clock=self.hub.members.clock
        )

    @cached_property
    def webhooks(self) -> WebhookIntake:
        """Webhook deliveries of the connector instances."""
        hub = self.hub
        return WebhookIntake(hub.engine, hub.registry, hub.sink, hub.dead_letters, publish=hub.publish)


async def web_state(request: Request) -> WebState:
    """The app's shared state (a FastAPI dependency; ``async`` so FastAPI calls it without a thread hop)."""
    state: WebState = request.app.state.web
    return state


def request_id(request: Request) -> str | None:
    """The id the security middleware gave this request (for the audit log and error messages)."""
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None
