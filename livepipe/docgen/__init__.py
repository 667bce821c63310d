"""Generate the reference parts of the documentation from the code, so they cannot drift.

``python -m livepipe.docgen`` writes every generated file under ``docs/`` (and the generated
regions of hand-written pages); ``python -m livepipe.docgen --check`` writes nothing and exits 1,
naming each file that is out of date. What is generated:

* ``docs/plugins/hooks.md``: one section per hook in :mod:`livepipe.hookspecs`, headed by its exact
  signature, followed by its docstring.
* ``docs/reference/components.md``: a config table (key, type, default, required, secret,
  description) for every built-in component type, grouped by role, naming the plugin providing it.
* ``docs/reference/globals.md``: the same table for ``[livepipe]``, ``[livepipe.metrics]`` and ``[simulator]``.
* ``docs/event.schema.json``: JSON Schema (draft 2020-12) of the event JSON form.
* Regions between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` in
  hand-written pages (the kinds table in ``docs/events.md``, the command table and help in ``docs/cli.md``,
  the credential keys in ``docs/credentials.md``, the built-in formats in ``docs/components/replay.md``)
  and between ``# BEGIN GENERATED: name`` / ``# END GENERATED: name`` in ``mkdocs.yml`` (the nav
  entries of the component and Bilibili pages that exist).

Only built-in components are documented: the registry is built from
:data:`livepipe.plugins.DEFAULT_PLUGINS` alone, so plugins installed in the local environment never
leak into the docs.

One module per kind of page (:mod:`~livepipe.docgen.api`, :mod:`~livepipe.docgen.tables`,
:mod:`~livepipe.docgen.event_pages`, :mod:`~livepipe.docgen.cli_pages`) on :mod:`~livepipe.docgen.common`;
this module writes and checks them all, and re-exports their names.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from livepipe.docgen.api import hook_signature, hooks, name_doc, render_errors, render_hooks, render_public_api
from livepipe.docgen.cli_pages import builtin_commands, render_cli_help, render_cli_table
from livepipe.docgen.common import (
    API_MD,
    CLI_MD,
    COMPONENTS_MD,
    CREDENTIALS_MD,
    ERRORS_MD,
    EVENT_SCHEMA,
    EVENTS_MD,
    GLOBALS_MD,
    HOOKS_MD,
    MKDOCS_YML,
    PUBLIC_MODULES,
    REPLAY_MD,
    ROLES,
    ROOT,
    rst_to_markdown,
)
from livepipe.docgen.event_pages import event_schema, render_event_schema, render_kinds
from livepipe.docgen.tables import (
    FieldDoc,
    builtin_registry,
    default_text,
    field_docs,
    nested_models,
    render_components,
    render_credential_keys,
    render_globals,
    render_replay_formats,
    render_table,
    type_text,
)

#: Pages written outside this module, in nav order: (nav section, title, path under docs/).
PLANNED_PAGES: tuple[tuple[str, str, str], ...] = (
    ("components", "replay", "components/replay.md"),
    ("components", "filter", "components/filter.md"),
    ("components", "route", "components/route.md"),
    ("components", "throttle", "components/throttle.md"),
    ("components", "dedupe", "components/dedupe.md"),
    ("components", "file", "components/file.md"),
    ("components", "console", "components/console.md"),
    ("bilibili", "Web or open platform", "bilibili/web-or-open.md"),
    ("bilibili", "Events and data keys", "bilibili/events.md"),
    ("bilibili", "Simulator", "simulator.md"),
    ("bilibili", "Simulator actions", "simulator-actions.md"),
)


def render_nav(section: str, root: Path, indent: str) -> str:
    """Nav entries of one section for the pages that exist; later pages under docs/components/ are added too."""
    docs = root / "docs"
    entries = [(title, path) for sec, title, path in PLANNED_PAGES if sec == section]
    if section == "components" and (docs / "components").is_dir():
        known = {p for _, p in entries}
        for p in sorted((docs / "components").glob("*.md")):
            rel = f"components/{p.name}"
            if rel not in known and p.name != "index.md":
                entries.append((p.stem, rel))
    lines = []
    for title, path in entries:
        if (docs / path).is_file():
            lines.append(f"{indent}- {title}: {path}")
        else:
            lines.append(f"{indent}# - {title}: {path}   (not written yet)")
    return "\n".join(lines)


def replace_region(text: str, name: str, body: str, *, comment: str = "html") -> str:
    """Replace the body between the BEGIN/END GENERATED markers called ``name`` (markers kept).

    ``comment`` is ``"html"`` (``<!-- ... -->``, Markdown) or ``"hash"`` (``# ...``, YAML). Raises
    ``ValueError`` when the markers are missing.
    """
    if comment == "html":
        begin, end = f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"
        pat = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        new = f"{begin}\n{body}\n{end}"
    else:
        pat = re.compile(r"(?m)^([ \t]*)# BEGIN GENERATED: " + re.escape(name) + r"\n.*?^[ \t]*# END GENERATED: "
                         + re.escape(name) + r"$", re.S)
        m = pat.search(text)
        if m is None:
            raise ValueError(f"no '# BEGIN GENERATED: {name}' / '# END GENERATED: {name}' markers")
        ind = m.group(1)
        new = f"{ind}# BEGIN GENERATED: {name}\n{body}\n{ind}# END GENERATED: {name}"
    if not pat.search(text):
        raise ValueError(f"no BEGIN/END GENERATED markers for {name!r}")
    return pat.sub(lambda _: new, text, count=1)


def _region_indent(text: str, name: str) -> str:
    m = re.search(r"(?m)^([ \t]*)# BEGIN GENERATED: " + re.escape(name) + "$", text)
    return m.group(1) if m else ""


def generated_files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (relative path -> expected text), regions of hand-written files included.

    A hand-written file that does not exist yet is left out; one without its markers is an error.
    """
    files: dict[Path, str] = {
        HOOKS_MD: render_hooks(),
        ERRORS_MD: render_errors(),
        API_MD: render_public_api(),
        COMPONENTS_MD: render_components(),
        GLOBALS_MD: render_globals(),
        EVENT_SCHEMA: render_event_schema(),
    }
    regions: list[tuple[Path, str, Callable[[str], str], str]] = [
        (EVENTS_MD, "kinds", lambda _t: render_kinds(), "html"),
        (CLI_MD, "cli-help", lambda _t: render_cli_help(), "html"),
        (CLI_MD, "cli-commands", lambda _t: render_cli_table(), "html"),
        (CREDENTIALS_MD, "credential-keys", lambda _t: render_credential_keys(), "html"),
        (REPLAY_MD, "replay-formats", lambda _t: render_replay_formats(), "html"),
        (MKDOCS_YML, "components-nav",
         lambda t: render_nav("components", root, _region_indent(t, "components-nav")), "hash"),
        (MKDOCS_YML, "bilibili-nav", lambda t: render_nav("bilibili", root, _region_indent(t, "bilibili-nav")), "hash"),
    ]
    for rel, name, render, comment in regions:
        path = root / rel
        if rel not in files and not path.is_file():
            continue
        text = files.get(rel) or path.read_text(encoding="utf-8")
        files[rel] = replace_region(text, name, render(text), comment=comment)
    return files


def stale_files(root: Path = ROOT) -> list[Path]:
    """Generated files whose content on disk differs from what the code gives now."""
    out = []
    for rel, text in generated_files(root).items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out


def write_all(root: Path = ROOT) -> list[Path]:
    """Write every generated file that changed; returns the ones written."""
    written = []
    for rel, text in generated_files(root).items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(rel)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m livepipe.docgen [--check] [--root DIR]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m livepipe.docgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        if stale:
            names = ", ".join(str(p) for p in stale)
            print(f"livepipe.docgen: generated docs are out of date: {names}", file=sys.stderr)
            print("  run `python -m livepipe.docgen` and commit the result", file=sys.stderr)
            return 1
        print("livepipe.docgen: generated docs are up to date")
        return 0
    written = write_all(args.root)
    for p in written:
        print(f"wrote {p}")
    if not written:
        print("livepipe.docgen: nothing to do")
    return 0


__all__ = [
    "ROOT",
    "HOOKS_MD",
    "ERRORS_MD",
    "API_MD",
    "PUBLIC_MODULES",
    "COMPONENTS_MD",
    "GLOBALS_MD",
    "EVENT_SCHEMA",
    "EVENTS_MD",
    "CLI_MD",
    "CREDENTIALS_MD",
    "REPLAY_MD",
    "MKDOCS_YML",
    "ROLES",
    "rst_to_markdown",
    "hook_signature",
    "hooks",
    "render_hooks",
    "render_errors",
    "name_doc",
    "render_public_api",
    "FieldDoc",
    "type_text",
    "default_text",
    "field_docs",
    "render_table",
    "nested_models",
    "builtin_registry",
    "render_components",
    "render_credential_keys",
    "render_replay_formats",
    "render_globals",
    "event_schema",
    "render_event_schema",
    "render_kinds",
    "builtin_commands",
    "render_cli_help",
    "render_cli_table",
    "PLANNED_PAGES",
    "render_nav",
    "replace_region",
    "generated_files",
    "stale_files",
    "write_all",
    "main",
]
