"""End-to-end delivery tracking, for sources that can acknowledge (JetStream, queues).

A source that wants to know when an event has been fully handled passes a :class:`Delivery` to
``emit``::

    await emit(event, delivery=Delivery(lambda ok: acks.send_nowait((msg, ok))))

The runtime counts every copy of the event (fan-out to several consumers, and every event a
processor emits while handling it, which inherits the delivery). The callback runs exactly once,
when the last copy is finished:

* ``ok=True``: every sink it reached wrote it (or dead-lettered it), or a processor deliberately
  discarded it (a filter, dedupe);
* ``ok=False``: some copy was lost: a component raised (``on_error = "drop"`` or ``"stop"``), a
  full buffer dropped it (``drop_newest`` / ``drop_oldest``), or a forced stop cancelled it.

A source acknowledges on ``ok=True`` and asks for redelivery on ``ok=False``; events still in
flight when the process dies are never settled, so an acknowledging source redelivers them.
Components that hold events back and emit them later (windowed aggregation) should pass the
original's delivery explicitly: ``emit(event, delivery=...)`` is available to every component.

A sink that finishes an event after ``write`` returns (it batches, or waits for a remote
acknowledgement such as a JetStream PubAck) takes a share of the delivery with :func:`current`::

    d = current()
    if d is not None:
        d.hold()          # in write(), before returning
        ...
        d.release(ok)     # later, once the remote side confirmed (ok=True) or it was lost
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

_current: ContextVar[Delivery | None] = ContextVar("livepipe_current_delivery", default=None)


def current() -> Delivery | None:
    """The delivery of the event the calling processor or sink is handling (None when untracked)."""
    return _current.get()


class Delivery:
    """Counts the outstanding copies of one source event; calls ``on_settled(ok)`` once."""

    __slots__ = ("pending", "failed", "settled", "on_settled")

    def __init__(self, on_settled: Callable[[bool], None]) -> None:
        self.pending = 0
        self.failed = False
        self.settled = False
        self.on_settled = on_settled

    def hold(self) -> None:
        """One more copy is in flight."""
        self.pending += 1

    def release(self, ok: bool = True) -> None:
        """One copy is finished (``ok=False``: it was lost)."""
        if not ok:
            self.failed = True
        self.pending -= 1
        if self.pending <= 0 and not self.settled:
            self.settled = True
            self.on_settled(not self.failed)

    def fail(self) -> None:
        """A copy that was held was lost before a consumer took it."""
        self.release(False)
