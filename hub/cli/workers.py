"""``hub worker`` and ``hub beat``: the distributed mode's processes (Celery over Redis, see docs/operations.md)."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any

import typer

from hub.cli.common import console, err_console
from hub.config import load_hub_config
from hub.settings import load_settings


def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Tasks this process runs at once.")] = 4,
    queues: Annotated[list[str] | None, typer.Option("--queues", "-Q", help="Queues to consume (repeatable).")] = None,
) -> None:
    """Run a Celery worker for the syncs, outbox dispatches and loyalty jobs that ``hub beat`` sends.

    Tasks run on threads: each sync already runs its connector in a child process, which Celery's prefork pool
    would forbid (its pool processes are daemonic). Start more ``hub worker`` processes to use more cores.
    """
    from celery.signals import worker_ready  # type: ignore[import-untyped]  # here: other commands start faster

    from hub.workers.app import app, load_broker_settings
    from hub.workers.tasks import worker_hub

    _warn_if_runs_outlast_visibility(load_broker_settings().visibility_timeout_s)
    worker_hub.get()  # a missing schema, key ring or database fails here, once and clearly, not in every task
    names = queues or [app.conf.task_default_queue]

    def announce(**_: Any) -> None:
        console.print(f"worker ready: queues {', '.join(names)}, concurrency {concurrency}", highlight=False)

    worker_ready.connect(announce, weak=False)
    controller = app.Worker(
        hostname=f"memberhub-{os.getpid()}@{socket.gethostname()}",
        pool="threads",
        concurrency=concurrency,
        queues=names,
        loglevel=os.environ.get("HUB_LOG_LEVEL", "WARNING"),
        quiet=True,
        without_mingle=True,
        without_gossip=True,
    )
    controller.start()
    console.print("worker stopped")
    raise typer.Exit(controller.exitcode or 0)


def beat() -> None:
    """Send the tasks of ``hub.toml``'s schedules and the nightly loyalty jobs; run exactly one per hub."""
    from hub.workers.app import app
    from hub.workers.beat import hub_beat_schedule

    settings = load_settings()
    app.conf.beat_schedule = schedule = hub_beat_schedule(settings)
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    console.print(f"beat running: {', '.join(schedule)}", highlight=False)
    app.Beat(
        schedule=str(settings.home / "celerybeat-schedule"),
        loglevel=os.environ.get("HUB_LOG_LEVEL", "WARNING"),
        quiet=True,
    ).run()


def _warn_if_runs_outlast_visibility(visibility_timeout_s: int) -> None:
    """A run allowed to last longer than the visibility timeout is handed to a second worker while it runs.

    The copy finds the stream busy and is acknowledged; if the first worker then dies, the run waits for its
    next schedule instead of being delivered again.
    """
    deadlines = [instance.deadline_s for instance in load_hub_config(load_settings().config_file).connectors.values()]
    if deadlines and max(deadlines) >= visibility_timeout_s:
        err_console.print(
            f"[yellow]warning:[/] a connector deadline ({max(deadlines):g} s) reaches the broker's visibility "
            f"timeout ({visibility_timeout_s} s): raise HUB_BROKER_VISIBILITY_TIMEOUT above it",
            highlight=False,
        )
