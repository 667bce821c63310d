"""Typed views of an event's ``data``: ``ev.danmaku.text``, ``ev.gift.price``, ``ev.guard.level``.

Each common kind has a small frozen view built from the event when it is asked for (nothing is
computed for events nobody looks at). A view only reads ``uid``, ``uname``, ``text`` and ``data``;
the event and its JSON form are unchanged. Asking for the view of another kind raises
:class:`WrongKind` (an ``AttributeError``, so ``getattr(ev, "gift", None)`` gives ``None``)::

    if ev.kind == "gift":
        print(ev.gift.name, ev.gift.num, ev.gift.price)

The keys come from ``docs/bilibili/events.md``. Events built by hand (``make_event("gift")``) may
lack keys: a missing number reads as ``0``, a missing flag as ``False``, anything else as ``None``.
This module sits in the bottom layer beside :mod:`livepipe.events` and knows no service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from livepipe.errors import LivepipeError

__all__ = [
    "WrongKind", "Medal", "Danmaku", "GiftItem", "Gift", "GiftCombo", "SuperChat", "Guard", "UserAction",
    "Block", "Silent", "RoomChange", "Live", "OnlineCount", "Watched", "LikeCount", "Popularity", "DeadLetter",
]

#: ``guard_level`` -> its name (0 is no guard).
GUARD_NAMES = {1: "governor", 2: "admiral", 3: "captain"}


class WrongKind(LivepipeError, AttributeError):
    """The view of one kind was asked of an event of another (``ev.gift`` on a danmaku)."""


class _EventLike(Protocol):
    kind: str
    uid: int | None
    uname: str | None
    text: str | None
    data: dict[str, Any]


def _check(ev: _EventLike, *kinds: str) -> dict[str, Any]:
    if ev.kind not in kinds:
        want = " or ".join(repr(k) for k in kinds)
        raise WrongKind(f"event kind is {ev.kind!r}, not {want}: check ev.kind first "
                        f"(or handle only these kinds, e.g. @pipe.on({kinds[0]!r}))")
    data = ev.data
    return data if isinstance(data, dict) else {}


def _int(d: dict[str, Any], key: str) -> int:
    v = d.get(key)
    return v if isinstance(v, int) else 0


def _bool(d: dict[str, Any], key: str) -> bool:
    return bool(d.get(key))


@dataclass(frozen=True, slots=True)
class Medal:
    """A fan medal: its level and name, and the streamer (and room) it belongs to."""

    level: int
    name: str | None
    streamer_uid: int | None
    streamer_name: str | None
    room_id: int | None
    guard_level: int
    is_lighted: bool

    @classmethod
    def of(cls, value: Any) -> Medal | None:
        """The medal of a ``data.medal`` value (``None`` when there is none)."""
        if not isinstance(value, dict) or not value.get("level"):
            return None
        return cls(_int(value, "level"), value.get("name"), value.get("streamer_uid"), value.get("streamer_name"),
                   value.get("room_id"), _int(value, "guard_level"), _bool(value, "is_lighted"))


@dataclass(frozen=True, slots=True)
class Danmaku:
    """A chat message (``danmaku``)."""

    text: str
    uid: int | None
    uname: str | None
    medal: Medal | None
    is_admin: bool
    guard_level: int
    user_level: int | None
    wealth_level: int | None
    mode: int | None
    color: int | None
    font_size: int | None
    dm_type: int
    emoticon: dict[str, Any] | None
    emots: dict[str, Any] | None
    reply_uid: int | None
    reply_uname: str | None
    face: str | None
    mirror: bool
    masked: bool

    @classmethod
    def of(cls, ev: _EventLike) -> Danmaku:
        """The view of a ``danmaku`` event."""
        d = _check(ev, "danmaku")
        return cls(ev.text or "", ev.uid, ev.uname, Medal.of(d.get("medal")), _bool(d, "is_admin"),
                   _int(d, "guard_level"), d.get("user_level"), d.get("wealth_level"), d.get("mode"), d.get("color"),
                   d.get("font_size"), _int(d, "dm_type"), d.get("emoticon"), d.get("emots"), d.get("reply_uid"),
                   d.get("reply_uname"), d.get("face"), _bool(d, "mirror"), _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class GiftItem:
    """One gift of a gift message (a ``SEND_GIFT_V2`` may carry several)."""

    gift_id: int | None
    name: str | None
    num: int
    price: int
    total_coin: int
    coin_type: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> GiftItem:
        """The item of one ``data.gifts`` entry."""
        return cls(d.get("gift_id"), d.get("gift_name"), _int(d, "num"), _int(d, "price"), _int(d, "total_coin"),
                   d.get("coin_type"))


@dataclass(frozen=True, slots=True)
class Gift:
    """A gift (``gift``). ``price`` is the unit price of the (first) gift in coins (gold: 1000 = ¥1);
    ``total_coin`` is the sum over every gift of the message."""

    name: str | None
    gift_id: int | None
    num: int
    price: int
    total_coin: int
    coin_type: str | None
    uid: int | None
    uname: str | None
    action: str | None
    medal: Medal | None
    guard_level: int
    items: tuple[GiftItem, ...]
    face: str | None
    masked: bool

    @property
    def paid(self) -> bool:
        """True for gold (paid) gifts, False for silver ones."""
        return self.coin_type == "gold"

    @property
    def yuan(self) -> float:
        """What the whole message is worth in CNY (0.0 for silver gifts)."""
        return self.total_coin / 1000 if self.paid else 0.0

    @classmethod
    def of(cls, ev: _EventLike) -> Gift:
        """The view of a ``gift`` event."""
        d = _check(ev, "gift")
        items = tuple(GiftItem.of(g) for g in d.get("gifts") or () if isinstance(g, dict))
        return cls(d.get("gift_name"), d.get("gift_id"), _int(d, "num"), _int(d, "price"), _int(d, "total_coin"),
                   d.get("coin_type"), ev.uid, ev.uname, d.get("action"), Medal.of(d.get("medal")),
                   _int(d, "guard_level"), items, d.get("face"), _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class GiftCombo:
    """A gift combo summary (``gift_combo``)."""

    name: str | None
    gift_id: int | None
    combo_num: int
    total_num: int
    total_coin: int
    uid: int | None
    uname: str | None
    action: str | None
    medal: Medal | None
    masked: bool

    @classmethod
    def of(cls, ev: _EventLike) -> GiftCombo:
        """The view of a ``gift_combo`` event."""
        d = _check(ev, "gift_combo")
        return cls(d.get("gift_name"), d.get("gift_id"), _int(d, "combo_num"), _int(d, "total_num"),
                   _int(d, "combo_total_coin"), ev.uid, ev.uname, d.get("action"), Medal.of(d.get("medal")),
                   _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class SuperChat:
    """A paid pinned message (``super_chat``); ``price`` is in CNY."""

    text: str
    price: int
    uid: int | None
    uname: str | None
    sc_id: int | None
    message_trans: str | None
    duration: int | None
    start_time: int | None
    end_time: int | None
    medal: Medal | None
    guard_level: int
    user_level: int | None
    face: str | None
    masked: bool

    @classmethod
    def of(cls, ev: _EventLike) -> SuperChat:
        """The view of a ``super_chat`` event."""
        d = _check(ev, "super_chat")
        return cls(ev.text or "", _int(d, "price"), ev.uid, ev.uname, d.get("sc_id"), d.get("message_trans"),
                   d.get("duration"), d.get("start_time"), d.get("end_time"), Medal.of(d.get("medal")),
                   _int(d, "guard_level"), d.get("user_level"), d.get("face"), _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class Guard:
    """A guard purchase (``guard``): ``level`` 1 governor, 2 admiral, 3 captain; ``num`` months."""

    level: int
    num: int
    price: int
    uid: int | None
    uname: str | None
    unit: str | None
    gift_name: str | None
    start_time: int | None
    end_time: int | None
    toast: bool
    toast_msg: str | None
    face: str | None
    masked: bool

    @property
    def level_name(self) -> str | None:
        """``"governor"``, ``"admiral"`` or ``"captain"`` (``None`` for an unknown level)."""
        return GUARD_NAMES.get(self.level)

    @classmethod
    def of(cls, ev: _EventLike) -> Guard:
        """The view of a ``guard`` event."""
        d = _check(ev, "guard")
        return cls(_int(d, "guard_level"), _int(d, "num"), _int(d, "price"), ev.uid, ev.uname, d.get("unit"),
                   d.get("gift_name"), d.get("start_time"), d.get("end_time"), _bool(d, "toast"), d.get("toast_msg"),
                   d.get("face"), _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class UserAction:
    """A user entered, followed, shared or liked (``enter``, ``follow``, ``share``, ``like``)."""

    uid: int | None
    uname: str | None
    text: str | None
    medal: Medal | None
    guard_level: int
    msg_type: int | None
    effect: bool
    face: str | None
    masked: bool

    @classmethod
    def of(cls, ev: _EventLike, kind: str) -> UserAction:
        """The view of an ``enter``, ``follow``, ``share`` or ``like`` event (``kind`` is the one asked for)."""
        d = _check(ev, kind)
        return cls(ev.uid, ev.uname, ev.text, Medal.of(d.get("medal")), _int(d, "guard_level"), d.get("msg_type"),
                   _bool(d, "effect"), d.get("face"), _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class Block:
    """A user was banned (``block``); ``operator`` 1 admin, 2 streamer."""

    uid: int | None
    uname: str | None
    operator: int | None
    block_expired: int | None
    valid_period: str | None
    masked: bool

    @classmethod
    def of(cls, ev: _EventLike) -> Block:
        """The view of a ``block`` event."""
        d = _check(ev, "block")
        return cls(ev.uid, ev.uname, d.get("operator"), d.get("block_expired"), d.get("valid_period"),
                   _bool(d, "masked"))


@dataclass(frozen=True, slots=True)
class Silent:
    """Room-wide silence switched on or off (``silent``); ``until`` is unix seconds, ``-1`` until lifted."""

    on: bool
    type: str | None
    level: int | None
    until: int | None

    @classmethod
    def of(cls, ev: _EventLike) -> Silent:
        """The view of a ``silent`` event."""
        d = _check(ev, "silent")
        return cls(_bool(d, "on"), d.get("type"), d.get("level"), d.get("until"))


@dataclass(frozen=True, slots=True)
class RoomChange:
    """The title or area changed (``room_change``)."""

    title: str | None
    area_id: int | None
    area_name: str | None
    parent_area_id: int | None
    parent_area_name: str | None

    @classmethod
    def of(cls, ev: _EventLike) -> RoomChange:
        """The view of a ``room_change`` event."""
        d = _check(ev, "room_change")
        return cls(d.get("title"), d.get("area_id"), d.get("area_name"), d.get("parent_area_id"),
                   d.get("parent_area_name"))


@dataclass(frozen=True, slots=True)
class Live:
    """The stream started (``live``)."""

    live_key: str | None
    live_platform: str | None
    live_time: int | None

    @classmethod
    def of(cls, ev: _EventLike) -> Live:
        """The view of a ``live`` event."""
        d = _check(ev, "live")
        return cls(d.get("live_key"), d.get("live_platform"), d.get("live_time"))


@dataclass(frozen=True, slots=True)
class OnlineCount:
    """The online / high-energy user count (``online_count``)."""

    count: int | None
    online_count: int | None

    @classmethod
    def of(cls, ev: _EventLike) -> OnlineCount:
        """The view of an ``online_count`` event."""
        d = _check(ev, "online_count")
        return cls(d.get("count"), d.get("online_count"))


@dataclass(frozen=True, slots=True)
class Watched:
    """How many people watched (``watched``)."""

    num: int | None
    text: str | None

    @classmethod
    def of(cls, ev: _EventLike) -> Watched:
        """The view of a ``watched`` event."""
        d = _check(ev, "watched")
        return cls(d.get("num"), d.get("text_large") or d.get("text_small"))


@dataclass(frozen=True, slots=True)
class LikeCount:
    """The room's total like count (``like_count``)."""

    count: int | None

    @classmethod
    def of(cls, ev: _EventLike) -> LikeCount:
        """The view of a ``like_count`` event."""
        return cls(_check(ev, "like_count").get("count"))


@dataclass(frozen=True, slots=True)
class Popularity:
    """The heartbeat reply's popularity figure (``popularity``)."""

    value: int

    @classmethod
    def of(cls, ev: _EventLike) -> Popularity:
        """The view of a ``popularity`` event."""
        return cls(_int(_check(ev, "popularity"), "popularity"))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a component failed on (``dead_letter``): which component, the error, its traceback, and the
    failed event in its JSON form (``Event.from_dict(view.event)`` rebuilds it)."""

    component: str | None
    component_type: str | None
    error_type: str | None
    error: str | None
    traceback: str | None
    event: dict[str, Any] | None

    @classmethod
    def of(cls, ev: _EventLike) -> DeadLetter:
        """The view of a ``dead_letter`` event."""
        d = _check(ev, "dead_letter")
        return cls(d.get("component"), d.get("component_type"), d.get("error_type"), d.get("error"),
                   d.get("traceback"), d.get("event"))
