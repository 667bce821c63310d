"""Config tables: one per built-in component (grouped by role), the credential keys, the built-in replay
formats and the globals.
"""

from __future__ import annotations

import importlib
import json
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from livepipe.component import Component
from livepipe.docgen.common import (
    _BANNER,
    _ROLE_BASE,
    ROLES,
    _cell,
    _code,
    _first_paragraph,
    rst_to_markdown,
)
from livepipe.plugins import DEFAULT_PLUGINS
from livepipe.registry import ComponentRegistry, Registration
from livepipe.schema import secret_fields, url_fields


@dataclass(frozen=True)
class FieldDoc:
    """One documented config key."""

    key: str
    type: str
    default: str
    required: bool
    secret: bool
    description: str


def type_text(annotation: Any) -> str:
    """A readable type for the docs: ``"block" | "drop_newest"``, ``list[str]``, ``int | None``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "none"
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is typing.Annotated:
        return type_text(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_text(a) for a in args)}]" if args else name
    if annotation is Any:
        return "any"
    if isinstance(annotation, type):
        if annotation.__name__ == "SecretStr":
            return "secret string"
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _constraints(info: FieldInfo) -> str:
    out = []
    for m in info.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "min length")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{sym} {v}")
    return ", ".join(out)


def default_text(value: Any) -> str:
    """A default value written the way TOML would (``"text"``, ``true``, ``[]``); unset is ``(unset)``."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return "(table)"
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def field_docs(model: type[BaseModel], *, skip: Iterable[str] = ()) -> list[FieldDoc]:
    """Documented keys of a config model, in declaration order (``skip`` leaves some out)."""
    secrets = secret_fields(model)
    urls = url_fields(model)
    skip = set(skip)
    out = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        key = info.alias or name
        required = info.is_required()
        default = "" if required else default_text(info.get_default(call_default_factory=True))
        t = type_text(info.annotation)
        if name in urls:  # a Url: its password is redacted wherever it is shown
            t = t.replace("str", "url")
        c = _constraints(info)
        out.append(FieldDoc(key, f"{t} ({c})" if c else t, default, required, name in secrets, info.description or ""))
    return out


def render_table(rows: list[FieldDoc]) -> str:
    """A Markdown table of config keys."""
    lines = ["| Key | Type | Default | Required | Secret | Description |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| `{r.key}` | {_cell(_code(r.type))} | {_cell(_code(r.default))} | {'yes' if r.required else ''} "
            f"| {'yes' if r.secret else ''} | {_cell(r.description)} |"
        )
    return "\n".join(lines)


def nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Models used inside ``model``'s fields (for example ``Condition`` in ``where``), depth first, once each."""
    seen: list[type[BaseModel]] = []

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for info in annotation.model_fields.values():
                    walk(info.annotation)
            return
        for a in typing.get_args(annotation):
            walk(a)

    for info in model.model_fields.values():
        walk(info.annotation)
    return seen


def _common_keys(model: type[BaseModel], role: str) -> set[str]:
    """Keys ``model`` inherits unchanged from its role's base config (documented once, on top)."""
    base = _ROLE_BASE[role]
    same = set()
    for name, info in model.model_fields.items():
        b = base.model_fields.get(name)
        if b is not None and b.annotation == info.annotation and b.default == info.default and (
            b.description == info.description
        ):
            same.add(name)
    return same


def builtin_registry() -> ComponentRegistry:
    """A fresh registry holding only the built-in component types (no entry points, no global state)."""
    registry = ComponentRegistry()
    for modname in DEFAULT_PLUGINS:
        mod = importlib.import_module(modname)
        impl = getattr(mod, "livepipe_register_components", None)
        if impl is None:
            continue
        registry._current_plugin = modname
        impl(registry=registry)
    registry._current_plugin = "?"
    return registry


def _component_section(type_name: str, reg: Registration) -> str:
    cls = reg.cls
    role = reg.role
    model = cls.Config
    common = _common_keys(model, role)
    lines = [f"### `{type_name}`", ""]
    if cls.__doc__:
        lines += [rst_to_markdown(cls.__doc__), ""]
    lines.append(f"- Role: {role} (`[{role}s.NAME]`, `type = \"{type_name}\"`)")
    lines.append(f"- Provided by: `{reg.plugin}`" + (" (built-in)" if reg.plugin in DEFAULT_PLUGINS else ""))
    named = list(cls.outputs)
    dynamic = cls.output_names is not Component.output_names
    if named or dynamic:
        outs = ", ".join(f"`NAME.{o}`" for o in named) or "none fixed"
        lines.append(f"- Named outputs: {outs}" + ("; more depend on the configuration:" if dynamic else ""))
        if dynamic and cls.output_names.__doc__:
            lines.append(f"  {_first_paragraph(cls.output_names.__doc__)}")
    if role != "source":
        lines.append("- With `on_error = \"dead_letter\"`: also `NAME.dead_letter`")
    lines.append("")
    own = field_docs(model, skip=common)
    if own:
        lines += [render_table(own), ""]
    else:
        lines += ["No keys of its own.", ""]
    if common:
        keys = ", ".join(f"`{k}`" for k in model.model_fields if k in common)
        lines += [f"Also takes the [common {role} keys](#common-{role}-keys): {keys}.", ""]
    for sub in nested_models(model):
        lines += [f"#### `{sub.__name__}` tables", ""]
        if sub.__doc__:
            lines += [_first_paragraph(sub.__doc__), ""]
        lines += [render_table(field_docs(sub)), ""]
    return "\n".join(lines)


def render_components(registry: ComponentRegistry | None = None) -> str:
    """Markdown for ``docs/reference/components.md`` (built-in types unless ``registry`` is given)."""
    registry = registry or builtin_registry()
    parts = [
        _BANNER.format(source="each component's Config model"),
        "# Component reference",
        "",
        "Every component type that ships with livepipe, with every key its TOML table accepts. Unknown keys"
        " are errors. Keys marked *secret* are redacted by `livepipe config show` and in error messages; give"
        " them as `{ env = \"VAR\" }` or `{ file = \"path\" }` (see [Configuration](../configuration.md#secrets)).",
        "Types installed by plugins are listed by `livepipe plugins` (add `--json` for these tables as data).",
        "",
    ]
    parts.append("## Common keys")
    parts.append("")
    for role in ROLES:
        parts.append(f"### Common {role} keys")
        parts.append("")
        parts.append(render_table(field_docs(_ROLE_BASE[role])))
        parts.append("")
    for role in ROLES:
        names = registry.names(role)
        parts.append(f"## {role.capitalize()}s")
        parts.append("")
        if not names:
            parts.append(f"No built-in {role} types are registered yet.")
            parts.append("")
            continue
        for name in names:
            reg = registry.get(name, role)
            assert reg is not None
            parts.append(_component_section(name, reg))
    return "\n".join(parts).rstrip() + "\n"


def render_credential_keys() -> str:
    """The table of ``[credentials.NAME]`` keys, from the credential schema the built-in plugins register."""
    schema = builtin_registry().credential_schema
    if schema is None:
        return "No credential schema is registered: every credential value is treated as secret."
    return render_table(field_docs(schema))


def render_replay_formats() -> str:
    """The table of the replay source's built-in formats: ``events`` and those the built-in plugins register."""
    from livepipe.components.replay_formats import EVENTS

    rows = [("`events`", "livepipe (built in)", EVENTS)]
    for modname in DEFAULT_PLUGINS:
        impl = getattr(importlib.import_module(modname), "livepipe_replay_formats", None)
        rows.extend((f"`{fmt.name}`", f"`{modname}`", fmt) for fmt in (impl() if impl else ()))
    lines = ["| Format | Provided by | Room id needed | Description |", "|---|---|---|---|"]
    for name, plugin, fmt in rows:
        lines.append(f"| {name} | {plugin} | {'yes' if fmt.needs_room_id else 'no'} | {_cell(fmt.description)} |")
    return "\n".join(lines)


def render_globals() -> str:
    """Markdown for ``docs/reference/globals.md``: ``[livepipe]``, ``[livepipe.metrics]`` and ``[simulator]``."""
    from livepipe.config import GlobalConfig, MetricsSettings, SimulatorSettings

    return (
        _BANNER.format(source="livepipe/config/settings.py (GlobalConfig)")
        + "\n# Global settings reference\n\n"
        + "## `[livepipe]`\n\n"
        + rst_to_markdown(GlobalConfig.__doc__ or "")
        + "\n\n"
        + render_table(field_docs(GlobalConfig, skip=("metrics",)))
        + "\n\n## `[livepipe.metrics]`\n\n"
        + rst_to_markdown(MetricsSettings.__doc__ or "")
        + "\n\n"
        + render_table(field_docs(MetricsSettings))
        + "\n\nSee [Configuration](../configuration.md#livepipe-globals) for how these are used.\n"
        + "\n## `[simulator]`\n\n"
        + rst_to_markdown(SimulatorSettings.__doc__ or "")
        + "\n\n"
        + render_table(field_docs(SimulatorSettings))
        + "\n\nSee [Configuration](../configuration.md#simulator).\n"
    )
