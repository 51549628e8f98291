"""The web application: REST API under ``/api/v1``, webhook endpoints, health checks and the operator console."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from hub.runtime import Hub
from hub.web.api import admin, analytics, health, members, operations, supervision, webhooks
from hub.web.console import admin_pages, analytics_pages, auth_pages, member_pages, supervisor_pages, sync_pages
from hub.web.errors import install_error_handlers
from hub.web.metrics import router as metrics_router
from hub.web.security import SecurityHeaders
from hub.web.state import WebState

API_ROUTERS = (
    members.router,
    supervision.router,
    operations.router,
    admin.router,
    analytics.router,
    webhooks.router,
    health.router,
    metrics_router,
)
CONSOLE_ROUTERS = (
    auth_pages.router,
    member_pages.router,
    supervisor_pages.router,
    sync_pages.router,
    analytics_pages.router,
    admin_pages.router,
)


def create_app(
    hub: Hub,
    *,
    secure_cookies: bool | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """The ASGI app over an open hub (the caller closes the hub, say in ``lifespan``, when the server stops)."""
    app = FastAPI(
        lifespan=lifespan,
        title="MemberHub API",
        version="1",
        description="Members, timelines, inquiries, loyalty, identity and sync health of a MemberHub.",
        docs_url=None,  # Swagger UI loads scripts from a CDN, which the console's CSP forbids
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    secure = hub.config.console.secure_cookies if secure_cookies is None else secure_cookies
    app.state.web = WebState(hub, secure_cookies=secure)
    install_error_handlers(app)
    for router in (*API_ROUTERS, *CONSOLE_ROUTERS):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_middleware(SecurityHeaders)
    return app
