"""WBI signing: the published test vector and the server-side check."""

import pytest

from livepipe.bilibili import wbi

IMG = "7cd084941338484aae1ad9425b84077c"
SUB = "4932caff0ff746eab6f01bf08b70ac45"


def test_key_from_url():
    assert wbi.key_from_url(f"https://i0.hdslb.com/bfs/wbi/{IMG}.png") == IMG
    assert wbi.key_from_url(SUB) == SUB


def test_mixin_key_vector():
    assert wbi.mixin_key(IMG, SUB) == "ea1db124af3c7062474693fa704f4ff8"
    with pytest.raises(ValueError):
        wbi.mixin_key("short", SUB)


def test_sign_vector():
    signed = wbi.sign({"foo": "114", "bar": "514", "zab": 1919810}, IMG, SUB, wts=1702204169)
    assert signed["wts"] == "1702204169"
    assert signed["w_rid"] == "8f6f2b5b3d485fe1886cec6a0be8c5d4"
    assert signed["zab"] == "1919810"


def test_sign_ignores_old_w_rid_and_strips_characters():
    a = wbi.sign({"q": "a!b'c(d)e*f", "w_rid": "stale"}, IMG, SUB, wts=1)
    b = wbi.sign({"q": "abcdef"}, IMG, SUB, wts=1)
    assert a["w_rid"] == b["w_rid"] and a["q"] == "a!b'c(d)e*f"


def test_sign_uses_clock_when_no_wts():
    signed = wbi.sign({}, IMG, SUB)
    assert int(signed["wts"]) > 1_700_000_000


def test_verify_round_trip_and_tamper():
    signed = wbi.sign({"id": 30000003, "type": 0}, IMG, SUB, wts=1767225600)
    assert wbi.verify(signed, IMG, SUB)
    assert not wbi.verify({**signed, "id": "30000004"}, IMG, SUB)
    assert not wbi.verify({k: v for k, v in signed.items() if k != "w_rid"}, IMG, SUB)
    assert not wbi.verify({k: v for k, v in signed.items() if k != "wts"}, IMG, SUB)


def test_verify_accepts_space_as_plus_or_percent20():
    params = {"msg": "hello world", "wts": "1767225600"}
    mixin = wbi.mixin_key(IMG, SUB)
    plus = wbi.w_rid(params, mixin)
    import hashlib

    pct = hashlib.md5(("msg=hello%20world&wts=1767225600" + mixin).encode()).hexdigest()
    assert plus != pct
    assert wbi.verify({**params, "w_rid": plus}, IMG, SUB)
    assert wbi.verify({**params, "w_rid": pct}, IMG, SUB)
