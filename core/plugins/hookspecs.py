"""Every extension point of MemberHub, in one module: this file is the reference for plugin authors.

Hooks are prefixed ``memberhub_`` and take keyword arguments only. Implement one with::

    from core.plugins import hookimpl

    @hookimpl
    def memberhub_key_provider(settings):
        return MyVaultProvider(settings)

Built-in features are registered through these same hooks (see ``core.plugins.manager``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from core.crypto.key_providers import KeyProvider
    from core.sync.contract import ConnectorType

PROJECT_NAME = "memberhub"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# ── connectors ─────────────────────────────────────────────────────────────────────────────────────


@hookspec
def memberhub_connector_types() -> list[ConnectorType]:
    """Return the connector types this plugin provides (see ``core.sync.contract.ConnectorType``).

    Called once when the plugin manager is built; every plugin's answers are collected. A type name must be
    unique across all plugins: a duplicate is a configuration error naming both plugins.
    """
    return []


@hookspec
def memberhub_domain_event(event: Any) -> None:
    """Observe a domain event after its transaction committed (member merged, rank changed, points changed).

    ``event`` is a frozen dataclass from ``core.events`` with a ``name`` attribute. Called once per event, at
    batch or lifecycle grain, never per record of a sync; exceptions are logged and do not undo the change.
    """


# ── keys ───────────────────────────────────────────────────────────────────────────────────────────


@hookspec(firstresult=True)
def memberhub_key_provider(settings: Any) -> KeyProvider | None:
    """Return the key provider that holds the hub's key ring, or ``None`` to let another plugin answer.

    Called once when the hub opens its store. ``settings`` is the hub's settings object; it has at least
    ``key_file`` (Path) and ``home`` (the data directory, Path). The first non-``None`` answer wins, so a
    KMS- or Vault-backed provider registered by a plugin takes precedence over the built-in key file.
    The provider's ``load()`` returns a ``core.crypto.KeyRing``; ``save()`` persists a rotated ring.
    """
    return None
