"""The compact segmenter cuts exactly as jieba does, and its word table's cache is safe to share."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from automod_texts import HARD_NEGATIVES, texts

from livepipe_automod import segment, wordfreq


@pytest.fixture(scope="module")
def jieba_tokenizer() -> Any:
    """jieba's own tokenizer as segment.py loaded it before it had a compact table."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    tokenizer.load_userdict(str(wordfreq.CHAT_WORDS))
    return tokenizer


@pytest.fixture(scope="module")
def table() -> wordfreq.WordFreq:
    return segment._get()


def test_patterns_are_jiebas() -> None:
    import jieba

    assert segment._RE_HAN.pattern == jieba.re_han_default.pattern
    assert segment._RE_SKIP.pattern == jieba.re_skip_default.pattern
    assert segment._RE_ENG.pattern == jieba.re_eng.pattern


def test_table_holds_jiebas_frequencies(jieba_tokenizer: Any, table: wordfreq.WordFreq) -> None:
    freq = jieba_tokenizer.FREQ
    assert len(table) == len(freq)
    assert table.total == jieba_tokenizer.total
    for word, f in freq.items():
        assert table[word] == f, word
        assert table.get(word) == f
        assert word in table
    for absent in ["刷单曲循环播放器", "qqqqq", "", "\x00", "😀😀"]:
        assert (absent in table) == (absent in freq)
        assert table.get(absent) == freq.get(absent)
    with pytest.raises(KeyError):
        table["刷单曲循环播放器"]


def test_cuts_as_jieba_does(jieba_tokenizer: Any, table: wordfreq.WordFreq) -> None:
    sample = texts()
    assert len(sample) > 10000
    differ = [(t, list(segment.cut(t, table)), list(jieba_tokenizer.cut(t, HMM=False)))
              for t in sample if list(segment.cut(t, table)) != list(jieba_tokenizer.cut(t, HMM=False))]
    assert differ == []


def test_hard_negatives_keep_their_words(table: wordfreq.WordFreq) -> None:
    assert list(segment.cut("刷单曲", table)) == ["刷", "单曲"]
    assert "杀必死" in list(segment.cut("杀必死", table))
    assert all(list(segment.cut(t, table)) for t in HARD_NEGATIVES)


def test_cache_is_written_and_reused(tmp_path: Path) -> None:
    first = wordfreq.load(tmp_path)
    path = wordfreq.cache_path(tmp_path)
    assert path.is_file()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    stamp = path.stat().st_mtime_ns
    again = wordfreq.load(tmp_path)
    assert path.stat().st_mtime_ns == stamp  # read, not rebuilt
    assert again.total == first.total and len(again) == len(first)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty"])
def test_corrupt_cache_is_rebuilt(tmp_path: Path, damage: str, table: wordfreq.WordFreq,
                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    path = wordfreq.cache_path(tmp_path)
    good = table.to_bytes()
    bad = {"garbage": b"not a table" * 100, "truncated": good[: len(good) // 2], "empty": b"",
           "flipped": good[:1000] + bytes([good[1000] ^ 1]) + good[1001:]}[damage]  # fmt: skip
    path.write_bytes(bad)
    with caplog.at_level(logging.WARNING, logger="livepipe_automod.wordfreq"):
        loaded = wordfreq.load(tmp_path)
    assert "rebuilding" in caplog.text
    assert loaded.total == table.total and loaded.get("单曲") == table.get("单曲")
    assert path.read_bytes() == good  # the rebuilt table replaced the corrupt file


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_a_table_others_could_have_planted_is_not_read(tmp_path: Path, table: wordfreq.WordFreq,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A cache file (or directory) another user may write could hold any table, checksum and all: whoever
    planted it would decide what automod takes for a word. It is rebuilt instead of read."""
    planted = wordfreq.from_jieba({"单": 1, "单曲": 1_000_000}, 1_000_001)  # a valid table, but not jieba's
    path = wordfreq.cache_path(tmp_path)
    path.write_bytes(planted.to_bytes())
    path.chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="livepipe_automod.wordfreq"):
        loaded = wordfreq.load(tmp_path)
    assert "another user" in caplog.text
    assert loaded.to_bytes() == table.to_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the rebuilt file is private


def test_the_default_cache_is_a_private_directory_of_this_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    where = wordfreq.cache_dir()
    assert where == tmp_path / "cache" / "livepipe" and stat.S_IMODE(where.stat().st_mode) == 0o700
    assert wordfreq.cache_path().parent == where


def test_two_loads_at_once_agree(tmp_path: Path, table: wordfreq.WordFreq) -> None:
    results: list[wordfreq.WordFreq] = []
    threads = [threading.Thread(target=lambda: results.append(wordfreq.load(tmp_path))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    assert all(r.to_bytes() == table.to_bytes() for r in results)
    assert wordfreq.from_bytes(wordfreq.cache_path(tmp_path).read_bytes()).to_bytes() == table.to_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [wordfreq.cache_path(tmp_path).name]


def test_builds_in_process_when_the_child_fails(tmp_path: Path, table: wordfreq.WordFreq,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert wordfreq.load(tmp_path).to_bytes() == table.to_bytes()


def test_from_jieba_refuses_a_table_without_prefixes() -> None:
    with pytest.raises(ValueError, match="prefix"):
        wordfreq.from_jieba({"单曲": 5}, 5)


def test_serving_process_never_imports_jieba_or_pypinyin(tmp_path: Path) -> None:
    """What keeps automod small: jieba's dict and pypinyin's phrase table are never loaded where it runs."""
    code = (
        "import sys\n"
        "from livepipe_automod import segment\n"
        "from livepipe_automod.normalize import pinyin_form, pinyin_syllables\n"
        "segment.warm_up()\n"
        "assert segment.word_spans('刷单曲') == ((0, 1), (1, 3))\n"
        "assert pinyin_form('傻逼') == ' sha bi ' and 'sha' in pinyin_syllables()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jieba', 'pypinyin')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert done.stdout.strip() == "[]"


def test_a_jieba_cache_planted_in_the_shared_temporary_directory_is_not_read(
        tmp_path: Path, table: wordfreq.WordFreq, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """jieba reads ``jieba.cache`` in the temporary directory whenever it is there, whoever wrote it; the
    table is built from jieba's dictionary in a private directory instead."""
    import marshal

    shared = tmp_path / "tmp"
    shared.mkdir()
    (shared / "jieba.cache").write_bytes(marshal.dumps(({"单": 1, "单曲": 1_000_000}, 1_000_001)))
    monkeypatch.setenv("TMPDIR", str(shared))  # the child that builds the table reads it
    loaded = wordfreq.load(tmp_path / "cache")
    assert loaded.to_bytes() == table.to_bytes()
    assert loaded.get("单曲") != 1_000_000
