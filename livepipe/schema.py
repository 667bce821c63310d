"""Config schemas: every component declares its TOML table as a pydantic model.

pydantic gives us typed validation with precise error locations, JSON Schema for the docs and
``livepipe plugins --json``, and ``SecretStr`` values that never print. Unknown keys are errors.

Authors subclass :class:`SourceConfig`, :class:`ProcessorConfig` or :class:`SinkConfig` and add
fields with :func:`field`::

    class Config(ProcessorConfig):
        words: list[str] = field(description="words to look for")
        token: Secret = field(description="API token", secret=True)
        endpoint: Url = field(description="where to send them")   # a password in it is never shown

Secrets are decided by this declaration only (never by guessing from a key's name): a ``Secret``
field (or ``secret=True``) is shown as ``<redacted>`` by ``livepipe config show`` and in errors,
and a ``Url`` field (or ``list[Url]``) has the password of its ``user:password@`` part redacted
wherever it is shown (``config show``, errors, reprs); components log it through :func:`redact_url`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from livepipe.preflight import Problems

__all__ = [
    "REDACTED",
    "ComponentConfig",
    "CredentialConfig",
    "OnError",
    "ProcessorConfig",
    "Secret",
    "SinkConfig",
    "SourceConfig",
    "Url",
    "WhenFull",
    "declared_paths",
    "field",
    "redact_url",
    "redact_urls",
    "secret_fields",
    "url_fields",
]

#: A secret string: redacted in reprs, logs, ``config show``; read it with ``.get_secret_value()``.
Secret = SecretStr



class _UrlMark:
    """Marks a ``str`` field as a URL whose userinfo password is a secret (see :data:`Url`)."""

    def __repr__(self) -> str:
        return "Url"


_URL = _UrlMark()

#: A URL string (``nats://user:pw@host:4222``, ``https://proxy``): its password is redacted wherever shown.
Url = Annotated[str, _URL]

#: What a redacted value (or URL password) is shown as.
REDACTED = "<redacted>"

_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)

#: What a consumer's input buffer does when full: wait, drop the new event, or drop the oldest.
WhenFull = Literal["block", "drop_newest", "drop_oldest"]
#: What a consumer does with an event it failed on: drop it, send it to ``dead_letter``, or stop.
OnError = Literal["drop", "dead_letter", "stop"]
OnPersistentFailure = Literal["stop", "alert"]

_MISSING: Any = ...


def field(default: Any = _MISSING, *, description: str, secret: bool = False, also: tuple[str, ...] = (),
          **kwargs: Any) -> Any:
    """Declare a config key with a description (required for the docs). Omit ``default`` to require it.

    ``secret=True`` marks the value secret (a ``Secret`` type does too); ``also`` lists names people
    mistakenly use for this key, so an unknown key can be answered with "did you mean ...".
    """
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    if secret:
        extra["secret"] = True
    if also:
        extra["also"] = list(also)
    if "default_factory" in kwargs:
        return Field(description=description, json_schema_extra=extra or None, **kwargs)
    return Field(default, description=description, json_schema_extra=extra or None, **kwargs)


class ComponentConfig(BaseModel):
    """Base of every component's config table. Unknown keys are rejected; reprs hide URL passwords."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)

    type: str = field(description="the component type, as listed by `livepipe plugins`")

    def __repr_args__(self) -> Any:
        urls = url_fields(type(self))
        for name, value in super().__repr_args__():
            yield name, (redact_urls(value) if name in urls else value)


class CredentialConfig(BaseModel):
    """Base of the schema of ``[credentials.NAME]`` tables (registered with ``registry.register_credentials``).

    Every key is declared, secret or not; unknown keys are rejected. Keys are matched without regard
    to case (``SESSDATA`` is ``sessdata``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def preflight(self, name: str, config_dir: Path) -> Problems:
        """Problems on this machine that would make this credential unusable (``livepipe validate``)."""
        return iter(())


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


def url_fields(model: type[BaseModel]) -> set[str]:
    """Names of the fields declared :data:`Url` (also ``Url | None``, ``list[Url]``)."""
    return {name for name, info in model.model_fields.items()
            if any(m is _URL for m in info.metadata) or _mentions_url(info.annotation)}


def _mentions_url(annotation: Any) -> bool:
    if typing.get_origin(annotation) is Annotated:
        return any(m is _URL for m in typing.get_args(annotation)[1:])
    return any(_mentions_url(a) for a in typing.get_args(annotation))


def redact_url(url: str) -> str:
    """``url`` with the secret part of its ``user:password@`` replaced by ``<redacted>``.

    ``nats://alice:pw@host:4222`` becomes ``nats://alice:<redacted>@host:4222``; a lone userinfo
    (``nats://TOKEN@host``, a token for NATS) is redacted whole. Errs on the safe side: the last
    ``@`` ends the userinfo, so a password holding ``/``, ``?`` or ``#`` unescaped is hidden too. A
    ``password=`` query parameter (libpq accepts one) is redacted as well.
    """
    url = _QUERY_PASSWORD.sub(lambda m: m.group(1) + REDACTED, url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, tail = rest[:at], rest[at:]
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{REDACTED}" if colon and user and "/" not in user else REDACTED
    return f"{scheme}{sep}{shown}{tail}"


def redact_urls(value: Any) -> Any:
    """:func:`redact_url` applied to a string, or to each string of a list or tuple."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, (list, tuple)):
        return type(value)(redact_urls(v) for v in value)
    return value


def declared_paths(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    """Dotted paths of the secret and of the URL keys of ``model``, nested tables included.

    A key inside a list or a table of tables is written with ``*`` for the index or name
    (``routes.*.token``). Returns ``(secret paths, url paths)``.
    """
    secrets: set[str] = set()
    urls: set[str] = set()

    def walk(m: type[BaseModel], prefix: str, seen: tuple[type[BaseModel], ...]) -> None:
        own_secrets, own_urls = secret_fields(m), url_fields(m)
        for name, info in m.model_fields.items():
            path = f"{prefix}{name}"
            if name in own_secrets:
                secrets.add(path)
            elif name in own_urls:
                urls.add(path)
            else:
                for sub, many in _nested(info.annotation):
                    if sub not in seen:
                        walk(sub, f"{path}.*." if many else f"{path}.", (*seen, sub))

    walk(model, "", (model,))
    return secrets, urls


def _nested(annotation: Any, many: bool = False) -> Iterator[tuple[type[BaseModel], bool]]:
    """Models inside an annotation, and whether they sit in a list or a table of tables."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, many
        return
    origin = typing.get_origin(annotation)
    container = origin in (list, tuple, set, frozenset, dict) or (
        isinstance(origin, type) and issubclass(origin, (typing.Sequence, typing.Mapping)))  # type: ignore[arg-type]
    args = typing.get_args(annotation)
    if origin is dict or (isinstance(origin, type) and issubclass(origin, typing.Mapping)):  # type: ignore[arg-type]
        args = args[1:]  # only the values of a table
    for a in args:
        yield from _nested(a, many or container)
