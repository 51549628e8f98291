"""Sign-in resists guessing: throttled after repeated failures, silent about which user names exist."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from sqlalchemy import text

from core.access import Role, passwords
from core.errors import InvalidInputError
from tests.hub.web.conftest import PASSWORD, WebHub

LOGIN_TOKEN = re.compile(r'name="login_token" value="[^"]+"')


class SignInForm:
    """The sign-in form in a browser: each answer renders the form anew, with a new token."""

    def __init__(self, web: WebHub) -> None:
        self.client = web.client()
        self.token = self._token_of(self.client.get("/login").text)

    def submit(self, username: str, password: str):
        data = {"username": username, "password": password, "login_token": self.token}
        response = self.client.post("/login", data=data)
        if response.status_code != 303:
            self.token = self._token_of(response.text)
        return response

    @staticmethod
    def _token_of(html: str) -> str:
        found = re.search(r'name="login_token" value="([^"]+)"', html)
        assert found, html
        return found.group(1)


def without_login_token(html: str) -> str:
    return LOGIN_TOKEN.sub('name="login_token" value=""', html)


def test_twenty_bad_sign_ins_are_throttled_with_retry_after(web: WebHub):
    form = SignInForm(web)
    responses = [form.submit("operator", f"guess number {n:02}") for n in range(20)]
    statuses = [r.status_code for r in responses]
    assert statuses == [401] * 10 + [429] * 10
    for throttled in responses[10:]:
        assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60 + 1
    right = form.submit("operator", PASSWORD)
    assert right.status_code == 429  # the right password does not get through either, nor tells it was right
    assert "__Host-memberhub" not in form.client.cookies
    assert without_login_token(right.text) == without_login_token(responses[-1].text)


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(web: WebHub):
    web.app.state.web.users.add("disabled", PASSWORD, Role.OPERATOR)
    web.app.state.web.users.disable("disabled")
    form = SignInForm(web)
    answers = [
        form.submit("nobody-by-that-name", "some password guess"),
        form.submit("operator", "some password guess"),
        form.submit("disabled", PASSWORD),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({without_login_token(r.text) for r in answers}) == 1
    assert len({tuple(sorted(r.headers.keys())) for r in answers}) == 1
    assert "nobody-by-that-name" not in answers[0].text


def test_an_unknown_user_costs_the_same_argon2_work_as_a_wrong_password(web: WebHub):
    form = SignInForm(web)
    form.submit("warm-up", "some password guess")  # first-request costs out of the measurement
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    with mock.patch.object(passwords, "HASHER", mock.Mock(wraps=passwords.HASHER)) as hasher:
        for _ in range(4):  # the fastest of four: a busy machine stretches single attempts unevenly
            for kind, name in (("unknown", "nobody-by-that-name"), ("wrong", "operator")):
                started = time.perf_counter()
                assert form.submit(name, "some password guess").status_code == 401
                timings[kind].append(time.perf_counter() - started)
    assert hasher.verify.call_count == 8  # one argon2 verification per attempt, whether the user exists or not
    ratio = min(timings["unknown"]) / min(timings["wrong"])
    assert 1 / 3 < ratio < 3, timings  # tolerant: the point is the same order of magnitude, not a benchmark


def test_passwords_are_hashed_with_argon2id_and_at_least_46_mib(web: WebHub):
    with web.hub.engine.connect() as conn:
        hashes = list(conn.execute(text("SELECT password_hash FROM console_users")).scalars())
    assert len(hashes) == 3
    for stored in hashes:
        variant, version, parameters, *_ = stored.split("$")[1:]
        settings = dict(item.split("=") for item in parameters.split(","))
        assert (variant, version) == ("argon2id", "v=19")
        assert int(settings["m"]) >= 46 * 1024, stored  # KiB
        assert PASSWORD not in stored


def test_passwords_shorter_than_twelve_characters_are_refused(web: WebHub):
    users = web.app.state.web.users
    for password in ("elevenchars", "１２３４５６７８９０１", ""):
        with pytest.raises(InvalidInputError, match="12 to 128"):
            users.add("newcomer", password, Role.OPERATOR)
        with pytest.raises(InvalidInputError, match="12 to 128"):
            users.set_password("operator", password)


def _sign_in_from(client, forwarded_for: str, username: str, *, tls_proxy: bool = True):
    """One failed sign-in carrying ``X-Forwarded-For: forwarded_for`` (as from a TLS proxy, or plain)."""
    headers = {"x-forwarded-for": forwarded_for}
    if tls_proxy:
        headers |= {"x-forwarded-proto": "https", "host": "console.example", "origin": "https://console.example"}
    page = client.get("/login", headers=headers)
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    cookie = page.headers["set-cookie"].split(";", 1)[0]  # a Secure cookie: the browser sends it over https
    form = {"username": username, "password": "a wrong guess", "login_token": token}
    return client.post("/login", data=form, headers=headers | {"cookie": cookie})


def test_behind_a_trusted_proxy_each_browser_is_throttled_on_its_own(web: WebHub):
    import httpx

    from tests.hub.web.served import served

    with served(web.app, trusted_proxies="127.0.0.1, ::1") as base_url, httpx.Client(base_url=base_url) as client:
        guesses = [_sign_in_from(client, "198.51.100.7", f"user{n:02}").status_code for n in range(21)]
        colleague = _sign_in_from(client, "203.0.113.20", "someone").status_code
    assert guesses[:20] == [401] * 20 and guesses[20] == 429 and colleague == 401


def test_forwarding_headers_of_an_untrusted_peer_do_not_dodge_the_throttle(web: WebHub):
    import httpx

    from tests.hub.web.served import served

    with served(web.app, trusted_proxies="") as base_url, httpx.Client(base_url=base_url) as client:
        guesses = [
            _sign_in_from(client, f"198.51.100.{n}", f"user{n:02}", tls_proxy=False).status_code for n in range(21)
        ]
    assert guesses[:20] == [401] * 20 and guesses[20] == 429, "a new X-Forwarded-For each time changed nothing"


def test_trusted_proxies_must_be_addresses_or_networks():
    from hub.cli.web import trusted_proxy_list

    assert trusted_proxy_list(" 10.0.0.0/8, ::1 ,") == ["10.0.0.0/8", "::1"]
    for wrong in ("*", "proxy.internal", "10.0.0.0/40"):
        with pytest.raises(InvalidInputError, match="--trusted-proxies"):
            trusted_proxy_list(wrong)
