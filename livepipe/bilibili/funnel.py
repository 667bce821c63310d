"""One hand-over to the pipeline for the events of many rooms: :class:`Funnel`.

With many quiet rooms, frames of one event each arrive from many connections at once (the server
flushes every room on the same tick). When every room's task emitted its own events, each of them
found the consumers' input buffers full and waited in turn (a wait, a wake-up and a task switch per
event: about 40 µs of the 95 µs more per event that 1,000 rooms cost than one room, measured with
``bench/rooms.py`` and py-spy). The funnel lets the room tasks put their events in one queue
without waiting, and one task emits them, so the pipeline sees one producer as with one busy room.

The rooms' connections hand their events over with :meth:`Funnel.push`, from the WebSocket's
protocol callback (no task of the room's wakes up per frame; see
:mod:`livepipe.bilibili.client`); :meth:`Funnel.put` is the awaiting form (status events).

Order: events leave in the order they were put (so per room as received). Back-pressure: a put
waits while :attr:`Funnel.limit` events are queued; a push that fills the queue tells its caller to
stop reading (its connection pauses reading, so TCP holds the server back) and calls it back when
there is room again (the room's client then counts that time as the pipeline's, not the server's
silence). Shutdown: what the rooms had put is still emitted; the pipeline's forced stop (the drain
deadline) ends that as it ends any emit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import anyio

from livepipe.component import Emit
from livepipe.events import Event

__all__ = ["Funnel"]


class Funnel:
    """Events put by many tasks, emitted one at a time in the order they were put.

    While nobody is emitting and nothing is queued, :meth:`put` emits at once in the caller's task
    (the usual case: no hand-over at all). While an emit waits (a consumer's buffer is full), later
    puts queue without waiting, and :meth:`run` emits them when that emit is done.

    Args:
        emit: the source's emit (the pipeline's hand-over).
        limit: most events queued before :meth:`put` waits.
    """

    def __init__(self, emit: Emit, limit: int = 1024) -> None:
        self._emit = emit
        self.limit = limit
        self._queue: deque[Event] = deque()
        self._busy = False  # someone is inside emit: everything else queues behind
        self._ready: anyio.Event | None = None  # set for run() when there is work it may do
        self._space: anyio.Event | None = None  # set when the queue falls below the limit
        self._paused: list[Callable[[], None]] = []  # pushers' resume callbacks, called below the limit

    def __len__(self) -> int:
        return len(self._queue)

    def _wake(self) -> None:
        if self._ready is not None:
            self._ready.set()
            self._ready = None

    async def put(self, event: Event) -> None:
        """Emit ``event`` now if the way is free, else queue it for :meth:`run` (waits only while full)."""
        if not self._busy and not self._queue:
            self._busy = True
            try:
                await self._emit(event)
            finally:
                self._busy = False
                if self._queue:
                    self._wake()
            return
        while len(self._queue) >= self.limit:
            if self._space is None:
                self._space = anyio.Event()
            await self._space.wait()
        self._queue.append(event)
        if not self._busy:
            self._wake()

    def push(self, events: list[Event], resume: Callable[[], None]) -> bool:
        """Queue ``events`` without waiting (for a callback that cannot await); :meth:`run` emits them.

        Returns True when the queue is now full: the caller should stop producing (pause reading),
        and ``resume`` is called once the queue is below :attr:`limit` again. False otherwise
        (``resume`` is then not kept).
        """
        queue = self._queue
        queue.extend(events)
        if not self._busy:
            self._wake()
        if len(queue) >= self.limit:
            self._paused.append(resume)
            return True
        return False

    def _room(self) -> None:
        """The queue is below the limit: wake waiting puts and resume paused pushers."""
        if self._space is not None:
            self._space.set()
            self._space = None
        if self._paused:
            paused, self._paused = self._paused, []
            for resume in paused:
                resume()

    async def _drain(self) -> None:
        queue, emit = self._queue, self._emit
        self._busy = True
        try:
            while queue:
                await emit(queue.popleft())
                if (self._space is not None or self._paused) and len(queue) < self.limit:
                    self._room()
        finally:
            self._busy = False

    async def run(self) -> None:
        """Emit what is queued, until cancelled; then emit what is still queued (see the module docstring)."""
        try:
            while True:
                if self._queue and not self._busy:
                    await self._drain()
                    continue
                self._ready = anyio.Event()
                await self._ready.wait()
        finally:
            with anyio.CancelScope(shield=True):
                while self._busy:  # a put still inside emit goes first (it is shielded the same way)
                    await anyio.sleep(0.01)
                await self._drain()
