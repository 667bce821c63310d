"""Action events: how a processor (or any service publishing to NATS) asks an action sink to act.

An action is an ordinary :class:`~livepipe.events.Event` whose ``kind`` is one of
``action.ban``, ``action.unban``, ``action.send`` or ``action.room_update``. Its ``data`` holds
the fields below; this is a public contract (docs/actions.md), so keys are only ever added.

``action.ban`` (``bilibili.ban``)
    ``uid`` (int, required), ``hours`` (int: -1 permanent, 0 until this stream ends, 1..720),
    ``reason`` (str), ``text`` (the offending message, sent to Bilibili as ``msg``), ``rule``
    (which rule decided), ``cause_id`` (id of the event that caused it).
``action.unban`` (``bilibili.ban``)
    ``uid`` (int, required), ``reason``, ``cause_id``.
``action.send`` (``bilibili.send``)
    live chat: ``text`` (required; an emoticon id such as ``official_147`` when ``emoticon``),
    ``reply_uid`` (int, @-mention), ``emoticon`` (bool), ``mode`` (1 scroll, 4 bottom, 5 top);
    video danmaku: ``target = "video"``, ``op`` (``"post"`` or ``"recall"``), ``cid``, ``aid`` or
    ``bvid``, ``progress_ms``, ``mode``, ``color``, ``fontsize``, ``pool``, ``dmid`` (recall).
``action.room_update`` (``bilibili.room``)
    any of ``title``, ``area_id``, ``news``, ``cover``, ``add_tag``, ``del_tag``, and at most one
    of ``start`` (needs ``area_id``) / ``stop`` (bools).

Every action may also carry ``room_id`` (the event's ``room_id`` field; the sink's ``room_id``
option is the fallback). Top-level ``uid``/``text`` fields mirror ``data`` for filtering; when both
are present, ``data`` wins.

``action.result`` events (built by :func:`result`) report what a sink did; see :data:`OUTCOMES`.
"""

from __future__ import annotations

from typing import Any

from livepipe.events import Event, make_event, make_id

BAN = "action.ban"
UNBAN = "action.unban"
SEND = "action.send"
ROOM_UPDATE = "action.room_update"
RESULT = "action.result"
ALERT = "alert"

#: The action kinds and the sink type that carries each one out.
ACTION_KINDS: dict[str, str] = {
    BAN: "bilibili.ban",
    UNBAN: "bilibili.ban",
    SEND: "bilibili.send",
    ROOM_UPDATE: "bilibili.room",
}

#: Every ``outcome`` an ``action.result`` can carry, with its meaning.
OUTCOMES: dict[str, str] = {
    "success": "Bilibili accepted the request (and, with confirmation, the effect was checked)",
    "dry_run": "dry_run is on: nothing was sent; the result says what would have been",
    "invalid": "the action was refused before any request (missing field, limit exceeded)",
    "deduplicated": "the same action was carried out recently; not sent again",
    "rejected": "Bilibili refused it, or dropped it silently (code 0 with f/k/msg repeat); not retried",
    "retry_exhausted": "a retryable error (rate limit, risk control, network) outlasted every attempt",
    "fatal": "the credential no longer works (-101, -111, 65530); the sink is suspended and alerted",
    "suspended": "not attempted: the sink is suspended after a fatal credential error",
    "unconfirmed": "code 0, but the check afterwards (ban list) did not show the effect",
    "in_doubt": "a restart interrupted the action after its request, and the service cannot tell whether it took "
    "effect (a danmaku); not repeated, so it happened at most once",
}

BAN_HOURS_MAX = 720


def _int(name: str, value: Any, *, required: bool = False) -> int | None:
    if value is None:
        if required:
            raise ValueError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return value


def check_hours(hours: Any) -> int:
    """Validate a ban duration: -1 (permanent), 0 (this stream) or 1..720 hours; returns it as int."""
    h = _int("hours", hours, required=True)
    assert h is not None
    if h < -1 or h > BAN_HOURS_MAX:
        raise ValueError(f"hours must be -1 (permanent), 0 (until this stream ends) or 1..{BAN_HOURS_MAX}, got {h}")
    return h


def _action(kind: str, room_id: int | None, data: dict[str, Any], *, uid: int | None = None,
            text: str | None = None, cause: Event | None = None, id: str | None = None,
            ts: float | None = None) -> Event:
    data = {k: v for k, v in data.items() if v is not None}
    if cause is not None:
        data.setdefault("cause_id", cause.id)
        if room_id is None:
            room_id = cause.room_id
    if id is None and cause is not None:
        # the same cause gives the same action id, so a redelivered cause is recognised downstream
        id = make_id(room_id, kind, 0.0, data)
    return make_event(kind, id=id, room_id=room_id, uid=uid, text=text, data=data, ts=ts)


def ban(uid: int, hours: int, *, room_id: int | None = None, reason: str = "", text: str | None = None,
        rule: str | None = None, cause: Event | None = None, id: str | None = None,
        ts: float | None = None) -> Event:
    """An ``action.ban``: silence ``uid`` for ``hours`` (-1 permanent, 0 this stream, N hours).

    ``cause`` (the event that triggered the ban) fills ``room_id`` when not given, is recorded as
    ``cause_id`` and makes the action id stable. Raises ``ValueError`` on a missing/invalid uid or hours.
    """
    u = _int("uid", uid, required=True)
    assert u is not None
    if u <= 0:
        raise ValueError(f"uid must be a positive user id, got {u}")
    h = check_hours(hours)
    return _action(BAN, room_id, {"uid": u, "hours": h, "reason": reason or None, "text": text, "rule": rule},
                   uid=u, text=text, cause=cause, id=id, ts=ts)


def unban(uid: int, *, room_id: int | None = None, reason: str = "", cause: Event | None = None,
          id: str | None = None, ts: float | None = None) -> Event:
    """An ``action.unban``: lift the ban of ``uid``. Raises ``ValueError`` without a valid uid."""
    u = _int("uid", uid, required=True)
    assert u is not None
    if u <= 0:
        raise ValueError(f"uid must be a positive user id, got {u}")
    return _action(UNBAN, room_id, {"uid": u, "reason": reason or None}, uid=u, cause=cause, id=id, ts=ts)


def send(text: str, *, room_id: int | None = None, reply_uid: int | None = None, emoticon: bool = False,
         mode: int | None = None, cause: Event | None = None, id: str | None = None,
         ts: float | None = None) -> Event:
    """An ``action.send``: say ``text`` in a live room's chat (or send emoticon id ``text``).

    Long text is split by the sink (``max_length``). Raises ``ValueError`` on empty text.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is required (a non-empty string)")
    r = _int("reply_uid", reply_uid)
    data = {"text": text, "reply_uid": r or None, "emoticon": True if emoticon else None, "mode": mode}
    return _action(SEND, room_id, data, text=text, cause=cause, id=id, ts=ts)


def video_danmaku(cid: int, text: str, *, aid: int | None = None, bvid: str | None = None,
                  progress_ms: int = 0, mode: int = 1, color: int = 0xFFFFFF, fontsize: int = 25,
                  pool: int = 0, cause: Event | None = None, id: str | None = None,
                  ts: float | None = None) -> Event:
    """An ``action.send`` posting ``text`` on a video (``x/v2/dm/post``) at ``progress_ms``.

    Needs ``cid`` and one of ``aid`` / ``bvid``. Raises ``ValueError`` on obvious mistakes.
    """
    c = _int("cid", cid, required=True)
    if c is None or c <= 0:
        raise ValueError("cid must be a positive video part id")
    if aid is None and not bvid:
        raise ValueError("a video danmaku needs aid or bvid")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is required (a non-empty string)")
    data = {"target": "video", "op": "post", "cid": c, "aid": aid, "bvid": bvid or None, "text": text,
            "progress_ms": progress_ms, "mode": mode, "color": color, "fontsize": fontsize, "pool": pool}
    return _action(SEND, None, data, text=text, cause=cause, id=id, ts=ts)


def video_recall(cid: int, dmid: int, *, cause: Event | None = None, id: str | None = None,
                 ts: float | None = None) -> Event:
    """An ``action.send`` recalling one's own video danmaku ``dmid`` (``x/dm/recall``)."""
    c = _int("cid", cid, required=True)
    d = _int("dmid", dmid, required=True)
    if not c or c <= 0 or not d or d <= 0:
        raise ValueError("cid and dmid must be positive ids")
    return _action(SEND, None, {"target": "video", "op": "recall", "cid": c, "dmid": d}, cause=cause, id=id, ts=ts)


def room_update(room_id: int | None = None, *, title: str | None = None, area_id: int | None = None,
                news: str | None = None, cover: str | None = None, add_tag: str | None = None,
                del_tag: str | None = None, start: bool = False, stop: bool = False,
                cause: Event | None = None, id: str | None = None, ts: float | None = None) -> Event:
    """An ``action.room_update``: change title/area/tags/news/cover, or start (in ``area_id``) / stop the stream.

    Raises ``ValueError`` when nothing would change, or on start together with stop, or start without area.
    Field limits (title <= 40, news <= 60, cover on hdslb.com) are checked by the sink, before any request.
    """
    if start and stop:
        raise ValueError("start and stop together make no sense; send two actions")
    if start and area_id is None:
        raise ValueError("start needs area_id (the child area to go live in)")
    data = {"title": title, "area_id": _int("area_id", area_id), "news": news, "cover": cover,
            "add_tag": add_tag, "del_tag": del_tag, "start": True if start else None, "stop": True if stop else None}
    if all(v is None for v in data.values()):
        raise ValueError("a room update needs at least one of title, area_id, news, cover, add_tag, del_tag, "
                         "start, stop")
    return _action(ROOM_UPDATE, room_id, data, cause=cause, id=id, ts=ts)


def result(action: Event, outcome: str, *, sink: str, sink_type: str, credential: str | None = None,
           code: int | None = None, message: str = "", latency_ms: float = 0.0, attempts: int = 0,
           fields: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
           ts: float | None = None) -> Event:
    """The ``action.result`` event reporting ``outcome`` (one of :data:`OUTCOMES`) for ``action``.

    ``data`` keys: ``action_kind``, ``action_id``, ``outcome``, ``code``, ``message``,
    ``latency_ms``, ``attempts``, ``sink``, ``sink_type``, ``credential`` (its name only),
    ``action`` (the action's key fields) and ``details`` (sink-specific: parts, steps, dmid, ...).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    data: dict[str, Any] = {
        "action_kind": action.kind,
        "action_id": action.id,
        "outcome": outcome,
        "code": code,
        "message": message,
        "latency_ms": round(float(latency_ms), 3),
        "attempts": attempts,
        "sink": sink,
        "sink_type": sink_type,
        "credential": credential,
        "action": dict(fields or {}),
        "details": dict(details or {}),
    }
    return make_event(RESULT, id=f"{action.id}.result", room_id=action.room_id, uid=action.uid,
                      text=action.text, data=data, ts=ts)


def alert(message: str, *, component: str, severity: str = "critical", code: int | None = None,
          action: Event | None = None, extra: dict[str, Any] | None = None, room_id: int | None = None,
          ts: float | None = None) -> Event:
    """An ``alert`` event: something a human must look at (``data``: severity, component, code, message, ...)."""
    data: dict[str, Any] = {"severity": severity, "component": component, "code": code, "message": message}
    if action is not None:
        data["action_id"] = action.id
        data["action_kind"] = action.kind
        room_id = room_id if room_id is not None else action.room_id
    data.update(extra or {})
    return make_event(ALERT, room_id=room_id, text=message, data=data, ts=ts)
