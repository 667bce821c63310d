"""bilibili.send against the simulator: pacing, splitting, silent failures, fatal credentials, video danmaku."""

from __future__ import annotations

import pytest

from livepipe.bilibili import actions as act
from livepipe.bilibili.sinks.send import clusters, split_text
from livepipe.events import Event
from livepipe.sim import run_simulator
from livepipe.sim.actions import store as action_store

from .sink_support import VirtualClock, count_requests, run_actions

pytestmark = pytest.mark.anyio

ROOM = 1000
SEND_PATH = "/msg/send"


def _sender(sim):
    return sim.create_account("bot", admin_in=[ROOM])


async def test_twenty_sends_in_one_second_are_spread_over_19_seconds_without_10031(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        clock = VirtualClock(start=1_750_000_000.0)
        t0 = clock.time()
        events = [act.send(f"hello number {i}", room_id=ROOM, ts=t0 + i / 20) for i in range(20)]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct), clock=clock)
        assert run.outcomes() == ["success"] * 20
        assert all(r.data["attempts"] == 1 and r.data["code"] == 0 for r in run.results)
        sent = sim.room(ROOM).sent_danmaku
        assert [s["msg"] for s in sent] == [f"hello number {i}" for i in range(20)]
        times = [s["ts"] for s in sent]  # the simulator's own clock, which rate-checks every message
        assert times[-1] - times[0] >= 19.0
        assert all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
        assert counts[SEND_PATH] == 20  # every request accepted on the first try: no 10031 at all
        assert clock.time() - t0 < 25  # and no more waiting than needed


async def test_a_100_character_text_arrives_as_several_messages_within_the_limit(tmp_path):
    text = ("今天的直播到这里就结束啦。谢谢大家的陪伴！明天晚上八点我们继续玩这个游戏，记得准时来哦？"
            "Thanks everyone for watching tonight, see you tomorrow 🎉👨‍👩‍👧 bye")
    assert len(text) >= 95
    async with run_simulator() as sim:
        acct = _sender(sim)
        limit = acct.danmaku_max_len
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send(text, room_id=ROOM)],
                                cookies=sim.cookies_for(acct), sink={"max_length": limit, "max_parts": 10})
        assert run.outcomes() == ["success"]
        msgs = [s["msg"] for s in sim.room(ROOM).sent_danmaku]
        assert len(msgs) >= 5 and all(len(m) <= limit for m in msgs)
        assert "".join(msgs).replace(" ", "") == text.replace(" ", "")
        assert msgs[0].endswith("。")  # cut at the sentence end, not mid-sentence
        assert any("👨‍👩‍👧" in m for m in msgs)  # the family emoji was never cut apart
        details = run.results[0].data["details"]
        assert details["parts"] == len(msgs) and all(p["id_str"] for p in details["sent"])


def test_split_text_boundaries():
    assert split_text("short", 20) == ["short"]
    assert split_text("aaaaaaaaaa bbbbbbbbbb ccccccccc", 20) == ["aaaaaaaaaa", "bbbbbbbbbb ccccccccc"]
    assert split_text("第一句话说完了。第二句话也说完了！第三句", 10) == [
        "第一句话说完了。", "第二句话也说完了！", "第三句"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    flag_text = "ab" + "🇨🇳" * 6
    parts = split_text(flag_text, 5)
    assert "".join(parts) == flag_text and all(len(p) <= 5 for p in parts)
    assert all(len(c) in (1, 2) for c in clusters(flag_text)) and clusters(flag_text)[2] == "🇨🇳"
    family = "👨‍👩‍👧"  # 5 code points, one visible character
    parts = split_text("abcd" + family + "efg", 6)
    assert family in "".join(parts) and any(family in p for p in parts)
    pair = "\ud83d\ude00"  # a surrogate pair as it arrives from some decoders
    assert clusters("a" + pair + "b") == ["a", pair, "b"]
    assert all(pair in p or "\ud83d" not in p for p in split_text("aa" + pair * 5, 3))
    assert split_text("e\u0301" * 6, 3) == ["e\u0301", "e\u0301", "e\u0301"] * 1 + ["e\u0301", "e\u0301", "e\u0301"]


async def test_silent_failures_msg_repeat_and_f_are_rejected(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        events = [act.send("same words", room_id=ROOM), act.send("same words", room_id=ROOM, ts=1.0),
                  act.send("a sim-forbidden", room_id=ROOM)]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct),
                                sink={"dedupe_window": 0})
        assert run.outcomes() == ["success", "rejected", "rejected"]
        repeat, f = run.results[1].data, run.results[2].data
        assert repeat["code"] == 0 and "msg repeat" in repeat["message"] and repeat["attempts"] == 1
        assert f["code"] == 0 and "(f)" in f["message"] and "filter" in f["message"]
        assert counts[SEND_PATH] == 3, [r.data for r in run.results]
        assert [s["msg"] for s in sim.room(ROOM).sent_danmaku] == ["same words"]


async def test_duplicate_text_guard_sends_once(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        action_store(sim.app).settings.repeat_window = 0  # the server's own per-account repeat check stays out
        events = [act.send("gm", room_id=ROOM), act.send("gm", room_id=ROOM, ts=5.0), act.send("gm", room_id=1001)]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["success", "deduplicated", "success"]
        assert counts[SEND_PATH] == 2


async def test_wrong_csrf_is_fatal_once_alerts_and_never_retries(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        cookies = {**sim.cookies_for(acct), "bili_jct": "0" * 32}
        events = [act.send(f"message {i}", room_id=ROOM) for i in range(5)]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=cookies)
        assert counts[SEND_PATH] == 1  # one request, then no more: no retry loop
        assert run.outcomes() == ["fatal"] + ["suspended"] * 4
        fatal = run.results[0].data
        assert fatal["code"] == -111 and "csrf" in fatal["message"] and fatal["attempts"] == 1
        assert all(r.data["attempts"] == 0 for r in run.results[1:])
        assert len(run.alerts) == 1
        alert = run.alerts[0]
        assert alert.kind == "alert" and alert.data["code"] == -111 and alert.data["credential"] == "main"
        assert run.pipeline.metrics.value("component_healthy", component_id="act") == 0
        for ev in run.results + run.alerts:
            assert "0" * 32 not in ev.to_json() and cookies["SESSDATA"] not in ev.to_json()


async def test_expired_session_minus_101_is_fatal(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        cookies = sim.cookies_for(acct)
        counts = count_requests(sim)
        resp_ok = await _expire(sim, acct.uid)
        assert resp_ok
        events = [act.send("a", room_id=ROOM), act.send("b", room_id=ROOM)]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=cookies, sink={"verify_login": False})
        assert run.outcomes() == ["fatal", "suspended"]
        assert run.results[0].data["code"] == -101 and "log" in run.results[0].data["message"]
        assert counts[SEND_PATH] == 1 and len(run.alerts) == 1


async def test_expired_session_is_caught_by_the_start_check_before_any_send(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        cookies = sim.cookies_for(acct)
        counts = count_requests(sim)
        await _expire(sim, acct.uid)
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("a", room_id=ROOM)], cookies=cookies)
        assert run.outcomes() == ["suspended"] and run.results[0].data["code"] == -101
        assert counts[SEND_PATH] == 0 and len(run.alerts) == 1
        assert run.pipeline.metrics.value("component_healthy", component_id="act") == 0


async def _expire(sim, uid: int) -> bool:
    import httpx

    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post(f"/_sim/actions/accounts/{uid}", json={"expire": True})
        return r.status_code == 200


async def test_risk_control_352_is_retried_with_backoff_then_exhausted(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        sim.faults.http_352 = [SEND_PATH]
        clock = VirtualClock()
        t0 = clock.time()
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("hi", room_id=ROOM)],
                                cookies=sim.cookies_for(acct), clock=clock, sink={"max_attempts": 3})
        assert run.outcomes() == ["retry_exhausted"]
        res = run.results[0].data
        assert res["code"] == -352 and res["attempts"] == 3 and "3 attempts" in res["message"]
        assert counts[SEND_PATH] == 3
        assert clock.time() - t0 >= 2.0 * 0.8 + 4.0 * 0.8  # backoff 2 s then 4 s (±20 % jitter)
        assert not run.alerts


async def test_10031_is_retried_after_backoff_and_succeeds(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        action_store(sim.app).settings.danmaku_min_interval = 1.5  # stricter than the sink's 1 s
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("one", room_id=ROOM),
                                                                 act.send("two", room_id=ROOM)],
                                cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["success", "success"]
        assert run.results[1].data["attempts"] == 2
        assert [s["msg"] for s in sim.room(ROOM).sent_danmaku] == ["one", "two"]


async def test_two_sinks_with_one_credential_share_the_token_bucket(tmp_path):
    async with run_simulator() as sim:
        acct = sim.create_account("bot", admin_in=[ROOM, 1001])
        action_store(sim.app).settings.repeat_window = 0  # both sinks send the same lines (to two rooms)
        events = [act.send(f"line {i}") for i in range(6)]
        run = await run_actions(
            sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct), sink={"room_id": ROOM},
            extra_sinks={"act2": {"type": "bilibili.send", "inputs": ["src"], "credential": "main", "room_id": 1001}},
        )
        assert run.outcomes() == ["success"] * 6
        times = sorted(s["ts"] for r in (ROOM, 1001) for s in sim.room(r).sent_danmaku)
        assert len(times) == 12 and all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))


async def test_emoticon_and_reply(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        target = sim.populations[ROOM].users[0].uid
        run = await run_actions(sim, tmp_path, "bilibili.send",
                                [act.send("official_147", room_id=ROOM, emoticon=True),
                                 act.send("@you hello", room_id=ROOM, reply_uid=target)],
                                cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["success", "success"]
        emo, reply = sim.room(ROOM).sent_danmaku
        assert emo["dm_type"] == 1 and emo["msg"] == "official_147"
        assert reply["reply_mid"] == target


async def test_invalid_sends_are_refused_before_any_request(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        events = [
            Event.from_dict({"kind": "action.send", "room_id": ROOM, "data": {}}),
            Event.from_dict({"kind": "action.send", "data": {"text": "no room"}}),
            act.send("x" * 200, room_id=ROOM),
            Event.from_dict({"kind": "action.send", "room_id": ROOM, "data": {"text": "hi", "mode": 7}}),
        ]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["invalid"] * 4
        msgs = [r.data["message"] for r in run.results]
        assert "without text" in msgs[0] and "room_id" in msgs[1] and "max_parts" in msgs[2] and "mode" in msgs[3]
        assert counts[SEND_PATH] == 0


async def test_dry_run_logs_and_sends_nothing(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.send("hello there", room_id=ROOM)],
                                cookies=sim.cookies_for(acct), sink={"dry_run": True})
        assert run.outcomes() == ["dry_run"] and "would send message 'hello there'" in run.results[0].data["message"]
        assert sum(counts.values()) == 0


# ---- video danmaku --------------------------------------------------------------------------------------------


async def test_video_danmaku_post_and_recall(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        first = await run_actions(sim, tmp_path, "bilibili.send",
                                  [act.video_danmaku(62131, "前来考古", aid=2, progress_ms=5000)],
                                  cookies=sim.cookies_for(acct))
        assert first.outcomes() == ["success"]
        dmid = int(first.results[0].data["details"]["dmid"])
        second = await run_actions(sim, tmp_path, "bilibili.send", [act.video_recall(62131, dmid),
                                                                    act.video_recall(62131, dmid, ts=2.0)],
                                   cookies=sim.cookies_for(acct))
        assert second.outcomes() == ["success", "rejected"]
        again = second.results[1].data
        assert again["code"] == 36302 and "already deleted or recalled" in again["message"]


async def test_video_danmaku_codes_have_clear_messages(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        acct.main_level = 0
        run = await run_actions(sim, tmp_path, "bilibili.send", [act.video_danmaku(5, "hi", bvid="BV1xx411c7mD")],
                                cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["rejected"]
        assert run.results[0].data["code"] == 36705 and "level is too low" in run.results[0].data["message"]
        acct.main_level = 4
        action_store(sim.app).settings.video_closed_cids = [9]
        run = await run_actions(sim, tmp_path, "bilibili.send",
                                [act.video_danmaku(9, "hi", aid=1), act.video_danmaku(10, "a", aid=1),
                                 act.video_danmaku(10, "b", aid=1)],
                                cookies=sim.cookies_for(acct), sink={"video_min_interval": 0, "retry_backoff": 6})
        assert run.outcomes() == ["rejected", "success", "success"]
        assert "does not accept danmaku" in run.results[0].data["message"]
        assert run.results[2].data["attempts"] >= 2  # 36703 (too fast) was retried after backoff


async def test_invalid_video_danmaku_is_refused_before_any_request(tmp_path):
    async with run_simulator() as sim:
        acct = _sender(sim)
        counts = count_requests(sim)
        base = {"target": "video", "cid": 5, "aid": 1, "text": "hi"}
        events = [
            Event.from_dict({"kind": "action.send", "data": {**base, "aid": None}}),
            Event.from_dict({"kind": "action.send", "data": {**base, "text": "x" * 101}}),
            Event.from_dict({"kind": "action.send", "data": {**base, "mode": 9}}),
            Event.from_dict({"kind": "action.send", "data": {**base, "bvid": "av123"}}),
            Event.from_dict({"kind": "action.send", "data": {"target": "video", "op": "recall", "cid": 5}}),
        ]
        run = await run_actions(sim, tmp_path, "bilibili.send", events, cookies=sim.cookies_for(acct))
        assert run.outcomes() == ["invalid"] * 5
        assert counts["/x/v2/dm/post"] == counts["/x/dm/recall"] == 0
