"""A small JSON state file written atomically: a temporary file in the same directory, then a rename.

A reader (or the next start after a kill) sees either the old file or the new one, never half of
one. Used by ``welcome`` to remember whom it welcomed across restarts.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any]:
    """The state stored at ``path``; ``{}`` when there is none. ``ValueError`` naming the file if it is not ours."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"state file {path} is not JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"state file {path} does not hold a JSON object")
    return data


def save(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, flush, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
