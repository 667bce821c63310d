"""The plugin-author pages: the hooks reference, the exception tree and the public API.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from livepipe import hookspecs
from livepipe.docgen.common import (
    _BANNER,
    PUBLIC_MODULES,
    _cell,
    _first_paragraph,
    _split_literal_block,
    rst_to_markdown,
)


def hook_signature(fn: Callable[..., Any]) -> str:
    """The hook's signature exactly as written in hookspecs.py: ``name(arg: Type, ...) -> Ret``."""
    sig = inspect.signature(fn)  # annotations stay strings (``from __future__ import annotations``)
    params = []
    for p in sig.parameters.values():
        s = p.name
        if p.annotation is not inspect.Parameter.empty:
            s += f": {_annotation_text(p.annotation)}"
        if p.default is not inspect.Parameter.empty:
            s += f" = {p.default!r}"
        params.append(s)
    ret = ""
    if sig.return_annotation is not inspect.Signature.empty:
        ret = f" -> {_annotation_text(sig.return_annotation)}"
    return f"{fn.__name__}({', '.join(params)}){ret}"


def _annotation_text(a: Any) -> str:
    return a if isinstance(a, str) else inspect.formatannotation(a)


def hooks() -> dict[str, Callable[..., Any]]:
    """Hook name -> spec function, in the order hookspecs.py defines them."""
    return dict(hookspecs._all_hooks())


def render_hooks() -> str:
    """Markdown for ``docs/plugins/hooks.md``."""
    parts = [
        _BANNER.format(source="livepipe/hookspecs.py"),
        "# Hooks reference\n",
        rst_to_markdown(hookspecs.__doc__ or ""),
        "",
        "Implement a hook by writing a function with the hook's name, marked with `livepipe.hookimpl`"
        " (the marker for the pluggy project `\"livepipe\"`). See [Writing a plugin](authoring.md) for a"
        " complete package.",
        "",
        "| Hook | Purpose |",
        "|---|---|",
    ]
    for name, fn in hooks().items():
        first = rst_to_markdown((fn.__doc__ or "").strip().split("\n\n", 1)[0]).replace("\n", " ")
        parts.append(f"| [`{name}`](#{name}) | {first} |")
    parts.append("")
    for name, fn in hooks().items():
        parts.append(f"## `{hook_signature(fn)}` {{#{name}}}")
        parts.append("")
        parts.append(rst_to_markdown(fn.__doc__ or "(no docstring)"))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def render_errors() -> str:
    """Markdown for ``docs/plugins/errors.md``: the exception tree drawn in ``livepipe/errors.py``."""
    from livepipe import errors

    intro, tree, outro = _split_literal_block(errors.__doc__ or "")
    parts = [
        _BANNER.format(source="livepipe/errors.py"),
        "# Exceptions\n",
        rst_to_markdown(intro),
        "",
        "```text",
        tree,
        "```",
        "",
        rst_to_markdown(outro),
        "",
        "| Category | When |",
        "|---|---|",
    ]
    for name in errors.__all__:
        cls = getattr(errors, name)
        parts.append(f"| `livepipe.errors.{name}` | {_first_paragraph(cls.__doc__)} |")
    return "\n".join(parts) + "\n"


def name_doc(module: Any, name: str) -> str:
    """The first paragraph documenting ``module.name``: its docstring, or the ``#:`` comment above it."""
    obj = getattr(module, name)
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
        return _first_paragraph(obj.__doc__)
    source = inspect.getsource(module)
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if re.match(rf"{re.escape(name)}\s*[:=]", line):
            comment: list[str] = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#:"):
                comment.insert(0, lines[j][2:].strip())
                j -= 1
            return " ".join(comment)
    for node in ast.parse(source).body:  # a re-export: documented where it is defined
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == name for a in node.names):
            return name_doc(importlib.import_module(node.module), name)
    return ""


def render_public_api() -> str:
    """Markdown for ``docs/plugins/api.md``: every name in the ``__all__`` of :data:`PUBLIC_MODULES`."""
    parts = [
        _BANNER.format(source="the __all__ of livepipe's public modules"),
        "# Public API\n",
        "These names are livepipe's stable surface for plugin authors and scripts: they keep working",
        "across minor versions, and a change to one is announced in the [changelog](../changelog.md). Everything else",
        "(any module or name not listed here) is internal and may change without notice.",
        "",
    ]
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        parts += [f"## `{modname}`\n", _first_paragraph(module.__doc__), "", "| Name | What it is |", "|---|---|"]
        for name in module.__all__:
            parts.append(f"| `{name}` | {_cell(rst_to_markdown(name_doc(module, name)))} |")
        parts.append("")
    return "\n".join(parts)
