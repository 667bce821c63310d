"""Video danmaku: x/v2/dm/post with its 367xx codes and x/dm/recall with its 363xx codes."""

import pytest
from actions_support import action_sim

pytestmark = pytest.mark.anyio

POST = "/x/v2/dm/post"
RECALL = "/x/dm/recall"
CID = 62131


def dm(text="前来考古", **extra):
    form = {
        "type": 1, "oid": CID, "msg": text, "aid": 2, "progress": 5000, "color": 16777215, "fontsize": 25,
        "pool": 0, "mode": 1, "rnd": 1750000000000000,
    }  # fmt: skip
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


async def test_post_success_and_record():
    async with action_sim() as sim:
        body = await sim.post(POST, dm(), who="viewer")
        assert body["code"] == 0 and body["message"] == "0" and body["ttl"] == 1
        data = body["data"]
        assert data["action"] == "" and data["visible"] is True and data["dmid_str"] == str(data["dmid"])
        rows = (await sim.http.get(f"/_sim/actions/video/{CID}")).json()
        assert [(r["dmid"], r["msg"], r["progress"], r["uid"]) for r in rows] == [
            (data["dmid"], "前来考古", 5000, sim.accounts["viewer"].uid)
        ]
        # bvid instead of aid
        sim.clock.t += 10
        assert (await sim.post(POST, dm(aid=None, bvid="BV1xx411c7mD"), who="viewer"))["code"] == 0


async def test_post_auth_and_bad_requests():
    async with action_sim() as sim:
        assert (await sim.post(POST, dm()))["code"] == -101
        assert (await sim.post(POST, dm(csrf="nope"), who="viewer"))["code"] == -111
        for bad in (
            dm(type=2), dm(oid=None), dm(aid=None), dm(aid=None, bvid="av2"), dm(mode=3), dm(mode=None),
            dm(pool=5), dm(color=-1), dm(color=2**24), dm(text=""),
        ):  # fmt: skip
            assert (await sim.post(POST, bad, who="viewer"))["code"] == -400, bad
        assert (await sim.post(POST, dm(progress=-1), who="viewer"))["code"] == 36714


async def test_post_length_codes():
    async with action_sim() as sim:
        assert (await sim.post(POST, dm("x" * 101), who="viewer"))["code"] == 36702
        sim.accounts["viewer"].main_level = 1
        assert (await sim.post(POST, dm("x" * 21), who="viewer"))["code"] == 36712
        assert (await sim.post(POST, dm("x" * 20), who="viewer"))["code"] == 0


async def test_post_level_and_style_codes():
    async with action_sim() as sim:
        acct = sim.accounts["viewer"]
        acct.main_level = 0
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 36705
        acct.main_level = 1
        assert (await sim.post(POST, dm(mode=5), who="viewer"))["code"] == 36706
        assert (await sim.post(POST, dm(mode=4), who="viewer"))["code"] == 36707
        assert (await sim.post(POST, dm(color=16711680), who="viewer"))["code"] == 36708
        acct.main_level = 4
        assert (await sim.post(POST, dm(mode=7), who="viewer"))["code"] == 36709
        assert (await sim.post(POST, dm(mode=9, pool=0), who="viewer"))["code"] == 36710
        assert (await sim.post(POST, dm(pool=1), who="viewer"))["code"] == 36710
        assert (await sim.post(POST, dm(mode=5, color=16711680), who="viewer"))["code"] == 0


async def test_post_content_video_and_service_codes():
    async with action_sim() as sim:
        s = sim.store.settings
        s.filter_words = ["禁句"]
        assert (await sim.post(POST, dm("有禁句"), who="viewer"))["code"] == 36701
        s.video_closed_cids = [CID]
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 36711
        s.video_closed_cids = []
        s.video_unaudited_cids = [CID]
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 36704
        s.video_unaudited_cids = []
        s.video_unpaid_cids = [CID]
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 36713
        s.video_unpaid_cids = []
        s.video_dm_maintenance = True
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 36700
        s.video_dm_maintenance = False
        assert (await sim.post(POST, dm(), who="viewer"))["code"] == 0
        assert len((await sim.http.get(f"/_sim/actions/video/{CID}")).json()) == 1


async def test_post_cooldown_with_and_without_rnd():
    async with action_sim() as sim:
        assert (await sim.post(POST, dm("a"), who="viewer"))["code"] == 0
        sim.clock.t += 4
        assert (await sim.post(POST, dm("b"), who="viewer"))["code"] == 36703
        sim.clock.t += 2
        assert (await sim.post(POST, dm("b"), who="viewer"))["code"] == 0
        # without rnd the cool-down is 90 s
        sim.clock.t += 10
        assert (await sim.post(POST, dm("c", rnd=None), who="viewer"))["code"] == 36703
        sim.clock.t += 80
        assert (await sim.post(POST, dm("c", rnd=None), who="viewer"))["code"] == 0


async def test_post_daily_limit():
    async with action_sim() as sim:
        sim.store.settings.video_dm_daily_limit = 2
        for text in ("a", "b"):
            sim.clock.t += 6
            assert (await sim.post(POST, dm(text), who="viewer"))["code"] == 0
        sim.clock.t += 6
        assert (await sim.post(POST, dm("c"), who="viewer"))["code"] == 36715
        sim.clock.t += 86400
        assert (await sim.post(POST, dm("c"), who="viewer"))["code"] == 0


async def test_recall_own_within_window_three_times_a_day():
    async with action_sim() as sim:
        dmids = []
        for i in range(4):
            sim.clock.t += 6
            dmids.append((await sim.post(POST, dm(f"m{i}"), who="viewer"))["data"]["dmid"])
        # someone else's danmaku
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmids[0]}, who="admin"))["code"] == -404
        first = await sim.post(RECALL, {"cid": CID, "dmid": dmids[0]}, who="viewer")
        assert first["code"] == 0 and "2" in first["message"]
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmids[0]}, who="viewer"))["code"] == 36302
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmids[1]}, who="viewer"))["code"] == 0
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmids[2]}, who="viewer"))["code"] == 0
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmids[3]}, who="viewer"))["code"] == 36303
        rows = (await sim.http.get(f"/_sim/actions/video/{CID}")).json()
        assert [r["recalled"] for r in rows] == [True, True, True, False]


async def test_recall_errors_and_window():
    async with action_sim() as sim:
        dmid = (await sim.post(POST, dm(), who="viewer"))["data"]["dmid"]
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmid}))["code"] == -101
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmid, "csrf": "x"}, who="viewer"))["code"] == -111
        assert (await sim.post(RECALL, {"cid": CID}, who="viewer"))["code"] == -400
        assert (await sim.post(RECALL, {"cid": CID + 1, "dmid": dmid}, who="viewer"))["code"] == -404
        sim.clock.t += 121
        assert (await sim.post(RECALL, {"cid": CID, "dmid": dmid}, who="viewer"))["code"] == 36301
