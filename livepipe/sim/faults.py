"""Fault settings: misbehaviour the simulator produces on demand.

One mutable :class:`Faults` object lives on the running simulator; the CLI flags set its initial
values, ``POST /_sim/faults`` changes it at run time, and both the WebSocket side and the HTTP
middleware (which also wraps the action endpoints) read it on every request or tick.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    """What to break. Every field's zero value means "behave normally"."""

    #: close every WebSocket connection every N seconds (0 = never)
    close_every: float = 0.0
    #: stop answering client heartbeats (op 2) with op 3
    no_heartbeat_reply: bool = False
    #: send one malformed frame to each client on the next tick (cleared once sent), or on every
    #: tick when ``malformed_every`` is set
    malformed_once: bool = False
    malformed_every: float = 0.0
    #: send each client, on the next tick, one well-framed brotli frame whose op-5 bodies are not
    #: JSON objects (cut JSON, bad UTF-8, an array) around one good message (cleared once sent)
    bad_json_once: bool = False
    #: reply ``{"code": -101}`` and close to every AUTH packet, whatever the token
    fail_auth: bool = False
    #: answer HTTP requests whose path starts with one of these prefixes with code -352
    http_352: list[str] = field(default_factory=list)
    #: answer HTTP requests whose path starts with one of these prefixes with HTTP status 412
    http_412: list[str] = field(default_factory=list)
    #: delay (seconds) before answering any HTTP request (not /_sim/ and not the WebSocket)
    http_delay: float = 0.0
    #: carry out HTTP requests whose path starts with one of these prefixes, then hold the answer
    #: until the prefix is removed (the effect is visible, the client has no reply yet: the window
    #: in which a crash leaves a client not knowing whether its action went through)
    hold_responses: list[str] = field(default_factory=list)
    #: seconds a client may stay silent (no heartbeat) before it is dropped
    idle_timeout: float = 65.0
    #: seconds the client has to send AUTH after connecting
    auth_timeout: float = 5.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (field name -> value); unknown names raise ``KeyError``."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise KeyError(name)
            current = getattr(self, name)
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, list):
                value = [value] if isinstance(value, str) else list(value)
            setattr(self, name, value)

    def reset(self) -> None:
        """Back to normal behaviour (timeouts keep their configured values)."""
        idle, auth = self.idle_timeout, self.auth_timeout
        for f in fields(self):
            setattr(self, f.name, f.default_factory() if callable(f.default_factory) else f.default)  # type: ignore[misc]
        self.idle_timeout, self.auth_timeout = idle, auth

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)

    def http_fault_for(self, path: str) -> int | None:
        """-352 or 412 when a fault applies to ``path``, else None."""
        if any(path.startswith(p) for p in self.http_412):
            return 412
        if any(path.startswith(p) for p in self.http_352):
            return -352
        return None
