"""The loaded configuration: :class:`PipelineConfig` and its :class:`ComponentSpec` and :class:`CredentialSpec`
entries, and :class:`ConfigText`, a config given in memory instead of as a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from livepipe.config.issues import ConfigError, ConfigIssue
from livepipe.config.locator import Locator
from livepipe.config.settings import GlobalConfig, SimulatorSettings
from livepipe.schema import ComponentConfig, CredentialConfig


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


@dataclass(frozen=True)
class ConfigText:
    """A config given in memory instead of as a file: TOML ``text``, or ``tables`` already parsed.

    ``path`` names it in messages, and its directory is where relative paths resolve (for the first
    config). :func:`load_config` takes these among its paths (the embedding API builds them).
    """

    path: Path
    text: str = ""
    tables: dict[str, Any] | None = None
