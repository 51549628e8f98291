"""The plugin manager: built-in plugins first, then third-party ones from the entry-point group."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from functools import cache

import pluggy

from core.events import DomainEvent
from core.logs import get_logger
from core.plugins import hookspecs

ENTRY_POINT_GROUP = "memberhub.connectors"
_log = get_logger(__name__)

# Our own features, registered through the same hooks a third party uses.
DEFAULT_PLUGINS: tuple[str, ...] = ("core.plugins.builtin_keys",)


def _allowed(name: str) -> bool:
    """``MEMBERHUB_PLUGINS`` (comma-separated module or distribution names) limits which plugins load."""
    allow = os.environ.get("MEMBERHUB_PLUGINS")
    return allow is None or name in {item.strip() for item in allow.split(",")}


def build_plugin_manager(*, load_entry_points: bool = True, extra_plugins: Sequence[str] = ()) -> pluggy.PluginManager:
    """A new plugin manager with the hook specs, the built-in plugins, entry points and ``extra_plugins``.

    ``extra_plugins`` are module names registered like built-ins (tests and embedding applications use it).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for module_name in (*DEFAULT_PLUGINS, *extra_plugins):
        manager.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for name, plugin in list(manager.list_name_plugin()):
            if name not in DEFAULT_PLUGINS and name not in extra_plugins and not _allowed(name):
                manager.unregister(plugin)
    manager.check_pending()
    if os.environ.get("MEMBERHUB_TRACE_HOOKS"):
        manager.trace.root.setwriter(print)
        manager.enable_tracing()
    return manager


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    return build_plugin_manager()


def publish_events(manager: pluggy.PluginManager, events: Iterable[DomainEvent]) -> None:
    """Tell every ``memberhub_domain_event`` observer about events whose transaction has committed.

    Each observer is called on its own: one that raises is logged and the others still hear the event,
    as the hook's contract promises (the change itself is already committed and stays).
    """
    observers = manager.hook.memberhub_domain_event.get_hookimpls()
    for event in events:
        for observer in observers:
            try:
                observer.function(event=event)
            except Exception as error:  # an observer's bug must not turn a committed change into an error
                _log.warning(
                    "domain_event_observer_failed",
                    plugin=observer.plugin_name,
                    domain_event=event.name,
                    error_class=type(error).__name__,
                )
