from __future__ import annotations

import re

import pytest

from connectors.example.sandbox import SandboxServer

pytestmark = pytest.mark.slow


def _write_config(hub_cli, text: str) -> None:
    hub_cli.home.mkdir(parents=True, exist_ok=True)
    (hub_cli.home / "hub.toml").write_text(text, encoding="utf-8")


def _configure_tokyo(hub_cli, sandbox, *, before: str = "", settings: str = "") -> None:
    """``hub.toml`` with one example instance, ``tokyo``, reading ``sandbox``; ``before`` goes above its table."""
    hub_cli.env |= {"SHOP_TOKEN": sandbox.token, "SHOP_HOOKS": "s3cret"}
    instance = (
        f'[connectors.tokyo]\ntype = "example"\nbase_url = "{sandbox.url}"\ntoken_env = "SHOP_TOKEN"\n'
        f'webhook_secret_env = "SHOP_HOOKS"\n{settings}'
    )
    _write_config(hub_cli, f"{before}\n{instance}")


def test_sync_from_hub_toml_then_runs_and_connectors_list(hub_cli):
    hub_cli("init")
    with SandboxServer(customers=12, orders=20) as sandbox:
        _configure_tokyo(
            hub_cli,
            sandbox,
            before='[hub]\nsource_priority = ["console", "tokyo"]\n',
            settings='schedule = "every 5m"\n',
        )
        listed = hub_cli("connectors", "list").stdout
        assert "tokyo" in listed and "customers, orders" in listed and "every 5m" in listed
        assert "yes" in hub_cli("connectors", "check").stdout
        summary = hub_cli("sync").stdout
    assert "succeeded" in summary and "20" in summary and "12" in summary
    runs = hub_cli("runs").stdout
    assert runs.count("succeeded") == 2


def test_a_full_refresh_in_slices_from_the_cli(hub_cli):
    hub_cli("init")
    with SandboxServer(customers=30, orders=90) as sandbox:
        _configure_tokyo(hub_cli, sandbox, settings="page_size = 10\n")
        refused = hub_cli("sync", "--slices", "3", ok=False)
        summary = hub_cli("sync", "tokyo", "--stream", "orders", "--full-refresh", "--slices", "3").stdout
    assert refused.returncode == 2 and "use it with --full-refresh" in refused.stderr
    lanes = re.findall(r"slice \d", summary)
    assert sorted(lanes) == ["slice 1", "slice 2", "slice 3"] and summary.count("succeeded") == 3


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[connectors.a]\ntype = "nosuch"\n', "connectors.a.type: unknown connector type 'nosuch'"),
        (
            '[connectors.a]\ntype = "example"\nbase_url = "http://127.0.0.1:9"\ntoken_env = "MISSING_VAR_X"\n'
            'webhook_secret_env = "MISSING_VAR_Y"\n',
            "environment variable MISSING_VAR_X is not set",
        ),
        ('[connectors.a]\ntype = "example"\ndeadline_s = "soon"\n', "connectors.a.deadline_s"),
        ('[connectors.a]\ntype = "example"\nbase_url = 42\ntoken_env = "X"\n', "connectors.a.base_url"),
        ("[connectors.a\n", "not valid TOML"),
        ('[consent]\ndestinations = ["nope"]\n', "consent.destinations: no [connectors.nope] table"),
    ],
)
def test_a_broken_hub_toml_gives_one_clear_line(hub_cli, toml, message):
    hub_cli("init")
    _write_config(hub_cli, toml)
    result = hub_cli("connectors", "check", ok=False)
    assert result.returncode == 2
    assert message in result.stderr and "hub.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dead_letters_can_be_listed_inspected_and_replayed_from_the_cli(hub_cli):
    hub_cli("init")
    with SandboxServer(customers=5, orders=12) as sandbox:
        sandbox.state.serve_garbage(1, path="/v1/orders")
        _configure_tokyo(hub_cli, sandbox)
        hub_cli("sync", "tokyo", "--stream", "orders")
        listed = hub_cli("deadletters", "list").stdout
        dead_id = re.search(r"│\s*(\d+)\s*│\s*tokyo", listed).group(1)
        assert "MappingError" in listed
        shown = hub_cli("deadletters", "show", dead_id).stdout
        assert '"raw"' in shown
        replayed = hub_cli("deadletters", "replay", dead_id, ok=False)
        assert replayed.returncode == 1 and "still refused" in replayed.stdout
    assert "destination" in hub_cli("outbox", "status").stdout


def test_a_key_file_inside_a_git_checkout_is_refused(hub_cli, tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".git").mkdir(parents=True)
    hub_cli.env["HUB_KEY_FILE"] = str(checkout / "config" / "keyring.json")
    result = hub_cli("init", ok=False)
    assert result.returncode == 2 and "inside the source checkout" in result.stderr
