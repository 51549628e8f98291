"""``hub demo`` end to end: emulators, a full sync, loyalty, then a served console with the synced data.

The real command in a subprocess (as ``make demo`` runs it), driven over loopback HTTP like a browser would, then
stopped with Ctrl-C; a second run reuses the data.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from http.cookies import SimpleCookie

import httpx

from hub.demo import demo_profiles

MEMBERS = 40


class ConsoleBrowser:
    """Just enough of a browser: keeps cookies itself (httpx keeps ``Secure`` ones for HTTPS only)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Origin": self.base_url}
        response = self.client.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def sign_in(self, username: str, password: str) -> None:
        token = re.search(r'name="login_token" value="([^"]+)"', self.request("GET", "/login").text)
        assert token
        answer = self.request("POST", "/login", data={"username": username, "password": password,
                                                       "login_token": token.group(1)})  # fmt: skip
        assert answer.status_code == 303, answer.text

    def csrf(self, path: str) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.request("GET", path).text)
        assert found
        return found.group(1)


def _start_demo(hub_cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli.app", "demo", "--members", str(MEMBERS), *args],
        env=hub_cli.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _read_until_served(process: subprocess.Popen[str], timeout_s: float = 240) -> str:
    assert process.stdout is not None
    deadline, output = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(output)
    process.kill()
    raise AssertionError("the demo never served the console:\n" + "".join(output))


def _wait_until_answering(base_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def test_the_demo_serves_the_console_with_synced_data_and_stops_on_ctrl_c(hub_cli):
    process = _start_demo(hub_cli, "--port", "0")
    try:
        output = _read_until_served(process)
        url = re.search(r"console: (http://127\.0\.0\.1:\d+)/", output)
        operator = re.search(r"sign in as demo-operator with password (\S+)", output)
        supervisor = re.search(r"sign in as demo-supervisor with password (\S+)", output)
        assert url and operator and supervisor, output
        for instance in ("demo-store", "demo-online", "demo-tills", "demo-callcenter", "demo-mail"):
            assert instance in output, output
        assert "failed" not in output and "outbox delivered: demo-callcenter" in output

        _wait_until_answering(url.group(1))
        browser = ConsoleBrowser(url.group(1))
        browser.sign_in("demo-operator", operator.group(1))
        seeded = demo_profiles(MEMBERS)[0]
        found = browser.request("POST", "/search", data={"query": seeded.phone, "csrf_token": browser.csrf("/")})
        assert found.status_code == 200 and seeded.name in found.text

        health = ConsoleBrowser(url.group(1))
        health.sign_in("demo-supervisor", supervisor.group(1))
        page = health.request("GET", "/sync").text
        assert "demo-store" in page and "demo-online" in page
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "demo stopped" in rest and "Traceback" not in rest

    again = subprocess.run(
        [sys.executable, "-m", "hub.cli.app", "demo", "--members", str(MEMBERS), "--no-serve"],
        env=hub_cli.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(re.findall(seeded.name.split()[0], hub_cli("members", "search", seeded.phone).stdout)) == 1
