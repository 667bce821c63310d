"""bilibili.ban against the simulator: the ban list holds exactly what was intended, once; unban; confirmation."""

from __future__ import annotations

import json

import pytest

from livepipe import plugins
from livepipe.bilibili import actions as act
from livepipe.component import Emit, Processor
from livepipe.events import Event
from livepipe.hookspecs import hookimpl
from livepipe.schema import ProcessorConfig
from livepipe.sim import run_simulator

from .sink_support import count_requests, run_actions

pytestmark = pytest.mark.anyio

ROOM = 1000
BAN_PATH = "/xlive/web-ucenter/v1/banned/AddSilentUser"
#: what the test moderator decides for each word
RULES = {"spam-forever": -1, "spam-2h": 2, "spam-stream": 0}


class MiniAutomod(Processor):
    """Bans the sender of a danmaku containing one of RULES' words (hours from RULES)."""

    type_name = "t.automod"
    outputs = ("ban",)

    class Config(ProcessorConfig):
        pass

    async def process(self, event: Event, emit: Emit) -> None:
        for word, hours in RULES.items():
            if event.kind == "danmaku" and word in (event.text or ""):
                await emit(act.ban(event.uid, hours, reason=f"said {word}", text=event.text, rule=word,
                                   cause=event), "ban")


class _Plugin:
    @hookimpl
    def livepipe_register_components(self, registry) -> None:
        registry.register(MiniAutomod)


def _install() -> None:
    if plugins.manager().get_plugin("tests.ban_automod") is None:
        plugins.register_plugin(_Plugin(), "tests.ban_automod")


def _danmaku(uid: int, text: str, n: int) -> dict:
    return {"id": f"dm{n}", "kind": "danmaku", "room_id": ROOM, "ts": 1_700_000_000.0 + n, "uid": uid,
            "uname": f"u{uid}", "text": text, "data": {}}


def _users(sim, n: int) -> list[int]:
    return [u.uid for u in sim.populations[ROOM].users[:n]]


async def test_pipeline_bans_exactly_the_intended_users_with_their_durations_once(tmp_path):
    _install()
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        a, b, c, d = _users(sim, 4)
        events = [
            _danmaku(a, "hello", 1),
            _danmaku(b, "buy spam-forever now", 2),
            _danmaku(c, "spam-2h", 3),
            _danmaku(d, "spam-stream!", 4),
            _danmaku(c, "spam-2h again", 5),  # the same ban again: deduplicated, not sent
            _danmaku(a, "fine", 6),
        ]
        run = await run_actions(
            sim, tmp_path, "bilibili.ban", [], cookies=sim.cookies_for(streamer),
            source={"type": "testing.events", "events": events},
            processors={"automod": {"type": "t.automod", "inputs": ["src"]}},
            sink={"audit_log": "audit.jsonl"},
        )
        bans = {r.tuid: r.hour for r in sim.room(ROOM).silent}
        assert bans == {b: -1, c: 2, d: 0}
        assert counts[BAN_PATH] == 3
        assert run.outcomes() == ["success", "success", "success", "deduplicated"]
        dedup = run.results[-1]
        assert dedup.uid == c and "banned" in dedup.data["message"] and dedup.data["attempts"] == 0
        first = run.results[0].data
        assert first["action"] == {"room_id": ROOM, "uid": b, "hours": -1, "text": "buy spam-forever now",
                                   "reason": "said spam-forever", "rule": "spam-forever"}
        assert first["code"] == 0 and first["attempts"] == 1 and first["credential"] == "main"
        lines = (tmp_path / "audit.jsonl").read_text("utf-8").splitlines()
        assert len(lines) == 4
        rows = [json.loads(x) for x in lines]
        assert [r["result"]["outcome"] for r in rows] == run.outcomes()
        assert rows[0]["action"]["kind"] == "action.ban" and rows[0]["action"]["data"]["uid"] == b
        assert sim.cookies_for(streamer)["SESSDATA"] not in (tmp_path / "audit.jsonl").read_text("utf-8")
        assert run.pipeline.metrics.value("component_healthy", component_id="act") == 1
        assert (tmp_path / ".livepipe" / "actions.sqlite").is_file()  # the journal's default place


async def test_longer_ban_is_an_escalation_and_is_sent(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        (u,) = _users(sim, 1)
        run = await run_actions(sim, tmp_path, "bilibili.ban",
                                [act.ban(u, 1, room_id=ROOM), act.ban(u, 0, room_id=ROOM), act.ban(u, 24, room_id=ROOM),
                                 act.ban(u, -1, room_id=ROOM), act.ban(u, 24, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success", "deduplicated", "success", "success", "deduplicated"]
        assert [(r.tuid, r.hour) for r in sim.room(ROOM).silent] == [(u, -1)]


async def test_ban_without_uid_or_with_bad_hours_is_invalid_before_any_request(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        no_uid = Event.from_dict({"kind": "action.ban", "room_id": ROOM, "data": {"hours": 1}})
        bad_hours = Event.from_dict({"kind": "action.ban", "room_id": ROOM, "data": {"uid": 5, "hours": 9999}})
        no_room = Event.from_dict({"kind": "action.ban", "data": {"uid": 5, "hours": 1}})
        run = await run_actions(sim, tmp_path, "bilibili.ban", [no_uid, bad_hours, no_room],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["invalid"] * 3
        msgs = [r.data["message"] for r in run.results]
        assert "without uid" in msgs[0] and "hours" in msgs[1] and "room_id" in msgs[2]
        assert counts[BAN_PATH] == 0 and not sim.room(ROOM).silent


def test_helpers_refuse_obvious_mistakes():
    with pytest.raises(ValueError, match="uid"):
        act.ban(None, 1, room_id=ROOM)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hours"):
        act.ban(5, -2, room_id=ROOM)
    with pytest.raises(ValueError, match="uid"):
        act.unban(0, room_id=ROOM)
    cause = Event.from_dict({"id": "x1", "kind": "danmaku", "room_id": ROOM, "uid": 5, "text": "t"})
    one, two = act.ban(5, 1, cause=cause), act.ban(5, 1, cause=cause)
    assert one.id == two.id and one.room_id == ROOM and one.data["cause_id"] == "x1"


async def test_room_id_option_is_the_default(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        (u,) = _users(sim, 1)
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(u, 3)], cookies=sim.cookies_for(streamer),
                                sink={"room_id": ROOM})
        assert run.outcomes() == ["success"]
        assert [(r.tuid, r.hour) for r in sim.room(ROOM).silent] == [(u, 3)]


async def test_unban_and_confirmation(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        a, b = _users(sim, 2)
        run = await run_actions(
            sim, tmp_path, "bilibili.ban",
            [act.ban(a, 5, room_id=ROOM), act.ban(b, -1, room_id=ROOM), act.unban(a, room_id=ROOM),
             act.unban(a, room_id=ROOM)],
            cookies=sim.cookies_for(streamer), sink={"confirm": True},
        )
        assert run.outcomes() == ["success", "success", "success", "deduplicated"]
        assert run.results[0].data["details"]["confirmed"] is True
        assert run.results[2].data["details"]["endpoint"] == "DelSilentUser"
        assert [r.tuid for r in sim.room(ROOM).silent] == [b]
        assert counts["/xlive/web-ucenter/v1/banned/GetSilentUserList"] == 2


async def test_unban_of_someone_not_banned_is_rejected_after_the_fallback_looked(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        (a,) = _users(sim, 1)
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.unban(a, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["rejected"]
        assert "not on the ban list" in run.results[0].data["message"]


async def test_unban_falls_back_to_del_room_block_user(tmp_path, monkeypatch):
    from livepipe.bilibili.api import ApiError, BilibiliAPI

    async def moved(self, room_id, uid):  # the newer endpoint refusing, as after a site change
        raise ApiError(-404, "啥都木有", "DelSilentUser")

    monkeypatch.setattr(BilibiliAPI, "unban_user", moved)
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        a, b = _users(sim, 2)
        run = await run_actions(sim, tmp_path, "bilibili.ban",
                                [act.ban(a, 2, room_id=ROOM), act.ban(b, 2, room_id=ROOM), act.unban(a, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer))
        assert run.outcomes() == ["success", "success", "success"]
        details = run.results[2].data["details"]
        assert details["endpoint"] == "del_room_block_user" and details["record_id"]
        assert [r.tuid for r in sim.room(ROOM).silent] == [b]


async def test_not_a_moderator_is_rejected_not_retried(tmp_path):
    async with run_simulator() as sim:
        viewer = sim.create_account("nobody")
        counts = count_requests(sim)
        (a,) = _users(sim, 1)
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(a, 1, room_id=ROOM)],
                                cookies=sim.cookies_for(viewer))
        assert run.outcomes() == ["rejected"] and run.results[0].data["code"] == 10002
        assert counts[BAN_PATH] == 1


async def test_dry_run_sends_nothing(tmp_path):
    async with run_simulator() as sim:
        streamer = sim.create_account(owner_of=ROOM)
        counts = count_requests(sim)
        (a,) = _users(sim, 1)
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(a, 1, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer), sink={"dry_run": True})
        assert run.outcomes() == ["dry_run"]
        assert "would ban uid" in run.results[0].data["message"]
        assert sum(counts.values()) == 0 and not sim.room(ROOM).silent
        assert not (tmp_path / ".livepipe").exists()  # a dry run leaves no journal behind


async def test_https_api_verifies_certificates_unless_told_whom_to_trust(tmp_path):
    """Against an HTTPS API with a self-signed certificate: refused by default (nothing banned, an error
    naming the certificate), carried out with `ca_file` pointing at the certificate, or with `verify_tls = false`."""
    async with run_simulator(rooms=[ROOM], seed=3, tls=True) as sim:
        streamer = sim.create_account(owner_of=ROOM)
        (a, b, c) = [u.uid for u in sim.populations[ROOM].users[:3]]
        base = {"base_url": sim.base_url, "max_attempts": 1, "journal": ""}
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(a, 1, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer), sink=base)
        assert run.outcomes() == ["retry_exhausted"] and "CERTIFICATE_VERIFY_FAILED" in run.results[0].data["message"]
        assert not sim.room(ROOM).silent
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(b, 1, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer), sink={**base, "ca_file": sim.cert_path})
        assert run.outcomes() == ["success"]
        run = await run_actions(sim, tmp_path, "bilibili.ban", [act.ban(c, 1, room_id=ROOM)],
                                cookies=sim.cookies_for(streamer), sink={**base, "verify_tls": False})
        assert run.outcomes() == ["success"]
        assert {r.tuid for r in sim.room(ROOM).silent} == {b, c}
