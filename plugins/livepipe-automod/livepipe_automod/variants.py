"""Second readings of a message: common substitutions undone and whole repeated words folded.

* The substitution table (:data:`DEFAULT_SUBSTITUTIONS`, extended or changed with the processor's
  ``substitutions`` key) maps what chat writes for a character or word to what it stands for:
  ``🐴`` for ``妈``, ``nm`` for ``你妈``. Keys of Latin letters and digits are replaced only where they
  form a whole token (``nm的``, ``tm 的``, never the ``nm`` inside ``anmo``); other keys (emoji)
  wherever they are.
* A Latin token that is one short word typed several times (``nmnmnm``, ``sbsb``) reads as the word.

:meth:`Rereader.reread` returns the new readings (and how each was obtained) only when something
changed, so ordinary messages cost two regex scans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from livepipe_automod.normalize import clean

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

_REPEATED_WORD = re.compile(r"(?<![a-z0-9])([a-z]{2,8}?)\1+(?![a-z0-9])")


class Rereader:
    """Applies one substitution table (and repeated-word folding) to a message's ``clean`` form."""

    def __init__(self, table: Mapping[str, str]) -> None:
        """``table``: what is written -> what it stands for; an empty value drops a default entry."""
        self.table: dict[str, str] = {}
        for key, value in table.items():
            k = clean(key).strip()
            if k and value:
                self.table[k] = clean(value)
        latin = sorted((k for k in self.table if k.isascii() and k.isalnum()), key=len, reverse=True)
        other = sorted((k for k in self.table if k not in latin), key=len, reverse=True)
        parts = []
        if latin:
            parts.append(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, latin)) + r")(?![a-z0-9])")
        if other:
            parts.append("|".join(map(re.escape, other)))
        self._pattern = re.compile("|".join(parts)) if parts else None

    def reread(self, clean_text: str) -> list[tuple[str, str]]:
        """The other readings of a message's clean form, each with the confidence a hit in it gets.

        First the message with repeated words folded (``normalized``), if that changes it; then that
        text with the substitution table applied (``substituted``), if that changes it. Empty for most
        messages.
        """
        out: list[tuple[str, str]] = []
        text = _REPEATED_WORD.sub(r"\1", clean_text)
        if text != clean_text:
            out.append((text, "normalized"))
        if self._pattern is not None:
            replaced = self._pattern.sub(lambda m: self.table[m.group(0)], text)
            if replaced != text:
                out.append((replaced, "substituted"))
        return out
