"""Plugin hook specifications and the plugin manager (pluggy)."""

import pluggy

from core.plugins.hookspecs import PROJECT_NAME

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["hookimpl"]
