"""The event JSON Schema and the kinds table.
"""

from __future__ import annotations

import json
from typing import Any

from livepipe.docgen.common import (
    _cell,
)
from livepipe.events import _FIELDS, KINDS, SCHEMA_VERSION

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {
        "type": "string",
        "minLength": 1,
        "description": "Stable identifier: the danmaku id_str where Bilibili gives one, else a hash of room, cmd,"
        " time and body. Equal inputs give equal ids across runs, so JetStream can de-duplicate on it.",
    },
    "kind": {
        "type": "string",
        "minLength": 1,
        "description": "Normalized kind. The built-in parser uses the vocabulary listed in `examples`; plugins may"
        " emit other kinds, so consumers must tolerate unknown values.",
    },
    "cmd": {
        "type": ["string", "null"],
        "description": "The Bilibili cmd without its suffix (DANMU_MSG, not DANMU_MSG:4:0:2:2:2:0), or null for"
        " other events.",
    },
    "room_id": {"type": ["integer", "null"], "description": "The real (long) room id, or null."},
    "ts": {"type": "number", "description": "Unix time in seconds (may have a fraction)."},
    "uid": {
        "type": ["integer", "null"],
        "description": "The user's uid; null when the event has no user or Bilibili masked the sender.",
    },
    "uname": {"type": ["string", "null"], "description": "The user's name where the event has one."},
    "text": {"type": ["string", "null"], "description": "The text (danmaku, super chat, notice), or null."},
    "data": {"type": "object", "description": "Kind-specific fields; see the Bilibili events page."},
    "raw": {
        "type": ["object", "null"],
        "description": "The original message, or null (sinks may leave it out with include_raw = false).",
    },
}


def event_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the event JSON form, version :data:`~livepipe.events.SCHEMA_VERSION`."""
    missing = set(_FIELDS) - set(_FIELD_SCHEMAS)
    if missing:  # a field was added to Event without documenting it here
        raise RuntimeError(f"docgen: document the new Event field(s) {sorted(missing)} in _FIELD_SCHEMAS")
    props: dict[str, Any] = {
        "v": {"const": SCHEMA_VERSION, "description": "Version of the JSON form; bumped only on incompatible changes."}
    }
    for name in _FIELDS:
        props[name] = dict(_FIELD_SCHEMAS[name])
    props["kind"]["examples"] = list(KINDS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"livepipe event, JSON form v{SCHEMA_VERSION}",
        "description": "One event as livepipe writes it to NATS and JSONL files. Every key is always present."
        " New keys may be added within the same version, so consumers must ignore keys they do not know.",
        "type": "object",
        "properties": props,
        "required": ["v", *_FIELDS],
        "additionalProperties": True,
    }


def render_event_schema() -> str:
    """The text of ``docs/event.schema.json``."""
    return json.dumps(event_schema(), indent=2, ensure_ascii=False) + "\n"


def render_kinds() -> str:
    """The kinds table (from :data:`livepipe.events.KINDS`) for the generated region of ``docs/events.md``."""
    lines = ["| Kind | Meaning |", "|---|---|"]
    for kind, meaning in KINDS.items():
        lines.append(f"| `{kind}` | {_cell(meaning)} |")
    return "\n".join(lines)
