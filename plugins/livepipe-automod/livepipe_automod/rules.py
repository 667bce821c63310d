"""Rules: their TOML form, loading from the pipeline config and rule files, and reloading on change.

A rule is a table (inline as ``[[processors.NAME.rules]]``, or ``[[rules]]`` in a rule file)::

    [[rules]]
    id = "insults"               # unique; names the rule in actions, metrics and logs
    words = ["傻逼", "sb"]        # matched on the normalized text (see normalize.py)
    words_file = "insults.txt"   # more words, one per line, '#' comments (relative to the file naming it)
    regexes = ['\\d{6,}']       # Python regexes, run on the `regex_on` form
    pinyin = true                # also catch homophones of these words (2+ syllables)
    ladder = ["warn", "ban:1", "ban:24"]

Spam rules set ``kind`` to ``repeat``, ``flood``, ``similar`` or ``rate`` and use ``count``,
``window``, ``threshold`` and ``min_length``. :class:`RuleSource` keeps the compiled
:class:`~livepipe_automod.ruleset.RuleSet` current: every ``reload_interval`` seconds (on the
context clock) it compares the files' modification times and rebuilds when one changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import regex
from livepipe.errors import ConfigurationError
from livepipe.schema import field
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from livepipe_automod.ladder import parse_step

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

Kind = Literal["words", "repeat", "flood", "similar", "rate"]
#: What a word rule may look at: danmaku text, super-chat text, user names (senders' and entering viewers').
SCOPES = ("danmaku", "super_chat", "uname")
Scope = Literal["danmaku", "super_chat", "uname"]
Confidence = Literal["exact", "normalized", "substituted", "typed_pinyin", "homophone", "fuzzy"]


class RuleConfig(BaseModel):
    """One moderation rule (a TOML table)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = field(description="unique rule id; appears in actions (`data.rule`), metrics and logs",
                    min_length=1)
    kind: Kind = field("words", description="`words` (words and regexes), `repeat` (one user repeating a "
                       "text), `flood` (many users posting one text), `similar` (near-duplicates), `rate` "
                       "(messages per user per window)")
    enabled: bool = field(True, description="false keeps the rule in the file but skips it")
    applies_to: Literal["everyone", "newcomers"] = field(
        "everyone", description="`newcomers`: only users the processor's newcomer settings consider new")
    words: list[str] = field(default_factory=list, description="words to find in the normalized text")
    words_file: str | None = field(None, description="a text file of more words, one per line (`#` comments)")
    regexes: list[str] = field(default_factory=list, description="Python regular expressions")
    regex_on: Literal["compact", "folded", "clean"] = field(
        "compact", description="form the regexes see: `compact` (no separators), `folded` (repeats folded "
        "too) or `clean` (separators kept)")
    pinyin: bool = field(False, description="also match homophones of the words (same pinyin, 2+ syllables), "
                         "typed pinyin and initials")
    allow: list[str] = field(default_factory=list, description="compounds inside which the rule's words are not "
                             "hits (`刷单曲` for `刷单`)")
    scope: list[Scope] = field(default_factory=lambda: ["danmaku", "super_chat"], description="what the rule "
                               "reads: `danmaku` and `super_chat` text, `uname` (names of senders and entering "
                               "viewers; opt-in)", min_length=1)
    ban_from: Confidence = field("normalized", description="the weakest kind of match that may ban: `exact`, "
                                 "`normalized`, `substituted`, `typed_pinyin`, `homophone` or `fuzzy`; a weaker "
                                 "hit whose ladder step is a ban gets `below_ban` instead")
    below_ban: Literal["flag", "warn"] = field("flag", description="what a hit too weak to ban gets instead of "
                                               "the ban")
    count: int = field(3, description="repeat/flood/similar: how many messages (users for flood) trigger; "
                       "rate: the most messages allowed in the window", ge=1)
    window: float = field(60.0, description="spam rules: the window, in seconds", gt=0)
    threshold: float = field(85.0, description="similar: similarity (0-100, rapidfuzz ratio) that counts as "
                             "a near-duplicate", ge=0, le=100)
    min_length: int = field(4, description="repeat/flood/similar: ignore normalized texts shorter than this",
                            ge=1)
    ladder: list[str] = field(
        default_factory=lambda: ["warn", "ban:1", "ban:24"],
        description='what each offence leads to: `"flag"`, `"warn"` (a reply) or `"ban:HOURS"` (-1 '
        "permanent, 0 this stream); the last step repeats")
    decay: float = field(86400.0, description="seconds without an offence after which one step is forgotten",
                         gt=0)
    cooldown: float = field(10.0, description="seconds after an action during which further hits of the same "
                            "user are only flagged", ge=0)
    reply: str = field("请文明发言，再犯将被禁言", description="the warning text (`{uname}` and `{rule}` "
                       "are replaced); sent as an @-reply")
    reason: str = field("", description="reason given with a ban (default: the rule id and why)")

    @field_validator("ladder")
    @classmethod
    def _ladder(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("ladder needs at least one step")
        for step in v:
            parse_step(step)
        return v

    @field_validator("regexes")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                regex.compile(p)  # the library the matcher runs them on
            except regex.error as e:
                raise ValueError(f"regex {p!r}: {e}") from None
        return v


_RULES = TypeAdapter(list[RuleConfig])


class RuleError(ConfigurationError, ValueError):
    """A rule file (or words file) cannot be used; the message names the file."""


def read_words(path: Path) -> list[str]:
    """Words from a text file: one per line, blank lines and ``#`` comments ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RuleError(f"{path}: {e.strerror or e}") from None
    return [w for line in text.splitlines() if (w := line.split("#", 1)[0].strip())]


def read_rule_file(path: Path) -> list[RuleConfig]:
    """The ``[[rules]]`` of a TOML rule file, validated; raises :class:`RuleError` naming the problem."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RuleError(f"{path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise RuleError(f"{path}: {e}") from None
    unknown = set(doc) - {"rules"}
    if unknown:
        raise RuleError(f"{path}: unknown top-level keys {sorted(unknown)} (a rule file holds [[rules]] tables)")
    return validate_rules(doc.get("rules", []), str(path))


def validate_rules(raw: Any, where: str) -> list[RuleConfig]:
    """Validate a list of rule tables; errors name ``where`` and the rule's position and key."""
    try:
        return _RULES.validate_python(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RuleError(f"{where}: rules.{loc}: {first['msg']}") from None


def check_unique(rules: Iterable[RuleConfig]) -> None:
    """Raise :class:`RuleError` when two rules share an id."""
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RuleError(f"two rules have the id {r.id!r}")
        seen.add(r.id)


class RuleSource:
    """The current rules: inline ones plus a rule file, rebuilt when any file they read changes.

    ``build`` turns ``(rules, words_by_rule)`` into whatever the caller matches with (a RuleSet);
    ``now`` is the clock (``clock.monotonic``). Nothing here uses threads: :meth:`current` checks
    modification times at most every ``interval`` seconds, when it is called.
    """

    def __init__(self, inline: list[RuleConfig], rules_file: Path | None, base_dir: Path, *,
                 build: Callable[[list[RuleConfig], dict[str, list[str]]], Any],
                 now: Callable[[], float], interval: float = 5.0) -> None:
        self.inline = inline
        self.rules_file = rules_file
        self.base_dir = base_dir
        self.interval = interval
        self._build = build
        self._now = now
        self._stamps: dict[Path, tuple[int, int] | None] = {}
        self._checked = now()
        self.current_set: Any = None
        self.reloads = 0

    def load(self) -> Any:
        """Read every file and build; raises :class:`RuleError` (the previous set stays in use)."""
        rules = list(self.inline)
        files: list[Path] = []
        if self.rules_file is not None:
            files.append(self.rules_file)
            rules += read_rule_file(self.rules_file)
        check_unique(rules)
        words: dict[str, list[str]] = {}
        for i, r in enumerate(rules):
            ws = list(r.words)
            if r.words_file:
                from_file = i >= len(self.inline) and self.rules_file is not None
                base = self.rules_file.parent if from_file and self.rules_file else self.base_dir
                wf = Path(r.words_file).expanduser()
                wf = wf if wf.is_absolute() else base / wf
                files.append(wf)
                ws += read_words(wf)
            words[r.id] = ws
        built = self._build([r for r in rules if r.enabled], words)
        self._stamps = {f: _mtime(f) for f in files}
        self.current_set = built
        return built

    def changed(self) -> bool:
        """True when a file read by the last :meth:`load` has another modification time (or vanished)."""
        return any(_mtime(f) != stamp for f, stamp in self._stamps.items())

    def current(self, on_error: Callable[[Exception], None]) -> Any:
        """The rule set, reloaded first if it is time to look and a file changed.

        A failing reload is reported to ``on_error`` and the previous set stays in use; it is tried
        again at the next modification.
        """
        now = self._now()
        if self._stamps and now - self._checked >= self.interval:
            self._checked = now
            if self.changed():
                before = dict(self._stamps)
                try:
                    self.load()
                    self.reloads += 1
                except (RuleError, OSError) as e:
                    self._stamps = {f: _mtime(f) for f in before}
                    on_error(e)
        return self.current_set


def _mtime(path: Path) -> tuple[int, int] | None:
    """Modification time and size (size catches two writes within the file system's time resolution)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
