"""Bilibili live command dicts -> :class:`~livepipe.events.Event` (sans-I/O, lenient, fast).

:func:`parse_command` turns one decoded JSON message (``{"cmd": ..., ...}``) into one event.
The mapping from cmd to ``kind`` and the ``data`` keys of every kind are the public contract
documented in ``docs/bilibili/events.md``; keep the two in step.

Rules (all documented there):

* ``cmd`` suffixes are stripped (``DANMU_MSG:4:0:2:2:2:0`` -> ``DANMU_MSG``); ``Event.cmd`` holds
  the stripped form, ``raw["cmd"]`` the original.
* ``Event.room_id`` is always the ``room_id`` argument: the real id of the room whose connection
  carried the message. Room ids inside messages stay in ``raw``.
* ``Event.ts`` is the message's own time where it has one (converted to seconds); otherwise the
  root ``send_time`` (ms) where present; otherwise the receive time (``time.time()``).
* ``Event.id`` is the danmaku ``id_str`` where there is one; otherwise
  ``make_id(room_id, cmd, t, message)`` where ``t`` is the message's own time, or ``0.0`` when the
  message has none. Receive time never enters an id, so two workers that receive the same message
  compute the same id (JetStream de-duplication works across replicas).
* Masked senders (anonymous connections: uid 0, names like ``x***``) get ``uid=None`` and
  ``data["masked"] = True``. Every kind that names a user has a ``masked`` key.
* Unknown cmds give ``kind="raw"`` (``data == {}``); a known cmd whose shape we cannot read gives
  ``kind="raw"`` with ``data == {"error": "..."}``. Nothing is dropped.
* A message that is not a dict raises :class:`MessageError` (a ``ValueError``); a dict without a
  string ``cmd`` becomes a ``raw`` event with ``cmd=None``. Nothing else is ever raised.

The parsers live by family in this package (:mod:`~livepipe.bilibili.commands.chat`,
:mod:`~.gifts` (gifts and money), :mod:`~.users` (entries, likes, counters, rankings, medals),
:mod:`~.room` (room state), :mod:`~.notices` (notices, PK, lotteries, red packets)) on the shared
helpers of :mod:`~.common`; this module holds the one table :data:`COMMANDS`, the dispatch and
:func:`parse_command`. A table lookup calls the parser directly, so the split adds nothing per message.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili.commands.chat import _danmaku, _dm_interaction, _recall
from livepipe.bilibili.commands.common import Handler, MessageError, _new_event, _now, _raw, body_id
from livepipe.bilibili.commands.gifts import (
    _combo_send,
    _guard_buy,
    _send_gift,
    _send_gift_v2,
    _super_chat,
    _super_chat_delete,
    _user_toast,
    _user_toast_v2,
)
from livepipe.bilibili.commands.notices import (
    _login_notice,
    _lottery_award,
    _lottery_start,
    _notice,
    _pk_end,
    _pk_progress,
    _pk_settle,
    _pk_start,
    _red_packet_start,
    _red_packet_winners,
)
from livepipe.bilibili.commands.room import (
    _admin_change,
    _block,
    _change_room_info,
    _cut_off,
    _cut_off_v2,
    _live,
    _preparing,
    _room_admins,
    _room_change,
    _room_real_time,
    _silent,
    _warning,
)
from livepipe.bilibili.commands.users import (
    _entry_effect,
    _interact_word,
    _interact_word_v2,
    _like_click,
    _like_update,
    _medal_change,
    _online_count,
    _online_rank_top3,
    _online_rank_v2,
    _online_rank_v3,
    _watched,
)
from livepipe.events import Event, RawMessage, make_id

__all__ = ["COMMANDS", "CMD_KINDS", "PREFIXES", "PREFIX_KINDS", "MessageError", "body_id", "kind_for_cmd",
           "parse_command"]


#: The one table of known cmds: cmd -> (parser, kind). The kinds and their ``data`` are documented in
#: docs/bilibili/events.md (INTERACT_WORD(_V2) vary by ``msg_type``: see there).
COMMANDS: dict[str, tuple[Handler, str]] = {
    "DANMU_MSG": (_danmaku, "danmaku"), "DANMU_MSG_MIRROR": (_danmaku, "danmaku"),
    "SEND_GIFT": (_send_gift, "gift"), "SEND_GIFT_V2": (_send_gift_v2, "gift"),
    "COMBO_SEND": (_combo_send, "gift_combo"),
    "GUARD_BUY": (_guard_buy, "guard"), "USER_TOAST_MSG": (_user_toast, "guard"),
    "USER_TOAST_MSG_V2": (_user_toast_v2, "guard"),
    "SUPER_CHAT_MESSAGE": (_super_chat, "super_chat"), "SUPER_CHAT_MESSAGE_JPN": (_super_chat, "super_chat"),
    "SUPER_CHAT_MESSAGE_DELETE": (_super_chat_delete, "super_chat_delete"),
    "INTERACT_WORD": (_interact_word, "enter"), "INTERACT_WORD_V2": (_interact_word_v2, "enter"),
    "ENTRY_EFFECT": (_entry_effect, "enter"), "ENTRY_EFFECT_MUST_RECEIVE": (_entry_effect, "enter"),
    "LIKE_INFO_V3_CLICK": (_like_click, "like"), "LIKE_INFO_V3_UPDATE": (_like_update, "like_count"),
    "WATCHED_CHANGE": (_watched, "watched"), "ONLINE_RANK_COUNT": (_online_count, "online_count"),
    "ONLINE_RANK_V2": (_online_rank_v2, "online_rank"), "ONLINE_RANK_V3": (_online_rank_v3, "online_rank"),
    "ONLINE_RANK_TOP3": (_online_rank_top3, "online_rank"),
    "DM_INTERACTION": (_dm_interaction, "interaction"),
    "LIVE": (_live, "live"), "PREPARING": (_preparing, "preparing"), "ROOM_CHANGE": (_room_change, "room_change"),
    "CHANGE_ROOM_INFO": (_change_room_info, "room_info"),
    "ROOM_REAL_TIME_MESSAGE_UPDATE": (_room_real_time, "room_info"),
    "WARNING": (_warning, "warning"), "CUT_OFF": (_cut_off, "cut_off"), "CUT_OFF_V2": (_cut_off_v2, "cut_off"),
    "ROOM_SILENT_ON": (_silent, "silent"), "ROOM_SILENT_OFF": (_silent, "silent"),
    "ROOM_BLOCK_MSG": (_block, "block"),
    "ROOM_ADMINS": (_room_admins, "admins"), "room_admin_entrance": (_admin_change, "admins"),
    "ROOM_ADMIN_REVOKE": (_admin_change, "admins"),
    "RECALL_DANMU_MSG": (_recall, "recall"), "LOG_IN_NOTICE": (_login_notice, "login_notice"),
    "PK_BATTLE_START": (_pk_start, "pk_start"), "PK_BATTLE_START_NEW": (_pk_start, "pk_start"),
    "PK_BATTLE_PROCESS": (_pk_progress, "pk_progress"), "PK_BATTLE_PROCESS_NEW": (_pk_progress, "pk_progress"),
    "PK_BATTLE_END": (_pk_end, "pk_end"),
    "PK_BATTLE_SETTLE": (_pk_settle, "pk_settle"), "PK_BATTLE_SETTLE_V2": (_pk_settle, "pk_settle"),
    "ANCHOR_LOT_START": (_lottery_start, "lottery_start"), "ANCHOR_LOT_AWARD": (_lottery_award, "lottery_award"),
    "POPULARITY_RED_POCKET_START": (_red_packet_start, "red_packet_start"),
    "POPULARITY_RED_POCKET_V2_START": (_red_packet_start, "red_packet_start"),
    "POPULARITY_RED_POCKET_WINNER_LIST": (_red_packet_winners, "red_packet_winners"),
    "POPULARITY_RED_POCKET_V2_WINNER_LIST": (_red_packet_winners, "red_packet_winners"),
    "MESSAGEBOX_USER_MEDAL_CHANGE": (_medal_change, "medal_change"),
    "MESSAGEBOX_USER_GAIN_MEDAL": (_medal_change, "medal_change"),
    "NOTICE_MSG": (_notice, "notice"), "COMMON_NOTICE_DANMAKU": (_notice, "notice"), "SYS_MSG": (_notice, "notice"),
    "WIDGET_BANNER": (_notice, "notice"), "STOP_LIVE_ROOM_LIST": (_notice, "notice"),
    "POPULAR_RANK_CHANGED": (_notice, "notice"), "AREA_RANK_CHANGED": (_notice, "notice"),
}  # fmt: skip


#: cmd families matched by prefix (after exact names), with their parser and kind; all are broadcasts.
PREFIXES: tuple[tuple[str, Handler, str], ...] = (
    ("HOT_RANK_", _notice, "notice"),
    ("PK_", _notice, "notice"),
    ("ANCHOR_LOT_", _notice, "notice"),
    ("POPULARITY_RED_POCKET_", _notice, "notice"),
)


_HANDLERS: dict[str, Handler] = {cmd: h for cmd, (h, _) in COMMANDS.items()}


#: The kind each known cmd maps to (derived from :data:`COMMANDS`).
CMD_KINDS: dict[str, str] = {cmd: kind for cmd, (_, kind) in COMMANDS.items()}


#: Prefix families and their kind (derived from :data:`PREFIXES`).
PREFIX_KINDS: dict[str, str] = {prefix: kind for prefix, _, kind in PREFIXES}


# Full cmd string (suffix included) -> (handler, stripped cmd). Filled lazily, bounded.
_DISPATCH: dict[str, tuple[Handler, str]] = {name: (h, name) for name, h in _HANDLERS.items()}


_DISPATCH_LIMIT = 4096


def _resolve(cmd: str) -> tuple[Handler, str]:
    base = cmd.split(":", 1)[0] if ":" in cmd else cmd
    h = _HANDLERS.get(base)
    if h is None:
        h = _raw
        for prefix, ph, _ in PREFIXES:
            if base.startswith(prefix):
                h = ph
                break
    entry = (h, base)
    if len(_DISPATCH) < _DISPATCH_LIMIT:
        _DISPATCH[cmd] = entry
    return entry


def kind_for_cmd(cmd: str) -> str:
    """The kind a cmd maps to (suffix ignored); ``raw`` for unknown cmds. INTERACT_WORD varies by msg_type."""
    base = cmd.split(":", 1)[0]
    kind = CMD_KINDS.get(base)
    if kind is not None:
        return kind
    for prefix, k in PREFIX_KINDS.items():
        if base.startswith(prefix):
            return k
    return "raw"


def parse_command(message: dict[str, Any], room_id: int) -> Event:
    """Turn one decoded live message into an :class:`Event`.

    ``room_id`` is the real id of the room the message arrived for; it becomes ``Event.room_id``.
    Raises :class:`MessageError` if ``message`` is not a dict, and nothing else: a message whose
    shape cannot be read becomes a ``raw`` event with ``data["error"]`` set.
    """
    if type(message) is not dict and type(message) is not RawMessage:
        if not isinstance(message, dict):
            raise MessageError(f"a live message must be a JSON object, not {type(message).__name__}")
        message = dict(message)
    cmd = message.get("cmd")
    if type(cmd) is not str:
        return _safe_raw(message, None, room_id, None)
    entry = _DISPATCH.get(cmd)
    if entry is None:
        entry = _resolve(cmd)
    try:
        return entry[0](message, entry[1], room_id)
    except Exception as e:  # a shape we do not understand: keep the message as raw
        return _safe_raw(message, entry[1], room_id, e)


def _safe_raw(message: dict[str, Any], cmd: str | None, room_id: int, error: Exception | None) -> Event:
    data = {} if error is None else {"error": f"{type(error).__name__}: {error}"[:500]}
    ts = _now()
    try:
        eid = make_id(room_id, cmd, 0.0, message)
    except Exception:  # an unhashable, non-JSON-able oddity (nested too deep to encode): a per-arrival id, from
        # the top-level keys only (repr() of a message nested 1,000 deep raises RecursionError too)
        eid = make_id(room_id, cmd, ts, [str(k)[:100] for k in message][:100])
    return _new_event(Event, (eid, "raw", cmd, room_id, ts, None, None, None, data, message))


def register_cmds(handlers: dict[str, Handler], kinds: dict[str, str]) -> None:
    """Add handlers for more exact cmd names (and the kind each maps to) to :func:`parse_command`.

    Used by :mod:`livepipe.bilibili.open_commands` for the open platform's ``LIVE_OPEN_PLATFORM_*``
    cmds, so every reader of raw messages (the sources, ``replay``, ``livepipe test``) knows them.
    """
    COMMANDS.update({name: (h, kinds[name]) for name, h in handlers.items()})
    _HANDLERS.update(handlers)
    CMD_KINDS.update(kinds)
    for name, h in handlers.items():
        _DISPATCH[name] = (h, name)
