"""The typed fast path of the decoder: a ``DANMU_MSG`` body (bytes) straight to its event.

:func:`danmaku_event` decodes only the fields the ``danmaku`` event uses, with msgspec into
positional Structs (the rest of the 1.5-2 KB message is scanned, not built), and leaves ``raw``
as the received bytes (:class:`~livepipe.events.LazyRaw`, parsed when something reads it).

It handles the usual shape only and says so by returning ``None`` for anything else: a field of
another type than Bilibili sends (a numeric string, a float, a short list), an integer beyond
64 bits, a missing ``id_str``, a zero time, invalid JSON or UTF-8. The caller then decodes the body
the general way (``orjson`` + :func:`~livepipe.bilibili.commands.parse_command`), so a body gives
the event it gave before, also when this path declines it (``tests/bilibili/test_fast_decode.py``
checks that on the fixtures, the benchmark's traffic, generated shapes and damaged bytes). The one
difference: msgspec does not range-check numbers it skips, so a number beyond the double range
(``1e400``) in a part of the message the event does not read no longer makes orjson drop the whole
message (documented in ``docs/bilibili/events.md``).

Measured on the benchmark's danmaku, per message: msgspec decode 2.2 us against 2.9 us for
``orjson.loads`` of the whole message, ``extra`` 0.3 against 0.8 us, and no dict for ``raw``.

The compiled hot path: ``livepipe.bilibili._cdecode`` (C, built at install when a compiler is
there) does what :func:`danmaku_event` does with a byte scanner, the framing and dispatch of
``decode_events``, and the general path of the most frequent other cmds (``INTERACT_WORD_V2``,
``SEND_GIFT``, ``SEND_GIFT_V2``, ``GUARD_BUY``, ``USER_TOAST_MSG_V2``, ``LIKE_INFO_V3_CLICK``,
``ENTRY_EFFECT``, ``ONLINE_RANK_V3`` and the counters ``LIKE_INFO_V3_UPDATE``, ``ONLINE_RANK_COUNT``,
``WATCHED_CHANGE``: their handler, and the id hashed from the body's bytes, their ``raw`` a
:class:`~livepipe.events.LazyRaw` too); it declines to this module and to the general path on
anything unusual, so both give the same events.
:data:`COMPILED` says whether it is active: it is, when the extension was built and the
environment variable ``LIVEPIPE_PURE_PYTHON`` (read once, at import) is not set to ``1``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from livepipe.events import Event, LazyRaw

__all__ = ["COMPILED", "PURE_PYTHON_ENV", "danmaku_event", "decoder_description"]

#: The environment variable that, set to ``1``, turns the compiled decoder off (read once, at import).
PURE_PYTHON_ENV = "LIVEPIPE_PURE_PYTHON"

# orjson reads integers up to 64 bits as int (beyond as float); msgspec bounds fit int64: these pass.
I64 = Annotated[int, Meta(ge=-(1 << 63), le=(1 << 63) - 1)]

_RAW = Raw()  # the default of positions whose value is a container the event does not read

#: A value of a flat object the event keeps whole (emots, emoticon); anything nested: the general path.
_Value = I64 | float | str | bool | None


class _Base(Struct, gc=False):
    face: str | None = None


class _User(Struct, gc=False):
    base: _Base | None = None


class _ModeInfo(Struct, gc=False):
    extra: str | None = None
    user: _User | None = None


class _P(Struct, array_like=True, gc=False):
    """``info[0]``: the mode fields (positions 0-15; later ones are ignored)."""

    p0: Any
    mode: I64
    font_size: I64
    color: I64
    ts: I64
    rnd: I64
    p6: Any
    crc: str
    p8: Any
    p9: Any
    p10: Any
    p11: Any
    dm_type: I64
    emoticon: str | dict[str, _Value]
    p14: Any
    mode_info: _ModeInfo | None


class _U(Struct, array_like=True, gc=False):
    """``info[2]``: the sender."""

    uid: I64
    uname: str
    admin: I64


class _Medal(Struct, array_like=True, gc=False):
    """``info[3]``: the fan medal; ``level`` is UNSET for ``[]``, ``suid`` for a list shorter than 13."""

    level: I64 | UnsetType = UNSET
    name: str = ""
    sname: str = ""
    room: I64 = 0
    m4: Any = None
    m5: Any = None
    m6: Any = None
    m7: Any = None
    m8: Any = None
    m9: Any = None
    guard: I64 = 0
    lit: I64 = 0
    suid: I64 | UnsetType = UNSET


class _First(Struct, array_like=True, gc=False):
    """A list of which only the first element is read (``info[4]`` user level, ``info[16]`` wealth)."""

    v: I64 | UnsetType = UNSET


class _Info(Struct, array_like=True, gc=False):
    p: _P
    text: str | None
    u: _U
    medal: _Medal | None = None
    ul: _First | None = None
    i5: Raw = _RAW
    i6: Any = None
    guard: I64 | None = 0
    i8: Any = None
    i9: Raw = _RAW
    i10: Any = None
    i11: Any = None
    i12: Any = None
    i13: Any = None
    i14: Any = None
    i15: Any = None
    wealth: _First | None = None


class _Extra(Struct, gc=False):
    """The parts of ``info[0][15].extra`` (JSON inside a JSON string) the event uses."""

    id_str: str | None = None
    emots: dict[str, dict[str, _Value]] | None = None
    reply_mid: I64 | None = None
    reply_uname: str | None = None


class _Danmaku(Struct, gc=False):
    cmd: str
    info: _Info


_decode = msgspec.json.Decoder(_Danmaku).decode
_decode_extra = msgspec.json.Decoder(_Extra).decode
#: The decoders of ``extra.emots`` and of an object ``emoticon`` (the compiled path calls these too).
decode_emots = msgspec.json.Decoder(dict[str, dict[str, _Value]]).decode
decode_emoticon = msgspec.json.Decoder(dict[str, _Value]).decode
_loads = orjson.loads
_new_event = tuple.__new__
_new_object = object.__new__
_CMDS = {"DANMU_MSG": "DANMU_MSG", "DANMU_MSG_MIRROR": "DANMU_MSG_MIRROR"}


def danmaku_event(body: bytes, room_id: int) -> Event | None:
    """The ``danmaku`` event of a ``DANMU_MSG`` body, or ``None`` when the body is not of the usual shape."""
    if not body.isascii():
        try:  # msgspec does not check UTF-8 in strings it skips; orjson (the general path) does
            body.decode()
        except UnicodeDecodeError:
            return None
    try:
        m = _decode(body)
    except (ValueError, RecursionError):
        return None
    cmd = m.cmd
    base = _CMDS.get(cmd)
    if base is None:
        base = _CMDS.get(cmd.split(":", 1)[0]) if ":" in cmd else None
        if base is None:
            return None
    info = m.info
    p = info.p
    mi = p.mode_info
    if mi is None or not mi.extra or p.ts <= 0:
        return None
    try:
        x = _decode_extra(mi.extra)
    except (ValueError, RecursionError):
        return None  # another shape of extra (nested emots, a string reply_mid, ...): the general path
    id_str = x.id_str
    if not id_str:
        return None
    emots = x.emots
    reply_uid = x.reply_mid
    reply_uname = x.reply_uname
    face = None
    user = mi.user
    if user is not None and user.base is not None:
        face = user.base.face or None

    u = info.u
    uid = u.uid
    uname = u.uname
    masked = uid == 0 or uname.endswith("***")
    if masked:
        uid = None

    dm_type = p.dm_type
    emoticon = None
    if dm_type == 1:
        e: Any = p.emoticon
        if type(e) is str and e and e != "{}":
            try:
                e = _loads(e)
            except ValueError:
                e = None
        if type(e) is dict and e:
            emoticon = e

    md = info.medal
    medal = None
    if md is not None and md.level is not UNSET:
        if md.suid is UNSET:
            return None  # a medal list shorter than 13: the general path reads it leniently
        medal = {
            "level": md.level,
            "name": md.name,
            "streamer_uid": md.suid,
            "streamer_name": md.sname,
            "room_id": md.room,
            "guard_level": md.guard or 0,
            "is_lighted": bool(md.lit),
        }
    ul = info.ul
    wealth = info.wealth
    reply_uid = reply_uid or None
    data = {
        "mode": p.mode,
        "font_size": p.font_size,
        "color": p.color,
        "rnd": p.rnd,
        "uid_crc32": p.crc,
        "dm_type": dm_type,
        "emoticon": emoticon,
        "emots": emots or None,
        "face": face,
        "is_admin": bool(u.admin),
        "user_level": None if ul is None or ul.v is UNSET else ul.v,
        "guard_level": info.guard or 0,
        "wealth_level": None if wealth is None or wealth.v is UNSET else wealth.v,
        "medal": medal,
        "reply_uid": reply_uid,
        "reply_uname": (reply_uname or None) if reply_uid else None,
        "mirror": base == "DANMU_MSG_MIRROR",
        "masked": masked,
    }
    raw = _new_object(LazyRaw)  # LazyRaw(body) without the call of its __init__
    raw.json = body
    return _new_event(Event, (id_str, "danmaku", base, room_id, p.ts / 1000.0, uid, uname, info.text, data, raw))



def _load_compiled() -> tuple[ModuleType | None, str]:
    """The compiled module if it is to be used, and why not otherwise."""
    try:  # by name: a compiled module, next to this one (not a Python source the layer check reads)
        _cdecode = importlib.import_module("livepipe.bilibili._cdecode")
    except ImportError as e:
        return None, f"pure Python (the C extension is not built: {e})"
    if os.environ.get(PURE_PYTHON_ENV, "") == "1":
        return None, f"pure Python ({PURE_PYTHON_ENV}=1; the C extension is built)"
    return _cdecode, "compiled (C extension livepipe.bilibili._cdecode)"


_cdecode, _DESCRIPTION = _load_compiled()
#: Whether the compiled decoder is active (built, and not turned off by ``LIVEPIPE_PURE_PYTHON=1``).
COMPILED: bool = _cdecode is not None


def decoder_description() -> str:
    """Which danmaku decoder is active, in words (``livepipe --version`` prints it)."""
    return _DESCRIPTION
