"""open_api: signing, request verification (with hard negatives), replies and the error-code outcomes."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from livepipe.bilibili import open_api as O

NOW = 1_796_000_000


def _signed(body: bytes = b'{"code":"ABC","app_id":1}', key: str = "AK", secret: str = "SK", ts: int = NOW,
            nonce: str = "n1"):  # fmt: skip
    return O.signed_headers(key, secret, body, timestamp=ts, nonce=nonce), body


def _verify(headers, body, secrets=None, now=NOW, seen=None):
    secrets = {"AK": "SK"} if secrets is None else secrets
    seen = set() if seen is None else seen

    def seen_nonce(n):
        if n in seen:
            return True
        seen.add(n)
        return False

    return O.verify_request(headers, body, secrets.get, now=now, seen_nonce=seen_nonce)


def test_signature_is_hmac_sha256_over_the_sorted_x_bili_lines_written_out_by_hand():
    body = b'{"game_id":"g1"}'
    h, _ = _signed(body, nonce="abc")
    md5 = hashlib.md5(body).hexdigest()
    expected_text = (f"x-bili-accesskeyid:AK\nx-bili-content-md5:{md5}\nx-bili-signature-method:HMAC-SHA256\n"
                     f"x-bili-signature-nonce:abc\nx-bili-signature-version:1.0\nx-bili-timestamp:{NOW}")
    assert O.string_to_sign(h) == expected_text
    assert h["Authorization"] == hmac.new(b"SK", expected_text.encode(), hashlib.sha256).hexdigest()
    assert h["x-bili-content-md5"] == md5 and h["Content-Type"] == "application/json"
    # header order and case do not change what is signed; non-x-bili headers are not signed
    shuffled = {k.upper() if k.startswith("x-") else k: v for k, v in reversed(list(h.items()))}
    shuffled["User-Agent"] = "anything"
    assert O.string_to_sign(shuffled) == expected_text


def test_fresh_nonces_differ():
    a, _ = O.signed_headers("AK", "SK", b"{}", timestamp=NOW), None
    b, _ = O.signed_headers("AK", "SK", b"{}", timestamp=NOW), None
    assert a["x-bili-signature-nonce"] != b["x-bili-signature-nonce"]


def test_a_properly_signed_request_is_accepted_and_header_case_does_not_matter():
    h, body = _signed()
    assert _verify(h, body) == 0
    h2, body2 = _signed(nonce="n2")
    upper = {k.title(): (v.upper() if k == "Authorization" else v) for k, v in h2.items()}
    assert _verify(upper, body2) == 0


@pytest.mark.parametrize("header", ["x-bili-accesskeyid", "x-bili-content-md5", "x-bili-signature-method",
                                    "x-bili-signature-nonce", "x-bili-signature-version", "x-bili-timestamp",
                                    "Authorization"])  # fmt: skip
def test_tampering_with_any_signed_header_is_refused(header):
    h, body = _signed()
    h[header] = h[header][:-1] + ("0" if h[header][-1] != "0" else "1")
    code = _verify(h, body, secrets={"AK": "SK", "AJ": "SK", "AK".replace("K", "0"): "SK"})
    assert code in (4001, 4002)
    if header != "x-bili-accesskeyid":
        assert code == 4002


def test_body_tampering_wrong_secret_unknown_key_missing_auth():
    h, body = _signed()
    assert _verify(h, body + b" ") == 4002
    assert _verify(h, body, secrets={"AK": "other"}) == 4002
    assert _verify(h, body, secrets={"XX": "SK"}) == 4001
    no_auth = {k: v for k, v in h.items() if k != "Authorization"}
    assert _verify(no_auth, body) == 4002
    no_key = {k: v for k, v in h.items() if k != "x-bili-accesskeyid"}
    assert _verify(no_key, body) == 4001


def test_stale_or_future_timestamps_are_refused_and_nonces_cannot_be_replayed():
    for skew, code in ((0, 0), (O.TIMESTAMP_WINDOW - 1, 0), (O.TIMESTAMP_WINDOW + 1, 4003),
                       (-(O.TIMESTAMP_WINDOW + 1), 4003)):  # fmt: skip
        h, body = _signed(ts=int(NOW - skew), nonce=f"n{skew}")
        assert _verify(h, body) == code, skew
    seen: set[str] = set()
    h, body = _signed(nonce="once")
    assert _verify(h, body, seen=seen) == 0
    assert _verify(h, body, seen=seen) == 4004


def test_generated_requests_round_trip_and_every_wrong_secret_fails():
    rng = random.Random(11)
    for i in range(300):
        key = "".join(rng.choices("abcdef0123456789", k=24))
        secret = "".join(rng.choices("abcdef0123456789", k=32))
        body = json.dumps({"code": "".join(rng.choices("ABCDEF0123456789", k=13)), "app_id": rng.randint(1, 10**13),
                           "text": "弹幕" * rng.randint(0, 5)}, ensure_ascii=False).encode()  # fmt: skip
        h = O.signed_headers(key, secret, body, timestamp=NOW)
        assert _verify(h, body, secrets={key: secret}) == 0
        wrong = secret[:-1] + ("0" if secret[-1] != "0" else "1")
        assert _verify(h, body, secrets={key: wrong}) == 4002, i


def test_replies_map_to_outcomes_with_the_meaning_and_the_fix():
    assert O.check_reply("/v2/app/heartbeat", 200, {"code": 0, "data": {"x": 1}}) == {"x": 1}
    expected = {4001: O.OpenOutcome.FATAL, 4002: O.OpenOutcome.FATAL, 4003: O.OpenOutcome.RETRY,
                4004: O.OpenOutcome.RETRY, 5000: O.OpenOutcome.RETRY, 7001: O.OpenOutcome.WAIT,
                7002: O.OpenOutcome.WAIT, 7003: O.OpenOutcome.RESTART, 7007: O.OpenOutcome.REJECTED,
                7010: O.OpenOutcome.WAIT, 4999: O.OpenOutcome.WAIT, 7999: O.OpenOutcome.RETRY,
                1: O.OpenOutcome.RETRY}  # fmt: skip
    for code, outcome in expected.items():
        with pytest.raises(O.OpenApiError) as ei:
            O.check_reply("/v2/app/start", 200, {"code": code, "message": "msg", "request_id": "r"})
        assert ei.value.outcome is outcome, code
        assert str(ei.value).startswith(f"/v2/app/start: code {code} (")
    with pytest.raises(O.OpenApiError) as ei:
        O.check_reply("/v2/app/start", 200, {"code": 4002, "message": "签名异常"})
    assert "access_key_secret" in str(ei.value) and "签名异常" in str(ei.value)
    with pytest.raises(O.OpenApiError) as ei:
        O.check_reply("/v2/app/start", 200, {"code": 7007, "message": ""})
    assert "身份码" in str(ei.value)
    assert O.OPEN_ERRORS[7001].wait > 0 and O.OPEN_ERRORS[7010].wait > 0
    for status, body in ((502, None), (200, None), (200, [1]), (200, {"code": "0"}), (200, {})):
        with pytest.raises(O.OpenApiError) as ei:
            O.check_reply("/v2/app/end", status, body)
        assert ei.value.outcome is O.OpenOutcome.RETRY


def test_parse_start_and_batch_heartbeat_replies():
    data = {"game_info": {"game_id": "g"}, "websocket_info": {"auth_body": '{"k":1}', "wss_link": ["wss://a/sub", ""]},
            "anchor_info": {"room_id": 7, "uid": 0, "open_id": "o", "uname": "u"}}  # fmt: skip
    s = O.parse_start(data)
    assert (s.game_id, s.auth_body, s.wss_links, s.room_id, s.anchor_open_id) == (
        "g", '{"k":1}', ("wss://a/sub",), 7, "o")
    assert O.parse_start({**data, "websocket_info": {"auth_body": "x", "wss_link": "wss://b/sub"}}).wss_links == (
        "wss://b/sub",)
    for broken in ({}, {**data, "websocket_info": {}}, {**data, "websocket_info": {"auth_body": "x", "wss_link": []}},
                   {**data, "anchor_info": {"room_id": "x"}}, None):  # fmt: skip
        with pytest.raises(O.OpenApiError) as ei:
            O.parse_start(broken)
        assert ei.value.code == 5000
    assert O.parse_batch_heartbeat({"failed_game_ids": None}) == set()
    assert O.parse_batch_heartbeat({"failed_game_ids": ["a", 2]}) == {"a", "2"}
    assert O.parse_batch_heartbeat(None) == set()


def test_batches_drop_repeats_and_hold_at_most_200():
    ids = [f"g{i}" for i in range(450)] + ["g0", "g1"]
    out = O.batches(ids)
    assert [len(b) for b in out] == [200, 200, 50]
    assert sum(out, []) == [f"g{i}" for i in range(450)]
