"""The embedding API (``from livepipe import Pipeline``), run for real against the simulator: sources added
by call, from TOML text and from a file; sync and async handlers by kind and wildcard; handler output read
by sinks; errors to a dead-letter handler with the traceback; configuration errors as ``validate`` gives them."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import anyio
import pytest

from livepipe import Event, Pipeline, views
from livepipe.config import ConfigError
from livepipe.sim import messages
from livepipe.sim.app import run_simulator
from livepipe.testing import wait_until

pytestmark = pytest.mark.anyio


def _gift(sim, room: int, num: int) -> dict:
    real = sim.room(room)
    user = sim.populations[real.room_id].users[5]
    return messages.send_gift(user, real, time.time(), gift_index=0, num=num)


async def test_decorated_handlers_see_their_kinds_from_a_live_room(tmp_path):
    async with run_simulator(rooms=[1000], rate=0, seed=4) as sim:
        pipe = Pipeline(base_dir=tmp_path)
        name = pipe.add_source("bilibili.danmaku", room_ids=[1000], base_url=sim.base_url)
        assert name == "danmaku"
        chat: list[tuple[str, str]] = []
        gifts: list[tuple[str | None, int, int]] = []
        status: list[str] = []
        everything: list[str] = []
        order: list[str] = []

        @pipe.on("danmaku")
        def on_danmaku(ev: Event) -> None:
            chat.append((ev.kind, ev.danmaku.text))
            order.append(ev.danmaku.text)

        @pipe.on("gift")
        async def on_gift(ev: Event) -> None:
            await anyio.sleep(0.01)  # a slow handler must not let a later danmaku overtake this gift
            gifts.append((ev.gift.name, ev.gift.num, ev.gift.price))
            order.append(f"gift x{ev.gift.num}")

        @pipe.on("source.*")
        def on_status(ev: Event) -> None:
            status.append(ev.kind)

        @pipe.on()
        def on_anything(ev: Event) -> None:
            everything.append(ev.kind)

        assert on_danmaku.__name__ == "on_danmaku"  # the decorator returns the function itself
        async with anyio.create_task_group() as tg:
            running = await tg.start(functools.partial(pipe.run, handle_signals=False))
            assert running is pipe.running
            await wait_until(lambda: "source.connected" in status, what="the connection")
            sim.inject(1000, [sim.make_danmaku(1000, "hello livepipe", uid=4242), _gift(sim, 1000, num=7),
                              sim.make_danmaku(1000, "second", uid=4242), _gift(sim, 1000, num=2),
                              sim.make_danmaku(1000, "third", uid=4242)])
            await wait_until(lambda: len(chat) == 3 and len(gifts) == 2, what="three danmaku and two gifts")
            pipe.stop()
    assert chat == [("danmaku", "hello livepipe"), ("danmaku", "second"), ("danmaku", "third")]
    assert gifts == [("小花花", 7, 100), ("小花花", 2, 100)]
    # one group: events in the order they arrived, whatever the handler (as blivedm's callbacks)
    assert order == ["hello livepipe", "gift x7", "second", "gift x2", "third"]
    assert status[0] == "source.connected"
    assert {"danmaku", "gift", "source.connected"} <= set(everything)
    m = pipe.running.metrics
    assert list(pipe.running.components) == ["danmaku", "handlers"]
    assert m.value("component_received_events_total", component_id="handlers") == len(everything)


async def test_use_simulator_url_points_the_script_at_a_running_simulator(tmp_path):
    async with run_simulator(rooms=[1000], rate=0, seed=8) as sim:
        pipe = Pipeline(base_dir=tmp_path)
        pipe.use_simulator(url=sim.base_url)
        pipe.add_source("bilibili.danmaku", room_ids=[1000])
        got: list[str] = []
        connected: list[str] = []
        pipe.on("source.connected")(lambda ev: connected.append(ev.kind))

        @pipe.on("danmaku")
        def chat(ev: Event) -> None:
            got.append(ev.danmaku.text)
            pipe.stop()

        async with anyio.create_task_group() as tg:
            await tg.start(functools.partial(pipe.run, handle_signals=False))
            await wait_until(lambda: connected, what="the connection")
            sim.inject_danmaku(1000, "from the running simulator", uid=77)
    assert got == ["from the running simulator"]


async def test_a_failing_handler_does_not_keep_the_others_of_its_group_from_the_event(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.use_simulator(rooms=[1000], rate=40, seed=6)
    pipe.add_source("bilibili.danmaku", room_ids=[1000])
    seen: list[str] = []

    @pipe.on("danmaku", group="chat", on_error="dead_letter")
    def first(ev: Event) -> None:
        raise RuntimeError("first fails")

    @pipe.on("danmaku", group="chat")
    def second(ev: Event) -> Event:
        seen.append(ev.id)
        return ev

    failed: list[str] = []
    passed: list[str] = []

    @pipe.on("dead_letter", inputs=["chat.dead_letter"])
    def on_failure(ev: Event) -> None:
        failed.append(ev.dead_letter.event["id"])

    @pipe.on(inputs=["chat.second"])
    def after(ev: Event) -> None:
        passed.append(ev.id)
        if len(passed) == 5:
            pipe.stop()

    await pipe.run(handle_signals=False)
    assert passed[:5] == seen[:5] and failed[:5] == seen[:5]
    assert pipe.running.metrics.value("component_errors_total", component_id="chat", error_type="RuntimeError") \
        == len(failed)


async def test_from_toml_with_an_embedded_simulator_and_a_sink_reading_a_handler(tmp_path):
    pipe = Pipeline.from_toml('''
[simulator]
rooms = [1000]
rate = 40
seed = 2

[sources.room]
type = "bilibili.danmaku"
room_ids = [1000]
''', base_dir=tmp_path)
    pipe.add_sink("file", inputs=["handlers.shout"], path="shouted.jsonl")
    seen: list[str] = []

    @pipe.on("danmaku")
    async def shout(ev: Event) -> Event | None:
        seen.append(ev.danmaku.text)
        if len(seen) == 5:
            pipe.stop()
        return ev.replace(text=ev.danmaku.text.upper()) if len(seen) <= 5 else None

    await pipe.run(handle_signals=False)
    lines = [json.loads(x) for x in (tmp_path / "shouted.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["text"] for x in lines] == [t.upper() for t in seen[:5]]
    assert all(x["kind"] == "danmaku" for x in lines)


async def test_from_config_file_wires_toml_sinks_to_script_handlers(tmp_path):
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text('''
[simulator]
rooms = [1000]
rate = 40
seed = 3

[sources.live]
type = "bilibili.danmaku"
room_ids = [1000]

[sinks.log]
type = "file"
inputs = ["handlers.count_words"]
path = "counts.jsonl"
''', encoding="utf-8")
    pipe = Pipeline.from_config(cfg)
    n = 0

    @pipe.on("danmaku")
    def count_words(ev: Event) -> list[Event]:
        nonlocal n
        n += 1
        if n == 3:
            pipe.stop()
        return [ev.replace(data={"words": len(ev.danmaku.text.split())})]

    await pipe.run(handle_signals=False)
    lines = [json.loads(x) for x in (tmp_path / "counts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 3 and all(set(x["data"]) == {"words"} for x in lines)


async def test_handler_errors_go_to_a_dead_letter_handler_with_the_traceback(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.use_simulator(rooms=[1000], rate=40, seed=5)
    pipe.add_source("bilibili.danmaku", room_ids=[1000])
    failures: list[views.DeadLetter] = []

    @pipe.on("danmaku", on_error="dead_letter")
    def fragile(ev: Event) -> None:
        raise ValueError(f"cannot handle {ev.danmaku.text!r}")

    @pipe.on("dead_letter", inputs=["fragile.dead_letter"])
    def failed(ev: Event) -> None:
        failures.append(ev.dead_letter)
        if len(failures) == 3:
            pipe.stop()

    await pipe.run(handle_signals=False)
    first = failures[0]
    assert (first.component, first.component_type, first.error_type) == ("fragile", "script.handler", "ValueError")
    assert first.event["kind"] == "danmaku"
    assert 'raise ValueError(f"cannot handle {ev.danmaku.text!r}")' in first.traceback
    assert f'File "{__file__}"' in first.traceback and "in fragile" in first.traceback
    assert first.error == f"cannot handle {first.event['text']!r}"


async def test_run_sync_and_duration(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.use_simulator(rooms=[1000], rate=0)
    pipe.add_source("bilibili.danmaku", room_ids=[1000])
    kinds: list[str] = []
    pipe.on("source.connected")(lambda ev: kinds.append(ev.kind))
    # (run_sync starts its own event loop: run it from a worker thread of this test's loop)
    running = await anyio.to_thread.run_sync(functools.partial(pipe.run_sync, duration=1.0))
    assert kinds == ["source.connected"]
    assert running.started and not running.forced


def test_configuration_errors_name_the_script_component_and_key(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.add_source("bilibili.danmaku", room_id=1000)
    with pytest.raises(ConfigError) as info:
        pipe.config()
    msg = str(info.value)
    assert f"{tmp_path / '<script>'}: sources.danmaku: key 'room_id': unknown key; did you mean 'room_ids'?" in msg


def test_handler_inputs_must_exist(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.add_source("bilibili.danmaku", room_ids=[1000])
    pipe.on("danmaku", inputs=["nope"])(print)
    with pytest.raises(ConfigError, match="processors.print: key 'inputs': 'nope' names no output"):
        pipe.config()


def test_names_and_arguments_are_checked_at_once(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    assert pipe.add_source("bilibili.danmaku", room_ids=[1]) == "danmaku"
    assert pipe.add_source("bilibili.danmaku", room_ids=[2]) == "danmaku_2"
    with pytest.raises(ValueError, match="a component named 'danmaku' exists already"):
        pipe.add_sink("console", name="danmaku", inputs=["danmaku"])
    with pytest.raises(TypeError, match=r'write @pipe.on\("danmaku"\)'):
        pipe.on(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not as type="):
        pipe.add_sink("console", type="console", inputs=["danmaku"])
    with pytest.raises(ValueError, match="a component named 'danmaku' exists already"):
        pipe.on("gift", group="danmaku")(print)

    @pipe.on("gift")
    def show(ev: Event) -> None: ...

    @pipe.on("danmaku")
    def show(ev: Event) -> None: ...  # noqa: F811 (a second function of the same name)

    with pytest.raises(ValueError, match="handler group 'handlers' already reads every source"):
        pipe.on("danmaku", group="handlers", on_error="dead_letter")(print)
    config = pipe.config()
    assert [h.name for h in config.components["handlers"].config.handlers] == ["show", "show_2"]
    with pytest.raises(ConfigError, match="'handlers' has no default output, only named ones: handlers.show, "
                                          "handlers.show_2"):
        pipe.add_sink("console", inputs=["handlers"])
        pipe.config()


def test_from_config_files_and_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        Pipeline.from_config(tmp_path / "nope.toml").config()
    with pytest.raises(ValueError):
        Pipeline.from_config()


def test_the_handler_type_is_not_available_to_toml(tmp_path):
    (tmp_path / "p.toml").write_text('[sources.a]\ntype = "replay"\npath = "x.jsonl"\n'
                                     '[processors.h]\ntype = "script.handler"\ninputs = ["a"]\nhandler = "x"\n',
                                     encoding="utf-8")
    from livepipe.config import load_config

    with pytest.raises(ConfigError, match="unknown processor type 'script.handler'"):
        load_config([tmp_path / "p.toml"])


def test_import_livepipe_stays_light():
    import subprocess
    import sys

    code = "import sys, livepipe; print('livepipe.runtime.pipeline' in sys.modules); livepipe.Pipeline; " \
           "print('livepipe.runtime.pipeline' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]
    assert Path(__file__).exists()


def test_handlers_without_a_source_say_what_to_add(tmp_path):
    pipe = Pipeline(base_dir=tmp_path)
    pipe.on("danmaku")(print)
    with pytest.raises(ConfigError, match=r"handlers but no source to feed them: add one first, e.g. "
                                          r"pipe.add_source\(\"bilibili.danmaku\""):
        pipe.config()


PATTERNS = [("danmaku",), ("gift",), ("gift*",), ("action.*",), ("source.?onnected",), ("*",), (),
            ("super_chat", "guard"), ("[ab]*",), ("dead_letter",), ("nope",), ("DANMAKU",), ("gift_",)]


async def test_handlers_get_exactly_their_kinds_in_event_then_decoration_order(tmp_path):
    import fnmatch

    from livepipe import testing
    from livepipe.events import KINDS

    testing.install()
    kinds = [*KINDS, "action", "gifts", "x.action.ban"] * 2  # every kind, twice, plus near misses
    events = [{"kind": k, "id": f"e{i}", "ts": 1.0} for i, k in enumerate(kinds)]
    pipe = Pipeline.from_toml('[sources.src]\ntype = "testing.events"\nevents_json = ' + json.dumps(json.dumps(events)),
                              base_dir=tmp_path)
    calls: list[tuple[int, int]] = []
    seen: dict[int, list[str]] = {i: [] for i in range(len(PATTERNS))}

    def make(i: int):
        def handler(ev: Event) -> None:
            seen[i].append(ev.kind)
            calls.append((int(ev.id[1:]), i))
        handler.__name__ = f"h{i}"
        return handler

    for i, pattern in enumerate(PATTERNS):
        pipe.on(*pattern)(make(i))
    await pipe.run(handle_signals=False)
    for i, pattern in enumerate(PATTERNS):
        want = [k for k in kinds if not pattern or any(fnmatch.fnmatchcase(k, p) for p in pattern)]
        assert seen[i] == want, (pattern, seen[i], want)
    assert calls == sorted(calls)  # event by event; within one event, in decoration order
    assert seen[PATTERNS.index(("gift",))] == ["gift", "gift"]  # not gift_combo, not gifts
    assert seen[PATTERNS.index(("nope",))] == seen[PATTERNS.index(("DANMAKU",))] == []
