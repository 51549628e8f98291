"""What every CLI command shares: the consoles, the open hub, the acting user."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from core.members.audit import Actor
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
