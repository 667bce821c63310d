"""Parse, merge and validate: :func:`parse_config` turns TOML files into one :class:`PipelineConfig` (one issue
list for every problem), and :func:`load_config` does the whole load the runtime hands down."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from livepipe import assembly
from livepipe.config.files import _Loaded, _read
from livepipe.config.issues import ConfigError, ConfigIssue, _describe_pydantic_error
from livepipe.config.merge import _Merged, merge_tables
from livepipe.config.model import ComponentSpec, ConfigText, CredentialSpec, PipelineConfig
from livepipe.config.refs import _at_unresolved, _is_ref, _redact, _Refs
from livepipe.config.settings import GlobalConfig, SimulatorSettings
from livepipe.registry import ComponentRegistry
from livepipe.schema import declared_paths, secret_fields

SECTIONS = {"sources": "source", "processors": "processor", "sinks": "sink"}
TOP_LEVEL = ("livepipe", "credentials", "simulator", "sources", "processors", "sinks", "tests")


def load_config(
    paths: Iterable[str | Path | ConfigText],
    registry: ComponentRegistry | None = None,
    *,
    call_hooks: bool = True,
    check_env: bool = True,
    check_files: bool = True,
) -> PipelineConfig:
    """Parse, merge and validate TOML files, check the wiring and let plugins see the result.

    The whole load, as :func:`livepipe.runtime.loading.load_config` does it (the installed plugins'
    registry unless ``registry`` is given, the graph check, the ``livepipe_config_loaded`` hook unless
    ``call_hooks=False``); kept here because plugins and tests import it from ``livepipe.config``.
    Configuration itself knows no layer above it: the package hands the full loader down
    (:mod:`livepipe.assembly`). Raises :class:`ConfigError` listing every problem.
    """
    return assembly.full_loader()(paths, registry, call_hooks=call_hooks, check_env=check_env,
                                  check_files=check_files)


def parse_config(
    paths: Iterable[str | Path | ConfigText],
    registry: ComponentRegistry,
    *,
    check_env: bool = True,
    check_files: bool = True,
) -> PipelineConfig:
    """Parse, merge and validate TOML files against ``registry``. Raises :class:`ConfigError` listing
    every problem.

    Data and its validation only: the wiring (inputs, outputs, cycles) is checked a layer up
    (:func:`livepipe.runtime.loading.load_config`). ``check_env=False`` accepts ``{ env = ... }``
    references to unset variables and ``check_files=False`` ``{ file = ... }`` references to missing
    files (``livepipe validate --no-env`` / ``--offline``): their values are placeholders, not
    validated, and such a configuration cannot run.
    """
    refs = _Refs(check_env, check_files)
    sources = [p if isinstance(p, ConfigText) else Path(p) for p in paths]
    files = [p.path if isinstance(p, ConfigText) else p for p in sources]
    issues: list[ConfigIssue] = []
    if not files:
        raise ConfigError("no config file given")
    loaded = [x for x in (_read(p, issues) for p in sources) if x is not None]
    if issues:
        raise ConfigError(issues)

    def issue(src: _Loaded | None, path: Sequence[str], component: str | None, key: str | None, msg: str,
              inner_line: int | None = None) -> None:
        line = src.locator.find(path) if src else None
        if src and line and inner_line:  # a line inside the value (a template's): the file line it is on
            line = src.locator.line_within_value(line, inner_line)
        issues.append(ConfigIssue(str(src.path) if src else None, line, component, key, msg))

    # ---- merge (see merge_tables) ------------------------------------------------------------
    globals_raw: dict[str, Any] = {}
    globals_src: _Loaded | None = None
    credentials: dict[str, _Merged] = {}
    tables: dict[str, tuple[str, _Merged]] = {}  # id -> (section, merged table)
    simulator: _Merged | None = None
    tests: list[dict[str, Any]] = []
    for src in loaded:
        for top, value in src.data.items():
            if top not in TOP_LEVEL:
                close = difflib.get_close_matches(top, TOP_LEVEL, n=1)
                hint = f"did you mean [{close[0]}]? " if close else ""
                issue(src, [top], None, None, f"unknown section [{top}]; {hint}valid sections: {', '.join(TOP_LEVEL)}")
                continue
            if top == "tests":
                if not isinstance(value, list):
                    issue(src, [top], None, None, "tests must be an array of tables: write [[tests]]")
                else:
                    tests.extend(value)
                continue
            if not isinstance(value, dict):
                issue(src, [top], None, None, f"[{top}] must be a table")
                continue
            if top == "livepipe":
                globals_raw = merge_tables(globals_raw, value)
                globals_src = src
            elif top == "simulator":
                simulator = simulator.add(src, value) if simulator else _Merged.first(src, value)
            elif top == "credentials":
                for name, cred in value.items():
                    if not isinstance(cred, dict) or _is_ref(cred):
                        issue(src, [top, name], f"credentials.{name}", None, "must be a table of cookie values")
                    elif name in credentials:
                        credentials[name] = credentials[name].add(src, cred)
                    else:
                        credentials[name] = _Merged.first(src, cred)
            else:
                for cid, table in value.items():
                    if cid in tables:
                        other_section, other = tables[cid]
                        if other_section != top:
                            issue(src, [top, cid], f"{top}.{cid}", None,
                                  f"component id '{cid}' is defined twice (also as [{other_section}.{cid}] in "
                                  f"{other.src.path}); ids must be unique across sources, processors and sinks")
                        elif not isinstance(table, dict) or not isinstance(other.table, dict):
                            issue(src, [top, cid], f"{top}.{cid}", None,
                                  f"must be a table: write [{top}.{cid}] with the keys to set")
                        elif "type" in table and table["type"] != other.table.get("type"):
                            issue(src, [top, cid, "type"], f"{top}.{cid}", "type",
                                  f"a later file may set keys of [{top}.{cid}] (defined in {other.src.path}) but "
                                  f"not change its type from {other.table.get('type')!r} to {table['type']!r}; "
                                  "give the new component another id")
                        else:
                            tables[cid] = (top, other.add(src, table))
                        continue
                    if "." in cid or "*" in cid:
                        issue(src, [top, cid], f"{top}.{cid}", None,
                              "component ids may not contain '.' or '*' (they name outputs and wildcards); "
                              "quote-free names like recent_chat are best")
                    tables[cid] = (top, _Merged.first(src, table))

    # ---- globals ---------------------------------------------------------------------------
    try:
        settings = GlobalConfig.model_validate(globals_raw)
    except ValidationError as e:
        settings = GlobalConfig()
        for err in e.errors():
            key, msg = _describe_pydantic_error(err, GlobalConfig, set())
            issue(globals_src, ["livepipe", *key.split(".")], "livepipe", key, msg)

    # ---- credentials: by the registered schema (without one, every value is secret) ----------
    secret_paths: set[str] = set()
    url_paths: set[str] = set()
    resolved_creds: dict[str, dict[str, Any]] = {}
    credential_specs: dict[str, CredentialSpec] = {}
    schema = registry.credential_schema
    from pydantic import SecretStr

    for name, merged in credentials.items():
        found: set[str] = set()
        qual = f"credentials.{name}"

        def cred_err(path: list[str], msg: str, merged: _Merged = merged, qual: str = qual) -> None:
            issue(merged.origin(path[2] if len(path) > 2 else None), path, qual, path[-1], msg)

        values = merged.resolve(["credentials", name], cred_err, found, refs)
        secret_paths |= found
        declared = secret_fields(schema) if schema is not None else None
        if schema is not None:
            as_written: dict[str, str] = {}
            for k in values:
                if k.lower() in as_written:
                    cred_err(["credentials", name, k], f"given twice (also as '{as_written[k.lower()]}'); "
                                                      "keys are not case-sensitive: keep one")
                as_written.setdefault(k.lower(), k)
            lowered_unresolved = {p.lower() for p in refs.unresolved}
            try:
                model = schema.model_validate({k.lower(): v for k, v in values.items()})
                line = merged.src.locator.find(["credentials", name])
                credential_specs[name] = CredentialSpec(name, model, str(merged.src.path), line)
            except ValidationError as e:
                for err in e.errors():
                    if _at_unresolved(err, qual.lower(), lowered_unresolved):
                        continue
                    key, msg = _describe_pydantic_error(err, schema, declared or set())
                    shown = as_written.get(key, key)
                    issue(merged.origin(shown), ["credentials", name, shown], qual, shown, msg)
        out: dict[str, Any] = {}
        for k, v in values.items():
            if f"credentials.{name}.{k}" in found or declared is None or k.lower() in declared:
                secret_paths.add(f"credentials.{name}.{k}")
                out[k] = [SecretStr(x) if isinstance(x, str) else x for x in v] if isinstance(v, list) else (
                    SecretStr(v) if isinstance(v, str) else v)
            else:
                out[k] = v
        resolved_creds[name] = out

    # ---- components ----------------------------------------------------------------------
    specs: dict[str, ComponentSpec] = {}
    for cid, (section, merged) in tables.items():
        src, table = merged.src, merged.table
        role = SECTIONS[section]
        qual = f"{section}.{cid}"
        if not isinstance(table, dict):
            issue(src, [section, cid], qual, None, f"must be a table: write [{section}.{cid}] with type = \"...\"")
            continue
        type_name = table.get("type")
        if not isinstance(type_name, str) or not type_name:
            valid = ", ".join(registry.names(role)) or "(none installed)"
            issue(src, [section, cid], qual, "type", f"required key is missing; {role} types: {valid}")
            continue
        reg = registry.get(type_name, role)
        if reg is None and registry.roles_of(type_name):
            reg = registry.get(type_name)  # registered, but in another role: say where it belongs
        if reg is None:
            valid = registry.names(role)
            close = difflib.get_close_matches(type_name, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            issue(src, [section, cid, "type"], qual, "type",
                  f"unknown {role} type '{type_name}'; {hint}installed {role} types: {', '.join(valid) or '(none)'}. "
                  "A type from a plugin needs that plugin installed (see `livepipe plugins`)")
            continue
        if reg.role != role:
            issue(src, [section, cid, "type"], qual, "type",
                  f"'{type_name}' is a {reg.role}, not a {role}: move it to [{reg.role}s.{cid}]"
                  if reg.role != "processor" else
                  f"'{type_name}' is a processor, not a {role}: move it to [processors.{cid}]")
            continue
        found: set[str] = set()

        def comp_err(path: list[str], msg: str, merged: _Merged = merged, qual: str = qual) -> None:
            issue(merged.origin(path[2]), path, qual, ".".join(path[2:]), msg)

        values = merged.resolve([section, cid], comp_err, found, refs)
        model = reg.cls.Config
        nested_secret, nested_urls = declared_paths(model)
        declared_urls = {p.split(".")[0] for p in nested_urls}
        prefix = f"{section}.{cid}."  # (an id may itself hold a dot: that is reported, but must not leak)
        sec_keys = {p[len(prefix):] for p in found if p.startswith(prefix)} | {p.split(".")[0] for p in nested_secret}
        secret_paths |= found | {f"{section}.{cid}.{k}" for k in nested_secret}
        url_paths |= {f"{section}.{cid}.{k}" for k in nested_urls}
        try:
            cfg = model.model_validate(values)
        except ValidationError as e:
            errors = [err for err in e.errors() if not _at_unresolved(err, f"{section}.{cid}", refs.unresolved)]
            for err in errors:
                key, msg = _describe_pydantic_error(err, model, {k.split(".")[0] for k in sec_keys}, declared_urls)
                issue(merged.origin(key.split(".")[0]), [section, cid, *key.split(".")], qual, key or None, msg,
                      getattr((err.get("ctx") or {}).get("error"), "lineno", None))
            if errors:
                continue
            cfg = model.model_construct(**values)  # placeholders for unresolved references: validate only
        specs[cid] = ComponentSpec(cid, role, type_name, cfg, table, str(src.path), src.locator.find([section, cid]),
                                   sec_keys)

    # ---- simulator -------------------------------------------------------------------------
    sim_cfg: SimulatorSettings | None = None
    if simulator is not None:
        sim_found: set[str] = set()
        value = simulator.resolve(["simulator"], lambda p, m: issue(simulator.origin(p[1]), p, "simulator", p[-1], m),
                                  sim_found)
        secret_paths |= sim_found
        try:
            sim_cfg = SimulatorSettings.model_validate(value)
        except ValidationError as e:
            sim_secret = {p.split(".")[1] for p in sim_found}  # never echo a referenced value
            for err in e.errors():
                key, msg = _describe_pydantic_error(err, SimulatorSettings, sim_secret)
                issue(simulator.origin(key.split(".")[0]), ["simulator", *key.split(".")], "simulator", key, msg)

    display: dict[str, Any] = {}
    for src in loaded:
        for top, value in src.data.items():
            if top == "tests" and isinstance(value, list):
                display.setdefault(top, []).extend(value)
            elif isinstance(value, dict):
                display[top] = merge_tables(display.get(top, {}), value)
    display = _redact(display, [], secret_paths, url_paths)

    if issues:
        raise ConfigError(issues)

    return PipelineConfig(files, settings, resolved_creds, specs, sim_cfg, tests, display,
                          {str(src.path): src.locator for src in loaded}, credential_specs)
