"""The ``bilibili.room`` sink: change the title, area, tags, announcement and cover; start or stop the stream.

One ``action.room_update`` may touch several endpoints; they run in this order and the first
failure ends the action (earlier steps stay done; the result lists every step):
Room/update (title, area, tags) -> updateRoomNews -> UpdatePreLiveInfo (cover) -> startLive / stopLive.

Limits checked before any request: title 1..40 characters, news at most 60, cover an http(s) URL on
``hdslb.com`` (upload the image to Bilibili first), ``start`` needs ``area_id``. startLive sends
``version`` and ``build``; a 60024 (face authentication) is reported as ``rejected`` with what to
do, never retried, and raises an ``alert``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.common import ActionFailed, ActionSink, ActionSinkConfig
from livepipe.events import Event
from livepipe.schema import field

TITLE_MAX = 40
NEWS_MAX = 60
COVER_DOMAIN = "hdslb.com"
#: startLive codes that need a human (an alert is emitted besides the result).
ALERT_CODES = frozenset({60024, 60013})


class RoomConfig(ActionSinkConfig):
    """Config of the ``bilibili.room`` sink."""

    min_interval: float = field(1.0, description="seconds between two room-management requests of one account "
                                "(Room/update answers -1 when faster)", ge=0)
    platform: str = field("pc_link", description="`platform` sent to startLive and stopLive "
                          "(`pc_link` or `android_link`)")
    version: str | None = field("7.19.0.9432", description="`version` sent to startLive (with `build`, avoids "
                                "most 60024 face-authentication refusals); unset = not sent")
    build: int | None = field(9432, description="`build` sent to startLive; unset = not sent")


def check_cover(url: Any) -> str:
    """The cover URL, or ``ValueError`` unless it is an http(s) URL on hdslb.com (or a subdomain)."""
    if not isinstance(url, str) or not url:
        raise ValueError("cover must be an image URL")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (host == COVER_DOMAIN or host.endswith("." + COVER_DOMAIN)):
        raise ValueError(f"cover must be an http(s) URL on {COVER_DOMAIN} (upload the image to Bilibili first); "
                         f"got host {host or '(none)'!r}")
    return url


class RoomSink(ActionSink):
    """Carries out ``action.room_update`` with the streamer's credential."""

    type_name = "bilibili.room"
    Config = RoomConfig
    handles = (act.ROOM_UPDATE,)

    def __init__(self, config: RoomConfig, context: Any) -> None:
        super().__init__(config, context)
        self.config: RoomConfig = config

    def validate(self, event: Event) -> dict[str, Any]:
        """Check every field against its limit."""
        d = event.data
        fields: dict[str, Any] = {"room_id": self.room_of(event)}
        title = d.get("title")
        if title is not None:
            if not isinstance(title, str) or not title.strip():
                raise ValueError("title must be a non-empty string")
            if len(title) > TITLE_MAX:
                raise ValueError(f"title is {len(title)} characters; at most {TITLE_MAX} are allowed")
            fields["title"] = title
        area = d.get("area_id")
        if area is not None:
            if isinstance(area, bool) or not isinstance(area, int) or area <= 0:
                raise ValueError(f"area_id must be a positive child-area id, got {area!r}")
            fields["area_id"] = area
        news = d.get("news")
        if news is not None:
            if not isinstance(news, str):
                raise ValueError("news must be a string (empty clears the announcement)")
            if len(news) > NEWS_MAX:
                raise ValueError(f"news is {len(news)} characters; at most {NEWS_MAX} are allowed")
            fields["news"] = news
        if d.get("cover") is not None:
            fields["cover"] = check_cover(d["cover"])
        for k in ("add_tag", "del_tag"):
            v = d.get(k)
            if v is not None:
                if not isinstance(v, str) or not v.strip():
                    raise ValueError(f"{k} must be a non-empty string")
                fields[k] = v
        start, stop = bool(d.get("start")), bool(d.get("stop"))
        if start and stop:
            raise ValueError("start and stop in one action; send two actions")
        if start:
            if "area_id" not in fields:
                raise ValueError("start needs area_id (the child area to go live in)")
            fields["start"] = True
        if stop:
            fields["stop"] = True
        if len(fields) == 1:
            raise ValueError("nothing to change: give title, area_id, news, cover, add_tag, del_tag, start or stop")
        return fields

    def describe(self, fields: dict[str, Any]) -> str:
        """What would change."""
        what = [f"{k}={v!r}" for k, v in fields.items() if k not in ("room_id", "start", "stop")]
        if fields.get("start"):
            what.append(f"start the stream in area {fields['area_id']}")
        if fields.get("stop"):
            what.append("stop the stream")
        return f"update room {fields['room_id']}: " + ", ".join(what)

    async def execute(self, event: Event, fields: dict[str, Any]) -> dict[str, Any]:
        """Run the steps in order; the first failure ends the action."""
        api = self.api
        assert api is not None
        room_id = fields["room_id"]
        steps: list[dict[str, Any]] = []
        limit = {"channel": "room", "interval": self.config.min_interval}

        async def step(name: str, request: Any) -> Any:
            try:
                out = await self.call(request, **limit)
            except ActionFailed as e:
                steps.append({"endpoint": name, "outcome": e.outcome, "code": e.code})
                e.details = {"steps": steps}
                if e.code in ALERT_CODES:
                    self._pending_alert = act.alert(f"{self.type_name} '{self.name}': {e.message}",
                                                    component=self.name, severity="warning", code=e.code,
                                                    action=event, extra={"credential": self.config.credential},
                                                    ts=self.clock.time())
                raise
            steps.append({"endpoint": name, "outcome": "success", "code": 0})
            return out

        area_for_update = None if fields.get("start") else fields.get("area_id")
        details: dict[str, Any] = {"steps": steps}
        if any(k in fields for k in ("title", "add_tag", "del_tag")) or area_for_update is not None:
            data = await step("Room/update", lambda: api.update_room(
                room_id, title=fields.get("title"), area_id=area_for_update, add_tag=fields.get("add_tag"),
                del_tag=fields.get("del_tag")))
            if isinstance(data, dict) and data.get("audit_info"):
                details["audit_info"] = data["audit_info"]
        if "news" in fields:
            uid = await self._owner_uid(room_id)
            await step("updateRoomNews", lambda: api.update_news(room_id, uid, fields["news"]))
        if "cover" in fields:
            await step("UpdatePreLiveInfo", lambda: api.update_prelive(cover=fields["cover"]))
        if fields.get("start"):
            data = await step("startLive", lambda: api.start_live(room_id, fields["area_id"],
                                                                  platform=self.config.platform,
                                                                  version=self.config.version,
                                                                  build=self.config.build))
            details["live_key"] = (data or {}).get("live_key")
        if fields.get("stop"):
            data = await step("stopLive", lambda: api.stop_live(room_id, platform=self.config.platform))
            details["status"] = (data or {}).get("status")
        details["message"] = self.describe(fields)
        return details

    async def _owner_uid(self, room_id: int) -> int:
        cred = self.credential
        if cred is not None and cred.dedeuserid:
            return cred.dedeuserid
        api = self.api
        assert api is not None
        info = await self.call(lambda: api.room_init(room_id))
        return int(info.get("uid") or 0)
