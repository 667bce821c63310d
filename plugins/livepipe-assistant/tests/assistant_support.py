"""Event makers and a driver that moves an engine's time in small steps, as the processor's timer would."""

from __future__ import annotations

from typing import Any

from livepipe_assistant.base import Engine

from livepipe.events import Event, make_event

ROOM = 1000
T0 = 1_700_000_000.0


def gift(uid: int, name: str = "小花花", num: int = 1, price: int = 100, *, coin: str = "gold", ts: float = T0,
         uname: str | None = None, room: int = ROOM, **data: Any) -> Event:
    """A ``gift`` event as the bilibili source makes it."""
    return make_event("gift", room_id=room, uid=uid, uname=uname or f"观众{uid}", ts=ts,
                      data={"gift_name": name, "num": num, "price": price, "total_coin": price * num,
                            "coin_type": coin, **data})


def combo(uid: int, name: str, total: int, price: int = 100, *, ts: float = T0, uname: str | None = None) -> Event:
    """A ``gift_combo`` summary."""
    return make_event("gift_combo", room_id=ROOM, uid=uid, uname=uname or f"观众{uid}", ts=ts,
                      data={"gift_name": name, "total_num": total, "combo_num": total,
                            "combo_total_coin": price * total})


def sc(uid: int, price: int = 30, text: str = "主播加油", *, ts: float = T0, sc_id: int = 1) -> Event:
    """A ``super_chat``."""
    return make_event("super_chat", room_id=ROOM, uid=uid, uname=f"观众{uid}", text=text, ts=ts,
                      data={"price": price, "sc_id": sc_id})


def guard(uid: int, level: int = 3, *, ts: float = T0, toast: bool = False) -> Event:
    """A ``guard`` purchase (or its toast)."""
    return make_event("guard", room_id=ROOM, uid=uid, uname=f"观众{uid}", ts=ts,
                      data={"guard_level": level, "num": 1, "price": 198000, "toast": toast})


def user(kind: str, uid: int, *, ts: float = T0, uname: str | None = None, room: int = ROOM,
         **data: Any) -> Event:
    """An ``enter``, ``follow`` or ``share``."""
    return make_event(kind, room_id=room, uid=uid, uname=uname or f"观众{uid}", ts=ts,
                      data={"guard_level": 0, **data})


def danmaku(uid: int, text: str, *, ts: float = T0, room: int = ROOM) -> Event:
    """A ``danmaku``."""
    return make_event("danmaku", room_id=room, uid=uid, uname=f"观众{uid}", text=text, ts=ts, data={})


class Driver:
    """Runs an engine on a fake clock: events at given times, polls every ``step`` seconds in between."""

    def __init__(self, engine: Engine, start: float = T0, step: float = 0.05) -> None:
        self.engine = engine
        self.now = start
        self.step = step
        self.sent: list[tuple[float, Event]] = []

    def _poll(self) -> None:
        for msg in self.engine.poll(self.now):
            self.sent.append((self.now, msg))

    def offer(self, event: Event) -> None:
        """Offer ``event`` now (and poll, as the processor does)."""
        self.engine.offer(event, self.now)
        self._poll()

    def advance(self, seconds: float) -> None:
        """Move time forward in steps, polling at each."""
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now = min(end, self.now + self.step)
            self._poll()

    def texts(self) -> list[str]:
        """What was sent so far."""
        return [m.text or "" for _, m in self.sent]
