"""The component registry filled by the ``livepipe_register_components`` hook."""

from __future__ import annotations

from dataclasses import dataclass

from livepipe.component import Component, Processor, Sink, Source


class RegistryError(Exception):
    """A plugin tried to register a component badly (duplicate name, not a component class)."""


@dataclass(frozen=True)
class Registration:
    """A registered component type and the plugin that provided it."""

    cls: type[Component]
    plugin: str

    @property
    def role(self) -> str:
        """source, processor or sink."""
        return self.cls.role


class ComponentRegistry:
    """Component types by ``type_name``. Plugins call :meth:`register` from their hook."""

    def __init__(self) -> None:
        self._types: dict[str, Registration] = {}
        self._current_plugin = "?"

    def register(self, cls: type[Component]) -> type[Component]:
        """Register a component class (also usable as a decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, (Source, Processor, Sink))):
            raise RegistryError(f"plugin {self._current_plugin!r}: {cls!r} is not a Source, Processor or Sink class")
        if not cls.type_name:
            raise RegistryError(f"plugin {self._current_plugin!r}: {cls.__name__} has no type_name")
        prev = self._types.get(cls.type_name)
        if prev is not None and prev.cls is not cls:
            raise RegistryError(
                f"component type {cls.type_name!r} is registered twice: by plugin {prev.plugin!r} "
                f"and by plugin {self._current_plugin!r}; uninstall one of them"
            )
        self._types[cls.type_name] = Registration(cls, self._current_plugin)
        return cls

    def get(self, type_name: str) -> Registration | None:
        """The registration for ``type_name``, or None."""
        return self._types.get(type_name)

    def names(self, role: str | None = None) -> list[str]:
        """Sorted type names, optionally only of one role."""
        return sorted(n for n, r in self._types.items() if role is None or r.role == role)

    def items(self) -> list[tuple[str, Registration]]:
        """All registrations, sorted by type name."""
        return sorted(self._types.items())
