"""The ``hub`` command line."""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from core.errors import MemberHubError
from core.logs import configure_logging
from core.store.database import database_revision, upgrade_database
from hub.cli import analytics, demo, doctor, keys, loyalty, members, merges, review, sync, web, workers
from hub.cli.common import console, err_console, opened_hub
from hub.runtime import connect_database, init_hub
from hub.scheduler import hub_scheduler, run_until_stopped
from hub.settings import load_settings

app = typer.Typer(help="MemberHub: the encrypted member hub of your loyalty program.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
members.app.command("merge")(merges.merge)
members.app.command("unmerge")(merges.unmerge)
members.app.command("merges")(merges.merges)
app.add_typer(members.app, name="members")
app.add_typer(review.app, name="review")
app.add_typer(loyalty.app, name="loyalty")
app.add_typer(analytics.app, name="analytics")
app.add_typer(keys.app, name="keys")
app.add_typer(sync.connectors_app, name="connectors")
app.add_typer(sync.deadletters_app, name="deadletters")
app.add_typer(sync.outbox_app, name="outbox")
app.command("sync")(sync.sync)
app.command("runs")(sync.runs)
app.command("demo")(demo.demo)
app.add_typer(web.users_app, name="users")
app.add_typer(web.tokens_app, name="tokens")
app.add_typer(web.audit_app, name="audit")
app.command("serve")(web.serve)
app.command("worker")(workers.worker)
app.command("beat")(workers.beat)
app.command("doctor")(doctor.doctor)


@app.command("init")
def init() -> None:
    """Create the data directory, the key file (mode 0600, apart from the data) and the database."""
    settings = load_settings()
    hub, created = init_hub(settings)
    hub.close()
    console.print(f"data directory: {settings.home}")
    console.print(f"key file:       {settings.key_file} ({'created' if created else 'kept'})")
    console.print("[green]hub ready[/]")


@app.command("run")
def run() -> None:
    """Run the embedded scheduler: scheduled connectors, the outbox and the nightly loyalty jobs, until Ctrl-C."""
    with opened_hub() as hub:
        scheduler = hub_scheduler(hub)
        names = ", ".join(job.name for job in scheduler.get_jobs()) or "nothing scheduled"
        run_until_stopped(scheduler, hub.sync, on_start=lambda: console.print(f"scheduler running: {names}"))
    console.print("scheduler stopped")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration (safe to run again)."""
    engine = connect_database(load_settings())
    try:
        before = database_revision(engine)
        after = upgrade_database(engine)
    finally:
        engine.dispose()
    console.print(f"schema at {after}" + ("" if before != after else " (already current)"))


def main() -> None:
    """Entry point: run the CLI and turn MemberHub errors into one line and an exit code."""
    configure_logging(json=os.environ.get("HUB_LOG_FORMAT") == "json", level=os.environ.get("HUB_LOG_LEVEL", "WARNING"))
    try:
        app()
    except MemberHubError as error:
        # one line whatever the terminal's width, and the message as written ("[connectors.x]" is not markup)
        err_console.print(f"[red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
