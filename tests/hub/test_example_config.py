from pathlib import Path

from core.plugins.manager import build_plugin_manager
from core.sync.registry import ConnectorRegistry
from hub.config import load_hub_config


def test_the_shipped_example_config_is_valid(monkeypatch):
    config = load_hub_config(Path(__file__).parents[2] / "config" / "hub.toml")
    monkeypatch.setenv("TOKYO_SHOP_TOKEN", "t")
    monkeypatch.setenv("TOKYO_SHOP_WEBHOOK_SECRETS", "s")
    registry = ConnectorRegistry.from_plugins(build_plugin_manager(), config.connectors)
    registry.validate_all()
    assert config.source_priority == ("console", "tokyo-shop")
    assert registry.instance("tokyo-shop").schedule == "every 5m"
