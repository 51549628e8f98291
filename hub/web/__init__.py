"""The web application: REST API, webhooks and the server-rendered operator console (FastAPI + Jinja2)."""

from hub.web.app import create_app

__all__ = ["create_app"]
