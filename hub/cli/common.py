"""What every CLI command shares: the consoles, the open hub, the acting user."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from rich.console import Console

from core.errors import InvalidInputError, MemberNotFoundError
from core.members.audit import Actor
from core.members.numbers import looks_like_member_number
from core.members.profile import Member
from hub.runtime import Hub, open_hub
from hub.settings import load_settings

console = Console()
err_console = Console(stderr=True)


@contextmanager
def opened_hub() -> Iterator[Hub]:
    """The hub named by the environment, closed afterwards."""
    hub = open_hub(load_settings())
    try:
        yield hub
    finally:
        hub.close()


def cli_actor() -> Actor:
    """The operating-system user running the CLI, who acts with the admin role."""
    return Actor(name=f"cli:{getpass.getuser()}", role="admin")


def resolve_member(hub: Hub, reference: str, *, follow_merges: bool = True) -> Member:
    """The member a CLI argument names: a member id (UUID) or a member number in any notation.

    A member number of a merged member names the member it was merged into, unless ``follow_merges`` is off.
    """
    if looks_like_member_number(reference):
        found = hub.members.find_by("member_number", reference, follow_merges=follow_merges)
        if not found:
            raise MemberNotFoundError("no member with that member number")
        return found[0]
    try:
        return hub.members.get(UUID(reference))
    except ValueError:
        raise InvalidInputError("give a member id (UUID) or a 12-digit member number") from None
