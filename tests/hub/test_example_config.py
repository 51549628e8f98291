from pathlib import Path

import pytest

from core.errors import ConfigError
from core.identity.policy import IdentityPolicy
from core.plugins.manager import build_plugin_manager
from core.sync.registry import ConnectorRegistry
from hub.config import load_hub_config

EXAMPLE = Path(__file__).parents[2] / "config" / "hub.toml"


def test_the_shipped_example_config_is_valid(monkeypatch):
    config = load_hub_config(EXAMPLE)
    monkeypatch.setenv("TOKYO_SHOP_TOKEN", "t")
    monkeypatch.setenv("TOKYO_SHOP_WEBHOOK_SECRETS", "s")
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(), config.connectors)
    registry.validate_all()
    assert config.source_priority == ("console", "tokyo-shop")
    assert registry.instance("tokyo-shop").schedule == "every 5m"


def test_the_example_identity_table_spells_out_the_defaults():
    assert load_hub_config(EXAMPLE).identity == IdentityPolicy()


def test_a_config_without_an_identity_table_uses_the_default_policy(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[hub]\nsource_priority = ["console"]\n', encoding="utf-8")

    assert load_hub_config(path).identity == IdentityPolicy()


def test_the_identity_table_is_read_into_the_policy(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text(
        "[identity]\n"
        'match_on = ["phone"]\n'
        'trusted_email_sources = ["tokyo-shop"]\n'
        'blocked_emails = ["Guest@Shop.example.jp", "pos-*@shop.example.jp"]\n'
        'blocked_phones = ["０３−１２３４−５６７８"]\n'
        "[identity.max_members_per_identifier]\n"
        "phone = 5\n",
        encoding="utf-8",
    )

    policy = load_hub_config(path).identity

    assert policy.match_on == ("phone",)
    assert policy.trusts_email_from("tokyo-shop")
    assert policy.blocked_emails == ("guest@shop.example.jp", "pos-*@shop.example.jp")
    assert policy.blocked_phones == ("+81312345678",)
    assert (policy.limit("email"), policy.limit("phone")) == (1, 5)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('match_on = ["email", "fax"]', "identity.match_on.1: "),
        (
            'blocked_phones = ["03-1234-5678", "12-34"]',
            "identity.blocked_phones.1: Value error, not a valid phone number",
        ),
        ('blocked_emails = ["kasumi"]', "identity.blocked_emails.0: Value error, not an email address"),
        ("max_members_per_identifier = { phone = 0 }", "identity.max_members_per_identifier.phone: "),
        ('trusted_sources = ["shop"]', "identity.trusted_sources: Extra inputs are not permitted"),
    ],
)
def test_a_bad_identity_setting_is_refused_naming_the_file_and_key(tmp_path, table, message):
    path = tmp_path / "hub.toml"
    path.write_text(f"[identity]\n{table}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as refused:
        load_hub_config(path)

    assert str(refused.value).startswith(f"{path}: {message}")


def test_a_refused_identity_value_is_not_repeated_in_the_message(tmp_path):
    path = tmp_path / "hub.toml"
    path.write_text('[identity]\nblocked_emails = ["kasumi at example"]\n', encoding="utf-8")

    with pytest.raises(ConfigError) as refused:
        load_hub_config(path)

    assert "kasumi" not in str(refused.value)


# Found by fuzzing (fuzz/targets/hub_config.py): UnicodeDecodeError, RecursionError and AttributeError escaped.
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[hub]\nnightly_jobs = '\xff'\n", "not UTF-8 text (byte 22)"),
        (b"a = " + b"[" * 5000, "not valid TOML (arrays or tables nested too deeply)"),
        (b"hub = 1\n", "hub: must be a table"),
        (b"a = " + b"9" * 5000, "not valid TOML (a value Python cannot read, such as a huge integer)"),
    ],
)
def test_a_file_that_is_not_a_hub_toml_is_a_config_error(tmp_path, content, message):
    path = tmp_path / "hub.toml"
    path.write_bytes(content)

    with pytest.raises(ConfigError) as refused:
        load_hub_config(path)

    assert str(refused.value) == f"{path}: {message}"
