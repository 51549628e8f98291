"""CPU priority of the processes that run syncs (``[sync] niceness`` in hub.toml).

A full sync is bulk work: it can use every core it is given, for an hour. On a machine shared with
``hub serve`` it should yield the CPU to operator requests, the way ``nice`` does, rather than compete with
them as an equal. Only ever lowered: raising a priority needs privileges a hub process should not hold.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hub.config import SyncSettings

_AUTOGROUP = Path("/proc/self/autogroup")


def lower_sync_priority(settings: SyncSettings) -> int:
    """Give this process (and the children it starts) at least ``settings.niceness``; returns its niceness.

    Linux with autogroup scheduling (the default on desktop and many server kernels outside a cgroup) shares
    the CPU between sessions first and by niceness only within one, so a process leading its own session
    (started by cron, a service manager or ``setsid``) also lowers its session's group. A process sharing an
    operator's terminal session leaves that session's group alone.
    """
    if settings.niceness > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, settings.niceness)
        if os.getsid(0) == os.getpid() and autogroup_niceness() is not None:
            # a sandbox may show the file but refuse the write; the process niceness still holds
            with contextlib.suppress(OSError):
                _AUTOGROUP.write_text(f"{settings.niceness}\n", encoding="ascii")
    return os.getpriority(os.PRIO_PROCESS, 0)


def autogroup_niceness() -> int | None:
    """The niceness of this process's session group, or None without a readable autogroup file."""
    try:
        fields = _AUTOGROUP.read_text(encoding="ascii").split()
    except OSError:
        return None
    if len(fields) != 3 or fields[1] != "nice":
        return None
    try:
        return int(fields[2])
    except ValueError:
        return None
