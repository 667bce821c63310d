"""The sans-I/O danmaku session, driven by made-up frames and times: no socket, no clock, no sleep.

Each timeout is checked at its exact edge: one tick before the deadline the session is still open,
at the deadline it has ended with the right reason. The simulator tests stay the end-to-end proof.
"""

from __future__ import annotations

import orjson
import pytest

from livepipe.bilibili.protocol import (
    OP_AUTH,
    OP_AUTH_REPLY,
    OP_COMMAND,
    OP_HEARTBEAT,
    decode_frame,
    encode_compressed,
    encode_packet,
    heartbeat_reply,
)
from livepipe.bilibili.session import (
    AuthFailed,
    Closed,
    DanmakuSession,
    HeartbeatTimeout,
    LivenessTimeout,
    SessionState,
)

T0 = 1000.0
AUTH = b'{"uid":0,"roomid":1001,"key":"k"}'
AUTH_OK = encode_packet(OP_AUTH_REPLY, b'{"code":0}')


def danmaku(text: str) -> bytes:
    body = {"cmd": "DANMU_MSG", "info": [[0, 1, 25, 16777215, 1700000000000, 0, 0, "h", 0, 0, 0, "", 0, "{}",
                                          "{}", {}], text, [42, "viewer", 0, 0, 0, 10000, 1, ""], [], [], {}]}
    return encode_packet(OP_COMMAND, orjson.dumps(body))


def ops(packets: list[bytes]) -> list[int]:
    return [p.op for data in packets for p in decode_frame(data)]


def open_session(**kw) -> DanmakuSession:
    s = DanmakuSession(1001, AUTH, T0, **kw)
    s.data_to_send()
    s.receive_frame(AUTH_OK, T0 + 0.1)
    return s


def test_auth_goes_out_first_and_a_heartbeat_follows_the_auth_reply():
    s = DanmakuSession(1001, AUTH, T0)
    first = s.data_to_send()
    assert ops(first) == [OP_AUTH] and decode_frame(first[0])[0].body == AUTH
    assert s.data_to_send() == []  # emptied
    assert s.receive_frame(AUTH_OK, T0 + 0.2) == []
    assert s.state is SessionState.OPEN
    assert ops(s.data_to_send()) == [OP_HEARTBEAT]
    assert s.heartbeats_sent == 1


def test_auth_timeout_exactly():
    s = DanmakuSession(1001, AUTH, T0, auth_timeout=5.0)
    assert s.next_deadline() == T0 + 5.0
    s.tick(T0 + 4.999)
    assert s.state is SessionState.AUTHENTICATING
    s.tick(T0 + 5.0)
    assert s.state is SessionState.ENDED
    assert isinstance(s.ended, AuthFailed) and "no auth reply within 5 s" in str(s.ended)
    assert s.next_deadline() == float("inf")


@pytest.mark.parametrize(
    ("frame", "message", "code"),
    [
        (encode_packet(OP_AUTH_REPLY, b'{"code":-101}'), "auth refused with code -101", -101),
        (encode_packet(OP_AUTH_REPLY, b"not json"), "bad auth reply", None),
        (danmaku("too early"), "the first frame was not an auth reply", None),
        (b"\x00\x01", "undecodable auth reply", None),
        ("text", "text frame instead of the auth reply", None),
    ],
)
def test_auth_refusals_end_with_auth_failed(frame, message, code):
    s = DanmakuSession(1001, AUTH, T0)
    assert s.receive_frame(frame, T0 + 1) == []
    assert isinstance(s.ended, AuthFailed) and message in str(s.ended)
    assert s.ended.code == code
    assert s.data_to_send() == []  # nothing more goes out after the end


def test_heartbeats_every_interval_and_replies_keep_it_alive():
    s = open_session(heartbeat_interval=30.0, liveness_timeout=40.0, heartbeat_timeout=70.0)
    s.data_to_send()
    t = T0 + 0.1
    for n in range(1, 6):
        assert s.next_deadline() == pytest.approx(t + 30.0)
        t += 30.0
        s.tick(t)
        assert ops(s.data_to_send()) == [OP_HEARTBEAT]
        events = s.receive_frame(heartbeat_reply(100 + n), t + 0.05)
        assert [(e.kind, e.data["popularity"]) for e in events] == [("popularity", 100 + n)]
    assert s.state is SessionState.OPEN
    assert (s.heartbeats_sent, s.heartbeat_replies) == (6, 5)


def test_liveness_timeout_exactly():
    s = open_session(heartbeat_interval=100.0, liveness_timeout=40.0, heartbeat_timeout=1000.0)
    s.receive_frame(danmaku("hello"), T0 + 10)
    assert s.next_deadline() == T0 + 50
    s.tick(T0 + 49.999)
    assert s.state is SessionState.OPEN
    s.tick(T0 + 50)
    assert isinstance(s.ended, LivenessTimeout) and "no frame for 40 s" in str(s.ended)


def test_heartbeat_timeout_exactly_while_other_frames_flow():
    s = open_session(heartbeat_interval=30.0, liveness_timeout=40.0, heartbeat_timeout=70.0)
    t = T0 + 0.1
    while t < T0 + 0.1 + 69.0:  # chat keeps arriving, heartbeat replies do not
        t += 1.0
        assert s.receive_frame(danmaku("chat"), t)[0].text == "chat"
    assert s.state is SessionState.OPEN
    s.receive_frame(danmaku("chat"), T0 + 0.1 + 70.0)
    assert isinstance(s.ended, HeartbeatTimeout) and "no heartbeat reply for 70 s" in str(s.ended)


def test_time_spent_downstream_is_not_the_servers_silence():
    s = open_session(heartbeat_interval=1000.0, liveness_timeout=40.0, heartbeat_timeout=1000.0)
    s.receive_frame(danmaku("a"), T0 + 1)
    s.downstream_blocked(30.0)
    s.tick(T0 + 60)
    assert s.state is SessionState.OPEN
    s.tick(T0 + 71)
    assert isinstance(s.ended, LivenessTimeout)


def test_clean_end_by_close_and_before_auth():
    s = open_session()
    s.connection_lost("code 1000")
    assert isinstance(s.ended, Closed) and "code 1000" in str(s.ended)
    s2 = DanmakuSession(1001, AUTH, T0)
    s2.connection_lost("no close frame")
    assert isinstance(s2.ended, AuthFailed) and "closed before the auth reply" in str(s2.ended)


def test_bad_frames_after_auth_are_skipped_and_reported_not_fatal():
    s = open_session()
    assert s.receive_frame(b"\x00\x00\x00\x10garbage!", T0 + 1) == []
    assert s.receive_frame("text", T0 + 2) == []
    assert len(s.decode_errors) == 2
    bundle = encode_compressed(danmaku("one") + danmaku("two"))
    assert [e.text for e in s.receive_frame(bundle, T0 + 3)] == ["one", "two"]
    assert s.state is SessionState.OPEN and s.frames == 3


def test_an_ended_session_ignores_everything():
    s = open_session()
    s.connection_lost("x")
    assert s.receive_frame(danmaku("late"), T0 + 5) == []
    s.tick(T0 + 10_000)
    assert isinstance(s.ended, Closed)
