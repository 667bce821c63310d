"""Config schemas: every component declares its TOML table as a pydantic model.

pydantic gives us typed validation with precise error locations, JSON Schema for the docs and
``livepipe plugins --json``, and ``SecretStr`` values that never print. Unknown keys are errors.

Authors subclass :class:`SourceConfig`, :class:`ProcessorConfig` or :class:`SinkConfig` and add
fields with :func:`field`::

    class Config(ProcessorConfig):
        words: list[str] = field(description="words to look for")
        token: Secret = field(description="API token", secret=True)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ComponentConfig",
    "OnError",
    "ProcessorConfig",
    "Secret",
    "SinkConfig",
    "SourceConfig",
    "WhenFull",
    "field",
    "secret_fields",
]

#: A secret string: redacted in reprs, logs, ``config show``; read it with ``.get_secret_value()``.
Secret = SecretStr

#: What a consumer's input buffer does when full: wait, drop the new event, or drop the oldest.
WhenFull = Literal["block", "drop_newest", "drop_oldest"]
#: What a consumer does with an event it failed on: drop it, send it to ``dead_letter``, or stop.
OnError = Literal["drop", "dead_letter", "stop"]
OnPersistentFailure = Literal["stop", "alert"]

_MISSING: Any = ...


def field(default: Any = _MISSING, *, description: str, secret: bool = False, **kwargs: Any) -> Any:
    """Declare a config key with a description (required for the docs). Omit ``default`` to require it."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    if secret:
        extra["secret"] = True
    if "default_factory" in kwargs:
        return Field(description=description, json_schema_extra=extra or None, **kwargs)
    return Field(default, description=description, json_schema_extra=extra or None, **kwargs)


class ComponentConfig(BaseModel):
    """Base of every component's config table. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)

    type: str = field(description="the component type, as listed by `livepipe plugins`")


class SourceConfig(ComponentConfig):
    """Base config of a source."""


class _ConsumerConfig(ComponentConfig):
    inputs: list[str] = field(
        description='upstream outputs to read: component names, `name.output`, or wildcards such as `"automod.*"`'
    )
    buffer: int = field(100, description="events this component's input buffer holds", ge=1, le=10_000_000)
    when_full: WhenFull = field(
        "block",
        description="what to do when the input buffer is full: `block` (hold the producer back), "
        "`drop_newest` (discard the incoming event), `drop_oldest` (discard the oldest buffered event)",
    )
    on_error: OnError = field(
        "drop",
        description="when handling one event raises: `drop` it (counted), send it with the error to the "
        "`dead_letter` output (`<name>.dead_letter`), or `stop` the pipeline",
    )


class ProcessorConfig(_ConsumerConfig):
    """Base config of a processor."""


class SinkConfig(_ConsumerConfig):
    """Base config of a sink."""

    fail_after: float | None = field(
        None,
        description="seconds of total failure (every write failing or losing its event, or one write stuck) "
        "after which `on_persistent_failure` applies; unset or 0 = never",
        ge=0,
    )
    on_persistent_failure: OnPersistentFailure = field(
        "stop",
        description="after `fail_after` seconds of total failure: `stop` the pipeline (`livepipe run` exits 1), "
        "or keep going and emit an `alert` event on the `alerts` output (`<name>.alerts`), and another once "
        "the sink recovers",
    )


def secret_fields(model: type[BaseModel]) -> set[str]:
    """Names of the fields declared secret (by ``secret=True`` or by their ``Secret`` type)."""
    out = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("secret") or _mentions_secret(info.annotation):
            out.add(name)
    return out


def _mentions_secret(annotation: Any) -> bool:
    """True for ``Secret``, ``Secret | None``, ``list[Secret]`` and the like."""
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(a) for a in getattr(annotation, "__args__", ()) or ())
