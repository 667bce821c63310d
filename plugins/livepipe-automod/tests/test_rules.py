"""Rule files: validation errors that name the file, words files, reload on change (on the clock)."""

from __future__ import annotations

import os

import pytest

from livepipe_automod.rules import RuleError, read_rule_file, read_words

pytestmark = pytest.mark.anyio


def write(path, text, bump=0):
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump))


def test_errors_name_the_file_and_key(tmp_path):
    f = tmp_path / "rules.toml"
    write(f, '[[rules]]\nid = "a"\nladder = ["kick"]\n')
    with pytest.raises(RuleError, match=r"rules.toml: rules.0.ladder: .*kick"):
        read_rule_file(f)
    write(f, '[[rules]]\nid = "a"\nregexes = ["("]\n')
    with pytest.raises(RuleError, match="regex"):
        read_rule_file(f)
    write(f, 'words = ["x"]\n')
    with pytest.raises(RuleError, match="unknown top-level"):
        read_rule_file(f)
    write(f, "[[rules]\n")
    with pytest.raises(RuleError, match=r"rules\.toml"):
        read_rule_file(f)


def test_read_words(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("# insults\n傻逼\n\n  sb  # latin\n", encoding="utf-8")
    assert read_words(f) == ["傻逼", "sb"]


async def test_rules_file_is_reloaded_when_it_changes(harness, tmp_path):
    rules = tmp_path / "rules.toml"
    words = tmp_path / "words.txt"
    write(rules, '[[rules]]\nid = "w"\nwords_file = "words.txt"\nladder = ["flag"]\n')
    write(words, "苹果\n")
    h = await harness(rules_file="rules.toml", reload_interval=5)
    await h.say("苹果")
    await h.say("香蕉")
    assert [f.data["matched"] for f in h.out["flagged"]] == ["苹果"]

    write(words, "苹果\n香蕉\n", bump=1_000_000)
    await h.say("香蕉")  # not yet: the files are looked at every 5 s of the clock
    assert len(h.out["flagged"]) == 1
    await h.clock.advance(5)
    await h.say("香蕉")
    assert [f.data["matched"] for f in h.out["flagged"]] == ["苹果", "香蕉"]
    assert h.proc.source.reloads == 1

    write(rules, '[[rules]]\nid = "w"\nladder = ["nope"]\n', bump=2_000_000)
    await h.clock.advance(5)
    await h.say("香蕉")  # a broken file keeps the previous rules
    assert len(h.out["flagged"]) == 3
    assert h.counter("component_errors_total", error_type="rules_reload") == 1


async def test_bad_rules_file_fails_start(harness):
    with pytest.raises(RuleError, match=r"automod 'mod'.*missing\.toml"):
        await harness(rules_file="missing.toml")


async def test_duplicate_ids_are_refused(harness):
    with pytest.raises(RuleError, match="two rules have the id 'a'"):
        await harness(rules=[{"id": "a", "words": ["x"]}, {"id": "a", "words": ["y"]}])
