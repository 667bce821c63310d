"""Second readings of a message: common substitutions undone and whole repeated words folded.

* The substitution table (:data:`DEFAULT_SUBSTITUTIONS`, extended or changed with the processor's
  ``substitutions`` key) maps what chat writes for a character or word to what it stands for:
  ``🐴`` for ``妈``, ``nm`` for ``你妈``. Keys of Latin letters and digits are replaced only where they
  form a whole token (``nm的``, ``tm 的``, never the ``nm`` inside ``anmo``); other keys (emoji)
  wherever they are.
* A Latin token that is one short word typed several times (``nmnmnm``, ``sbsb``) reads as the word.

:meth:`Rereader.reread` returns the new readings (and how each was obtained) only when something
changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from livepipe_automod.normalize import Normalized, clean

#: What chat commonly writes instead of a character or word (the processor's ``substitutions`` add to it).
DEFAULT_SUBSTITUTIONS: dict[str, str] = {
    # emoji read for their sound
    "🐴": "妈",
    "🐎": "马",
    "🌿": "草",
    "🐔": "鸡",
    "🐶": "狗",
    "🐷": "猪",
    "💩": "屎",
    # letters for syllables (typed initials of common words)
    "nm": "你妈",
    "tm": "他妈",
    "md": "妈的",
    "nmd": "你妈的",
    "tmd": "他妈的",
    "cnm": "操你妈",
    "nmb": "你妈逼",
    "sb": "傻逼",
}

#: A Latin token of the clean form, and a token that is one short word typed several times.
_LATIN_TOKEN = re.compile(r"[a-z0-9]+")
_REPEATED_UNIT = re.compile(r"([a-z]{2,8}?)\1+")


class Rereader:
    """Applies one substitution table (and repeated-word folding) to a message's ``clean`` form."""

    def __init__(self, table: Mapping[str, str]) -> None:
        """``table``: what is written -> what it stands for; an empty value drops a default entry."""
        self.table: dict[str, str] = {}
        for key, value in table.items():
            k = clean(key).strip()
            if k and value:
                self.table[k] = clean(value)
        self._latin = {k: v for k, v in self.table.items() if k.isascii() and k.isalnum()}
        other = sorted((k for k in self.table if k not in self._latin), key=len, reverse=True)
        self._other = re.compile("|".join(map(re.escape, other))) if other else None
        # what a compact text must hold for a Latin reading to change anything: a key, or a repeat
        keys = sorted(self._latin, key=len, reverse=True)
        self._maybe_latin = re.compile("|".join([*map(re.escape, keys), r"([a-z]{2,8})\1"]))

    def reread(self, text: Normalized) -> list[tuple[str, str]]:
        """The other readings of a message, each with the confidence a hit in it gets.

        First the message's clean form with repeated words folded (``normalized``), if that changes
        it; then that text with the substitution table applied (``substituted``), if that changes
        it. Empty for most messages, which have neither Latin letters nor a listed emoji: those cost
        two scans in C.
        """
        latin = self._maybe_latin.search(text.compact) is not None
        if not latin and (self._other is None or self._other.search(text.original) is None):
            return []
        source = clean(text.original)
        folded = _LATIN_TOKEN.sub(_fold_token, source) if latin else source
        out: list[tuple[str, str]] = []
        if folded != source:
            out.append((folded, "normalized"))
        replaced = folded
        if latin and self._latin:
            replaced = _LATIN_TOKEN.sub(lambda m: self._latin.get(m.group(0), m.group(0)), replaced)
        if self._other is not None:
            replaced = self._other.sub(lambda m: self.table[m.group(0)], replaced)
        if replaced != folded:
            out.append((replaced, "substituted"))
        return out


def _fold_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if len(token) >= 4:
        r = _REPEATED_UNIT.fullmatch(token)
        if r is not None:
            return r.group(1)
    return token
