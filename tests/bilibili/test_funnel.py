"""The funnel that hands many rooms' events to the pipeline through one task (livepipe.bilibili.funnel)."""

from __future__ import annotations

import anyio
import pytest

from livepipe.bilibili.funnel import Funnel
from livepipe.events import make_event


def _ev(room: int, n: int):
    return make_event("danmaku", room_id=room, text=f"{room}-{n}")


@pytest.mark.anyio
@pytest.mark.parametrize("limit", [1000, 8])
async def test_events_of_many_putters_leave_in_the_order_put_one_emit_at_a_time(limit: int) -> None:
    got: list[tuple[int | None, str | None]] = []
    inside = [0, 0]  # emits in progress now, most at once

    async def emit(ev) -> None:
        inside[0] += 1
        inside[1] = max(inside)
        got.append((ev.room_id, ev.text))
        if len(got) % 3 == 0:  # a consumer that is sometimes busy: later puts queue meanwhile
            await anyio.lowlevel.checkpoint()
        inside[0] -= 1

    funnel = Funnel(emit, limit=limit)
    put: list[tuple[int, str]] = []

    async def room(r: int) -> None:
        for n in range(50):
            put.append((r, f"{r}-{n}"))
            await funnel.put(_ev(r, n))
            if n % 7 == 0:
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(funnel.run)
        async with anyio.create_task_group() as rooms:
            for r in range(10):
                rooms.start_soon(room, r)
        with anyio.fail_after(10):
            while len(got) < 500:
                await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    if limit == 1000:  # nobody waited for room: one FIFO, the order of the puts
        assert got == put
    for r in range(10):  # a put that waited for room may fall behind another room's, never its own room's
        assert [t for room, t in got if room == r] == [f"{r}-{n}" for n in range(50)]
    assert inside[1] == 1  # never two emits at once: the pipeline sees one producer


@pytest.mark.anyio
async def test_puts_queue_behind_a_waiting_emit_and_a_full_queue_holds_putters_back() -> None:
    gate = anyio.Event()
    got: list[str | None] = []

    async def emit(ev) -> None:
        if ev.text == "1-0":
            await gate.wait()  # a consumer's buffer is full
        got.append(ev.text)

    funnel = Funnel(emit, limit=3)
    first_done, rest_done = anyio.Event(), anyio.Event()

    async def first() -> None:
        await funnel.put(_ev(1, 0))
        first_done.set()

    async def rest() -> None:
        for n in range(1, 6):
            await funnel.put(_ev(1, n))
        rest_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(funnel.run)
        tg.start_soon(first)
        with anyio.fail_after(10):
            while not funnel._busy:
                await anyio.lowlevel.checkpoint()
        tg.start_soon(rest)
        with anyio.fail_after(10):
            while len(funnel) < 3:  # 1-1 .. 1-3 queue without waiting
                await anyio.lowlevel.checkpoint()
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert len(funnel) == 3 and not rest_done.is_set() and got == []  # 1-4 waits for room
        gate.set()
        with anyio.fail_after(10):
            await first_done.wait()
            await rest_done.wait()
            while len(got) < 6:
                await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    assert got == [f"1-{n}" for n in range(6)]


@pytest.mark.anyio
async def test_events_queued_when_cancelled_are_still_emitted_after_the_emit_in_progress() -> None:
    got: list[str | None] = []

    async def emit(ev) -> None:
        if ev.text == "1-0":
            with anyio.CancelScope(shield=True):  # as the pipeline's wait for a full buffer is
                await anyio.sleep(0.2)  # a slow consumer, not synchronisation
        got.append(ev.text)

    funnel = Funnel(emit)
    async with anyio.create_task_group() as tg:
        tg.start_soon(funnel.run)
        tg.start_soon(funnel.put, _ev(1, 0))
        with anyio.fail_after(10):
            while not funnel._busy:
                await anyio.lowlevel.checkpoint()
        for n in range(1, 5):
            await funnel.put(_ev(1, n))  # queued behind 1-0
        assert len(funnel) == 4
        tg.cancel_scope.cancel()
    assert got == [f"1-{n}" for n in range(5)]


@pytest.mark.anyio
async def test_pushes_never_wait_and_a_full_queue_asks_the_pusher_to_pause_until_there_is_room() -> None:
    gate = anyio.Event()
    got: list[str | None] = []
    resumed: list[int] = []

    async def emit(ev) -> None:
        if ev.text == "1-0":
            await gate.wait()  # a consumer's buffer is full
        got.append(ev.text)

    funnel = Funnel(emit, limit=3)
    async with anyio.create_task_group() as tg:
        tg.start_soon(funnel.run)
        assert funnel.push([_ev(1, 0)], lambda: resumed.append(0)) is False
        with anyio.fail_after(10):
            while not funnel._busy:  # run() took 1-0 and waits inside emit
                await anyio.lowlevel.checkpoint()
        assert funnel.push([_ev(1, 1), _ev(2, 0)], lambda: resumed.append(1)) is False
        assert funnel.push([_ev(1, 2), _ev(1, 3)], lambda: resumed.append(2)) is True  # 4 queued: full
        assert len(funnel) == 4 and resumed == [] and got == []
        gate.set()
        with anyio.fail_after(10):
            while len(got) < 5:
                await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    assert got == ["1-0", "1-1", "2-0", "1-2", "1-3"]  # the order pushed
    assert resumed == [2]  # only the push that filled the queue was paused, and it was resumed once
