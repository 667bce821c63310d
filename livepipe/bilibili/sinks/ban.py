"""The ``bilibili.ban`` sink: ban (AddSilentUser, always with ``hour``) and unban users in a live room.

Unban uses DelSilentUser and falls back to del_room_block_user with the record id from
GetSilentUserList. With ``confirm``, a ban answered with code 0 is looked up in the ban list
(code 0 without effect is a known failure mode). A ban that would not lengthen a ban of the same
user in the same room made within ``dedupe_window`` is not sent again. A ban or unban that a
restart interrupted after its request is looked up in the ban list when it is delivered again,
and carried out only if it did not take effect.
"""

from __future__ import annotations

from typing import Any

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.common import ActionFailed, ActionSink, ActionSinkConfig
from livepipe.events import Event
from livepipe.schema import field


class BanConfig(ActionSinkConfig):
    """Config of the ``bilibili.ban`` sink."""

    confirm: bool = field(False, description="after a ban, check GetSilentUserList that the user is listed "
                          "(outcome `unconfirmed` if not)")
    confirm_pages: int = field(5, description="ban-list pages (20 rows each) to search when confirming or "
                               "looking up a record id for the unban fallback", ge=1, le=100)
    unban_fallback: bool = field(True, description="when DelSilentUser refuses an unban, retry it through "
                                 "del_room_block_user with the ban's record id")
    min_interval: float = field(0.0, description="seconds between two ban-list requests of one account "
                                "(shared by every ban sink using the credential); 0 = no limit", ge=0)


def _rank(hours: int) -> float:
    """Ban length order: this stream (0) < N hours < permanent (-1)."""
    return float("inf") if hours == -1 else (0.5 if hours == 0 else float(hours) + 1)


class BanSink(ActionSink):
    """Bans and unbans users (``action.ban``, ``action.unban``) with a room moderator's credential."""

    type_name = "bilibili.ban"
    Config = BanConfig
    handles = (act.BAN, act.UNBAN)

    def __init__(self, config: BanConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: BanConfig = config
        #: (room_id, uid) -> (hours or None for an unban, clock.monotonic() when done)
        self._done: dict[tuple[int, int], tuple[int | None, float]] = {}

    def validate(self, event: Event) -> dict[str, Any]:
        """Check room, uid and (for a ban) hours."""
        d = event.data
        uid = d.get("uid", event.uid)
        if uid is None:
            raise ValueError(f"{event.kind} without uid: whom to {'ban' if event.kind == act.BAN else 'unban'}?")
        if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
            raise ValueError(f"uid must be a positive user id, got {uid!r}")
        fields: dict[str, Any] = {"room_id": self.room_of(event), "uid": uid}
        if event.kind == act.BAN:
            if "hours" not in d:
                raise ValueError("action.ban without hours (-1 permanent, 0 this stream, N hours)")
            fields["hours"] = act.check_hours(d["hours"])
            text = d.get("text", event.text)
            if text is not None and not isinstance(text, str):
                raise ValueError("text (the offending message) must be a string")
            if text:
                fields["text"] = text
            for k in ("reason", "rule"):
                if d.get(k):
                    fields[k] = str(d[k])
        return fields

    def _recent(self, room_id: int, uid: int) -> tuple[int | None, float] | None:
        prev = self._done.get((room_id, uid))
        if prev is None or self.clock.monotonic() - prev[1] > self.config.dedupe_window:
            return None
        return prev

    def duplicate(self, event: Event, fields: dict[str, Any]) -> str | None:
        """A ban not longer than one made recently, or an unban of a user just unbanned."""
        prev = self._recent(fields["room_id"], fields["uid"])
        if prev is None:
            return None
        ago = self.clock.monotonic() - prev[1]
        if event.kind == act.UNBAN:
            return f"uid {fields['uid']} was unbanned {ago:.0f} s ago" if prev[0] is None else None
        if prev[0] is not None and _rank(fields["hours"]) <= _rank(prev[0]):
            return (f"uid {fields['uid']} was banned in room {fields['room_id']} ({_hours_text(prev[0])}) "
                    f"{ago:.0f} s ago")
        return None

    def remember(self, event: Event, fields: dict[str, Any], outcome: str) -> None:
        """Note the ban or unban for :meth:`duplicate`."""
        self._done[(fields["room_id"], fields["uid"])] = (fields.get("hours"), self.clock.monotonic())
        if len(self._done) > 100_000:
            horizon = self.clock.monotonic() - self.config.dedupe_window
            self._done = {k: v for k, v in self._done.items() if v[1] >= horizon}

    def describe(self, fields: dict[str, Any]) -> str:
        """"ban uid 5 in room 7 for 2 hours" and the like."""
        if "hours" in fields:
            return f"ban uid {fields['uid']} in room {fields['room_id']} {_hours_text(fields['hours'])}"
        return f"unban uid {fields['uid']} in room {fields['room_id']}"

    async def in_doubt(self, event: Event, fields: dict[str, Any]) -> tuple[str, str]:
        """After a restart interrupted a ban or unban: the ban list says whether it took effect."""
        room_id, uid = fields["room_id"], fields["uid"]
        listed = await self._find_record(room_id, uid) is not None
        where = f"uid {uid} {'is' if listed else 'is not'} on the ban list of room {room_id}"
        took_effect = listed if event.kind == act.BAN else not listed
        return ("done" if took_effect else "not_done"), where

    async def _find_record(self, room_id: int, uid: int) -> dict[str, Any] | None:
        api = self.api
        assert api is not None
        page = 1
        while page <= self.config.confirm_pages:
            data = await self.call(lambda p=page: api.banned_users(room_id, p), channel="ban",
                                   interval=self.config.min_interval)
            for row in (data or {}).get("data") or []:
                if int(row.get("tuid") or 0) == uid:
                    return dict(row)
            if page >= int((data or {}).get("total_page") or 1):
                break
            page += 1
        return None

    async def execute(self, event: Event, fields: dict[str, Any]) -> dict[str, Any]:
        """AddSilentUser (+ confirmation), or DelSilentUser with the del_room_block_user fallback."""
        api = self.api
        assert api is not None
        room_id, uid = fields["room_id"], fields["uid"]
        interval = self.config.min_interval
        if event.kind == act.BAN:
            hours = fields["hours"]
            await self.call(lambda: api.ban_user(room_id, uid, hours, fields.get("text", "")), channel="ban",
                            interval=interval)
            details: dict[str, Any] = {"endpoint": "AddSilentUser"}
            if self.config.confirm:
                row = await self._find_record(room_id, uid)
                if row is None:
                    raise ActionFailed("unconfirmed", f"AddSilentUser answered code 0 but uid {uid} is not on the "
                                       f"ban list of room {room_id}", code=0, details=details)
                details.update(confirmed=True, record_id=row.get("id"))
            details["message"] = self.describe(fields)
            return details
        try:
            await self.call(lambda: api.unban_user(room_id, uid), channel="ban", interval=interval)
            return {"endpoint": "DelSilentUser", "message": self.describe(fields)}
        except ActionFailed as first:
            if first.outcome != "rejected" or not self.config.unban_fallback:
                raise
            self.log.info("DelSilentUser refused (%s); trying del_room_block_user", first.message)
            row = await self._find_record(room_id, uid)
            if row is None or not row.get("id"):
                raise ActionFailed("rejected", f"{first.message}; uid {uid} is not on the ban list of room "
                                   f"{room_id} either", code=first.code,
                                   details={"endpoint": "DelSilentUser"}) from None
            record_id = int(row["id"])
            await self.call(lambda: api.unban_record(room_id, record_id), channel="ban", interval=interval)
            return {"endpoint": "del_room_block_user", "record_id": record_id,
                    "fallback_reason": first.message, "message": self.describe(fields)}


def _hours_text(hours: int) -> str:
    if hours == -1:
        return "permanently"
    if hours == 0:
        return "until this stream ends"
    return f"for {hours} hour{'s' if hours != 1 else ''}"
