# Stays whole: not split yet: its seams are the settings models, the file:line locator, the {env}/{file}
# references and the merge-and-validate steps (one issue list); config.py is edited by several branches at
# once, so the split waits for them to merge (issue 19).
"""TOML files -> one validated pipeline configuration.

Layout of a config file::

    [livepipe]            # globals (GlobalConfig)
    [credentials.NAME]    # cookies / tokens shared by components
    [simulator]           # optional: run the built-in Bilibili simulator in-process, or point at one (url)
    [sources.ID]          # type = "..."
    [processors.ID]       # type = "...", inputs = [...]
    [sinks.ID]            # type = "...", inputs = [...]
    [[tests]]             # config unit tests (``livepipe test``)

Several files merge into one, in order (:func:`merge_tables`): a later file may add components and
set or replace keys of a table an earlier file defined (``[sinks.ban] dry_run = false``); tables merge
key by key, any other value (arrays included) is replaced. A later file may not change a component's
``type`` or move an id to another section. Any value may be given as
``{ env = "VAR" }`` or ``{ file = "path" }``; these are resolved after parsing (never by text
substitution) and their values never appear in ``config show``, logs or errors.

Every problem becomes a :class:`ConfigIssue` naming the file, the line (where one can be found),
the component and the key, and what would be valid; :class:`ConfigError` carries all of them.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from livepipe import assembly
from livepipe.errors import ConfigurationError
from livepipe.registry import ComponentRegistry
from livepipe.schema import (
    REDACTED,
    ComponentConfig,
    CredentialConfig,
    declared_paths,
    redact_urls,
    secret_fields,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTIONS = {"sources": "source", "processors": "processor", "sinks": "sink"}
TOP_LEVEL = ("livepipe", "credentials", "simulator", "sources", "processors", "sinks", "tests")


# --------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the configuration."""

    file: str | None
    line: int | None
    component: str | None  # "sinks.out"
    key: str | None  # "when_full" or "routes.gifts.kinds"
    message: str

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        comp = f"{self.component}: " if self.component else ""
        key = f"key '{self.key}': " if self.key else ""
        return f"{where}{comp}{key}{self.message}"


class ConfigError(ConfigurationError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue] | str) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue(None, None, None, None, issues)]
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


# --------------------------------------------------------------------------------------------
# Global settings


class MetricsSettings(BaseModel):
    """``[livepipe.metrics]``: the optional Prometheus / health endpoint."""

    model_config = ConfigDict(extra="forbid", strict=True)
    listen: str | None = Field(
        None, description='address to serve /metrics, /health and /ready on, e.g. "127.0.0.1:9464"'
    )


class SimulatorSettings(BaseModel):
    """``[simulator]``: run the built-in Bilibili simulator in this process, or use one already running.

    Every Bilibili component without an explicit base URL then talks to it (see docs/simulator.md).
    With ``url`` nothing is started: the components talk to the simulator at that URL (``livepipe sim``),
    and the keys that describe an embedded simulator may not be given.
    """

    model_config = ConfigDict(extra="forbid", strict=True)
    url: str | None = Field(
        None, description='base URL of a running simulator (`livepipe sim`), e.g. "http://127.0.0.1:8400"; '
        "unset = start one in this process"
    )
    rooms: list[int | str] = Field(
        default_factory=lambda: [1000, 1001, "76:22000076", "520:22000520"],
        description='room ids; "SHORT:REAL" gives a room a short id',
    )
    rate: float = Field(5.0, ge=0, description="synthetic messages per second per room (0 = none)")
    seed: int = Field(0, description="seed of the synthetic population and traffic")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(0, ge=0, le=65535, description="port (0 = any free port)")
    tls: bool = Field(False, description="serve HTTPS/WSS with a self-signed certificate")
    require_wbi: bool = Field(True, description="answer -352 to unsigned getDanmuInfo, like the real service")
    require_buvid: bool = Field(True, description="answer -352 to getDanmuInfo without a buvid3 cookie")
    population_size: int = Field(150, ge=1, description="synthetic viewers per room")

    @model_validator(mode="after")
    def _url_or_embedded(self) -> SimulatorSettings:
        if self.url is not None:
            if not re.match(r"^https?://[^/\s]+", self.url):
                raise ValueError(f"url must be an http:// or https:// base URL, got {self.url!r}")
            embedded = sorted(self.model_fields_set - {"url"})
            if embedded:
                raise ValueError(f"{', '.join(embedded)} describe{'s' if len(embedded) == 1 else ''} an embedded "
                                 "simulator and cannot be combined with url (a simulator already running); "
                                 "remove one or the other")
        return self

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`livepipe.sim.run_simulator`."""
        rooms: list[Any] = []
        for r in self.rooms:
            if isinstance(r, str) and ":" in r:
                short, real = r.split(":", 1)
                rooms.append((int(short), int(real)))
            else:
                rooms.append(int(r))
        d = self.model_dump(exclude={"rooms", "url"})
        return {"rooms": rooms, **d}


class GlobalConfig(BaseModel):
    """``[livepipe]``: settings for the whole process."""

    model_config = ConfigDict(extra="forbid", strict=True)
    shutdown_timeout: float = Field(
        10.0, ge=0, description="seconds to let processors and sinks drain after a stop signal"
    )
    status_interval: float = Field(5.0, gt=0, description="seconds between status lines printed by `livepipe run`")
    log_level: str = Field("info", description="debug, info, warning or error")
    workers: int = Field(
        1, ge=1, description="processes sharing the sources' rooms (`livepipe run --workers N`); each runs the "
        "pipeline for its share, the first one also the sources that cannot be split (docs/performance.md)"
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="metrics endpoint")


# --------------------------------------------------------------------------------------------
# Locating keys in TOML text (tomllib gives no positions for values)


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*(?:\.|=)""")


def _split_dotted(s: str) -> list[str]:
    parts, cur, quote = [], "", None
    for ch in s:
        if quote:
            if ch == quote:
                quote = None
            else:
                cur += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


class Locator:
    """Finds the line of a table or key in one TOML file's text."""

    def __init__(self, text: str) -> None:
        self.headers: list[tuple[tuple[str, ...], int]] = []  # (path, line) in order
        self.lines = text.splitlines()
        for i, line in enumerate(self.lines, start=1):
            m = _HEADER.match(line)
            if m:
                self.headers.append((tuple(_split_dotted(m.group(2))), i))

    def _table_range(self, path: tuple[str, ...]) -> tuple[int, int] | None:
        for idx, (p, line) in enumerate(self.headers):
            if p == path:
                end = self.headers[idx + 1][1] if idx + 1 < len(self.headers) else len(self.lines) + 1
                return line, end
        return None

    def _key_line(self, start: int, end: int, key: str) -> int | None:
        for i in range(start, min(end, len(self.lines) + 1)):
            m = _KEY.match(self.lines[i - 1]) if i > start else None
            if m and m.group(1).strip("\"'") == key:
                return i
        return None

    def find(self, path: Sequence[str]) -> int | None:
        """Line of the deepest part of ``path`` that can be found (table header or key)."""
        path = tuple(str(p) for p in path)
        for cut in range(len(path), 0, -1):
            rng = self._table_range(path[:cut])
            if rng is None:
                continue
            if cut == len(path):
                return rng[0]
            return self._key_line(rng[0], rng[1], path[cut]) or rng[0]
        for header, line in self.headers:  # [a.b.c] defines a and a.b implicitly
            if header[: len(path)] == path:
                return line
        # keys of a parent table written with dotted keys (sources.x.type = ...) or top-level keys
        for cut in range(len(path) - 1, -1, -1):
            first_header = self.headers[0][1] if self.headers else len(self.lines) + 1
            rng = self._table_range(path[:cut]) if cut else (0, first_header)
            if rng is None:
                continue
            start, end = rng
            for i in range(max(start, 1), min(end, len(self.lines) + 1)):
                line = self.lines[i - 1]
                if _HEADER.match(line):
                    continue
                if "=" not in line:
                    continue
                keys = _split_dotted(line.split("=", 1)[0].strip())
                if keys[0] == path[cut]:
                    return i
        return None


# --------------------------------------------------------------------------------------------
# The loaded configuration


@dataclass
class ComponentSpec:
    """One component table, validated."""

    id: str
    role: str  # source | processor | sink
    type: str
    config: ComponentConfig
    table: dict[str, Any] = field(repr=False)  # as written: may hold literal secrets, never show it
    file: str
    line: int | None
    secret_keys: set[str] = field(default_factory=set)

    @property
    def qualified(self) -> str:
        """``sinks.out`` style name used in messages."""
        return f"{self.role}s.{self.id}" if self.role != "processor" else f"processors.{self.id}"


@dataclass
class CredentialSpec:
    """One ``[credentials.NAME]`` table, validated by the registered credential schema."""

    name: str
    model: CredentialConfig = field(repr=False)
    file: str
    line: int | None


@dataclass
class PipelineConfig:
    """The merged, validated configuration of one pipeline."""

    files: list[Path]
    settings: GlobalConfig
    credentials: dict[str, dict[str, Any]]
    components: dict[str, ComponentSpec]
    simulator: SimulatorSettings | None
    tests: list[dict[str, Any]]
    #: what the user wrote, merged, secret values replaced by their references / REDACTED
    display: dict[str, Any]
    locators: dict[str, Locator] = field(default_factory=dict, repr=False)
    #: each credential validated by the registered credential schema (for preflight checks)
    credential_specs: dict[str, CredentialSpec] = field(default_factory=dict, repr=False)
    #: (index, count) when this is one worker's share of a ``--workers`` run (``livepipe.runtime.shard``)
    worker: tuple[int, int] | None = None

    def line_of(self, spec: ComponentSpec, key: str | None = None) -> int | None:
        """Line of ``key`` in ``spec``'s table (or of the table itself)."""
        loc = self.locators.get(spec.file)
        if loc is None:
            return spec.line
        section = {"source": "sources", "processor": "processors", "sink": "sinks"}[spec.role]
        return loc.find([section, spec.id, *(key.split(".") if key else [])]) or spec.line

    def of_role(self, role: str) -> dict[str, ComponentSpec]:
        """Components of one role, in definition order."""
        return {k: v for k, v in self.components.items() if v.role == role}

    def use_simulator_at(self, url: str) -> None:
        """Point every Bilibili component without its own base URL at the simulator at ``url`` (``--sim``).

        Replaces any ``[simulator]`` table; raises :class:`ConfigError` for a URL that is not http(s).
        """
        try:
            self.simulator = SimulatorSettings(url=url)
        except ValidationError as e:
            msg = e.errors()[0].get("msg", "invalid URL").removeprefix("Value error, ")
            raise ConfigError([ConfigIssue(None, None, "--sim", None, msg)]) from None

    @property
    def config_dir(self) -> Path:
        """Directory of the first file (relative paths resolve against it)."""
        return self.files[0].parent if self.files else Path.cwd()


@dataclass
class _Loaded:
    path: Path
    data: dict[str, Any]
    locator: Locator


@dataclass(frozen=True)
class ConfigText:
    """A config given in memory instead of as a file: TOML ``text``, or ``tables`` already parsed.

    ``path`` names it in messages, and its directory is where relative paths resolve (for the first
    config). :func:`load_config` takes these among its paths (the embedding API builds them).
    """

    path: Path
    text: str = ""
    tables: dict[str, Any] | None = None


def _read(source: Path | ConfigText, issues: list[ConfigIssue]) -> _Loaded | None:
    if isinstance(source, ConfigText):
        if source.tables is not None:
            return _Loaded(source.path, source.tables, Locator(""))
        path, text = source.path, source.text
    else:
        path, text = source, None
    shown = str(path)
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        issues.append(ConfigIssue(shown, None, None, None, "file not found; check the path"))
        return None
    except (OSError, UnicodeDecodeError) as e:
        issues.append(ConfigIssue(shown, None, None, None, f"cannot read file: {e}"))
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"line (\d+)", msg)
        line = int(m.group(1)) if m else None
        issues.append(ConfigIssue(shown, line, None, None, f"invalid TOML: {msg}"))
        return None
    except RecursionError:  # tomllib parses arrays and inline tables recursively
        issues.append(ConfigIssue(shown, _most_nested_line(text), None, None, _TOO_DEEP))
        return None
    loaded = _Loaded(path, data, Locator(text))
    deep = _too_deep(data)
    if deep is not None:
        shown_path = ".".join(deep[:6]) + (" ..." if len(deep) > 6 else "")
        line = loaded.locator.find([p for p in deep if not p.startswith("[")]) or _most_nested_line(text)
        issues.append(ConfigIssue(shown, line, None, None, f"{_TOO_DEEP} (at {shown_path})"))
        return None
    return loaded


#: Deepest nesting of tables, arrays and inline tables a config file may have. Real configs need
#: about six (``processors.automod.rules[0].words[0]``); the limit keeps every later step (merging,
#: secrets, validation, ``config show``) far from Python's recursion limit.
MAX_CONFIG_DEPTH = 32
_TOO_DEEP = (f"tables, arrays or inline tables nested more than {MAX_CONFIG_DEPTH} levels deep; "
             "no livepipe setting needs that: flatten the value")  # fmt: skip


def _too_deep(data: dict[str, Any]) -> list[str] | None:
    """The key path where ``data`` nests deeper than :data:`MAX_CONFIG_DEPTH`, or ``None`` (iterative)."""
    stack: list[tuple[Any, list[str]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_CONFIG_DEPTH:
            return path
        if isinstance(value, dict):
            stack.extend((v, [*path, str(k)]) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, [*path, f"[{i}]"]) for i, v in enumerate(value))
    return None


def _most_nested_line(text: str) -> int | None:
    """The line with the most opening brackets and dots in keys: where deep nesting most likely is."""
    lines = text.splitlines()
    if not lines:
        return None
    scores = [ln.count("[") + ln.count("{") + ln.split("=", 1)[0].count(".") for ln in lines]
    return scores.index(max(scores)) + 1


def _is_ref(v: Any) -> bool:
    if not (isinstance(v, dict) and len(v) == 1):
        return False
    ((k, val),) = v.items()
    return k in ("env", "file") and isinstance(val, str)


@dataclass
class _Refs:
    """How ``{env=..}`` / ``{file=..}`` references are resolved, and what resolving them found."""

    check_env: bool = True  # an unset variable is an error (else: a placeholder, not validated)
    check_files: bool = True  # a missing secret file is an error (else: a placeholder, not validated)
    unresolved: set[str] = field(default_factory=set)  # dotted keys given placeholders


def _resolve_refs(
    value: Any, path: list[str], on_error: Any, base_dir: Path, found: set[str], refs: _Refs | None = None
) -> Any:
    """Replace ``{env=..}`` / ``{file=..}`` tables by their values; ``found`` collects dotted keys."""
    refs = refs or _Refs()
    if _is_ref(value):
        (kind, name), = value.items()
        key = ".".join(path)
        found.add(key)
        if kind == "env":
            if name not in os.environ:
                if refs.check_env:
                    on_error(path, f"environment variable {name} is not set; export it or use {{ file = \"...\" }}")
                refs.unresolved.add(key)
                return ""
            return os.environ[name]
        p = Path(name).expanduser()
        if not p.is_absolute():
            p = base_dir / p
        try:
            return p.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            if refs.check_files:
                on_error(path, f"cannot read secret file {name}: {e.strerror or e}; check the path (relative to "
                               "the config file)")
            refs.unresolved.add(key)
            return ""
    if isinstance(value, dict):
        return {k: _resolve_refs(v, [*path, k], on_error, base_dir, found, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, [*path, str(i)], on_error, base_dir, found, refs) for i, v in enumerate(value)]
    return value


def _at_unresolved(err: dict[str, Any], prefix: str, unresolved: set[str]) -> bool:
    """True when a validation error is about a value that is only a placeholder for an unresolved reference."""
    loc = [str(x) for x in err.get("loc", ())]
    return any(".".join([prefix, *loc[:n]]) in unresolved for n in range(1, len(loc) + 1))


def _matches(path: list[str], patterns: set[str]) -> bool:
    """``path`` is one of ``patterns`` (dotted; a ``*`` segment matches any one key or index)."""
    key = ".".join(path)
    if key in patterns:
        return True
    return any("*" in p and len(parts := p.split(".")) == len(path)
               and all(a == "*" or a == b for a, b in zip(parts, path, strict=True)) for p in patterns)


def _redact(value: Any, path: list[str], secret_paths: set[str], url_paths: set[str]) -> Any:
    if _is_ref(value):
        return value
    if _matches(path, secret_paths):
        return REDACTED
    if _matches(path, url_paths):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: _redact(v, [*path, k], secret_paths, url_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, [*path, str(i)], secret_paths, url_paths) for i, v in enumerate(value)]
    return value


def _closest_key(name: str, model: type[BaseModel]) -> str | None:
    """The declared key ``name`` most likely means: a near spelling, or a name the schema lists under ``also``."""
    for key, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if name.lower() in [str(a).lower() for a in extra.get("also") or ()]:  # type: ignore[union-attr]
            return key
    close = difflib.get_close_matches(name.lower(), list(model.model_fields), n=1)
    return close[0] if close else None


def _describe_pydantic_error(err: dict[str, Any], model: type[BaseModel], secret_keys: set[str],
                             url_keys: set[str] = frozenset()) -> tuple[str, str]:  # type: ignore[assignment]
    loc = [str(x) for x in err.get("loc", ())]
    key = ".".join(loc)
    etype = err.get("type", "")
    top = loc[0] if loc else ""
    if etype == "extra_forbidden":
        valid = sorted(model.model_fields)
        close = _closest_key(loc[-1], model) if len(loc) == 1 else None
        hint = f"; did you mean '{close}'?" if close else ""
        msg = f"unknown key{hint} valid keys: {', '.join(valid)}" if len(loc) == 1 else "unknown key"
        return key, msg
    if etype == "missing":
        info = model.model_fields.get(top)
        desc = f" ({info.description})" if info and info.description and len(loc) == 1 else ""
        return key, f"required key is missing{desc}"
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if etype == "literal_error":
        msg = msg.replace("Input should be", "must be")
    else:
        msg = msg.replace("Input should be", "expected")
    if top not in secret_keys and "input" in err and not isinstance(err["input"], (dict, list)):
        shown = repr(redact_urls(err["input"]) if top in url_keys else err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    return key, msg


def merge_tables(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base`` (neither is changed): tables merge key by key, recursively; any other
    value, arrays included, replaces the earlier one. A ``{ env = ... }`` / ``{ file = ... }`` reference
    counts as a value, so it replaces what was there instead of merging into it."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and not _is_ref(old) and not _is_ref(value):
            out[key] = merge_tables(old, value)
        else:
            out[key] = value
    return out


@dataclass
class _Merged:
    """A table built from one or more files: the merged keys and the file each top-level key came from."""

    src: _Loaded  # the file that defined the table first
    table: Any
    origins: dict[str, _Loaded]

    @classmethod
    def first(cls, src: _Loaded, table: Any) -> _Merged:
        return cls(src, table, {k: src for k in table} if isinstance(table, dict) else {})

    def add(self, src: _Loaded, table: dict[str, Any]) -> _Merged:
        """This table with ``table`` (from a later file ``src``) merged on top."""
        return _Merged(self.src, merge_tables(self.table, table), {**self.origins, **{k: src for k in table}})

    def origin(self, key: str | None) -> _Loaded:
        """The file that set ``key`` last (the defining file for the table itself)."""
        return self.origins.get(key or "", self.src)

    def resolve(self, path: list[str], on_error: Any, found: set[str], refs: _Refs | None = None) -> Any:
        """The table with its secret references resolved, each relative to the file that wrote it."""
        return {k: _resolve_refs(v, [*path, k], on_error, self.origin(k).path.parent, found, refs)
                for k, v in self.table.items()}


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

    def issue(src: _Loaded | None, path: Sequence[str], component: str | None, key: str | None, msg: str) -> None:
        line = src.locator.find(path) if src else None
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
                issue(merged.origin(key.split(".")[0]), [section, cid, *key.split(".")], qual, key or None, msg)
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
