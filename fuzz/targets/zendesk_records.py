"""Zendesk users and ticket bundles (ticket, thread, author roles, metric set) through the streams' mappers."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.zendesk.mapping import ticket_mapper, user_to_profile
from fuzz.records import record_parser, record_seeds
from fuzz.seeds import zendesk_account
from fuzz.target import FuzzTarget

parse = record_parser(
    "zendesk-fuzz", {"users": user_to_profile, "tickets": ticket_mapper(360001234567, "category_")}
)  # fmt: skip


def seeds() -> Iterator[bytes]:
    """The sandbox account's users and its tickets bundled as ``ZendeskConnector`` bundles them."""
    account = zendesk_account()
    roles = {user["id"]: user["role"] for user in account["users"]}
    yield from record_seeds([("users", user) for user in account["users"]])
    for ticket in account["tickets"]:
        thread = account["comments"].get(ticket["id"], [])
        authors = {comment["author_id"]: roles.get(comment["author_id"], "end-user") for comment in thread}
        metric_set = {"solved_at": ticket["updated_at"]}
        bundle = {**ticket, "comments": thread, "comment_authors": authors, "metric_set": metric_set}
        yield from record_seeds([("tickets", bundle)])


TARGET = FuzzTarget("zendesk_records", parse, (), seeds, "records")
