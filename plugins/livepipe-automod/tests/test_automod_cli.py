"""``livepipe automod eval`` and ``livepipe automod diff`` (click commands, run in-process)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from livepipe.events import make_event

from livepipe_automod.cli import automod_group

OLD = """
[[rules]]
id = "insults"
words = ["傻逼"]
"""
NEW = """
[[rules]]
id = "insults"
words = ["傻逼", "废物"]
pinyin = true

[[rules]]
id = "names"
words = ["官方"]
scope = ["uname"]
"""


def invoke(*args: str):
    return CliRunner().invoke(automod_group, list(args), catch_exceptions=False)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_eval_lists_every_mistake_with_its_rule_and_match(tmp_path):
    rules = write(tmp_path, "r.toml", NEW)
    corpus = write(tmp_path, "c.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"text": "沙比", "label": "bad", "rule": "insults", "trick": "homophone"},
        {"text": "傻 逼", "label": "bad", "rule": "insults", "trick": "separators"},
        {"text": "滚", "label": "bad", "rule": "insults", "trick": "plain"},
        {"text": "废物利用", "label": "good", "trick": "hard negative"},
        {"text": "主播好", "label": "good"},
        {"text": "官方客服", "label": "bad", "rule": "names", "scope": "uname"},
    ]) + "\n")
    r = invoke("eval", rules, corpus)
    assert r.exit_code == 0
    out = r.output
    assert out.startswith("6 messages (4 bad, 2 good): precision 0.750, recall 0.750")
    assert "line 4: '废物利用' [hard negative] -> insults (exact)" in out
    assert "line 3: '滚' [plain] should be caught by insults" in out
    assert "homophone" in out and "separators" in out
    r = invoke("eval", rules, corpus, "--json", "--min-recall", "0.9")
    assert r.exit_code == 1
    data = json.loads(r.output[: r.output.rindex("}") + 1])
    assert data["overall"]["fp"] == 1 and data["per_trick"]["homophone"]["recall"] == 1.0
    assert data["per_rule"]["names"]["tp"] == 1


def test_eval_names_a_bad_corpus_line_and_a_bad_rule_file(tmp_path):
    rules = write(tmp_path, "r.toml", NEW)
    corpus = write(tmp_path, "c.jsonl", '{"text": "ok", "label": "good"}\n{"text": "x", "label": "maybe"}\n')
    r = invoke("eval", rules, corpus)
    assert r.exit_code == 78 and "c.jsonl:2" in r.output and '"label" ("bad" or "good")' in r.output
    broken = write(tmp_path, "b.toml", "[[rules]]\nid = 1\n")
    r = invoke("eval", broken, corpus)
    assert r.exit_code == 78 and "b.toml" in r.output


def test_diff_shows_what_a_rule_change_does_to_recorded_chat(tmp_path):
    old, new = write(tmp_path, "old.toml", OLD), write(tmp_path, "new.toml", NEW)
    events = [
        make_event("danmaku", room_id=1, uid=1, uname="a", text="主播晚上好", ts=1.0),
        make_event("danmaku", room_id=1, uid=2, uname="b", text="傻逼", ts=2.0),
        make_event("danmaku", room_id=1, uid=3, uname="c", text="废物", ts=3.0),
        make_event("super_chat", room_id=1, uid=4, uname="d", text="沙比", ts=4.0),
        make_event("enter", room_id=1, uid=5, uname="官方客服", ts=5.0),
    ]
    replay = write(tmp_path, "chat.jsonl", "".join(e.to_json() + "\n" for e in events) + "not json\n")
    r = CliRunner().invoke(automod_group, ["diff", old, new, "--replay", replay], catch_exceptions=False)
    assert r.exit_code == 0
    out = r.output
    assert "line 3 [danmaku] '废物'\n  old: -\n  new: insults (exact)" in out
    assert "line 4 [super_chat] '沙比'\n  old: -\n  new: insults (homophone)" in out
    assert "line 5 [uname] '官方客服'" in out
    assert "'傻逼'" not in out and "主播晚上好" not in out  # unchanged verdicts are not listed
    assert "3 change verdict (3 newly caught, 0 no longer caught" in out
    assert "chat.jsonl:6: not an event" in out


def test_diff_reads_corpus_lines_too(tmp_path):
    old, new = write(tmp_path, "old.toml", OLD), write(tmp_path, "new.toml", NEW)
    corpus = write(tmp_path, "c.jsonl", '{"text": "废物", "label": "bad"}\n{"text": "官方", "scope": "uname"}\n')
    r = invoke("diff", old, new, "--replay", corpus)
    assert "line 1 [danmaku] '废物'" in r.output and "line 2 [uname] '官方'" in r.output
    assert "2 messages compared: 2 change verdict" in r.output
