"""jieba's word frequencies (its dictionary plus ``data/chat_words.txt``) in a compact, read-only table.

jieba keeps its dictionary as a dict of about 500,000 words and word prefixes (``str -> int``); in a
Python process that dict and importing jieba (19 MB of it: its HMM tables) take 74 MB. Here the
same words live in a ``marisa_trie.Trie`` (about 1.3 MB) and their frequencies in an array indexed by
the trie's key ids (2 MB): :class:`WordFreq` answers ``in``, ``[]`` and ``.get`` exactly as jieba's
``Tokenizer.FREQ`` does after ``load_userdict(chat_words.txt)``.

The table is built by jieba itself, in a child process (``python -m livepipe_automod.wordfreq``, which
writes the table to its stdout), so jieba's dict never lives in this process, and cached in a
directory only this user can write (:func:`cache_dir`: ``$XDG_CACHE_HOME/livepipe`` or
``~/.cache/livepipe``, created with mode 0700; a file another user owns or may write is not read,
since whoever can plant the table decides what automod takes for a word). The cache file's name
holds a key of everything the table depends on (jieba's version and dictionary, the chat words,
marisa-trie's version); its content ends with its SHA-256, so a file that is truncated or corrupt is
rebuilt, never trusted. Two processes
starting at once may both build; each writes its own temporary file and renames it into place.
"""

from __future__ import annotations

import array
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import marisa_trie

log = logging.getLogger(__name__)

CHAT_WORDS = Path(__file__).with_name("data") / "chat_words.txt"

_MAGIC = b"LPWFREQ1"
_HEADER = struct.Struct("<8sQQQ")  # magic, total, number of keys, length of the trie's bytes
_DIGEST = 32


class WordFreq:
    """Word (or word prefix) -> dictionary frequency, like jieba's ``Tokenizer.FREQ`` but compact.

    A prefix of a word that is no word itself is present with frequency 0, as in jieba. ``total`` is
    jieba's ``Tokenizer.total`` (the sum of all frequencies).
    """

    __slots__ = ("_freq", "_trie", "total")

    def __init__(self, trie: marisa_trie.Trie, freq: array.array, total: int) -> None:
        self._trie = trie
        self._freq = freq
        self.total = total

    def __contains__(self, word: object) -> bool:
        return word in self._trie

    def __getitem__(self, word: str) -> int:
        return self._freq[self._trie[word]]

    def __len__(self) -> int:
        return len(self._trie)

    def get(self, word: str, default: int | None = None) -> int | None:
        """The frequency of ``word``, or ``default`` when it is neither a word nor a prefix of one."""
        i = self._trie.get(word)
        return default if i is None else self._freq[i]

    def prefixes(self, text: str) -> list[tuple[int, int]]:
        """``(length, frequency)`` of every entry that ``text`` starts with, shortest first.

        The entries are closed under prefixes (as jieba's are; :func:`from_jieba` checks), so these
        are ``text[:1]``, ``text[:2]`` ... up to the first one that is no entry: what jieba's
        ``get_DAG`` walks one lookup at a time.
        """
        freq = self._freq
        return [(len(word), freq[i]) for word, i in self._trie.iter_prefixes_with_ids(text)]

    def to_bytes(self) -> bytes:
        """The table serialized, checksum included (read back with :func:`from_bytes`)."""
        trie = self._trie.tobytes()
        freq = self._freq.tobytes()
        body = _HEADER.pack(_MAGIC, self.total, len(self._trie), len(trie)) + trie + freq
        return body + hashlib.sha256(body).digest()


def from_bytes(data: bytes) -> WordFreq:
    """Read a table written by :meth:`WordFreq.to_bytes`; ``ValueError`` if it is not one, whole and intact."""
    if len(data) < _HEADER.size + _DIGEST:
        raise ValueError("word table too short")
    view = memoryview(data)  # slices of a view copy nothing
    body, digest = view[:-_DIGEST], view[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("word table checksum mismatch")
    magic, total, n, trie_len = _HEADER.unpack_from(body)
    if magic != _MAGIC:
        raise ValueError("not a word table")
    start = _HEADER.size
    trie = marisa_trie.Trie()
    trie.frombytes(bytes(body[start : start + trie_len]))
    freq = array.array("I")
    freq.frombytes(body[start + trie_len :])
    if len(trie) != n or len(freq) != n:
        raise ValueError("word table sizes do not agree")
    return WordFreq(trie, freq, total)


def from_jieba(freq: dict[str, int], total: int) -> WordFreq:
    """The compact table of a jieba ``Tokenizer``'s ``FREQ`` and ``total``.

    ``ValueError`` if some entry's prefix is no entry (jieba adds every prefix of every word).
    """
    for word in freq:
        if len(word) > 1 and word[:-1] not in freq:
            raise ValueError(f"jieba's dictionary lacks the prefix {word[:-1]!r} of {word!r}")
    trie = marisa_trie.Trie(freq.keys())
    table = array.array("I", bytes(4 * len(trie)))
    for word, f in freq.items():
        table[trie[word]] = f  # OverflowError if a frequency is negative or past 2**32: never in jieba's data
    return WordFreq(trie, table, total)


def build() -> WordFreq:
    """Build the table with jieba: its default dictionary, then ``load_userdict(chat_words.txt)``.

    Imports jieba and holds its whole dict while it runs: call it in a child process (:func:`load` does).
    jieba's own cache is kept out of it: jieba reads ``jieba.cache`` in the shared temporary directory
    whenever it exists, whoever wrote it, so a file another user planted there would decide the
    frequencies (and reach ``marshal.load``). It builds from its dictionary in a private directory instead.
    """
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs "Building prefix dict" to stderr otherwise
    with tempfile.TemporaryDirectory(prefix="livepipe-jieba-") as private:
        tokenizer = jieba.Tokenizer()
        tokenizer.tmp_dir = private
        tokenizer.initialize()
        tokenizer.load_userdict(str(CHAT_WORDS))
        return from_jieba(tokenizer.FREQ, tokenizer.total)


def cache_key() -> str:
    """A digest of everything the table depends on: jieba's version and dictionary, the chat words, marisa-trie."""
    spec = importlib.util.find_spec("jieba")  # finds jieba without importing it
    locations = list(spec.submodule_search_locations or []) if spec else []
    h = hashlib.sha256(_MAGIC)
    h.update(sys.byteorder.encode())
    for dist in ("jieba", "marisa-trie"):
        h.update(importlib.metadata.version(dist).encode() + b"\0")
    if locations:
        st = os.stat(os.path.join(locations[0], "dict.txt"))
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(CHAT_WORDS.read_bytes())
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    """This user's cache directory for livepipe: ``$XDG_CACHE_HOME/livepipe``, else ``~/.cache/livepipe``, else
    ``<temp dir>/livepipe-<uid>`` (no home). Created with mode 0700 when missing."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base and os.path.isabs(base):
        where = Path(base) / "livepipe"
    else:
        try:
            where = Path.home() / ".cache" / "livepipe"
        except RuntimeError:  # no home directory
            where = Path(tempfile.gettempdir()) / f"livepipe-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    return where


def cache_path(directory: Path | None = None) -> Path:
    """Where the table is cached (in ``directory``, by default :func:`cache_dir`)."""
    return Path(directory or cache_dir()) / f"automod-words-{cache_key()}.bin"


def _private(path: Path) -> bool:
    """Whether ``path`` and its directory belong to this user and nobody else may write them (POSIX)."""
    if not hasattr(os, "getuid"):
        return True
    uid = os.getuid()
    for p in (path.parent, path):
        st = p.stat()
        if st.st_uid != uid or st.st_mode & 0o022:
            return False
    return True


def load(directory: Path | None = None) -> WordFreq:
    """The table, from the cache if it holds an intact one of this user's, else built (in a child process) and
    cached."""
    try:
        path = cache_path(directory)
    except OSError as e:  # the cache directory cannot be made: build every time
        log.warning("automod: no cache directory for the word table (%s); building it now", e)
        return build_anyhow()
    try:
        if not _private(path):
            raise ValueError("another user owns it or may write it")
        return from_bytes(path.read_bytes())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        log.warning("automod: word table cache %s is not used (%s); rebuilding it", path, e)
    table = build_anyhow()
    _write(path, table.to_bytes())
    return table


def build_anyhow() -> WordFreq:
    """The table, built in a child process, or here if that fails."""
    data = _build_in_child()
    return build() if data is None else from_bytes(data)


def _build_in_child() -> bytes | None:
    try:
        done = subprocess.run([sys.executable, "-m", "livepipe_automod.wordfreq"], capture_output=True,
                              check=True, timeout=600)  # fmt: skip
        from_bytes(done.stdout)  # checked here so that a broken child falls back to building in process
        return done.stdout
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        log.warning("automod: building the word table in a child process failed (%s); building it here", e)
        return None


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # atomic: a reader sees the old file, or the new one whole
    except OSError as e:
        log.warning("automod: cannot cache the word table at %s (%s)", path, e)
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.stdout.buffer.write(build().to_bytes())
