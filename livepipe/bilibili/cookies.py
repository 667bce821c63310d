"""Cookie files: read Netscape ``cookies.txt`` and JSON exports, write them back atomically.

Accepted forms (detected from the content, not the file name):

* **Netscape** ``cookies.txt`` (curl, wget, most "export cookies" browser extensions): one cookie
  per line, seven tab-separated fields ``domain  flag  path  secure  expiry  name  value``; ``#``
  comments and blank lines are ignored, and the ``#HttpOnly_`` prefix is understood.
* **JSON object**: ``{"SESSDATA": "...", "bili_jct": "...", ...}`` (what ``livepipe login``
  writes; a ``cookies`` sub-object and a ``refresh_token`` key are also understood).
* **JSON list** of ``{"name": ..., "value": ..., "domain": ...}`` objects (EditThisCookie,
  Cookie-Editor and similar extensions).

Only cookies for Bilibili domains are kept from files that say which domain a cookie belongs to.
The refresh token (``refresh_token`` or ``ac_time_value``) is returned as ``ac_time_value``.

:func:`write_cookie_file` writes the JSON object form through a temporary file in the same
directory, ``fsync``, and ``os.replace``, with mode 0600: a crash never leaves half a file, and
nobody but the user can read it. Values never appear in exceptions raised here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from livepipe.errors import ConfigurationError

#: Cookies of these domains (and their subdomains) are kept; others in the same file are ignored.
BILIBILI_DOMAINS = ("bilibili.com", "biligame.com", "bilibili.cn", "localhost", "127.0.0.1")
_REFRESH_KEYS = ("refresh_token", "ac_time_value")


class CredentialError(ConfigurationError, ValueError):
    """A credential table or cookie file is unusable; the message says how to fix it.

    Defined here, below :mod:`livepipe.bilibili.credential` (which re-exports it), so the two modules
    form no import circle.
    """


def _domain_ok(domain: str | None) -> bool:
    if not domain:
        return True
    d = domain.strip().lstrip(".").lower()
    if d.startswith("#httponly_"):
        d = d[len("#httponly_"):].lstrip(".")
    return any(d == b or d.endswith("." + b) for b in BILIBILI_DOMAINS)


def parse_netscape(text: str) -> dict[str, str]:
    """Cookies from Netscape ``cookies.txt`` text (Bilibili domains only)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 7:
            parts = line.split()
        if len(parts) < 7:
            continue
        domain, name, value = parts[0], parts[5], "\t".join(parts[6:]) if len(parts) > 7 else parts[6]
        if name and _domain_ok(domain):
            out[name] = value.strip()
    return out


def parse_json(data: Any) -> dict[str, str]:
    """Cookies from decoded JSON: a name -> value object, or a list of cookie objects."""
    out: dict[str, str] = {}
    if isinstance(data, Mapping):
        inner = data.get("cookies")
        if isinstance(inner, (Mapping, list)):
            out.update(parse_json(inner))
        for k, v in data.items():
            if k == "cookies":
                continue
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                out[str(k)] = str(v)
        return out
    if isinstance(data, list):
        for item in data:
            if not isinstance(item, Mapping):
                continue
            name, value = item.get("name"), item.get("value")
            if not isinstance(name, str) or value is None:
                continue
            if _domain_ok(item.get("domain") if isinstance(item.get("domain"), str) else None):
                out[name] = str(value)
        return out
    raise CredentialError("a JSON cookie file must hold an object (name -> value) or a list of cookies")


def parse_cookie_text(text: str) -> dict[str, str]:
    """Cookies from the text of a cookie file in any supported form."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise CredentialError(f"the cookie file looks like JSON but is not valid JSON (line {e.lineno})") from None
        cookies = parse_json(data)
    else:
        cookies = parse_netscape(stripped)
    for k in _REFRESH_KEYS:
        if k in cookies:
            token = cookies.pop(k)
            if token:
                cookies["ac_time_value"] = token
    return cookies


def read_cookie_file(path: str | Path) -> dict[str, str]:
    """Read a cookie file (Netscape or JSON) -> ``{cookie name: value}``.

    Raises :class:`~livepipe.bilibili.credential.CredentialError` with a message naming the file
    (never its contents) when it cannot be read or holds no cookie.
    """
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError(f"cookie file {p} does not exist; create it with `livepipe login --out {p}`") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CredentialError(f"cannot read cookie file {p}: {type(e).__name__}") from None
    cookies = parse_cookie_text(text)
    if not cookies:
        raise CredentialError(f"cookie file {p} holds no Bilibili cookie (Netscape cookies.txt or JSON expected)")
    return cookies


def write_cookie_file(path: str | Path, cookies: Mapping[str, str], refresh_token: str | None = None) -> Path:
    """Write ``cookies`` (and the refresh token) as a JSON object, atomically, mode 0600.

    The file is written next to its final place, flushed to disk, then renamed over it; the
    directory is created (mode 0700) when missing. Returns the path written.
    """
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body: dict[str, str] = {k: str(v) for k, v in cookies.items() if v is not None and k not in _REFRESH_KEYS}
    if refresh_token:
        body["refresh_token"] = refresh_token
    data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(str(p.parent), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return p
