"""The plugin manager: built-ins and entry-point plugins, loaded once per process.

Built-in components register through the same hook as third parties. Entry points in the
``livepipe`` group are loaded one by one; one that fails to import is reported by name
(:func:`load_errors`) and the others still load. ``LIVEPIPE_LOAD_PLUGINS`` (a comma list of
entry-point names; empty = none) limits which entry points load.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import os
from dataclasses import dataclass

import pluggy

from livepipe import hookspecs
from livepipe.errors import PluginError
from livepipe.registry import ComponentRegistry

log = logging.getLogger("livepipe.plugins")

#: Modules that ship with livepipe and register components like any plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "livepipe.components",
    "livepipe.bilibili.components",
)

ENTRY_POINT_GROUP = "livepipe"


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin."""

    name: str
    version: str | None
    module: str
    builtin: bool
    error: str | None = None


@dataclass
class _State:
    pm: pluggy.PluginManager
    registry: ComponentRegistry
    plugins: list[PluginInfo]


_state: _State | None = None


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("livepipe")
    pm.add_hookspecs(hookspecs)
    return pm


def _selected(names: list[str]) -> set[str] | None:
    raw = os.environ.get("LIVEPIPE_LOAD_PLUGINS")
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def load() -> _State:
    """Load built-ins and entry points (once) and fill the component registry."""
    global _state
    if _state is not None:
        return _state
    pm = _new_manager()
    infos: list[PluginInfo] = []
    # the installed distribution's version (built from livepipe.__version__): the package namespace
    # is a face above this layer, so it is not imported from here
    version = md.version("livepipe")

    for modname in DEFAULT_PLUGINS:
        mod = importlib.import_module(modname)
        pm.register(mod, name=modname)
        infos.append(PluginInfo(modname, version, modname, True))

    eps = list(md.entry_points(group=ENTRY_POINT_GROUP))
    allowed = _selected([ep.name for ep in eps])
    for ep in eps:
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        version = ep.dist.version if ep.dist is not None else None
        try:
            obj = ep.load()
            pm.register(obj, name=ep.name)
            pm.check_pending()
        except Exception as e:  # one broken plugin must not take the others down
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            msg = f"{type(e).__name__}: {e}"
            log.error("plugin %r (%s) failed to load and is skipped: %s", ep.name, ep.value, msg)
            infos.append(PluginInfo(ep.name, version, ep.value, False, error=msg))
            continue
        infos.append(PluginInfo(ep.name, version, ep.value, False))

    registry = ComponentRegistry()
    by_name = {info.name: info for info in infos}
    for impl in _registration_impls(pm):
        info = by_name.get(impl.plugin_name)
        if info is None or info.error:
            continue
        _register_from(impl, registry, info)
    _state = _State(pm, registry, infos)
    return _state


def reset() -> None:
    """Forget loaded plugins (tests use this after changing the environment)."""
    global _state
    _state = None


def manager() -> pluggy.PluginManager:
    """The loaded plugin manager."""
    return load().pm


def registry() -> ComponentRegistry:
    """The loaded component registry."""
    return load().registry


def plugin_infos() -> list[PluginInfo]:
    """Every plugin considered, failed ones included (with ``error`` set)."""
    return load().plugins


def register_plugin(obj: object, name: str) -> None:
    """Register an extra plugin object in-process (tests, embedding) and its components."""
    st = load()
    st.pm.register(obj, name=name)
    info = PluginInfo(name, None, getattr(obj, "__name__", repr(obj)), False)
    st.plugins.append(info)
    for impl in _registration_impls(st.pm):
        if impl.plugin_name == name:
            _register_from(impl, st.registry, info)
    if info.error:
        raise PluginError(f"plugin {name!r} failed to register its components: {info.error}")


def _registration_impls(pm: pluggy.PluginManager) -> list[pluggy.HookImpl]:
    """The ``livepipe_register_components`` implementations, in pluggy's call order.

    Taken from pluggy rather than looked up by attribute name, so that ``specname=``,
    ``tryfirst``/``trylast`` and the plugin each one belongs to are honoured.
    """
    return list(reversed(pm.hook.livepipe_register_components.get_hookimpls()))


def _register_from(impl: pluggy.HookImpl, registry: ComponentRegistry, info: PluginInfo) -> None:
    """Call one plugin's registration hook, attributing what it registers to that plugin.

    A failure marks the plugin as failed (``info.error``) and leaves the other plugins alone.
    """
    if impl.hookwrapper or impl.wrapper:
        info.error = "livepipe_register_components cannot be a hook wrapper; remove wrapper=/hookwrapper="
        log.error("plugin %r: %s", info.name, info.error)
        return
    kwargs = {"registry": registry}
    registry._current_plugin = info.name
    try:
        impl.function(*(kwargs[arg] for arg in impl.argnames))
    except Exception as e:  # one plugin's error must not stop the others registering
        info.error = f"{type(e).__name__}: {e}"
        log.error("plugin %r failed to register its components: %s", info.name, info.error)
    finally:
        registry._current_plugin = "?"
