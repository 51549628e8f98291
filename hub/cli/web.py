"""``hub users``, ``hub tokens``, ``hub audit export`` and ``hub serve``: the console's accounts and the web server."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from core.access import ApiTokens, ConsoleUsers, Role, Scope
from core.errors import InvalidInputError
from core.logs import configure_logging
from core.members.audit import record_member_access
from core.members.audit_export import audit_csv, audit_jsonl, audit_rows_since, parse_since
from hub.cli.common import cli_actor, console, opened_hub
from hub.runtime import Hub, open_hub
from hub.settings import load_settings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

users_app = typer.Typer(help="Console users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens of integrations.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of access to personal data.", no_args_is_help=True)
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


TRUSTED_PROXIES = "127.0.0.1,::1"
"""Whose forwarding headers ``hub serve`` believes by default: a proxy on the same machine."""
WORKER_HEALTHCHECK_S = 30
"""How long uvicorn's supervisor waits for a worker to answer before restarting it. Its default, 5 s, is less
than a spawned worker takes to import the hub on a busy machine: it killed every worker while it started."""


class ExportFormat(StrEnum):
    """How ``hub audit export`` writes rows."""

    CSV = "csv"
    JSONL = "jsonl"


@users_app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits, '.', '_' or '-'.")],
    role: Annotated[Role, typer.Option(help="operator, supervisor or admin.")],
    locale: Annotated[str, typer.Option(help="The console's language for this user: ja or en.")] = "ja",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a console user; the password is asked twice without echo (or read from standard input)."""
    password = _password(password_stdin)
    with opened_hub() as hub:
        user = _users(hub).add(username, password, role, locale=locale)
        _audit(hub, "user_add", username=user.username, role=user.role.value)
    console.print(f"user {user.username} added ({user.role})")


@users_app.command("passwd")
def change_password(
    username: Annotated[str, typer.Argument(help="The user.")], password_stdin: PasswordStdin = False
) -> None:
    """Set a new password for a user; their sessions end."""
    password = _password(password_stdin)
    with opened_hub() as hub:
        _users(hub).set_password(username, password)
        _audit(hub, "user_password", username=username)
    console.print(f"password of {username} changed; their sessions ended")


@users_app.command("disable")
def disable_user(username: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Stop a user from signing in; their sessions end at once."""
    with opened_hub() as hub:
        _users(hub).disable(username)
        _audit(hub, "user_disable", username=username)
    console.print(f"user {username} disabled; their sessions ended")


@users_app.command("list")
def list_users() -> None:
    """Every console user."""
    with opened_hub() as hub:
        users = _users(hub).all()
    table = Table(title=f"{len(users)} console user(s)")
    for column in ("user", "role", "language", "created", "disabled"):
        table.add_column(column)
    for user in users:
        disabled = f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else ""
        table.add_row(user.username, user.role, user.locale, f"{user.created_at:%Y-%m-%d %H:%M}", disabled)
    console.print(table)


@tokens_app.command("add")
def add_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. helpdesk-sync.")],
    role: Annotated[Role, typer.Option(help="operator, supervisor or admin.")],
    scope: Annotated[list[Scope], typer.Option(help="A scope the token may use (repeat the option).")],
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Days until it expires.")] = None,
) -> None:
    """Issue an API token and print its value, this once (it is never stored)."""
    with opened_hub() as hub:
        tokens = ApiTokens(hub.engine, clock=hub.members.clock)
        expires_at = hub.members.clock() + timedelta(days=expires_days) if expires_days else None
        value = tokens.issue(name, role, scope, created_by=cli_actor().name, expires_at=expires_at)
        _audit(hub, "token_issue", token=name, role=role.value)
    print(value)  # plain stdout, no markup: the value is meant to be piped into a secret store


@tokens_app.command("list")
def list_tokens() -> None:
    """Every API token (never their values)."""
    with opened_hub() as hub:
        tokens = ApiTokens(hub.engine).all()
    table = Table(title=f"{len(tokens)} API token(s)")
    for column in ("token", "role", "scopes", "created by", "expires", "last used", "revoked"):
        table.add_column(column)
    for token in tokens:
        moments = (token.expires_at, token.last_used_at, token.revoked_at)
        shown = [f"{moment:%Y-%m-%d %H:%M}" if moment else "" for moment in moments]
        table.add_row(token.name, token.role, " ".join(token.scopes), token.created_by, *shown)
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Stop a token from working, at once."""
    with opened_hub() as hub:
        ApiTokens(hub.engine, clock=hub.members.clock).revoke(name)
        _audit(hub, "token_revoke", token=name)
    console.print(f"token {name} revoked")


@audit_app.command("export")
def export_audit(
    since: Annotated[str, typer.Option(help="First day (YYYY-MM-DD, Japan time) or an ISO 8601 time.")],
    output_format: Annotated[ExportFormat, typer.Option("--format", help="csv or jsonl.")] = ExportFormat.CSV,
) -> None:
    """Write the audit rows since a day to standard output, oldest first (member ids only, never PII)."""
    with opened_hub() as hub:
        rows = audit_rows_since(hub.engine, parse_since(since))
    sys.stdout.write(audit_csv(rows) if output_format is ExportFormat.CSV else audit_jsonl(rows))


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes sharing the port, each with the hub opened anew.")
    ] = 1,
    trusted_proxies: Annotated[
        str,
        typer.Option(
            help="Addresses or networks (comma-separated) of the proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed; '' for none."
        ),
    ] = TRUSTED_PROXIES,
) -> None:
    """Serve the REST API and the operator console (put a TLS-terminating proxy in front of it)."""
    proxies = trusted_proxy_list(trusted_proxies)
    _configure_server_logging()
    with opened_hub() as hub:  # with workers too: a missing schema or key file fails here, once, clearly
        if workers == 1:
            serve_console(hub, host, port, proxies)
            return
    serve_workers(host, port, workers, proxies)


def trusted_proxy_list(text: str) -> list[str]:
    """The proxies of ``--trusted-proxies``, each checked to be an IP address or network (never ``*``)."""
    proxies = [entry.strip() for entry in text.split(",") if entry.strip()]
    for entry in proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidInputError(f"--trusted-proxies: {entry!r} is not an IP address or network") from None
    return proxies


def server_config(app: FastAPI, host: str, port: int, trusted_proxies: list[str]) -> uvicorn.Config:
    """The uvicorn settings of the console, forwarding headers believed only from ``trusted_proxies``.

    The client address (login throttling counts per client) and the scheme come from ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` only when the connection itself comes from a trusted proxy; anyone else's are ignored.
    """
    import uvicorn  # imported here: every other command starts faster without it

    # access_log off: our middleware logs each request by route template, without query string or client
    return uvicorn.Config(
        app, host=host, port=port, access_log=False, log_config=None, lifespan="off",
        proxy_headers=True, forwarded_allow_ips=trusted_proxies,
    )  # fmt: skip


def serve_console(hub: Hub, host: str, port: int, trusted_proxies: list[str]) -> None:
    """Serve the API and console of an open hub with uvicorn until SIGTERM or Ctrl-C (a clean stop either way)."""
    import uvicorn

    from hub.web import create_app

    config = server_config(create_app(hub), host, port, trusted_proxies)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after its graceful shutdown
        uvicorn.Server(config).run()


def serve_workers(host: str, port: int, workers: int, trusted_proxies: list[str]) -> None:
    """Serve with ``workers`` uvicorn worker processes until SIGTERM or Ctrl-C; each builds ``worker_app``.

    One Python process runs on one core at most (the GIL): more processes use more cores. Each has its own
    connection pool, and its own cache of verified API tokens (see ``core.access.tokens``).
    """
    import uvicorn

    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers, access_log=False,
            log_config=None, lifespan="on", timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            proxy_headers=True, forwarded_allow_ips=trusted_proxies,
        )  # fmt: skip


def worker_app() -> FastAPI:
    """The app of one ``hub serve --workers`` process: the hub the environment names, closed as the worker stops."""
    from hub.web import create_app

    _configure_server_logging()  # a spawned worker starts without the parent's configuration
    hub = open_hub(load_settings())

    @contextlib.asynccontextmanager
    async def closing_hub(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hub.close()

    return create_app(hub, lifespan=closing_hub)


def _configure_server_logging() -> None:
    level = os.environ.get("HUB_LOG_LEVEL", "INFO")  # the request log is written at INFO
    configure_logging(json=os.environ.get("HUB_LOG_FORMAT") == "json", level=level)


def _users(hub: Hub) -> ConsoleUsers:
    return ConsoleUsers(hub.engine, clock=hub.members.clock)


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInputError("no password on standard input")
    return password


def _audit(hub: Hub, action: str, **detail: object) -> None:
    record_member_access(hub.engine, cli_actor(), action, None, detail=detail)
