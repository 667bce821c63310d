"""The ``file`` sink: one Event JSON per line (JSONL), path templates, rotation, fsync policy.

Guarantees (see docs/components/file.md):

* **Whole lines.** Each line goes to the kernel in one ``os.write`` of complete lines on a
  descriptor opened with ``O_APPEND``: the lines of the events waiting in the sink's input buffer
  that go to the same file are joined and written together (``write_batch``), and an event counts
  as written once its write returned. There is no user-space buffer across batches, so a crash of
  the process loses nothing the sink counted as written and never leaves half a line. If a write fails part-way (disk
  full), the partial bytes are truncated away before the error is raised.
* **Torn tails are repaired on open.** A file that does not end with a newline (a power loss, or
  a writer without these rules) has its partial last line removed (``partial_line = "truncate"``,
  logged) or terminated (``"newline"``) before anything is appended.
* **Errors name the path** and never touch what is already written.
* ``format = "xml"``: Bilibili danmaku XML (see :mod:`livepipe.components.danmaku_xml`): a header
  on a new file, one ``<d>`` line per danmaku, and ``</i>`` written whenever the file is closed (stop,
  rotation, too many open files); reopening a file removes its ``</i>`` before appending.

Writes are plain blocking ``os.write`` calls (about 2 us each, measured); only ``fsync`` runs in a
worker thread, since it can take milliseconds.
"""

from __future__ import annotations

import errno
import math
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio.to_thread
from pydantic import field_validator

from livepipe.component import Batch, Context, Emit, Sink
from livepipe.components import danmaku_xml
from livepipe.components.file_paths import fill_token, safe_token, template_tokens, utc_date
from livepipe.errors import SinkError
from livepipe.events import Event
from livepipe.preflight import Problems, writable_dir, writable_file
from livepipe.schema import SinkConfig, field

_TAIL_CHUNK = 64 * 1024


class FileSinkError(SinkError, OSError):
    """Writing, opening or rotating a file failed; the message names the path."""

    lines_kept = 0  # a failed write of several lines: how many whole ones reached the file


class FileConfig(SinkConfig):
    """Config of the ``file`` sink."""

    path: str = field(
        description="file path template; tokens `{room_id}` (`none` when absent), `{kind}`, `{date}` (UTC date "
        "of the event's ts, YYYY-MM-DD), `{worker}` (the worker process's number with `livepipe run --workers`, "
        "else 0). Relative paths are relative to the config file"
    )
    max_bytes: int | None = field(
        None, description="rotate a file before a line would make it larger than this; unset = no size limit", ge=1
    )
    rotate_daily: bool = field(
        False,
        description="for paths without `{date}`: when an event of a later UTC day arrives, rename the file "
        "with the date of its events (`events.2024-05-01.jsonl`) and start a new one",
    )
    fail_after: float | None = field(
        30.0,
        description="seconds of total failure (every write failing: disk full, directory not writable) after which "
        "`on_persistent_failure` applies (default: stop the pipeline, exit status 1); 0 = never",
        ge=0,
    )
    fsync: Literal["never", "batch", "always"] = field(
        "batch",
        description="`never`: leave it to the OS; `batch`: fsync written files when the input runs empty, "
        "at most every 0.1 s, and at shutdown; `always`: fsync after every line (slow: about 1 ms per event)",
    )
    max_open_files: int = field(16, description="most files kept open at once (least recently used closed)", ge=1)
    include_raw: bool = field(True, description="keep the original Bilibili message (`raw`) in each line")
    format: Literal["jsonl", "xml"] = field(
        "jsonl",
        description="`jsonl`: every event as a JSON line; `xml`: Bilibili danmaku XML (`<i>` root, one `<d>` "
        "per danmaku, times relative to the stream's start) as recorders and DanmakuFactory read it; "
        "other kinds are skipped",
    )
    xml_start: float | None = field(
        None,
        description="`xml` only: unix time that danmaku times count from; unset: the room's last `live` event "
        "(its `live_time`), else the first danmaku written to a new file",
    )
    partial_line: Literal["truncate", "newline"] = field(
        "truncate",
        description="an existing file that ends without a newline: `truncate` the partial last line (logged) "
        "or end it with a `newline` so it stays as one unreadable line",
    )

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("path must not be empty")
        template_tokens(v)
        return v


@dataclass
class _OpenFile:
    path: str
    fd: int
    size: int
    day: str | None
    dirty: bool = False
    start: float | None = None  # xml: the unix time <d> times count from


class FileSink(Sink):
    """Append events as JSON lines to files chosen by a path template; rotate by size and by day."""

    type_name = "file"
    Config = FileConfig
    worker_paths = ("path",)

    def __init__(self, config: FileConfig, context: Context) -> None:
        if "worker" in template_tokens(config.path):
            config = config.model_copy(update={"path": fill_token(config.path, "worker",
                                                                  str(context.settings.get("worker", 0)))})
        super().__init__(config, context)
        self._tokens = template_tokens(config.path)
        self._daily = config.rotate_daily and "date" not in self._tokens
        self._files: OrderedDict[str, _OpenFile] = OrderedDict()
        self._paths: dict[tuple[object, ...], str] = {}
        self._rotations = self.metrics.counter("file_rotations_total", "files the file sink rotated")
        self._xml = config.format == "xml"
        self._live: dict[int | None, float] = {}  # xml: stream start per room, from `live` events
        self._day, self._day_start = "", math.inf  # the UTC day of the last event's ts, and when it began

    # -- paths ---------------------------------------------------------------------------------

    def render_path(self, event: Event) -> str:
        """The resolved file path for an event."""
        tokens = self._tokens
        key = (event.room_id if "room_id" in tokens else None, event.kind if "kind" in tokens else None,
               self._utc_date(event.ts) if "date" in tokens else None)
        p = self._paths.get(key)
        if p is None:
            if len(self._paths) > 4096:
                self._paths.clear()
            room = "none" if event.room_id is None else safe_token(str(event.room_id))
            kind = safe_token(event.kind) if "kind" in tokens else ""
            date = key[2] or ""
            p = str(self.context.path(self.config.path.format(room_id=room, kind=kind, date=date)))
            self._paths[key] = p
        return p

    def _utc_date(self, ts: float) -> str:
        """:func:`utc_date`, remembering the last day's bounds (events come in time order, mostly)."""
        if self._day_start <= ts < self._day_start + 86400.0:
            return self._day
        day = utc_date(ts)
        if day != "unknown-date":
            self._day, self._day_start = day, math.floor(ts / 86400.0) * 86400.0
        return day

    # -- life cycle ----------------------------------------------------------------------------

    def _fixed_directory(self) -> Path:
        """The directory part of the path template that no token changes."""
        fixed = self.config.path.split("{", 1)[0]
        return self.context.path(fixed if fixed.endswith(("/", os.sep)) else (os.path.dirname(fixed) or "."))

    def preflight(self) -> Problems:
        """The template's fixed leading directory must exist or be creatable, and be writable."""
        if not self._tokens:
            yield from writable_file(self.context.path(self.config.path), "path", "output file")
        else:
            yield from writable_dir(self._fixed_directory(), "path", "output directory")

    async def healthcheck(self) -> None:
        """Check that the template's fixed leading directory exists (or can be made) and is writable."""
        directory = self._fixed_directory()
        if directory.exists() and not directory.is_dir():
            raise FileSinkError(f"file sink {self.name!r}: {directory} is not a directory")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise FileSinkError(f"file sink {self.name!r}: cannot create directory {directory}: {e.strerror}") from e
        if not os.access(directory, os.W_OK | os.X_OK):
            raise FileSinkError(f"file sink {self.name!r}: directory {directory} is not writable")

    async def write(self, event: Event, emit: Emit) -> None:
        """Append the event's JSON line (or XML ``<d>`` line) to its file, rotating first when needed."""
        if self._xml:
            if event.kind == "live":
                self._live[event.room_id] = danmaku_xml.live_start(event)
                return
            if event.kind != "danmaku":
                return
        line = self._line(event)
        f = await self._file_for(event, len(line))
        if self._xml:
            line = self._xml_line(f, event)
        self._append(f, line)
        if self.config.fsync == "always":
            await self._fsync([f.fd])
        elif self.config.fsync == "batch":
            f.dirty = True

    async def write_batch(self, batch: Batch, emit: Emit) -> None:
        """Append the lines of consecutive events bound for the same file in one ``os.write``.

        Each write is whole lines, as with :meth:`write`; rotation (size or day) and a change of file
        end the run of lines. A failed write leaves none of its lines behind (the runtime then writes
        the events from the first of them one by one).
        """
        if self._xml:
            await super().write_batch(batch, emit)
            return
        include_raw = self.config.include_raw
        limit = self.config.max_bytes
        daily = self._daily
        staged: list[bytes] = []  # each line as its JSON and a newline: joined once, in _commit
        f: _OpenFile | None = None
        size = 0  # f.size plus the staged lines
        for event in batch.events:
            payload = event.to_json_bytes(include_raw=include_raw)
            n = len(payload) + 1
            if f is not None:
                if (self.render_path(event) == f.path
                        and (limit is None or size + n <= limit)
                        and (not daily or self._utc_date(event.ts) <= f.day)):  # type: ignore[operator]
                    staged += (payload, b"\n")
                    size += n
                    continue
                await self._commit(f, staged, batch)
                staged = []
            f = await self._file_for(event, n)
            staged += (payload, b"\n")
            size = f.size + n
        if f is not None:
            await self._commit(f, staged, batch)

    async def _commit(self, f: _OpenFile, staged: list[bytes], batch: Batch) -> None:
        """Write the lines ``staged`` (each as its JSON and a newline) to ``f`` in one go (fsync as configured);
        they count as written after that.

        If the write fails part-way, the whole lines that reached the file stay and count as written
        (as if each had had its own write), the partial one is removed, and the error is raised.
        """
        count = len(staged) // 2
        try:
            self._append(f, b"".join(staged), [len(staged[i]) + 1 for i in range(0, len(staged), 2)])
        except FileSinkError as e:
            batch.written += e.lines_kept
            f.dirty = self.config.fsync != "never" and (f.dirty or e.lines_kept > 0)
            raise
        if self.config.fsync == "always":
            await self._fsync([f.fd])
        elif self.config.fsync == "batch":
            f.dirty = True
        batch.written += count

    async def _file_for(self, event: Event, size: int) -> _OpenFile:
        """The open file a line of ``size`` bytes goes to: opened if need be, rotated first when it is due
        (day or size)."""
        path = self.render_path(event)
        f = self._files.get(path)
        if f is None:
            f = await self._open(path)
        else:
            self._files.move_to_end(path)
        if self._daily:
            day = self._utc_date(event.ts)
            if f.day is None:
                f.day = day
            elif day > f.day:  # only forward: a late event of the previous day stays in the current file
                f = await self._rotate(f, f.day)
                f.day = day
        limit = self.config.max_bytes
        if limit is not None and f.size > 0 and f.size + size > limit:
            day = f.day
            f = await self._rotate(f, day if self._daily else None)
            f.day = day
        return f

    async def flush(self) -> None:
        """With ``fsync = "batch"``: fsync every file written since the last flush."""
        if self.config.fsync == "never":
            return
        dirty = [f for f in self._files.values() if f.dirty]
        if dirty:
            await self._fsync([f.fd for f in dirty])
            for f in dirty:
                f.dirty = False

    async def stop(self) -> None:
        """Fsync (unless ``never``) and close every open file."""
        try:
            await self.flush()
        finally:
            for f in list(self._files.values()):
                self._close(f)

    # -- internals -----------------------------------------------------------------------------

    def _line(self, event: Event) -> bytes:
        if self._xml:  # the real line needs the file's start time; this one is for the size check
            return danmaku_xml.d_line(event, event.ts)
        return event.to_json_bytes(include_raw=self.config.include_raw) + b"\n"

    def _xml_line(self, f: _OpenFile, event: Event) -> bytes:
        if f.start is None:
            f.start = self._xml_start(event)
            self._append(f, danmaku_xml.start_comment(f.start))
        return danmaku_xml.d_line(event, f.start)

    def _xml_start(self, event: Event) -> float:
        if self.config.xml_start is not None:
            return self.config.xml_start
        return self._live.get(event.room_id, event.ts)

    def _error(self, action: str, path: str, e: OSError) -> FileSinkError:
        err = FileSinkError(f"file sink {self.name!r}: cannot {action} {path}: {e.strerror or e}")
        err.errno = e.errno
        return err

    def _append(self, f: _OpenFile, data: bytes, lines: list[int] | None = None) -> None:
        """Write ``data`` (whole lines) at the end of ``f``; on failure remove what was written part-way.

        With ``lines`` (the sizes of the lines ``data`` joins), the whole lines written before the
        failure stay (the error's ``lines_kept``).
        """
        done = 0
        try:
            while done < len(data):
                n = os.write(f.fd, data[done:] if done else data)
                if n <= 0:  # no progress: treat like a full disk rather than spin
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
        except OSError as e:
            keep = kept = 0
            for line in lines or ():
                if keep + line > done:
                    break
                keep += line
                kept += 1
            if done > keep:  # never leave half a line behind
                try:
                    os.ftruncate(f.fd, f.size + keep)
                except OSError:
                    self.log.error("could not remove a partial line from %s", f.path)
            f.size += keep
            err = self._error("write to", f.path, e)
            err.lines_kept = kept
            raise err from e
        f.size += done

    async def _fsync(self, fds: list[int]) -> None:
        def run() -> None:
            for fd in fds:
                os.fsync(fd)

        try:
            await anyio.to_thread.run_sync(run)
        except OSError as e:
            paths = ", ".join(f.path for f in self._files.values() if f.fd in fds)
            raise self._error("fsync", paths, e) from e

    def _fsync_dir(self, path: str) -> None:
        if self.config.fsync == "never":
            return
        try:
            fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    async def _open(self, path: str) -> _OpenFile:
        while len(self._files) >= self.config.max_open_files:
            _, old = next(iter(self._files.items()))
            if old.dirty:
                await self._fsync([old.fd])
            self._close(old)
        created = not os.path.exists(path)
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise self._error("open", path, e) from e
        start = None
        try:
            st = os.fstat(fd)
            size = self._repair_tail(fd, path, st.st_size)
            if self._xml:
                size, start = danmaku_xml.reopen(fd, size)
        except OSError as e:
            os.close(fd)
            raise self._error("check the end of", path, e) from e
        day = time.strftime("%Y-%m-%d", time.gmtime(st.st_mtime)) if size > 0 else None
        f = _OpenFile(path, fd, size, day, start=start)
        self._files[path] = f
        if created:
            self._fsync_dir(path)
        return f

    def _repair_tail(self, fd: int, path: str, size: int) -> int:
        """Make the file end with a newline (or be empty); return its size."""
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return size
        if self.config.partial_line == "newline":
            os.write(fd, b"\n")
            self.log.warning("%s ended without a newline (an earlier crash?); terminated the last line", path)
            return size + 1
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            chunk = os.pread(fd, end - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            end = start
        os.ftruncate(fd, keep)
        self.log.warning("%s ended with a partial line (an earlier crash?); removed its %d bytes", path, size - keep)
        return keep

    def _close(self, f: _OpenFile) -> None:
        self._files.pop(f.path, None)
        if self._xml:
            try:
                self._append(f, danmaku_xml.FOOTER)
                if self.config.fsync != "never":
                    os.fsync(f.fd)
            except (FileSinkError, OSError) as e:
                self.log.warning("could not end %s with </i>: %s", f.path, e)
        try:
            os.close(f.fd)
        except OSError as e:
            self.log.warning("closing %s failed: %s", f.path, e)

    def rotated_name(self, path: str, day: str | None) -> str:
        """Where a rotated file goes: ``stem.N.ext`` (size) or ``stem.DAY[.N].ext`` (daily); never overwrites."""
        directory, name = os.path.split(path)
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        ext = f".{ext}" if ext else ""
        if day is not None:
            stem = f"{stem}.{day}"
            first = os.path.join(directory, stem + ext)
            if not os.path.exists(first):
                return first
        pattern = re.compile(re.escape(stem) + r"\.(\d+)" + re.escape(ext) + r"\Z")
        try:
            existing = [int(m.group(1)) for n in os.listdir(directory or ".") if (m := pattern.match(n))]
        except OSError:
            existing = []
        return os.path.join(directory, f"{stem}.{max(existing, default=0) + 1}{ext}")

    async def _rotate(self, f: _OpenFile, day: str | None) -> _OpenFile:
        if f.dirty:
            await self._fsync([f.fd])
            f.dirty = False
        self._close(f)
        target = self.rotated_name(f.path, day)
        try:
            os.rename(f.path, target)
        except OSError as e:
            raise self._error(f"rotate (rename to {target})", f.path, e) from e
        self._rotations.inc()
        self.log.info("rotated %s -> %s", f.path, target)
        return await self._open(f.path)
