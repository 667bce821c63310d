"""The component registry filled by the ``livepipe_register_components`` hook."""

from __future__ import annotations

from dataclasses import dataclass

from livepipe.component import Component, Processor, Sink, Source
from livepipe.errors import PluginError
from livepipe.schema import CredentialConfig

__all__ = [
    "ComponentRegistry",
    "Registration",
    "RegistryError",
]


class RegistryError(PluginError):
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
    """Component types by role and ``type_name``. Plugins call :meth:`register` from their hook.

    A name is unique within a role: a source and a sink may share one (``nats`` is both).
    """

    def __init__(self) -> None:
        self._types: dict[tuple[str, str], Registration] = {}
        self._current_plugin = "?"
        self._credentials: tuple[type[CredentialConfig], str] | None = None

    def register(self, cls: type[Component]) -> type[Component]:
        """Register a component class (also usable as a decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, (Source, Processor, Sink))):
            raise RegistryError(f"plugin {self._current_plugin!r}: {cls!r} is not a Source, Processor or Sink class")
        if not cls.type_name:
            raise RegistryError(f"plugin {self._current_plugin!r}: {cls.__name__} has no type_name")
        if issubclass(cls, Sink) and cls.action and "dry_run" not in cls.Config.model_fields:
            raise RegistryError(f"plugin {self._current_plugin!r}: {cls.__name__} declares action = True but its "
                                "Config has no dry_run key; add `dry_run: bool = field(False, ...)` and honour it")
        key = (cls.role, cls.type_name)
        prev = self._types.get(key)
        if prev is not None and prev.cls is not cls:
            raise RegistryError(
                f"{cls.role} type {cls.type_name!r} is registered twice: by plugin {prev.plugin!r} "
                f"and by plugin {self._current_plugin!r}; uninstall one of them"
            )
        self._types[key] = Registration(cls, self._current_plugin)
        return cls

    def register_credentials(self, model: type[CredentialConfig]) -> type[CredentialConfig]:
        """Declare the schema of ``[credentials.NAME]`` tables: every key, and which ones are secret.

        One schema per process (the Bilibili plugin registers its own); a second one is an error.
        """
        if not (isinstance(model, type) and issubclass(model, CredentialConfig)):
            raise RegistryError(f"plugin {self._current_plugin!r}: {model!r} is not a CredentialConfig subclass")
        if self._credentials is not None and self._credentials[0] is not model:
            raise RegistryError(f"the credential schema is registered twice: by plugin {self._credentials[1]!r} and "
                                f"by plugin {self._current_plugin!r}; uninstall one of them")
        self._credentials = (model, self._current_plugin)
        return model

    @property
    def credential_schema(self) -> type[CredentialConfig] | None:
        """The registered ``[credentials.NAME]`` schema, or None (then every credential value is secret)."""
        return self._credentials[0] if self._credentials else None

    def with_types(self, *classes: type[Component], plugin: str = "__main__") -> ComponentRegistry:
        """A copy of this registry with ``classes`` added, for types a program defines for itself only
        (the embedding API's handlers); this registry is unchanged."""
        copy = ComponentRegistry()
        copy._types = dict(self._types)
        copy._credentials = self._credentials
        copy._current_plugin = plugin
        for cls in classes:
            copy.register(cls)
        copy._current_plugin = "?"
        return copy

    def get(self, type_name: str, role: str | None = None) -> Registration | None:
        """The registration of ``type_name`` in ``role`` (without a role: the first role that has it)."""
        if role is not None:
            return self._types.get((role, type_name))
        for r in ("source", "processor", "sink"):
            reg = self._types.get((r, type_name))
            if reg is not None:
                return reg
        return None

    def roles_of(self, type_name: str) -> list[str]:
        """The roles in which ``type_name`` is registered."""
        return [r for r in ("source", "processor", "sink") if (r, type_name) in self._types]

    def names(self, role: str | None = None) -> list[str]:
        """Sorted type names, optionally only of one role."""
        return sorted({n for (r, n) in self._types if role is None or r == role})

    def items(self) -> list[tuple[str, Registration]]:
        """All registrations as (type name, registration), sorted by name then role."""
        return [(n, reg) for (r, n), reg in sorted(self._types.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
