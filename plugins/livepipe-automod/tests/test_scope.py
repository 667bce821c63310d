"""Exemptions and newcomers."""

from __future__ import annotations

from livepipe.events import make_event

from livepipe_automod.scope import Scope, ScopeSettings, room_medal_level


def dm(uid=5, room_id=76, **data):
    base = {"user_level": 20, "guard_level": 0, "medal": None, "is_admin": False}
    return make_event("danmaku", room_id=room_id, uid=uid, text="x", ts=1.0, data={**base, **data})


def medal(level, room_id=76):
    return {"level": level, "name": "鱼", "streamer_uid": 9, "streamer_name": "s", "room_id": room_id,
            "guard_level": 0, "is_lighted": True}


def test_exemptions():
    s = Scope(ScopeSettings(streamer_uids=frozenset({9}), admins=frozenset({8}), exempt_medal_level=10,
                            exempt_user_level=40))
    assert s.exemption(dm(uid=9)) == "streamer"
    assert s.exemption(dm(uid=8)) == "room admin"
    assert s.exemption(dm(is_admin=True)) == "room admin"
    assert s.exemption(dm(guard_level=3)) == "guard"
    assert s.exemption(dm(medal=medal(12))) == "fan medal level 12"
    assert s.exemption(dm(medal=medal(12, room_id=1))) is None  # another room's medal
    assert s.exemption(dm(medal=medal(3))) is None
    assert s.exemption(dm(user_level=45)) == "user level 45"
    assert s.exemption(dm()) is None
    off = Scope(ScopeSettings(exempt_admins=False, exempt_guards=False))
    assert off.exemption(dm(is_admin=True, guard_level=1)) is None


def test_admin_list_follows_admins_events():
    s = Scope(ScopeSettings())
    s.observe_admins(make_event("admins", room_id=76, ts=1.0, data={"action": "list", "uids": [5, 6]}))
    assert s.is_admin(dm(uid=5)) and not s.is_admin(dm(uid=5, room_id=77))
    s.observe_admins(make_event("admins", room_id=76, ts=1.0, data={"action": "revoke", "uids": [5]}))
    assert not s.is_admin(dm(uid=5))
    s.observe_admins(make_event("admins", room_id=76, ts=1.0, data={"action": "add", "uids": [7]}))
    assert s.exemption(dm(uid=7)) == "room admin"


def test_newcomers():
    s = Scope(ScopeSettings(newcomer_below_level=5, newcomer_without_medal=True, newcomer_first_messages=2))
    assert s.newcomer(dm(user_level=2, medal=medal(1)), 10) == "user level 2 < 5"
    assert s.newcomer(dm(), 10) == "no fan medal of this room"
    assert s.newcomer(dm(medal=medal(1)), 2) == "message 2 of the first 2"
    assert s.newcomer(dm(medal=medal(1)), 3) is None
    assert [s.count_message(5) for _ in range(3)] == [1, 2, 3]
    assert room_medal_level(dm(medal={"level": "x"})) == 0
