"""A real hub (SQLite file, key file, hub.toml) behind the real web app, with one user per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.access import Role
from core.members.profile import MemberProfile
from hub.runtime import Hub, init_hub
from hub.settings import HubSettings
from hub.web import create_app

PASSWORD = "correct horse battery staple"
HUB_TOML = """
[hub]
source_priority = ["console", "shop"]

[console]
openings_per_hour = 50
inquiry_destinations = ["helpdesk"]
"""


@dataclass
class WebHub:
    """The hub, its app, and the members it was seeded with."""

    hub: Hub
    app: FastAPI
    members: dict[str, str]  # label → member id

    def client(self) -> TestClient:
        """A browser-like client over HTTPS (so Secure cookies travel)."""
        return TestClient(self.app, base_url="https://testserver", follow_redirects=False)

    def signed_in(self, username: str) -> TestClient:
        """A client signed in to the console as ``username``."""
        client = self.client()
        sign_in(client, username, PASSWORD)
        return client

    def token(self, role: Role, scopes: list[str], name: str = "integration") -> str:
        """A fresh API token."""
        return self.app.state.web.tokens.issue(name, role, scopes, created_by="test")


def sign_in(client: TestClient, username: str, password: str) -> object:
    """Fill in and send the sign-in form; returns the response."""
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text
    return client.post("/login", data={"username": username, "password": password, "login_token": token.group(1)})


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The CSRF token the console put into a page's forms."""
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebHub]:
    home = tmp_path / "data"
    home.mkdir()
    (home / "hub.toml").write_text(HUB_TOML, encoding="utf-8")
    settings = HubSettings(
        home=home,
        key_file=tmp_path / "keys" / "keyring.json",
        database_url=f"sqlite:///{home / 'hub.sqlite3'}",
        config_file=home / "hub.toml",
    )
    hub, _ = init_hub(settings)
    app = create_app(hub)
    users = app.state.web.users
    for role in Role:
        users.add(role.value, PASSWORD, role, locale="en" if role is Role.ADMIN else "ja")
    members = {
        "hanako": hub.members.add(
            MemberProfile(name="山田 花子", kana="ヤマダ ハナコ", email="hanako@example.jp", phone="090-1234-5678")
        ).id,
        "taro": hub.members.add(MemberProfile(name="佐藤 太郎", kana="サトウ タロウ", phone="03-1234-5678")).id,
    }
    try:
        yield WebHub(hub, app, {label: str(member_id) for label, member_id in members.items()})
    finally:
        hub.close()
