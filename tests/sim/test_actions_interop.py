"""bilibili-api's own LiveRoom write calls against the simulator (its URL tables pointed at it)."""

import pytest

from livepipe.sim.app import run_simulator

pytestmark = pytest.mark.anyio

ROOM = 22000076


def _rewrite_urls(obj, base, monkeypatch):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "url" and isinstance(v, str) and ".bilibili.com/" in v:
                monkeypatch.setitem(obj, k, base + v.split(".bilibili.com", 1)[1])
            else:
                _rewrite_urls(v, base, monkeypatch)


def _credential(bilibili_api, sim, acct):
    c = sim.cookies_for(acct)
    return bilibili_api.Credential(
        sessdata=c["SESSDATA"], bili_jct=c["bili_jct"], buvid3=c["buvid3"], dedeuserid=c["DedeUserID"]
    )


async def test_bilibili_api_live_room_actions(monkeypatch):
    import bilibili_api
    from bilibili_api import live
    from bilibili_api.exceptions import ResponseCodeException
    from bilibili_api.utils import network

    async with run_simulator(rooms=[(76, ROOM)], rate=0) as sim:
        _rewrite_urls(live.API, sim.base_url, monkeypatch)
        _rewrite_urls(network.API, sim.base_url, monkeypatch)
        network.refresh_buvid()
        network.recalculate_wbi()
        bilibili_api.select_client("aiohttp")
        try:
            room = sim.room(ROOM)
            target = next(u for u in sim.populations[ROOM].users if u.uid not in room.admins)
            streamer = live.LiveRoom(76, credential=_credential(bilibili_api, sim, sim.create_account(owner_of=ROOM)))
            viewer_acct = sim.create_account(uname="bapi_viewer")
            viewer = live.LiveRoom(76, credential=_credential(bilibili_api, sim, viewer_acct))

            sent = await viewer.send_danmaku(live.Danmaku("bapi says hi"), room_id=ROOM)
            assert sent["mode_info"]["user"]["uid"] == viewer_acct.uid
            assert room.sent_danmaku[-1]["msg"] == "bapi says hi"
            sim.ctx.now = lambda: 4_000_000_000.0  # a later "now": the next send is not too fast
            await viewer.send_emoticon(live.Danmaku("official_147"), room_id=ROOM)
            assert room.sent_danmaku[-1]["dm_type"] == 1
            with pytest.raises(ResponseCodeException) as too_fast:
                await viewer.send_danmaku(live.Danmaku("again"), room_id=ROOM)
            assert too_fast.value.code == 10031

            await streamer.ban_user(target.uid, hour=1)
            assert [r.tuid for r in room.silent] == [target.uid]
            listing = await streamer.get_black_list()
            assert listing["total"] == 1 and listing["data"][0]["tuid"] == target.uid
            await streamer.unban_user(target.uid)
            assert room.silent == []
            with pytest.raises(ResponseCodeException) as not_mod:
                await viewer.ban_user(target.uid, hour=1)
            assert not_mod.value.code == 10002

            await streamer.update_news("bapi news")
            assert room.news == "bapi news"
        finally:
            network.refresh_buvid()
            network.recalculate_wbi()
