"""The ``bilibili.send`` sink: live chat messages (msg/send) and video danmaku (x/v2/dm/post, x/dm/recall).

Live messages go through a per-account token bucket (one message per ``min_interval`` seconds,
shared by every ``bilibili.send`` sink of this process using the same account), a duplicate-text
guard, and splitting: text longer than ``max_length`` is cut at sentence punctuation, then commas,
then spaces, else hard, never inside a character cluster (surrogate pair, emoji sequence,
combining mark). Silent failures (code 0 with ``f``, ``k``, ``msg repeat``) are outcome
``rejected``; ``msg in 1s`` and 10030/10031 are retried after the rate limit. A message whose
request a restart interrupted (the journal has its intent, not its result) is not sent again when
it is delivered again: outcome ``in_doubt``, so it is shown at most once.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from livepipe.bilibili import actions as act
from livepipe.bilibili.api import ApiError, Outcome
from livepipe.bilibili.sinks.common import ActionFailed, ActionSink, ActionSinkConfig
from livepipe.events import Event
from livepipe.schema import field

#: x/v2/dm/post codes: (what to do, what it means).
VIDEO_POST_CODES: dict[int, tuple[str, str]] = {
    36700: ("retry", "danmaku posting is down for maintenance"),
    36701: ("rejected", "the text contains forbidden content"),
    36702: ("rejected", "the text is longer than 100 characters"),
    36703: ("retry", "posting too often on videos (wait a few seconds between posts)"),
    36704: ("rejected", "the video is not yet approved; danmaku are not accepted"),
    36705: ("rejected", "the account's level is too low to post danmaku"),
    36706: ("rejected", "the account's level is too low for top danmaku (mode 5)"),
    36707: ("rejected", "the account's level is too low for bottom danmaku (mode 4)"),
    36708: ("rejected", "the account's level is too low for coloured danmaku"),
    36709: ("rejected", "the account's level is too low for advanced danmaku (mode 7)"),
    36710: ("rejected", "the account may not post this danmaku style (mode/pool combination)"),
    36711: ("rejected", "this video does not accept danmaku"),
    36712: ("rejected", "level-1 accounts may post at most 20 characters"),
    36713: ("rejected", "the video is paid content the account has not bought"),
    36714: ("rejected", "the progress time is not valid for this video"),
    36715: ("rejected", "the account reached today's limit of danmaku operations"),
}
#: x/dm/recall codes.
VIDEO_RECALL_CODES: dict[int, tuple[str, str]] = {
    36301: ("rejected", "the danmaku is older than two minutes and can no longer be recalled"),
    36302: ("rejected", "the danmaku was already deleted or recalled"),
    36303: ("rejected", "no recalls left today (three per day)"),
    36304: ("retry", "server error while recalling"),
    -404: ("rejected", "no such danmaku of this account on that video"),
}

LIVE_MODES = (1, 4, 5)
VIDEO_MODES = (1, 4, 5, 6, 7, 8, 9)
_BVID = re.compile(r"^BV[0-9A-Za-z]{10}$")
_SENTENCE_END = set("。！？!?；;…")
_CLAUSE_END = set("，,、：:")
_CLOSERS = set("」』）)]】\"'”’》")


class SendConfig(ActionSinkConfig):
    """Config of the ``bilibili.send`` sink."""

    dedupe_window: float = field(30.0, description="seconds during which the same text to the same room (or a "
                                 "repeated action id) is not sent again; 0 = off", ge=0)
    max_length: int = field(20, description="longest live message the account may send (20 for ordinary "
                            "accounts; more with a higher user level)", ge=1, le=200)
    split: bool = field(True, description="split longer text into several messages; off = such actions are "
                        "`invalid`")
    max_parts: int = field(5, description="most messages one action may be split into (more = `invalid`)",
                           ge=1, le=50)
    min_interval: float = field(1.0, description="seconds between two live messages of one account (token "
                                "bucket shared by every bilibili.send sink of the process using it)", ge=0)
    burst: int = field(1, description="messages the bucket lets through back to back after a quiet spell", ge=1,
                       le=10)
    video_min_interval: float = field(5.0, description="seconds between two video danmaku of one account", ge=0)
    video_max_length: int = field(100, description="longest video danmaku text", ge=1, le=100)


def _joins_previous(ch: str, prev: str) -> bool:
    """True when ``ch`` belongs to the same visible character as ``prev``."""
    o = ord(ch)
    if prev == "\u200d" or ch == "\u200d":
        return True
    if 0xDC00 <= o <= 0xDFFF and prev and 0xD800 <= ord(prev) <= 0xDBFF:
        return True  # low half of a surrogate pair
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= o <= 0x1F3FF or 0xE0020 <= o <= 0xE007F:  # skin tones, tag characters
        return True
    if o == 0x20E3:  # combining enclosing keycap
        return True
    return bool(unicodedata.combining(ch)) or unicodedata.category(ch) in ("Mn", "Me", "Mc")


def clusters(text: str) -> list[str]:
    """Split ``text`` into characters as a reader sees them (approximate grapheme clusters)."""
    out: list[str] = []
    ri_open = False  # an unpaired regional indicator (flag half) ends the previous cluster
    for ch in text:
        is_ri = 0x1F1E6 <= ord(ch) <= 0x1F1FF
        if out and (_joins_previous(ch, out[-1][-1]) or (is_ri and ri_open)):
            out[-1] += ch
            ri_open = False if is_ri else ri_open
            continue
        out.append(ch)
        ri_open = is_ri
    return out


def split_text(text: str, max_length: int) -> list[str]:
    """Cut ``text`` into parts of at most ``max_length`` characters at sensible places.

    Prefers the end of a sentence (。！？!?；;…), then a clause (，,、：:), then a space, each only
    when the part stays at least a third of ``max_length`` long; otherwise cuts hard. Never cuts
    inside a character cluster; spaces at the cut are dropped.
    """
    cl = clusters(text.strip())
    parts: list[str] = []
    while cl:
        if sum(len(c) for c in cl) <= max_length:
            parts.append("".join(cl).strip())
            break
        n, size = 0, 0  # how many clusters fit
        while n < len(cl) and size + len(cl[n]) <= max_length:
            size += len(cl[n])
            n += 1
        n = max(n, 1)  # one cluster longer than the limit goes alone
        cut = _best_cut(cl, n, max(1, max_length // 3))
        part = "".join(cl[:cut]).strip()
        if part:
            parts.append(part)
        cl = cl[cut:]
        while cl and cl[0].isspace():
            cl = cl[1:]
    return [p for p in parts if p]


def _best_cut(cl: list[str], n: int, min_len: int) -> int:
    """Index after which to cut, within the first ``n`` clusters."""
    for marks in (_SENTENCE_END, _CLAUSE_END):
        for i in range(n - 1, min_len - 1, -1):
            if cl[i] in marks:
                j = i + 1
                while j < n and cl[j] in _CLOSERS:  # keep a closing quote with its sentence
                    j += 1
                return j
    for i in range(n, min_len - 1, -1):
        if i < len(cl) and cl[i].isspace():
            return i
    return n


def _id_str(data: Any) -> str | None:
    try:
        extra = json.loads(((data or {}).get("mode_info") or {}).get("extra") or "{}")
        return str(extra.get("id_str")) if extra.get("id_str") else None
    except (ValueError, AttributeError, TypeError):
        return None


def _int_field(d: dict[str, Any], key: str, *, default: int | None = None, required: bool = False) -> int | None:
    v = d.get(key, default)
    if v is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{key} must be an integer, got {v!r}")
    return v


class SendSink(ActionSink):
    """Sends live chat messages and emoticons, and posts or recalls video danmaku (``action.send``)."""

    type_name = "bilibili.send"
    Config = SendConfig
    handles = (act.SEND,)

    def __init__(self, config: SendConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: SendConfig = config
        #: (room_id, text) -> clock.monotonic() when sent
        self._sent: dict[tuple[int, str], float] = {}

    # ---- validation -----------------------------------------------------------------------------

    def validate(self, event: Event) -> dict[str, Any]:
        """Check a live message (text, room, reply, mode, length) or a video danmaku post/recall."""
        d = event.data
        if d.get("target", "live") == "video":
            return self._validate_video(event)
        if d.get("target", "live") != "live":
            raise ValueError(f"target must be 'live' or 'video', got {d.get('target')!r}")
        text = d.get("text", event.text)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("action.send without text")
        fields: dict[str, Any] = {"room_id": self.room_of(event), "text": text}
        reply = _int_field(d, "reply_uid")
        if reply is not None:
            if reply <= 0:
                raise ValueError(f"reply_uid must be a positive user id, got {reply}")
            fields["reply_uid"] = reply
        mode = _int_field(d, "mode", default=1)
        if mode not in LIVE_MODES:
            raise ValueError(f"mode must be one of {LIVE_MODES} (scroll, bottom, top), got {mode}")
        if mode != 1:
            fields["mode"] = mode
        if d.get("emoticon"):
            fields["emoticon"] = True
            if len(text) > 64 or any(c.isspace() for c in text):
                raise ValueError(f"emoticon must be an emoticon id such as 'official_147', got {text!r}")
            fields["parts"] = [text]
            return fields
        if len(text) > self.config.max_length:
            if not self.config.split:
                raise ValueError(f"text is {len(text)} characters, longer than max_length "
                                 f"{self.config.max_length}, and split is off")
            parts = split_text(text, self.config.max_length)
            if len(parts) > self.config.max_parts:
                raise ValueError(f"text of {len(text)} characters needs {len(parts)} messages of at most "
                                 f"{self.config.max_length}; max_parts is {self.config.max_parts}")
        else:
            parts = [text]
        fields["parts"] = parts
        return fields

    def _validate_video(self, event: Event) -> dict[str, Any]:
        d = event.data
        op = d.get("op", "post")
        cid = _int_field(d, "cid", required=True)
        if cid is None or cid <= 0:
            raise ValueError("cid must be a positive video part id")
        fields: dict[str, Any] = {"target": "video", "op": op, "cid": cid}
        if op == "recall":
            dmid = _int_field(d, "dmid", required=True)
            if dmid is None or dmid <= 0:
                raise ValueError("a recall needs dmid, the id of the danmaku to take back")
            fields["dmid"] = dmid
            return fields
        if op != "post":
            raise ValueError(f"op must be 'post' or 'recall', got {op!r}")
        aid, bvid = _int_field(d, "aid"), d.get("bvid")
        if aid is None and not bvid:
            raise ValueError("a video danmaku needs aid or bvid")
        if aid is not None:
            if aid <= 0:
                raise ValueError(f"aid must be positive, got {aid}")
            fields["aid"] = aid
        if bvid:
            if not isinstance(bvid, str) or not _BVID.match(bvid):
                raise ValueError(f"bvid must look like BV1xx411c7mD (BV + 10 letters/digits), got {bvid!r}")
            fields["bvid"] = bvid
        text = d.get("text", event.text)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a video danmaku needs text")
        if len(text) > self.config.video_max_length:
            raise ValueError(f"video danmaku text is {len(text)} characters; at most "
                             f"{self.config.video_max_length} are allowed")
        fields["text"] = text
        progress = _int_field(d, "progress_ms", default=0)
        if progress is None or progress < 0:
            raise ValueError(f"progress_ms must be >= 0, got {progress}")
        mode = _int_field(d, "mode", default=1)
        if mode not in VIDEO_MODES:
            raise ValueError(f"mode must be one of {VIDEO_MODES} (1 scroll, 4 bottom, 5 top, 7 advanced, 9 BAS), "
                             f"got {mode}")
        pool = _int_field(d, "pool", default=0)
        if pool not in (0, 1, 2):
            raise ValueError(f"pool must be 0 (normal), 1 (subtitles) or 2 (special), got {pool}")
        if (mode == 9) != (pool == 2):
            raise ValueError("BAS danmaku (mode 9) go to pool 2, and pool 2 takes only mode 9")
        color = _int_field(d, "color", default=0xFFFFFF)
        if color is None or not 0 <= color <= 0xFFFFFF:
            raise ValueError(f"color must be an RGB value 0..16777215, got {color}")
        fontsize = _int_field(d, "fontsize", default=25)
        if fontsize is None or not 1 <= fontsize <= 100:
            raise ValueError(f"fontsize must be 1..100 (25 is normal), got {fontsize}")
        fields.update(progress_ms=progress, mode=mode, pool=pool, color=color, fontsize=fontsize)
        return fields

    # ---- duplicates ---------------------------------------------------------------------------------

    def duplicate(self, event: Event, fields: dict[str, Any]) -> str | None:
        """The same text to the same room within ``dedupe_window``."""
        if fields.get("target") == "video":
            return None
        t = self._sent.get((fields["room_id"], fields["text"]))
        if t is not None and self.clock.monotonic() - t <= self.config.dedupe_window:
            return f"the same text was sent to room {fields['room_id']} {self.clock.monotonic() - t:.0f} s ago"
        return None

    def remember(self, event: Event, fields: dict[str, Any], outcome: str) -> None:
        """Note the text for the duplicate guard."""
        if fields.get("target") == "video":
            return
        now = self.clock.monotonic()
        self._sent[(fields["room_id"], fields["text"])] = now
        if len(self._sent) > 10_000:
            self._sent = {k: v for k, v in self._sent.items() if now - v <= self.config.dedupe_window}

    def describe(self, fields: dict[str, Any]) -> str:
        """What the action would send."""
        if fields.get("target") == "video":
            if fields["op"] == "recall":
                return f"recall video danmaku {fields['dmid']} of cid {fields['cid']}"
            return f"post {fields['text']!r} on video cid {fields['cid']} at {fields['progress_ms']} ms"
        parts = fields["parts"]
        what = "emoticon" if fields.get("emoticon") else ("message" if len(parts) == 1 else f"{len(parts)} messages")
        return f"send {what} {parts if len(parts) > 1 else parts[0]!r} to room {fields['room_id']}"

    # ---- execution ----------------------------------------------------------------------------------

    async def in_doubt(self, event: Event, fields: dict[str, Any]) -> tuple[str, str]:
        """A danmaku a restart interrupted after its request is not sent again: nothing tells whether it was shown."""
        return "unknown", "a sent danmaku cannot be looked up"

    async def execute(self, event: Event, fields: dict[str, Any]) -> dict[str, Any]:
        """Send every part (live) or post/recall (video)."""
        if fields.get("target") == "video":
            return await self._video(fields)
        api = self.api
        assert api is not None
        room_id = fields["room_id"]
        sent: list[dict[str, Any]] = []
        parts = fields["parts"]
        for i, part in enumerate(parts):
            async def one(p: str = part, first: bool = i == 0) -> Any:
                try:
                    return await api.send_danmaku(room_id, p, reply_uid=fields.get("reply_uid", 0) if first else 0,
                                                  emoticon=bool(fields.get("emoticon")), mode=fields.get("mode", 1))
                except ApiError as e:
                    if e.code == 0 and e.message == "msg in 1s":  # too fast, said silently: retry like 10031
                        raise ApiError(0, e.message, e.endpoint, outcome=Outcome.RETRY) from None
                    raise

            try:
                data = await self.call(one, channel="live_dm", interval=self.config.min_interval)
            except ActionFailed as e:
                e.details = {"parts": len(parts), "sent": sent, "failed_part": i}
                if sent:
                    e.message = f"part {i + 1} of {len(parts)}: {e.message}"
                raise
            sent.append({"text": part, "id_str": _id_str(data)})
        return {"parts": len(parts), "sent": sent, "message": self.describe(fields)}

    async def _video(self, fields: dict[str, Any]) -> dict[str, Any]:
        api = self.api
        assert api is not None
        if fields["op"] == "recall":
            await self.call(lambda: api.recall_video_danmaku(fields["cid"], fields["dmid"]), codes=VIDEO_RECALL_CODES)
            return {"dmid": fields["dmid"], "message": self.describe(fields)}
        data = await self.call(
            lambda: api.post_video_danmaku(fields["cid"], fields["text"], aid=fields.get("aid"),
                                           bvid=fields.get("bvid"), progress_ms=fields["progress_ms"],
                                           mode=fields["mode"], color=fields["color"], fontsize=fields["fontsize"],
                                           pool=fields["pool"]),
            channel="video_dm", interval=self.config.video_min_interval, codes=VIDEO_POST_CODES)
        dmid = (data or {}).get("dmid_str") or (data or {}).get("dmid")
        return {"dmid": str(dmid) if dmid is not None else None, "message": self.describe(fields)}
