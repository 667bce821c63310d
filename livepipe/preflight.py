"""Preflight checks: what ``livepipe validate`` finds on this machine that would make ``run`` fail.

A component (or a credential schema) reports problems from its ``preflight()`` method as
:class:`Problem` values; ``livepipe validate`` prints each one as ``file:line: component: key:
what is wrong — fix`` and exits 78. The helpers below cover the common cases (a file that must
exist and be readable, a file or directory that must be writable) so plugins need not repeat them.
``livepipe validate --offline`` skips every preflight check (for CI machines that lack the files).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing about this machine that would make ``run`` fail.

    ``key`` is the config key at fault (``path``, ``audit_log``; None for the table as a whole);
    ``message`` says what is wrong, then `` — `` and how to fix it.
    """

    key: str | None
    message: str


#: What a ``preflight()`` method returns (usually written as a generator).
Problems = Iterator[Problem]


def readable_file(path: Path, key: str, what: str = "file") -> Problems:
    """A problem unless ``path`` is an existing, readable regular file."""
    if not path.exists():
        yield Problem(key, f"{what} {path} does not exist — check the path (relative paths start at the config "
                           "file's directory)")
    elif not path.is_file():
        yield Problem(key, f"{what} {path} is not a file — point {key} at a file")
    elif not os.access(path, os.R_OK):
        yield Problem(key, f"{what} {path} is not readable by this user — fix its permissions (chmod u+r)")


def private_file(path: Path, key: str, what: str = "file") -> Problems:
    """:func:`readable_file`, and a problem when group or others may read it (it holds secrets)."""
    found = list(readable_file(path, key, what))
    yield from found
    if found:
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        yield Problem(key, f"{what} {path} holds secrets but is open to other users (mode {mode:04o}) — "
                           f"run `chmod 600 {path}`")


def writable_file(path: Path, key: str, what: str = "file") -> Problems:
    """A problem unless ``path`` can be written: an existing writable file, or creatable in its directory.

    Nothing is created: the nearest existing ancestor directory must be writable.
    """
    if path.exists():
        if path.is_dir():
            yield Problem(key, f"{what} {path} is a directory — give a file name")
        elif not os.access(path, os.W_OK):
            yield Problem(key, f"{what} {path} is not writable by this user — fix its permissions (chmod u+w)")
        return
    yield from writable_dir(path.parent, key, f"the directory of {what} {path}")


def writable_dir(directory: Path, key: str, what: str = "directory") -> Problems:
    """A problem unless ``directory`` is (or can be created as) a directory this user may write into."""
    d = directory
    while not d.exists():
        if d.parent == d:
            break
        d = d.parent
    if not d.is_dir():
        yield Problem(key, f"{what} cannot be created: {d} is not a directory — choose another path")
    elif not os.access(d, os.W_OK | os.X_OK):
        made = "" if d == directory else f" (it would be created inside {d})"
        yield Problem(key, f"{what} {directory} is not writable by this user{made} — choose a writable path or "
                           "fix the permissions")
