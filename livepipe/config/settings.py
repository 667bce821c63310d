"""The process-wide settings models: ``[livepipe]`` (:class:`GlobalConfig`), ``[livepipe.metrics]`` and
``[simulator]``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
