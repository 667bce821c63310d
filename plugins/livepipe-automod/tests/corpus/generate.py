"""Generate the automod labelled corpus (corpus.jsonl) from vocab.toml and the obfuscation classes below.

Run: python plugins/livepipe-automod/tests/corpus/generate.py   (rewrites corpus.jsonl beside it)

Each line is ``{"text", "label": "bad"|"good", "rule"?, "trick"}``. Bad lines take a word of the
example rule file (examples/rules.toml), disguise it with one obfuscation class (``trick``) and put it
in a carrier sentence of its rule; good lines are ordinary live chat filled from templates, and hard
negatives (chat sharing a listed word's characters or sound). The output is deterministic (a fixed
seed), and tests/test_corpus.py checks the committed file is exactly what this script writes.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
RULES_FILE = HERE.parent.parent / "examples" / "rules.toml"
VOCAB_FILE = HERE / "vocab.toml"
CORPUS_FILE = HERE / "corpus.jsonl"
PER_CLASS = 45
ORDINARY = 1800
SEED = 20261207

# ---- the generator's own knowledge of the listed words (test data, written by hand) ------------------

#: Syllable of each character of the listed words that pinyin rules hold.
SYLLABLE = {
    "傻": "sha", "逼": "bi", "操": "cao", "你": "ni", "妈": "ma", "草": "cao", "泥": "ni", "马": "ma", "他": "ta",
    "的": "de", "死": "si", "了": "le", "去": "qu", "滚": "gun", "出": "chu", "脑": "nao", "残": "can", "智": "zhi",
    "障": "zhang", "废": "fei", "物": "wu", "狗": "gou", "东": "dong", "西": "xi", "贱": "jian", "人": "ren",
    "畜": "chu", "生": "sheng", "杂": "za", "种": "zhong", "全": "quan", "家": "jia", "约": "yue", "炮": "pao",
    "色": "se", "情": "qing", "做": "zuo", "爱": "ai", "裸": "luo", "聊": "liao", "黄": "huang", "片": "pian",
    "嫖": "piao", "娼": "chang", "一": "yi", "夜": "ye", "援": "yuan", "交": "jiao", "卖": "mai", "淫": "yin",
    "成": "cheng", "视": "shi", "频": "pin",
}
#: Characters of the same sound (any tone) that chat swaps in.
HOMOPHONES = {
    "傻": "沙杀煞莎", "逼": "比必笔币毕碧", "操": "草曹槽艹", "你": "泥尼妮拟", "妈": "马玛码嘛", "他": "她它塔踏",
    "的": "得地", "死": "四思丝斯", "去": "趣区曲", "脑": "恼闹", "残": "惨蚕灿", "智": "制志治", "障": "杖帐账涨",
    "废": "费肺沸吠", "物": "务雾误悟", "贱": "见建剑件健", "人": "仁任", "畜": "初除触", "生": "声升牲",
    "杂": "砸咋", "种": "肿众", "约": "月越悦阅", "炮": "泡跑袍刨", "色": "涩瑟", "情": "晴清青请", "做": "作坐座左",
    "爱": "哎艾碍矮", "裸": "洛罗螺", "聊": "撩辽疗", "黄": "皇晃谎慌", "片": "骗篇偏", "嫖": "飘瓢漂", "娼": "昌猖",
    "狗": "够沟苟", "卖": "买麦迈", "淫": "银引饮", "援": "元园原",
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
SEPARATORS = [" ", ".", "*", "~", "-", "|", "/", "★", "♥", "😀", "、", "，", "_", "…", "  ", "💗", "·"]
LOOKALIKE = {"s": "ѕ", "c": "с", "u": "υ", "m": "м", "k": "к", "b": "Ь", "t": "т", "d": "ԁ", "l": "Ӏ", "a": "а",
             "o": "о", "e": "е", "x": "х", "p": "р", "y": "у", "i": "і", "q": "ԛ", "v": "ν", "n": "ո", "w": "ԝ"}
SMALL_CAPS = dict(zip("abcdefghijklmnopqrstuvwxyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡxʏᴢ", strict=True))
SUPERSCRIPT = dict(zip("abcdefghijklmnoprstuvwxyz", "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ", strict=True))
EMOJI = {"妈": "🐴", "马": "🐎", "草": "🌿", "狗": "🐶"}
ABBREVIATED = [("insults", w) for w in ("tm的", "TM的", "tm 的", "nm死了", "NM死了", "操nm", "草nm", "他ma的",
                                        "你ma死了", "cao nm")]


def _styled(start: int) -> Callable[[str], str]:
    def style(ch: str) -> str:
        return chr(start + ord(ch.lower()) - ord("a")) if "a" <= ch.lower() <= "z" else ch
    return style


ENCLOSED = [
    _styled(0x1F130),  # 🄰 squared
    _styled(0x1F150),  # 🅐 negative circled
    _styled(0x1F170),  # 🅰 negative squared
    _styled(0x24D0),  # ⓐ circled
    _styled(0x1D41A),  # 𝐚 mathematical bold
    lambda ch: SMALL_CAPS.get(ch.lower(), ch),
    lambda ch: SUPERSCRIPT.get(ch.lower(), ch),
]
CIRCLED_DIGITS = [
    lambda d: chr(0x2776 + int(d) - 1) if d != "0" else "⓿",  # ❶ dingbat negative circled
    lambda d: chr(0x278A + int(d) - 1) if d != "0" else "🄌",  # ➊ sans-serif negative circled
    lambda d: chr(0x24F5 + int(d) - 1) if d != "0" else "⓪",  # ⓵ double circled
    lambda d: chr(0x2460 + int(d) - 1) if d != "0" else "⓪",  # ① circled
    lambda d: chr(0xFF10 + int(d)),  # ０ full-width
    lambda d: chr(0x1D7CE + int(d)),  # 𝟎 mathematical bold
]


class Gen:
    """The generator: the rules' words, the vocabulary, one random source."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        rules = tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))["rules"]
        self.words = {r["id"]: list(r.get("words", [])) for r in rules}
        self.pinyin_rules = [r["id"] for r in rules if r.get("pinyin")]
        vocab = tomllib.loads(VOCAB_FILE.read_text(encoding="utf-8"))
        self.slots: dict[str, list[str]] = vocab["slots"]
        self.ordinary_templates: list[str] = vocab["templates"]["ordinary"]
        self.hard_templates: list[str] = vocab["templates"]["hard_negatives"]
        self.carriers: dict[str, list[str]] = vocab["carriers"]

    # ---- helpers -------------------------------------------------------------------------------------

    def fill(self, template: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.rng.choice(self.slots[m.group(1)]), template)

    def word(self, rule: str | None = None, *, latin: bool | None = None, pinyin: bool = False) -> tuple[str, str]:
        rules = [rule] if rule else (self.pinyin_rules if pinyin else list(self.words))
        pool = [(r, w) for r in rules for w in self.words[r]
                if latin is None or (latin == (w.isascii()))]
        if pinyin:
            pool = [(r, w) for r, w in pool if all(c in SYLLABLE for c in w)]
        return self.rng.choice(pool)

    def carry(self, rule: str, disguised: str) -> str:
        return self.rng.choice(self.carriers[rule]).replace("{w}", disguised)

    def between(self, word: str, choices: list[str]) -> str:
        return word[0] + "".join(self.rng.choice(choices) + c for c in word[1:])

    # ---- obfuscation classes: each returns (rule, disguised word or whole line) ------------------------

    def plain(self) -> tuple[str, str]:
        return self.word()

    def full_width(self) -> tuple[str, str]:
        rule, w = self.word(latin=True) if self.rng.random() < 0.7 else ("ads", "加VX" + self.digits(7))
        return rule, "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in w.upper())

    def zero_width(self) -> tuple[str, str]:
        rule, w = self.word()
        return rule, self.between(w, ZERO_WIDTH)

    def separators(self) -> tuple[str, str]:
        rule, w = self.word()
        return rule, self.between(w, SEPARATORS)

    def traditional(self) -> tuple[str, str] | None:
        from opencc import OpenCC

        rule, w = self.word(latin=False)
        t = OpenCC("s2t").convert(w)
        return (rule, t) if t != w else None

    def repeats(self) -> tuple[str, str]:
        rule, w = self.word()
        counts = [self.rng.choice((1, 1, 2, 3, 4)) for _ in w]
        if max(counts) == 1:
            counts[self.rng.randrange(len(w))] = self.rng.choice((2, 3, 5))
        return rule, "".join(c * n for c, n in zip(w, counts, strict=True))

    def mixed_case(self) -> tuple[str, str] | None:
        rule, w = self.word(latin=True)
        m = "".join(c.upper() if self.rng.random() < 0.5 else c for c in w)
        return (rule, m) if m != w else None

    def look_alike(self) -> tuple[str, str] | None:
        rule, w = self.word(latin=True)
        idx = [i for i, c in enumerate(w) if c in LOOKALIKE]
        if not idx:
            return None
        pick = set(self.rng.sample(idx, self.rng.randint(1, len(idx))))
        return rule, "".join(LOOKALIKE[c] if i in pick else c for i, c in enumerate(w))

    def enclosed_letters(self) -> tuple[str, str]:
        style = self.rng.choice(ENCLOSED)
        if self.rng.random() < 0.75:
            rule, w = self.word(latin=True)
            return rule, "".join(style(c) for c in w)
        return "ads", "加" + "".join(style(c) for c in self.rng.choice(["v", "vx", "qq", "wx"])) + self.digits(8)

    def circled_digits(self) -> tuple[str, str]:
        style = self.rng.choice(CIRCLED_DIGITS)
        number = self.phone() if self.rng.random() < 0.4 else self.digits(self.rng.randint(6, 10))
        digits = "".join(style(d) for d in number)
        prefix = self.rng.choice(["加v", "加vx", "加q", "+v ", "联系微信", "qq号", "vx：", "加我微信", ""])
        return "ads", prefix + digits if prefix or len(number) == 11 else "加v" + digits

    def homophone(self) -> tuple[str, str]:
        rule, w = self.word(pinyin=True)
        swappable = [i for i, c in enumerate(w) if c in HOMOPHONES]
        if not swappable:
            return self.homophone()
        pick = set(self.rng.sample(swappable, self.rng.randint(1, len(swappable))))
        return rule, "".join(self.rng.choice(HOMOPHONES[c]) if i in pick else c for i, c in enumerate(w))

    def typed_pinyin(self) -> tuple[str, str]:
        rule, w = self.word(pinyin=True)
        syl = [SYLLABLE[c] for c in w]
        form = self.rng.choice(("joined", "joined", "upper", "partly", "inside"))
        if form == "partly":
            k = self.rng.randrange(len(w))
            return rule, "".join(s if i == k else c for i, (c, s) in enumerate(zip(w, syl, strict=True)))
        typed = "".join(syl)
        if form == "upper":
            return rule, typed.upper()
        if form == "inside":
            return rule, self.rng.choice(["wo", "ni", "ta", "hao"]) + typed + self.rng.choice(["", "a", "le", "ba"])
        return rule, typed

    def spaced_pinyin(self) -> tuple[str, str]:
        rule, w = self.word(pinyin=True)
        syl = [SYLLABLE[c] for c in w]
        if self.rng.random() < 0.5:
            return rule, " ".join("".join(syl))  # s h a b i
        return rule, self.rng.choice(["wo ", "ni ", "ta ", ""]) + " ".join(syl) + self.rng.choice(["", " a", " le"])

    def initials(self) -> tuple[str, str]:
        rule, w = self.word(pinyin=True)
        k = self.rng.randrange(len(w))
        return rule, "".join(SYLLABLE[c][0] if i == k else c for i, c in enumerate(w))

    def emoji(self) -> tuple[str, str]:
        pool = [(r, w) for r in self.words for w in self.words[r] if any(c in EMOJI for c in w)]
        rule, w = self.rng.choice(pool)
        return rule, "".join(EMOJI.get(c, c) for c in w)

    def abbreviation(self) -> tuple[str, str]:
        return self.rng.choice(ABBREVIATED)

    def repeated_word(self) -> tuple[str, str]:
        rule, w = self.word(latin=True)
        return rule, w * self.rng.randint(2, 4)

    def contact_number(self) -> tuple[str, str]:
        form = self.rng.choice(["加v{n}", "加vx {n}", "加微信{n}", "+q {n}", "联系vx：{n}", "qq号{n}", "扣扣{n}",
                                "加我qq:{n}", "电话{p}", "手机号{p}", "找我{p}", "v {n}", "加 V {s}"])
        n = self.digits(self.rng.randint(6, 10))
        spaced = " ".join(self.digits(3) for _ in range(3))
        return "ads", form.replace("{n}", n).replace("{p}", self.phone()).replace("{s}", spaced)

    def combined(self) -> tuple[str, str] | None:
        first = self.rng.choice([self.traditional, self.homophone, self.repeats, self.mixed_case, self.look_alike])
        got = first()
        if got is None:
            return None
        rule, w = got
        second = self.rng.choice([ZERO_WIDTH, SEPARATORS])
        return rule, self.between(w, second)

    def digits(self, n: int) -> str:
        return str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(n - 1))

    def phone(self) -> str:
        return "1" + self.rng.choice("3456789") + self.digits(9)

    # ---- the corpus ----------------------------------------------------------------------------------

    def lines(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        seen: dict[str, str] = {}

        def add(text: str, label: str, trick: str, rule: str | None = None) -> bool:
            if text in seen:
                if seen[text] != label:
                    raise SystemExit(f"{text!r} is generated both {seen[text]} and {label}")
                return False
            seen[text] = label
            line = {"text": text, "label": label, "trick": trick}
            if rule:
                line["rule"] = rule
            out.append(line)
            return True

        classes: dict[str, Callable[[], tuple[str, str] | None]] = {
            "plain": self.plain, "full-width": self.full_width, "zero-width": self.zero_width,
            "separators": self.separators, "traditional": self.traditional, "repeats": self.repeats,
            "mixed case": self.mixed_case, "look-alike": self.look_alike, "enclosed letters": self.enclosed_letters,
            "circled digits": self.circled_digits, "homophone": self.homophone, "typed pinyin": self.typed_pinyin,
            "spaced pinyin": self.spaced_pinyin, "initials": self.initials, "emoji": self.emoji,
            "abbreviation": self.abbreviation, "repeated word": self.repeated_word,
            "contact number": self.contact_number, "combined": self.combined,
        }
        for trick, make in classes.items():
            made = tries = 0
            while made < PER_CLASS and tries < PER_CLASS * 50:
                tries += 1
                got = make()
                if got is None:
                    continue
                rule, disguised = got
                text = disguised if rule == "ads" and trick in ("contact number", "circled digits") and \
                    self.rng.random() < 0.5 else self.carry(rule, disguised)
                made += add(text, "bad", trick, rule)
        for template in self.hard_templates:
            for _ in range(3 if "{" in template else 1):
                add(self.fill(template), "good", "hard negative")
        for template in self.hard_templates:
            wrapped = self.rng.choice(["{streamer}，{t}", "{t} {meme}", "{t}啊", "{name}说{t}", "{t}吗"])
            add(self.fill(wrapped.replace("{t}", template)), "good", "hard negative")
        made = 0
        while made < ORDINARY:
            made += add(self.fill(self.rng.choice(self.ordinary_templates)), "good", "ordinary")
        return out


def render() -> str:
    """The corpus as JSONL text."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in Gen().lines())


def main() -> int:
    text = render()
    CORPUS_FILE.write_text(text, encoding="utf-8")
    print(f"{CORPUS_FILE}: {text.count(chr(10))} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
