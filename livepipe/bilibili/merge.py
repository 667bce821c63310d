"""Failover: one room watched through both the web WebSocket and the open platform, merged without duplicates.

The two sources name the same happening differently: the web gives a uid (or a masked one) and an
``id_str``, the open platform an ``open_id`` and a ``msg_id``; their ids never match. What both
carry is the room, the kind, the sender's name (masked web names keep the first character:
``"光***"``) and the content. :func:`cross_key` builds the key from those:

``(room_id, kind, first character of the sender's name, content)``, content by kind: the text of
a danmaku; gift name and count; super chat text and price; guard level, months and whether it is
the toast; the ids of a super chat deletion; for enter, whether it is an entry effect.

Keys are not unique (two viewers whose names start alike may both send "666"), so the merge
**counts** instead of remembering a yes/no: per key and per side it counts events within
``window`` seconds, and lets an event through when its side has now seen that key more often than
any other side has. When both sides deliver the same messages the output is each message once;
when one side misses some (it is down, reconnecting, or lagging) the other side's copies fill in.
Kinds only one side produces (online ranks, counters, notices, status events) pass unchanged.

Known limits (docs/bilibili/web-or-open.md): a side lagging more than ``window`` behind the
other gives duplicates; likes are counted per click on the web and per 2-second burst on the open
platform, so merged likes per viewer are the larger of the two, not an exact sum; which side's
copy is emitted is whichever arrives first, so consumers must accept both shapes (``uid`` on web
events, ``data.open_id`` on open ones).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from livepipe.bilibili.open_commands import OPEN_PREFIX
from livepipe.component import Context, Emit, Processor
from livepipe.events import Event
from livepipe.schema import ProcessorConfig, field

#: the kinds both sources produce, which the merge de-duplicates
MERGED_KINDS = frozenset({"danmaku", "gift", "super_chat", "super_chat_delete", "guard", "like", "enter", "live",
                          "preparing"})  # fmt: skip


def side_of(event: Event) -> str:
    """``"open"`` for events of the open platform (``LIVE_OPEN_PLATFORM_*`` cmds), else ``"web"``."""
    cmd = event.cmd
    return "open" if cmd is not None and cmd.startswith(OPEN_PREFIX) else "web"


def cross_key(event: Event) -> tuple[Any, ...] | None:
    """The key that is equal for the web and the open-platform event of one happening; ``None``: never merged."""
    kind = event.kind
    if kind not in MERGED_KINDS:
        return None
    d = event.data
    if kind == "danmaku":
        content: Any = event.text
    elif kind == "gift":
        content = (d.get("gift_name"), d.get("num"))
    elif kind == "super_chat":
        content = (event.text, d.get("price"))
    elif kind == "guard":
        content = (d.get("guard_level"), d.get("num"), bool(d.get("toast")))
    elif kind == "super_chat_delete":
        content = tuple(d.get("ids") or ())
    elif kind == "enter":
        content = bool(d.get("effect"))
    else:  # like, live, preparing
        content = None
    return (event.room_id, kind, (event.uname or "")[:1], content)


class Merger:
    """The counting merge (sans-I/O): :meth:`accept` says whether an event is new or another side's copy."""

    def __init__(self, window: float = 30.0, max_keys: int = 100_000) -> None:
        self.window = window
        self.max_keys = max_keys
        #: key -> (time of its last event, {side: events of that side})
        self._entries: OrderedDict[tuple[Any, ...], tuple[float, dict[str, int]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def accept(self, key: tuple[Any, ...] | None, side: str, now: float) -> bool:
        """Count an event of ``side`` with ``key`` at time ``now``; True if it is to be emitted."""
        if key is None:
            return True
        entries = self._entries
        horizon = now - self.window
        while entries:
            first = next(iter(entries.values()))
            if first[0] >= horizon:
                break
            entries.popitem(last=False)
        entry = entries.pop(key, None)
        counts = entry[1] if entry is not None else {}
        mine = counts.get(side, 0) + 1
        counts[side] = mine
        entries[key] = (now, counts)
        if len(entries) > self.max_keys:
            entries.popitem(last=False)
        return all(mine > n for s, n in counts.items() if s != side)


class MergeConfig(ProcessorConfig):
    """Config of the bilibili.merge processor."""

    window: float = field(30.0, description="seconds a key is remembered after its last event: the most one "
                          "source may lag behind the other", gt=0)  # fmt: skip
    cache_size: int = field(100_000, description="most keys remembered at once (oldest forgotten first)", ge=1)


class MergeProcessor(Processor):
    """Merge the same rooms' events from ``bilibili.danmaku`` and ``bilibili.open`` into one stream, each once.

    See :mod:`livepipe.bilibili.merge` and docs/components/bilibili-merge.md.
    """

    type_name = "bilibili.merge"
    Config = MergeConfig

    def __init__(self, config: MergeConfig, context: Context) -> None:
        super().__init__(config, context)
        self.merger = Merger(config.window, config.cache_size)
        self.clock = context.clock
        self.m_dupes = {side: self.metrics.counter("bilibili_merge_duplicates_total",
                                                   "events dropped as another source's copy", side=side)
                        for side in ("web", "open")}  # fmt: skip

    async def process(self, event: Event, emit: Emit) -> None:
        """Emit ``event`` unless another source already delivered it."""
        side = side_of(event)
        if self.merger.accept(cross_key(event), side, self.clock.monotonic()):
            await emit(event)
        else:
            self.m_dupes[side].inc()
            self.metrics.discarded(intentional=True)
