"""Connector types from the plugins and configured instances from ``hub.toml``, validated together."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import ValidationError

from core.errors import ConfigError
from core.sync.contract import Connector, ConnectorType


@dataclass(frozen=True)
class InstanceConfig:
    """One ``[connectors.<name>]`` table: the connector type, engine settings and the type's own settings."""

    name: str
    type: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    deadline_s: float = 900.0
    lookback_s: float = 300.0
    breaker_fail_max: int = 5
    breaker_reset_s: float = 60.0
    schedule: str | None = None
    origin: str = "hub.toml"


class ConnectorRegistry:
    """Builds connector instances; every configuration error names the file, the key and what is wrong."""

    def __init__(self, types: Mapping[str, ConnectorType], instances: Mapping[str, InstanceConfig]) -> None:
        self.types = dict(types)
        self.instances = dict(instances)
        for instance in self.instances.values():
            self._type_of(instance)

    @classmethod
    def from_plugins(cls, manager: pluggy.PluginManager, instances: Mapping[str, InstanceConfig]) -> ConnectorRegistry:
        """Collect the connector types every plugin registers; a name registered twice is an error."""
        types: dict[str, ConnectorType] = {}
        for answer in manager.hook.memberhub_connector_types():
            for connector_type in answer:
                if connector_type.name in types:
                    raise ConfigError(f"connector type {connector_type.name!r} is registered by two plugins")
                types[connector_type.name] = connector_type
        return cls(types, instances)

    def instance(self, name: str) -> InstanceConfig:
        """The configuration of one instance."""
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances)) or "none"
            raise ConfigError(f"no connector instance named {name!r} (configured: {known})") from None

    def stream_names(self, name: str) -> list[str]:
        """The streams the instance's connector type declares, in its order."""
        return [spec.name for spec in self._type_of(self.instance(name)).streams]

    def build(self, name: str) -> Connector:
        """A ready connector for an instance: settings validated, secrets read from their variables."""
        instance = self.instance(name)
        config, secrets = self._resolved(instance)
        return self._type_of(instance).factory(instance.name, config, secrets)

    def validate_all(self) -> None:
        """Validate every enabled instance's settings and secrets now, so a broken file fails at start-up."""
        for instance in self.instances.values():
            if instance.enabled:
                self._resolved(instance)

    def _resolved(self, instance: InstanceConfig) -> tuple[Any, dict[str, str]]:
        config = self.validated_settings(instance)
        keys = self._type_of(instance).secrets
        return config, {key: _secret(instance, key, getattr(config, key)) for key in keys}

    def validated_settings(self, instance: InstanceConfig) -> Any:
        """The instance's settings parsed by its type's config model."""
        model = self._type_of(instance).config_model
        try:
            return model.model_validate(dict(instance.settings))
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ConfigError(
                f"{instance.origin}: connectors.{instance.name}.{key}: {first['msg']}"
                + (f" ({error.error_count() - 1} more)" if error.error_count() > 1 else "")
            ) from None

    def _type_of(self, instance: InstanceConfig) -> ConnectorType:
        try:
            return self.types[instance.type]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none installed"
            raise ConfigError(
                f"{instance.origin}: connectors.{instance.name}.type: unknown connector type "
                f"{instance.type!r} (available: {known})"
            ) from None


def _secret(instance: InstanceConfig, key: str, variable: str | None) -> str:
    if not variable:
        raise ConfigError(f"{instance.origin}: connectors.{instance.name}.{key}: name the environment variable")
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"{instance.origin}: connectors.{instance.name}.{key}: environment variable {variable} is not set"
        )
    return value
