"""WBI request signing (sans-I/O). See docs/bilibili/protocol.md, "WBI signing"."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

MIXIN_TABLE = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35,
    27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13,
)  # fmt: skip
_STRIP = str.maketrans("", "", "!'()*")


def key_from_url(url: str) -> str:
    """The key in a nav ``wbi_img`` URL: the file-name stem (``.../7cd0...077c.png`` -> ``7cd0...077c``)."""
    return url.rsplit("/", 1)[-1].split(".", 1)[0]


def mixin_key(img_key: str, sub_key: str) -> str:
    """Shuffle ``img_key + sub_key`` through the fixed table and keep 32 characters."""
    raw = img_key + sub_key
    if len(raw) < 64:
        raise ValueError("WBI img_key and sub_key must be 32 characters each")
    return "".join(raw[i] for i in MIXIN_TABLE)


def sign(params: Mapping[str, Any], img_key: str, sub_key: str, *, wts: int | None = None) -> dict[str, str]:
    """Return ``params`` plus ``wts`` and ``w_rid``, signed with the given keys."""
    signed = {k: str(v) for k, v in params.items() if k not in ("w_rid",)}
    signed["wts"] = str(int(time.time()) if wts is None else wts)
    signed["w_rid"] = w_rid(signed, mixin_key(img_key, sub_key))
    return signed


def w_rid(params: Mapping[str, Any], mixin: str) -> str:
    """The signature over ``params`` (which must already contain ``wts``), excluding any ``w_rid``."""
    items = sorted((k, str(v).translate(_STRIP)) for k, v in params.items() if k != "w_rid")
    query = urllib.parse.urlencode(items)
    return hashlib.md5((query + mixin).encode()).hexdigest()


def verify(params: Mapping[str, Any], img_key: str, sub_key: str) -> bool:
    """Server side: does ``w_rid`` match? Accepts spaces encoded as ``+`` or ``%20`` (clients differ)."""
    given = params.get("w_rid")
    if not given or "wts" not in params:
        return False
    mixin = mixin_key(img_key, sub_key)
    if w_rid(params, mixin) == given:
        return True
    items = sorted((k, str(v).translate(_STRIP)) for k, v in params.items() if k != "w_rid")
    query = urllib.parse.urlencode(items, quote_via=urllib.parse.quote)
    return hashlib.md5((query + mixin).encode()).hexdigest() == given


#: The HMAC key of the web page's GenWebTicket request (``hexsign``); public, in every browser.
TICKET_HMAC_KEY = b"XgwSnGZ1p"


def ticket_hexsign(ts: int) -> str:
    """The ``hexsign`` parameter of GenWebTicket for unix time ``ts``: HMAC-SHA256 of ``"ts<ts>"``."""
    return hmac.new(TICKET_HMAC_KEY, f"ts{ts}".encode(), hashlib.sha256).hexdigest()
