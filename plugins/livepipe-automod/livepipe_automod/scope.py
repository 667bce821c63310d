"""Who the rules apply to: exemptions (streamer, admins, guards, fans, high levels) and newcomers.

Room admins come from three places: the ``admins`` config list, ``admins`` events (ROOM_ADMINS
gives the whole list, room_admin_entrance adds one, ROOM_ADMIN_REVOKE removes one; see
docs/bilibili/events.md) and the ``is_admin`` flag a danmaku carries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from livepipe.events import Event


@dataclass(frozen=True, slots=True)
class ScopeSettings:
    """The processor's scope keys (see processor.py for their documentation)."""

    streamer_uids: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    exempt_admins: bool = True
    exempt_guards: bool = True
    exempt_medal_level: int = 0
    exempt_user_level: int = 0
    newcomer_below_level: int = 0
    newcomer_without_medal: bool = False
    newcomer_first_messages: int = 0
    max_users: int = 100_000


def room_medal_level(event: Event) -> int:
    """The level of the sender's fan medal of *this* room (0 without one, or with another room's)."""
    medal = event.data.get("medal")
    if not isinstance(medal, dict):
        return 0
    room = medal.get("room_id")
    if room is not None and event.room_id is not None and room != event.room_id:
        return 0
    level = medal.get("level")
    return level if isinstance(level, int) else 0


class Scope:
    """Decides, per danmaku, whether the sender is exempt and whether they count as a newcomer."""

    def __init__(self, settings: ScopeSettings) -> None:
        self.settings = settings
        self._room_admins: dict[int | None, set[int]] = {}
        self._messages: OrderedDict[int, int] = OrderedDict()

    def observe_admins(self, event: Event) -> None:
        """Update the admin list of ``event.room_id`` from an ``admins`` event."""
        uids = [u for u in (event.data.get("uids") or []) if isinstance(u, int)]
        action = event.data.get("action")
        if action == "list":
            self._room_admins[event.room_id] = set(uids)
        elif action == "add":
            self._room_admins.setdefault(event.room_id, set()).update(uids)
        elif action == "revoke":
            self._room_admins.setdefault(event.room_id, set()).difference_update(uids)

    def is_admin(self, event: Event) -> bool:
        """Listed in the config, in the room's admin list, or flagged ``is_admin`` on the danmaku."""
        uid = event.uid
        return (uid in self.settings.admins or uid in self._room_admins.get(event.room_id, ())
                or event.data.get("is_admin") is True)

    def exemption(self, event: Event) -> str | None:
        """Why the sender is exempt from every rule, or None."""
        s = self.settings
        d = event.data
        if event.uid in s.streamer_uids:
            return "streamer"
        if s.exempt_admins and self.is_admin(event):
            return "room admin"
        if s.exempt_guards and _int(d.get("guard_level")) > 0:
            return "guard"
        if s.exempt_medal_level and room_medal_level(event) >= s.exempt_medal_level:
            return f"fan medal level {room_medal_level(event)}"
        if s.exempt_user_level and _int(d.get("user_level")) >= s.exempt_user_level:
            return f"user level {d.get('user_level')}"
        return None

    def count_message(self, uid: int) -> int:
        """Count one more message from ``uid``; returns how many were seen (bounded memory)."""
        n = self._messages.pop(uid, 0) + 1
        self._messages[uid] = n
        if len(self._messages) > self.settings.max_users:
            self._messages.popitem(last=False)
        return n

    def newcomer(self, event: Event, nth_message: int) -> str | None:
        """Why the sender counts as a newcomer, or None. ``nth_message`` comes from :meth:`count_message`."""
        s = self.settings
        level = event.data.get("user_level")
        if s.newcomer_below_level and isinstance(level, int) and level < s.newcomer_below_level:
            return f"user level {level} < {s.newcomer_below_level}"
        if s.newcomer_without_medal and room_medal_level(event) == 0:
            return "no fan medal of this room"
        if s.newcomer_first_messages and nth_message <= s.newcomer_first_messages:
            return f"message {nth_message} of the first {s.newcomer_first_messages}"
        return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
