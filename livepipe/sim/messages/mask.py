"""Masking for anonymous connections: what a connection without login sees of each message."""

from __future__ import annotations

import base64
import copy
from typing import Any

from livepipe.sim import pbwrite
from livepipe.sim.messages.common import (
    _medal_dict,
    mask_name,
)
from livepipe.sim.state import Room, SimUser

#: stands in for the room in an empty medal (a level-0 medal reads nothing from its room)
_NO_ROOM = Room(room_id=0, short_id=0, owner_uid=0, owner_name="")


MASKED_CMDS = frozenset({"DANMU_MSG", "INTERACT_WORD_V2", "INTERACT_WORD", "LIKE_INFO_V3_CLICK", "ENTRY_EFFECT"})


def needs_mask(msg: dict[str, Any]) -> bool:
    """Does an anonymous connection see a different version of ``msg``?"""
    cmd = str(msg.get("cmd", "")).split(":", 1)[0]
    return cmd in MASKED_CMDS


def mask(msg: dict[str, Any]) -> dict[str, Any]:
    """The copy of ``msg`` an anonymous (uid 0) connection receives; ``msg`` itself is untouched.

    A masked DANMU_MSG equals ``danmaku(..., masked=True)`` for the same sender. Parts that masking
    does not change are shared with ``msg``, not copied.
    """
    cmd = str(msg.get("cmd", "")).split(":", 1)[0]
    if cmd not in MASKED_CMDS:
        return msg
    try:
        if cmd == "DANMU_MSG":
            return _mask_danmaku(msg)
        out = copy.deepcopy(msg)
        if cmd == "ENTRY_EFFECT":
            d = out["data"]
            name = str(_d_get(d, "uinfo", "base", "name") or "")
            d["uid"] = 0
            d["face"] = ""
            for key in ("copy_writing", "copy_writing_v2"):
                if isinstance(d.get(key), str) and name:
                    d[key] = d[key].replace(f"<%{name}%>", f"<%{mask_name(name)}%>")
            d.pop("uinfo", None)
        elif cmd in ("INTERACT_WORD", "LIKE_INFO_V3_CLICK"):
            d = out["data"]
            d["uid"] = 0
            d["uname"] = mask_name(str(d.get("uname", "")))
            d.pop("uinfo", None)
            if "face" in d:
                d["face"] = ""
            if "fans_medal" in d:  # as like_click(masked=True) builds it: an empty medal
                d["fans_medal"] = _medal_dict(SimUser(0, ""), _NO_ROOM)
        elif cmd == "INTERACT_WORD_V2":
            out["data"]["pb"] = pbwrite.b64(_mask_interact_pb(base64.b64decode(out["data"]["pb"])))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return copy.deepcopy(msg)
    return out


def _d_get(d: Any, *keys: str) -> Any:
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def _mask_danmaku(msg: dict[str, Any]) -> dict[str, Any]:
    """DANMU_MSG masking by copying only the containers that change."""
    info = list(msg["info"])
    user_arr = list(info[2])
    user_arr[0] = 0
    user_arr[1] = mask_name(str(user_arr[1]))
    user_arr[2] = 0
    info[2] = user_arr
    info[3] = []
    if isinstance(info[4], list) and info[4]:
        info[4] = [0, *info[4][1:]]
    info[7] = 0
    if len(info) > 16 and isinstance(info[16], list):
        info[16] = [0]
    props = list(info[0])
    if len(props) > 15 and isinstance(props[15], dict):
        mi = dict(props[15])
        mi.pop("user", None)
        props[15] = mi
    info[0] = props
    out = dict(msg)
    out["info"] = info
    return out


def _mask_interact_pb(raw: bytes) -> bytes:
    fields = []
    for f, wt, v in pbwrite.read_fields(raw):
        if f in (1, 9, 16, 22):
            continue
        if f == 2:
            v = mask_name(v.decode("utf-8", "replace")).encode()
        fields.append((f, wt, v))
    fields.append((22, pbwrite.WT_LEN, pbwrite.uinfo(0, mask_name(""), "")))
    return pbwrite.write_fields(fields)
