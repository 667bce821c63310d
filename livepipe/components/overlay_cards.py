"""What the ``overlay`` page is sent for an event: a small JSON-ready *card* (pure functions, no I/O).

A card holds only what the page draws, under short keys, so a busy room costs the browser little:

* ``danmaku``: ``name``, ``text``, ``medal``, ``guard``, ``admin``, ``emote`` (an emoticon danmaku's
  image), ``emots`` (inline emoji: token -> image URL), ``reply`` (the name it @-replies to);
* ``gift``: ``name``, ``gift``, ``num``, ``action``, ``img``, ``coin`` (total coins), ``paid``;
* ``sc`` (a super chat): ``name``, ``text``, ``price`` (CNY), ``dur`` and ``end`` (when its pin ends,
  unix seconds), ``sc_id``, ``trans`` (its translation);
* ``sc_del``: ``ids`` of super chats to unpin;
* ``guard``: ``name``, ``level`` (1 总督, 2 提督, 3 captain 舰长), ``num``, ``unit``.

Every card has ``id`` (the event id: the page drops a card it already shows), ``k`` (the card kind)
and ``ts``. Texts are sent as they are: the page puts them in text nodes, never in HTML. Image URLs
are kept only when they are ``http(s)``; anything else (``javascript:``, ``data:``) is left out.
"""

from __future__ import annotations

import math
from typing import Any

from livepipe.events import Event

__all__ = ["CARD_KINDS", "MAX_INT", "GuardDedupe", "card", "image_url"]

#: The card kinds and the event kinds they come from.
CARD_KINDS = {"danmaku": "danmaku", "gift": "gift", "super_chat": "sc", "super_chat_delete": "sc_del",
              "guard": "guard"}  # fmt: skip

#: Longest text and name a card carries (a longer one is cut, with an ellipsis).
MAX_TEXT = 200
MAX_NAME = 40
#: Most inline emoji of one danmaku kept.
MAX_EMOTS = 16
_MAX_URL = 2048
#: Seconds a super chat stays pinned when the message gives no duration.
DEFAULT_SC_SECONDS = 60


def image_url(value: Any) -> str | None:
    """``value`` if it is an ``http(s)`` URL (``//host/x`` becomes ``https://host/x``), else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if url.startswith("//"):
        url = "https:" + url
    low = url[:8].lower()
    if not (low.startswith("https://") or low.startswith("http://")) or len(url) > _MAX_URL:
        return None
    if any(c.isspace() or ord(c) < 0x20 or c in "\"'<>\\`" or "\ud800" <= c <= "\udfff" for c in url):
        return None
    return url


def _cut(value: Any, limit: int) -> str:
    s = value if isinstance(value, str) else "" if value is None else str(value)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    try:
        s.encode()
    except UnicodeEncodeError:  # a lone surrogate (odd input from a processor): the JSON encoder refuses it
        s = s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return s


#: Largest integer a card carries: the page's JavaScript numbers are exact up to 2**53 - 1, and the card's JSON
#: encoder refuses integers beyond 64 bits (a hostile ``num`` of 1e26 would otherwise fail the whole card).
MAX_INT = 2**53 - 1


def _int(value: Any) -> int:
    """``value`` as an integer within +-:data:`MAX_INT` (0 for a non-number, NaN or infinity)."""
    if type(value) is float:
        value = int(value) if math.isfinite(value) else 0
    elif type(value) is not int:
        return 0
    return max(-MAX_INT, min(MAX_INT, value))


def _uid(value: int | None) -> int | str | None:
    """The user id; one beyond 64 bits (JSON encoders refuse it) as its decimal text."""
    return value if value is None or -(2**63) <= value < 2**63 else str(value)


def _medal(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not _int(value.get("level")):
        return None
    return {"name": _cut(value.get("name"), 12), "level": _int(value.get("level")),
            "lit": value.get("is_lighted") is not False}  # fmt: skip


def _base(ev: Event, kind: str, d: dict[str, Any]) -> dict[str, Any]:
    return {"id": ev.id, "k": kind, "ts": ev.ts, "uid": _uid(ev.uid), "name": _cut(ev.uname, MAX_NAME),
            "medal": _medal(d.get("medal")), "guard": _int(d.get("guard_level"))}  # fmt: skip


def _danmaku(ev: Event, d: dict[str, Any]) -> dict[str, Any] | None:
    if d.get("mode") == 7:  # a "big" (advanced) danmaku: its text is a JSON array of drawing options
        return None
    c = _base(ev, "danmaku", d)
    c["text"] = _cut(ev.text, MAX_TEXT)
    c["admin"] = bool(d.get("is_admin"))
    emote = None
    emoticon = d.get("emoticon")
    if _int(d.get("dm_type")) == 1 and isinstance(emoticon, dict):
        url = image_url(emoticon.get("url"))
        if url:
            w, h = _int(emoticon.get("width")), _int(emoticon.get("height"))
            emote = {"url": url, "w": min(w, 240), "h": min(h, 240)}
    c["emote"] = emote
    emots = {}
    raw_emots = d.get("emots")
    if isinstance(raw_emots, dict):
        for token, info in raw_emots.items():
            url = image_url(info.get("url")) if isinstance(info, dict) else None
            if url and isinstance(token, str) and token and token in c["text"]:
                emots[token] = url
                if len(emots) >= MAX_EMOTS:
                    break
    c["emots"] = emots
    reply = d.get("reply_uname")
    c["reply"] = _cut(reply, MAX_NAME) if isinstance(reply, str) and reply else None
    if not c["text"] and emote is None:
        return None
    return c


def _gift(ev: Event, d: dict[str, Any]) -> dict[str, Any]:
    c = _base(ev, "gift", d)
    c.update(gift=_cut(d.get("gift_name"), MAX_NAME), num=_int(d.get("num")) or 1, action=_cut(d.get("action"), 8),
             img=image_url(d.get("gift_img")), coin=_int(d.get("total_coin")), paid=d.get("coin_type") == "gold")
    return c


def _super_chat(ev: Event, d: dict[str, Any]) -> dict[str, Any]:
    c = _base(ev, "sc", d)
    start, end = _int(d.get("start_time")), _int(d.get("end_time"))
    duration = _int(d.get("duration")) or (end - start if end > start else 0) or DEFAULT_SC_SECONDS
    c.update(text=_cut(ev.text, MAX_TEXT), price=_int(d.get("price")), dur=duration,
             end=end if end > 0 else (start or int(ev.ts)) + duration, sc_id=_int(d.get("sc_id")) or None,
             trans=_cut(d.get("message_trans"), MAX_TEXT) or None)
    return c


def _super_chat_delete(ev: Event, d: dict[str, Any]) -> dict[str, Any] | None:
    ids = [i for i in d.get("ids") or () if type(i) is int]
    return {"id": ev.id, "k": "sc_del", "ts": ev.ts, "ids": ids} if ids else None


def _guard(ev: Event, d: dict[str, Any]) -> dict[str, Any] | None:
    c = _base(ev, "guard", d)
    if c["guard"] not in (1, 2, 3):
        return None
    c.update(level=c["guard"], num=_int(d.get("num")) or 1, unit=_cut(d.get("unit"), 4) or "月")
    return c


_BUILDERS = {"danmaku": _danmaku, "gift": _gift, "super_chat": _super_chat, "super_chat_delete": _super_chat_delete,
             "guard": _guard}  # fmt: skip


def card(ev: Event) -> dict[str, Any] | None:
    """The card the page draws for ``ev``, or None for an event it does not show.

    The page shows danmaku, gifts, super chats (and their removal) and guard purchases. A "big"
    danmaku (mode 7, whose text is drawing options), a guard event of an unknown level and an
    empty danmaku give None.
    """
    build = _BUILDERS.get(ev.kind)
    if build is None:
        return None
    d = ev.data if isinstance(ev.data, dict) else {}
    return build(ev, d)


class GuardDedupe:
    """Tells the second notice of one guard purchase from a new purchase.

    Bilibili announces a purchase twice: ``GUARD_BUY`` and a ``USER_TOAST_MSG(_V2)`` toast, in either
    order. A guard card whose room, user, level and months match one seen within ``window`` seconds
    (of event time) is the same purchase. Remembers the last ``size`` purchases.
    """

    def __init__(self, window: float = 30.0, size: int = 256) -> None:
        self.window = window
        self.size = size
        self._seen: dict[tuple[Any, ...], float] = {}

    def is_repeat(self, ev: Event, c: dict[str, Any]) -> bool:
        """True if ``c`` (the card of guard event ``ev``) repeats a purchase already shown."""
        key = (ev.room_id, ev.uid or ev.uname, c["level"], c["num"])
        last = self._seen.get(key)
        if last is not None and abs(ev.ts - last) <= self.window:
            return True
        self._seen[key] = ev.ts
        if len(self._seen) > self.size:
            del self._seen[next(iter(self._seen))]
        return False
